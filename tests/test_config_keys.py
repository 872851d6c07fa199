"""Misspelt namespaces and provider keys, and address ranges the clouds cannot use, are refused."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.config import ConfigError, parse_config
from stacks.harness import run_stack
from stacks.loader import read_stack_file
from stacks.namespaces import provider_keys

REFUSED: list[tuple[str, dict[str, Any], str]] = [
    ("dev-aws", {"seqstak:clusterName": "x"}, "seqstak:clusterName: unknown config namespace 'seqstak'"),
    ("dev-gcp", {"kubernetes:context": "x"}, "kubernetes:context: unknown config namespace 'kubernetes'"),
    (
        "dev-aws",
        {"aws:regoin": "eu-west-2"},
        "aws:regoin: not a config key of the aws provider (did you mean",
    ),
    ("dev-gcp", {"gcp:projet": "other-project"}, "gcp:projet: not a config key of the gcp provider"),
    (
        "dev-aws",
        {"seqstack:apiAllowedCidrs": ["10.0.0.0/8"]},
        "seqstack:apiAllowedCidrs: 10.0.0.0/8 is inside",
    ),
    (
        "dev-gcp",
        {"seqstack:apiAllowedCidrs": ["203.0.113.0/24", "192.168.1.0/24"]},
        "seqstack:apiAllowedCidrs: 192.168.1.0/24 is inside the non-public range 192.168.0.0/16",
    ),
    ("dev-aws", {"seqstack:apiAllowedCidrs": ["100.64.1.0/24"]}, "seqstack:apiAllowedCidrs: 100.64.1.0/24"),
    ("dev-aws", {"seqstack:vpcCidr": "8.8.0.0/16"}, "seqstack:vpcCidr: 8.8.0.0/16 is not a private range"),
    ("dev-gcp", {"seqstack:vpcCidr": "172.32.0.0/16"}, "seqstack:vpcCidr: 172.32.0.0/16 is not a private"),
]


@pytest.mark.parametrize(
    ("stack", "overrides", "message"), REFUSED, ids=[m.split(":")[0] for *_, m in REFUSED]
)
def test_refused_by_key_before_anything_is_declared(
    stack: str, overrides: dict[str, Any], message: str
) -> None:
    raw = {**read_stack_file(stack), **overrides}
    with pytest.raises(ConfigError) as err:
        parse_config(raw, stack)
    assert str(err.value).startswith(message), str(err.value)
    with pytest.raises(ConfigError) as via_program:
        run_stack(stack, overrides=overrides)
    assert str(via_program.value) == str(err.value)


@pytest.mark.parametrize(
    ("stack", "overrides"),
    [
        (
            "dev-aws",
            {"aws:profile": "ci", "aws:defaultTags": '{"tags": {"team": "bio"}}', "pulumi:tags": "{}"},
        ),
        ("dev-gcp", {"gcp:zone": "europe-west4-a", "gcp:impersonateServiceAccount": "a@b.iam"}),
        ("dev-aws", {"seqstack:apiAllowedCidrs": ["0.0.0.0/0"], "seqstack:vpcCidr": "172.31.0.0/16"}),
        ("dev-gcp", {"seqstack:apiAllowedCidrs": ["203.0.113.7/32"], "seqstack:vpcCidr": "192.168.0.0/16"}),
    ],
)
def test_real_keys_and_usable_ranges_are_accepted(stack: str, overrides: dict[str, Any]) -> None:
    parse_config({**read_stack_file(stack), **overrides}, stack)


def test_provider_keys_come_from_the_installed_sdks() -> None:
    assert {"region", "profile", "defaultTags", "assumeRoles"} <= provider_keys("aws")
    assert {"project", "region", "zone", "impersonateServiceAccount"} <= provider_keys("gcp")
    assert "regoin" not in provider_keys("aws")
