"""The policy pack: the real stacks pass it, and each deliberately insecure input fails it by name.

The policies are run through their own ``validate(args, report_violation)`` (policies.offline),
the way ``seqstack inventory --policy`` runs them; ``pulumi preview --policy-pack policies``
needs the Pulumi engine, which is not available here.
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pulumi_policy
import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    StackValidationArgs,
)
from typer.testing import CliRunner

from policies import rules
from policies.offline import Violation, check_inventory, check_resources, load_resources
from seqstack.cli import app
from stacks.harness import Recorded, run_stack
from workflows.contract import POOL_LABEL

FIXTURES = Path(__file__).parent / "fixtures"
POLICIES_DIR = Path(__file__).resolve().parents[1] / "policies"

# Each insecure fixture and the ONE policy that must reject it.
INSECURE = {
    "insecure_public_bucket.json": "buckets-private",
    "insecure_unencrypted_bucket.json": "buckets-encrypted",
    "insecure_unretained_bucket.json": "buckets-protected",
    "insecure_on_demand_pool.json": "worker-pools-spot-scale-to-zero",
    "insecure_gke_on_demand_pool.json": "worker-pools-spot-scale-to-zero",
    "insecure_imdsv1.json": "node-metadata-locked",
    "insecure_gke_node_metadata.json": "node-metadata-locked",
    "insecure_s3_wildcard.json": "no-iam-wildcard-admin",
    "insecure_project_storage_admin.json": "no-project-wide-storage-roles",
    "insecure_mutable_ecr.json": "registries-immutable-scanned",
    "insecure_mutable_artifact_registry.json": "registries-immutable-scanned",
    "insecure_registry_cleanup_tagged.json": "registry-cleanup-keeps-tagged",
    "insecure_network_ranges.json": "network-ranges",
    "insecure_unpinned_chart.json": "helm-charts-pinned",
    "insecure_argo_loadbalancer.json": "argo-server-private",
}


def _policies(violations: list[Violation]) -> set[str]:
    return {v.policy for v in violations}


def _describe(violations: list[Violation]) -> str:
    return "\n".join(f"{v.policy}: {v.resource_name}: {v.message}" for v in violations)


@pytest.mark.parametrize("stack", ["dev-aws", "dev-gcp"])
def test_committed_stacks_pass_every_policy(stack: str) -> None:
    inventory = run_stack(stack)
    assert inventory.resources, "the stack declared nothing"
    violations = check_inventory(inventory)
    assert violations == [], _describe(violations)


@pytest.mark.parametrize(("fixture", "policy"), sorted(INSECURE.items()))
def test_insecure_fixture_fails_with_the_right_policy(fixture: str, policy: str) -> None:
    violations = check_resources(load_resources(FIXTURES / fixture))
    assert _policies(violations) == {policy}, _describe(violations)
    assert all(v.mandatory for v in violations)
    assert all(v.resource_name for v in violations), "every violation names its resource"


def test_every_policy_has_an_insecure_fixture() -> None:
    assert set(INSECURE.values()) == set(rules.POLICY_NAMES)
    assert set(INSECURE) == {p.name for p in FIXTURES.glob("insecure_*.json")}


def test_every_policy_is_mandatory_and_uniquely_named() -> None:
    assert len(set(rules.POLICY_NAMES)) == len(rules.POLICIES)
    assert all(p.enforcement_level == EnforcementLevel.MANDATORY for p in rules.POLICIES)


def test_pool_label_matches_the_outputs_contract() -> None:
    # The pack runs in its own virtualenv without seqstack, so it repeats the label.
    assert rules.POOL_LABEL == POOL_LABEL


# Insecure config values go through the REAL program, not hand-written inputs.
@pytest.mark.parametrize("stack", ["dev-aws", "dev-gcp"])
@pytest.mark.parametrize(
    ("overrides", "policy"),
    [
        ({"seqstack:smallSpot": False}, "worker-pools-spot-scale-to-zero"),
        ({"seqstack:largeMinNodes": 1}, "worker-pools-spot-scale-to-zero"),
        ({"seqstack:retainData": False}, "buckets-protected"),
    ],
)
def test_weakening_config_is_caught(stack: str, overrides: dict[str, Any], policy: str) -> None:
    violations = check_inventory(run_stack(stack, overrides=overrides))
    assert _policies(violations) == {policy}, _describe(violations)


def test_cli_policy_flag_exits_1_on_violation_and_0_on_a_clean_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    import stacks.harness

    runner = CliRunner()
    clean = runner.invoke(app, ["inventory", "--stack", "dev-aws", "--policy"])
    assert clean.exit_code == 0, clean.output
    assert "no violation" in clean.output

    weakened = run_stack("dev-aws", overrides={"seqstack:largeSpot": False})
    monkeypatch.setattr(stacks.harness, "run_stack", lambda stack: weakened)
    failing = runner.invoke(app, ["inventory", "--stack", "dev-aws", "--policy", "--format", "json"])
    assert failing.exit_code == 1, failing.output
    # stdout only: the mock runtime may log warnings to stderr, which `output` interleaves.
    reported = json.loads(failing.stdout)
    assert {v["policy"] for v in reported} == {"worker-pools-spot-scale-to-zero"}
    assert {v["resource_name"] for v in reported} == {"pool-large-ng"}


def test_pack_entry_point_registers_every_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    """``pulumi preview --policy-pack policies`` runs the directory (runpy.run_path, as the Pulumi
    Python host does); PolicyPack would start a gRPC server, so it is replaced by a recorder."""
    created: list[dict[str, Any]] = []

    def fake_pack(**kwargs: Any) -> None:
        created.append(kwargs)

    monkeypatch.setattr(pulumi_policy, "PolicyPack", fake_pack)
    runpy.run_path(str(POLICIES_DIR), run_name="__main__")
    assert len(created) == 1
    assert created[0]["name"] == rules.PACK_NAME
    assert [p.name for p in created[0]["policies"]] == list(rules.POLICY_NAMES)


def test_pack_project_file_declares_the_python_runtime() -> None:
    import yaml

    project = yaml.safe_load((POLICIES_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    requirements = (POLICIES_DIR / "requirements.txt").read_text()
    assert "pulumi-policy==" in requirements


# --- rule details the fixtures do not reach -----------------------------------------------


@pytest.mark.parametrize(
    ("version", "pinned"),
    [
        ("0.45.1", True),
        ("v1.2.3", True),
        ("1.2.3-rc.1", True),
        ("", False),
        (None, False),
        ("^1.0", False),
        ("~0.45", False),
        (">=0.45.0", False),
        ("0.45.x", False),
        ("latest", False),
        ("1.2", False),
    ],
)
def test_exact_semver(version: Any, pinned: bool) -> None:
    assert rules.is_exact_semver(version) is pinned


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.mark.parametrize(
    ("statement", "flagged"),
    [
        ({"Effect": "Allow", "Action": "*", "Resource": "*"}, True),
        ({"Effect": "Allow", "Action": ["s3:GetObject", "s3:*"], "Resource": ["*"]}, True),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, True),
        ({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::data/*"}, False),
        ({"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}, False),
        ({"Effect": "Deny", "Action": "s3:*", "Resource": "*"}, False),
    ],
)
def test_wildcard_statements(statement: dict[str, Any], flagged: bool) -> None:
    assert bool(list(rules.wildcard_statements(_doc(statement)))) is flagged


def _one(type_token: str, inputs: dict[str, Any], name: str = "r") -> list[Violation]:
    resource = Recorded(
        type=type_token,
        name=name,
        parent=None,
        parent_type=None,
        inputs=inputs,
        secret_inputs=inputs,
        custom=True,
        urn=f"urn:pulumi:t::seqstack::{type_token}::{name}",
        retain_on_delete=True,
    )
    return check_resources([resource])


@pytest.mark.parametrize(
    ("server", "bad"),
    [
        ({"serviceType": "ClusterIP", "authModes": ["client"]}, False),
        ({"authModes": ["client", "server"]}, False),
        ({"extraArgs": ["--auth-mode=server"]}, True),
        ({"extraArgs": ["--auth-mode", "server"]}, True),
        ({"serviceType": "NodePort"}, True),
        ({"ingress": {"enabled": True, "hosts": ["argo.example.org"]}}, True),
    ],
)
def test_argo_server_values(server: dict[str, Any], bad: bool) -> None:
    release = {"chart": "argo-workflows", "version": "0.45.1", "values": {"server": server}}
    violations = _one("kubernetes:helm.sh/v3:Release", release)
    assert (_policies(violations) == {"argo-server-private"}) is bad, _describe(violations)


def test_managed_full_access_policy_attachment_is_a_wildcard() -> None:
    arn = "arn:aws:iam::aws:policy/AmazonS3FullAccess"
    violations = _one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", {"role": "r", "policyArn": arn})
    assert _policies(violations) == {"no-iam-wildcard-admin"}
    pull_only = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly"
    assert (
        _one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", {"role": "r", "policyArn": pull_only}) == []
    )


def test_node_group_without_launch_template_is_caught() -> None:
    group = {
        "capacityType": "SPOT",
        "scalingConfig": {"minSize": 0, "maxSize": 4, "desiredSize": 0},
        "labels": {POOL_LABEL: "large"},
    }
    assert _policies(_one("aws:eks/nodeGroup:NodeGroup", group)) == {"node-metadata-locked"}


def test_unlabelled_and_system_pools_may_be_on_demand() -> None:
    system = {
        "capacityType": "ON_DEMAND",
        "scalingConfig": {"minSize": 1, "maxSize": 3, "desiredSize": 1},
        "labels": {POOL_LABEL: "system"},
        "launchTemplate": {"id": "lt-1", "version": "1"},
    }
    assert _one("aws:eks/nodeGroup:NodeGroup", system) == []


def _policy_resource(
    type_token: str, name: str, props: dict[str, Any], deps: dict[str, list[PolicyResource]] | None = None
) -> PolicyResource:
    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)
    return PolicyResource(type_token, props, f"urn:{name}", name, opts, None, None, [], deps or {})


def test_bucket_settings_pair_by_property_dependency_as_under_the_engine() -> None:
    """In preview a generated bucket name is unknown; the engine still sends the dependency."""
    a = _policy_resource("aws:s3/bucket:Bucket", "a", {"bucketPrefix": "a-"})
    b = _policy_resource("aws:s3/bucket:Bucket", "b", {"bucketPrefix": "b-"})
    flags = dict.fromkeys(
        ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True
    )
    block_a = _policy_resource(rules.S3_PUBLIC_ACCESS_BLOCK, "a-pab", dict(flags), {"bucket": [a]})
    reported: list[str | None] = []
    rules.buckets_private.validate(
        StackValidationArgs([a, b, block_a]), lambda message, urn=None: reported.append(urn)
    )
    assert reported == ["urn:b"], "bucket b has no public access block; a has one"
