"""Names that must be unique per account/project: derived from config, checked against each
cloud's rules at config load, and different for a second stack left on defaults."""

from __future__ import annotations

from typing import Any

import pytest

from components.naming import service_account_id
from stacks.config import ConfigError, parse_config
from stacks.harness import Inventory, run_config
from stacks.loader import read_stack_file
from stacks.names import default_cluster_name

# Keys whose defaults a second stack would share; removed to get "a stack on defaults".
NAME_KEYS = ("seqstack:clusterName", "seqstack:dataBucketPrefix")


def _defaults_run(base: str, stack: str, extra: dict[str, Any] | None = None) -> Inventory:
    raw = {k: v for k, v in read_stack_file(base).items() if k not in NAME_KEYS}
    raw.update(extra or {})
    return run_config(parse_config(raw, stack), raw)


def _unique_names(inv: Inventory) -> set[tuple[str, str]]:
    """(kind, physical name) of everything that must be unique per account/region or project,
    or globally (buckets)."""
    wanted = {
        "eks:index:Cluster": "name",
        "aws:cloudwatch/logGroup:LogGroup": "name",
        "aws:ecr/repository:Repository": "name",
        "aws:s3/bucket:Bucket": "bucket",
        "gcp:container/cluster:Cluster": "name",
        "gcp:serviceaccount/account:Account": "accountId",
        "gcp:artifactregistry/repository:Repository": "repositoryId",
        "gcp:storage/bucket:Bucket": "name",
    }
    found = {(r.type, str(r.inputs[wanted[r.type]])) for r in inv.resources if r.type in wanted}
    return found


@pytest.mark.parametrize(
    ("base", "expected_kinds"),
    [
        ("dev-aws", 4),  # EKS cluster, log group, ECR repositories, bucket
        ("dev-gcp", 4),  # GKE cluster, service accounts, Artifact Registry, bucket
    ],
)
def test_two_stacks_on_defaults_in_one_account_share_no_unique_name(base: str, expected_kinds: int) -> None:
    first = _unique_names(_defaults_run(base, "team-a"))
    second = _unique_names(_defaults_run(base, "team-b"))
    assert len({kind for kind, _ in first}) == expected_kinds, sorted(first)
    assert not first & second, sorted(first & second)
    assert ("eks:index:Cluster", "seqstack-team-a") in first or (
        "gcp:container/cluster:Cluster",
        "seqstack-team-a",
    ) in first


@pytest.mark.parametrize("base", ["dev-aws", "dev-gcp"])
def test_the_comparison_does_catch_a_shared_cluster_name(base: str) -> None:
    # The same explicit clusterName in two stacks does collide (the user chose it); the check
    # above would see it, so it is not vacuous. Buckets still differ: their hash has the stack.
    same = {"seqstack:clusterName": "shared"}
    shared = _unique_names(_defaults_run(base, "team-a", same)) & _unique_names(
        _defaults_run(base, "team-b", same)
    )
    assert shared and not any("bucket" in kind.lower() for kind, _ in shared)


def test_default_cluster_name_is_made_from_the_stack() -> None:
    assert default_cluster_name("dev-aws") == "seqstack-dev-aws"
    assert default_cluster_name("Prod_EU.2") == "seqstack-prod-eu-2"
    assert parse_config({**read_stack_file("dev-aws"), "seqstack:clusterName": None}, "qa").cluster_name == (
        "seqstack-qa"
    )


def _raw(base: str, **overrides: Any) -> dict[str, Any]:
    raw = dict(read_stack_file(base))
    raw.update({f"seqstack:{k}": v for k, v in overrides.items()})
    return {k: v for k, v in raw.items() if v is not None}


@pytest.mark.parametrize(
    ("base", "stack", "overrides", "needles"),
    [
        # EKS and the cluster regex accept "--", ECR repository names do not.
        (
            "dev-aws",
            "dev-aws",
            {"clusterName": "seq--dev"},
            ["seqstack:clusterName", "'seq--dev/fastqc'", "ECR"],
        ),
        # An S3 name may not start with xn--.
        ("dev-aws", "dev-aws", {"dataBucketPrefix": "xn--data"}, ["seqstack:dataBucketPrefix", "S3 bucket"]),
        # GCS refuses names starting with goog.
        (
            "dev-gcp",
            "dev-gcp",
            {"dataBucketPrefix": "goog-data"},
            ["seqstack:dataBucketPrefix", "GCS bucket"],
        ),
        # The default from a long stack name is too long for a cluster: the message says so.
        (
            "dev-gcp",
            "a-very-long-stack-name-for-a-team-and-region",
            {"clusterName": None},
            ["seqstack:clusterName", "default for stack", "a-very-long-stack-name"],
        ),
    ],
)
def test_a_derived_name_the_cloud_refuses_fails_at_config_load(
    base: str, stack: str, overrides: dict[str, Any], needles: list[str]
) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(_raw(base, **overrides), stack)
    message = str(err.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message


def test_a_bucket_prefix_of_41_characters_works_on_aws() -> None:
    # pulumi_aws's bucket_prefix allows 37; the bucket now has a full name of at most 63.
    prefix = "p" * 41
    raw = _raw("dev-aws", dataBucketPrefix=prefix)
    inv = run_config(parse_config(raw, "dev-aws"), raw)
    name = inv.one("aws:s3/bucket:Bucket").inputs["bucket"]
    assert name.startswith(prefix + "-") and len(name) == 50


def test_service_account_ids_fit_and_stay_distinct_when_cut() -> None:
    a = service_account_id("seqstack-production-europe", "workflows")
    b = service_account_id("seqstack-production-eu-west", "workflows")
    assert len(a) <= 30 and len(b) <= 30 and a != b
    assert a.endswith("-workflows") and a.startswith("seqstack-pro")
    # Short prefixes keep the plain form (existing stacks keep their accounts).
    assert service_account_id("seqstack-dev", "nodes") == "seqstack-dev-nodes"
