"""Stack config: every bad value is rejected by name and value, before any resource exists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.config import KEYS, Cloud, ConfigError, NatMode, parse_config
from stacks.harness import run_stack
from stacks.loader import PROJECT_DIR, load_stack_file, read_stack_file

# (stack, overrides, key the message must name, value the message must show)
BAD_VALUES: list[tuple[str, dict[str, Any], str, str]] = [
    ("dev-aws", {"seqstack:cloud": "azure"}, "seqstack:cloud", "azure"),
    ("dev-aws", {"seqstack:smallMinNodes": 5, "seqstack:smallMaxNodes": 2}, "seqstack:smallMinNodes", "5"),
    ("dev-aws", {"seqstack:largeMaxNodes": 0}, "seqstack:largeMaxNodes", "0"),
    ("dev-aws", {"seqstack:smallMaxNodes": -3}, "seqstack:smallMaxNodes", "-3"),
    ("dev-aws", {"seqstack:largeDiskGiB": -100}, "seqstack:largeDiskGiB", "-100"),
    ("dev-aws", {"seqstack:systemDiskGiB": 0}, "seqstack:systemDiskGiB", "0"),
    ("dev-aws", {"seqstack:largeMachineTypes": []}, "seqstack:largeMachineTypes", "[]"),
    ("dev-aws", {"aws:region": "eu-west"}, "aws:region", "eu-west"),
    ("dev-aws", {"aws:region": "EU-WEST-1"}, "aws:region", "EU-WEST-1"),
    ("dev-gcp", {"gcp:region": "europe_west4"}, "gcp:region", "europe_west4"),
    ("dev-gcp", {"gcp:region": "eu-west-1"}, "gcp:region", "eu-west-1"),
    ("dev-aws", {"seqstack:kubernetesVersion": "1.3"}, "seqstack:kubernetesVersion", "1.3"),
    ("dev-aws", {"seqstack:kubernetesVersion": "v1.33"}, "seqstack:kubernetesVersion", "v1.33"),
    ("dev-aws", {"seqstack:zoneCount": 4}, "seqstack:zoneCount", "4"),
    ("dev-aws", {"seqstack:zoneCount": 1}, "seqstack:zoneCount", "1"),
    ("dev-aws", {"seqstack:natMode": "perzone"}, "seqstack:natMode", "perzone"),
    (
        "dev-aws",
        {"seqstack:apiAllowedCidrs": ["203.0.113.0/33"]},
        "seqstack:apiAllowedCidrs",
        "203.0.113.0/33",
    ),
    ("dev-gcp", {"seqstack:apiAllowedCidrs": []}, "seqstack:apiAllowedCidrs", "[]"),
    ("dev-aws", {"seqstack:smallMaxNode": 3}, "seqstack:smallMaxNode", "seqstack:smallMaxNode"),
    ("dev-aws", {"seqstack:nodeCount": 3}, "seqstack:nodeCount", "seqstack:nodeCount"),
]


def test_the_set_mocks_spy_sees_a_good_run(set_mocks_calls: list[str]) -> None:
    run_stack("dev-aws")
    assert set_mocks_calls == ["dev-aws"]


@pytest.mark.parametrize(
    ("stack", "overrides", "key", "value"), BAD_VALUES, ids=[f"{k}={v}" for _, _, k, v in BAD_VALUES]
)
def test_bad_value_is_rejected_by_key_and_value_before_anything_is_declared(
    stack: str, overrides: dict[str, Any], key: str, value: str, set_mocks_calls: list[str]
) -> None:
    raw = {**read_stack_file(stack), **overrides}
    with pytest.raises(ConfigError) as direct:
        parse_config(raw, stack)
    assert key in str(direct.value)
    assert value in str(direct.value)

    # The same value through the whole program: it fails before the mock runtime starts, so no
    # resource can have been declared.
    with pytest.raises(ConfigError) as via_program:
        run_stack(stack, overrides=overrides)
    assert str(via_program.value) == str(direct.value)
    assert set_mocks_calls == []


def test_good_values_of_the_same_keys_are_accepted() -> None:
    # The bad-value table would also pass if everything were rejected; these neighbours pass.
    raw = {
        **read_stack_file("dev-aws"),
        "seqstack:zoneCount": 2,
        "seqstack:natMode": "perZone",
        "seqstack:smallMinNodes": 2,
        "seqstack:smallMaxNodes": 2,
        "seqstack:kubernetesVersion": "1.34",
        "aws:region": "us-gov-west-1",
        "seqstack:largeMachineTypes": '["m7i.8xlarge"]',  # structured config arrives as JSON text
    }
    cfg = parse_config(raw, "dev-aws")
    assert (cfg.zone_count, cfg.nat_mode, cfg.kubernetes_version) == (2, NatMode.PER_ZONE, "1.34")
    assert (cfg.small.min_nodes, cfg.small.max_nodes) == (2, 2)
    assert cfg.large.machine_types == ("m7i.8xlarge",)
    assert cfg.region == "us-gov-west-1"


def test_pulumi_yaml_declares_exactly_the_keys_of_the_config_table() -> None:
    declared = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]
    assert list(declared) == [f"seqstack:{k.name}" for k in KEYS]
    for key in KEYS:
        entry = declared[f"seqstack:{key.name}"]
        assert entry["type"] == key.type, key.name
        assert entry["description"] == key.description, key.name
        assert entry.get("default") == key.default, key.name
        assert ("default" in entry) == (key.default is not None), key.name
        if key.type == "array":
            assert entry["items"] == {"type": "string"}, key.name
        else:
            assert "items" not in entry, key.name
        assert set(entry) <= {"type", "description", "default", "items"}, key.name


@pytest.mark.parametrize(("stack", "cloud"), [("dev-aws", Cloud.AWS), ("dev-gcp", Cloud.GCP)])
def test_both_stack_files_parse(stack: str, cloud: Cloud) -> None:
    cfg = load_stack_file(stack)
    assert cfg.stack == stack
    assert cfg.cloud is cloud
    assert [p.name for p in cfg.pools] == ["system", "small", "large"]
    assert not cfg.system.spot
    assert cfg.small.spot and cfg.large.spot
    assert cfg.small.min_nodes == 0 and cfg.large.min_nodes == 0
    assert cfg.retain_data


def test_missing_stack_file_names_the_stack_and_lists_known_ones(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.dev-aws.yaml").write_text((PROJECT_DIR / "Pulumi.dev-aws.yaml").read_text())
    with pytest.raises(ConfigError, match=r"no such stack 'prod'.*dev-aws"):
        load_stack_file("prod", tmp_path)
