"""EKS-only parts of the platform: the Cluster Autoscaler and the CloudWatch Observability add-on."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.cluster_autoscaler import ClusterAutoscalerArgs
from stacks.harness import Inventory
from stacks.versions import DEFAULT_MINOR
from tests import k8s_schema
from tests.test_platform_components import run_platform
from workflows.contract import pool_placement

#: The dev stacks run the default minor (tests/test_versions.py checks it).
CLUSTER_MINOR = DEFAULT_MINOR

RELEASE = "kubernetes:helm.sh/v3:Release"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return run_platform("dev-aws")


@pytest.fixture(scope="module")
def values(inv) -> dict[str, Any]:
    return inv.one(RELEASE, "autoscaler-release").inputs["values"]


@pytest.fixture(scope="module")
def policy(inv) -> dict[str, Any]:
    return json.loads(inv.one("aws:iam/rolePolicy:RolePolicy", "autoscaler-identity-policy").inputs["policy"])


def test_autoscaler_chart_is_pinned_to_the_clusters_minor(inv, values):
    release = inv.one(RELEASE, "autoscaler-release").inputs
    assert release["chart"] == "cluster-autoscaler"
    assert release["repositoryOpts"] == {"repo": "https://kubernetes.github.io/autoscaler"}
    assert release["version"] == "9.59.0"  # appVersion 1.35.0, the newest chart of that line
    assert release["namespace"] == "kube-system"
    assert values["image"] == {"tag": "v1.35.2"}  # the 1.35 line's latest patch


def test_a_cluster_version_without_a_pinned_autoscaler_is_refused():
    with pytest.raises(ValueError, match=r"no pinned autoscaler for '1\.29'"):
        ClusterAutoscalerArgs(
            cluster_name="c",
            region="eu-west-1",
            kubernetes_version="1.29",
            system_placement=pool_placement("system", tainted=False),
        )


def test_autoscaler_discovers_this_clusters_groups_and_runs_on_the_system_pool(values):
    assert values["cloudProvider"] == "aws"
    assert values["awsRegion"] == "eu-west-1"
    assert values["autoDiscovery"] == {"clusterName": "seqstack-dev"}
    assert values["nodeSelector"] == {"seqstack.io/pool": "system"}
    assert values["rbac"]["serviceAccount"]["name"] == "cluster-autoscaler"


def test_autoscaler_shrinks_idle_spot_nodes_fast_and_balances_pools(values):
    args = values["extraArgs"]
    assert args["scale-down-unneeded-time"] == "2m"
    assert args["scale-down-delay-after-add"] == "2m"
    assert args["expander"] == "least-waste"
    assert args["balance-similar-node-groups"] is True
    # /work is an emptyDir: with the default (true) such nodes would never be removed.
    assert args["skip-nodes-with-local-storage"] is False


def test_autoscaler_pod_settings_are_valid_kubernetes(values):
    spec = {
        "nodeSelector": values["nodeSelector"],
        "tolerations": values["tolerations"],
        "securityContext": values["securityContext"],
        "containers": [
            {
                "name": "cluster-autoscaler",
                "image": "x",
                "resources": values["resources"],
                "securityContext": values["containerSecurityContext"],
            }
        ],
    }
    k8s_schema.validate(k8s_schema.pod(spec), CLUSTER_MINOR)


def test_autoscaler_identity_is_its_own_pod_identity_role(inv):
    assoc = inv.one(ASSOCIATION, "autoscaler-identity-association").inputs
    assert (assoc["namespace"], assoc["serviceAccount"]) == ("kube-system", "cluster-autoscaler")
    assert assoc["clusterName"] == "seqstack-dev"
    assert "pod-identity-agent" in inv.one(ASSOCIATION, "autoscaler-identity-association").dependencies
    # The release waits for the association, or the pod would start without credentials.
    assert "autoscaler-identity-association" in inv.one(RELEASE, "autoscaler-release").dependencies


def test_autoscaler_may_resize_only_groups_tagged_for_this_cluster(policy):
    (scale,) = (s for s in policy["Statement"] if "autoscaling:SetDesiredCapacity" in s["Action"])
    assert sorted(scale["Action"]) == [
        "autoscaling:SetDesiredCapacity",
        "autoscaling:TerminateInstanceInAutoScalingGroup",
    ]
    assert scale["Resource"] == (
        "arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:*:autoScalingGroupName/*"
    )
    assert scale["Condition"] == {
        "StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/seqstack-dev": "owned"}
    }


def test_autoscaler_policy_has_no_wildcard_action_and_writes_nothing_unconditioned(policy):
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in a for a in actions), statement
        if statement["Resource"] == "*" and "Condition" not in statement:
            verbs = {a.split(":")[1] for a in actions}
            assert all(v.startswith(("Describe", "Get")) for v in verbs), statement


def test_autoscaler_reads_only_this_clusters_node_groups(policy):
    (eks,) = (s for s in policy["Statement"] if s["Action"] == ["eks:DescribeNodegroup"])
    assert eks["Resource"] == "arn:aws:eks:eu-west-1:123456789012:nodegroup/seqstack-dev/*/*"


def test_cloudwatch_addon_with_its_own_identity(inv):
    addon = inv.one("aws:eks/addon:Addon", "observability-addon")
    assert addon.inputs["addonName"] == "amazon-cloudwatch-observability"
    assert addon.inputs["clusterName"] == "seqstack-dev"
    assoc = inv.one(ASSOCIATION, "observability-identity-association").inputs
    assert (assoc["namespace"], assoc["serviceAccount"]) == ("amazon-cloudwatch", "cloudwatch-agent")
    attached = inv.one(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "observability-identity-CloudWatchAgentServerPolicy",
    ).inputs
    assert attached["policyArn"] == "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"
    # Credentials and nodes before the add-on's DaemonSets start.
    assert {"observability-identity-association", "nodes"} <= set(addon.dependencies)


def test_gcp_gets_neither_autoscaler_nor_cloudwatch():
    gcp = run_platform("dev-gcp")
    names = {r.name for r in gcp.resources}
    assert not {n for n in names if n.startswith(("autoscaler", "observability"))}
    assert [r.inputs["chart"] for r in gcp.of_type(RELEASE)] == ["argo-workflows"]
