"""Who can reach the cluster: every configured principal gets access, the preview one read-only."""

from __future__ import annotations

from typing import Any

import pytest

from components.aws_eks_cluster import eks_policy_arn
from stacks.config import ConfigError
from stacks.harness import run_stack

ADMIN_ROLE = "arn:aws:iam::123456789012:role/platform-admins"
ADMIN_USER = "arn:aws:iam::123456789012:user/ci/deployer"
PREVIEW_ROLE = "arn:aws:iam::123456789012:role/github-pr-preview"
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
VIEW_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
READ_ONLY_POLICIES = {VIEW_POLICY}
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"


def _entries(overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    inv = run_stack("dev-aws", overrides=overrides)
    entries = inv.one("eks:index:Cluster").inputs.get("accessEntries") or {}
    return {e["principalArn"]: e for e in entries.values()}


def _policies(entry: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(p["policyArn"], p["accessScope"]) for p in entry["accessPolicies"].values()]


def test_every_configured_principal_gets_an_entry_and_the_preview_one_is_read_only() -> None:
    entries = _entries(
        {"seqstack:adminPrincipals": [ADMIN_ROLE, ADMIN_USER], "seqstack:previewPrincipal": PREVIEW_ROLE}
    )
    assert set(entries) == {ADMIN_ROLE, ADMIN_USER, PREVIEW_ROLE}
    for admin in (ADMIN_ROLE, ADMIN_USER):
        assert _policies(entries[admin]) == [(ADMIN_POLICY, {"type": "cluster"})]
    preview = _policies(entries[PREVIEW_ROLE])
    assert preview == [(VIEW_POLICY, {"type": "cluster"})]
    assert all(arn in READ_ONLY_POLICIES for arn, _ in preview)
    assert not any("Admin" in arn for arn, _ in preview)
    # No Kubernetes groups: access comes from the EKS policies alone, nothing in RBAC to keep.
    assert not any(e.get("kubernetesGroups") for e in entries.values())


def test_without_the_keys_only_the_creator_has_access() -> None:
    assert _entries({}) == {}


def test_entries_are_keyed_by_principal_so_reordering_replaces_nothing() -> None:
    def keys(admins: list[str]) -> dict[str, str]:
        inv = run_stack("dev-aws", overrides={"seqstack:adminPrincipals": admins})
        entries = inv.one("eks:index:Cluster").inputs["accessEntries"]
        return {k: e["principalArn"] for k, e in entries.items()}

    assert keys([ADMIN_ROLE, ADMIN_USER]) == keys([ADMIN_USER, ADMIN_ROLE])


@pytest.mark.parametrize(
    ("stack", "overrides", "message"),
    [
        (
            "dev-aws",
            {"seqstack:adminPrincipals": ["platform-admins"]},
            "seqstack:adminPrincipals: 'platform-admins'",
        ),
        (
            "dev-aws",
            {"seqstack:adminPrincipals": ["arn:aws:sts::123456789012:assumed-role/admins/alice"]},
            "is a session ARN",
        ),
        ("dev-aws", {"seqstack:previewPrincipal": "arn:aws:iam::1234:role/x"}, "seqstack:previewPrincipal:"),
        (
            "dev-aws",
            {"seqstack:adminPrincipals": [PREVIEW_ROLE], "seqstack:previewPrincipal": PREVIEW_ROLE},
            "seqstack:previewPrincipal: 'arn:aws:iam::123456789012:role/github-pr-preview' is already listed",
        ),
        ("dev-aws", {"seqstack:adminPrincipals": [ADMIN_ROLE, ADMIN_ROLE]}, "is already listed"),
        ("dev-gcp", {"seqstack:adminPrincipals": [ADMIN_ROLE]}, "is not an IAM member"),
        ("dev-gcp", {"seqstack:previewPrincipal": "preview@example.com"}, "seqstack:previewPrincipal:"),
    ],
)
def test_bad_principals_fail_at_config_load_naming_the_key(
    stack: str, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        run_stack(stack, overrides=overrides)
    assert message in str(err.value)
    assert str(err.value).startswith("seqstack:")


def test_gke_admins_and_the_read_only_preview_account_get_project_roles() -> None:
    preview = "serviceAccount:pr-preview@seqstack-dev.iam.gserviceaccount.com"
    admins = ["user:alice@example.com", "group:platform@example.com"]
    inv = run_stack(
        "dev-gcp", overrides={"seqstack:adminPrincipals": admins, "seqstack:previewPrincipal": preview}
    )
    people = [r for r in inv.of_type(PROJECT_MEMBER) if r.parent == "access"]
    assert sorted((r.inputs["member"], r.inputs["role"]) for r in people) == sorted(
        [(m, "roles/container.admin") for m in admins] + [(preview, "roles/container.viewer")]
    )
    assert all(r.inputs["project"] == "seqstack-dev" for r in people)
    # Nobody else got a container role; without the keys there are no such grants at all.
    others = [r for r in inv.of_type(PROJECT_MEMBER) if r.parent != "access"]
    assert not any(r.inputs["role"].startswith("roles/container.") for r in others)
    assert not [r for r in run_stack("dev-gcp").of_type(PROJECT_MEMBER) if r.parent == "access"]


def test_access_policy_arns_follow_the_partition() -> None:
    assert eks_policy_arn("admin") == ADMIN_POLICY
    assert eks_policy_arn("view", "aws-us-gov") == VIEW_POLICY.replace("arn:aws:", "arn:aws-us-gov:")
    with pytest.raises(KeyError):
        eks_policy_arn("owner")
