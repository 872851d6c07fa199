"""dev-aws control plane: what pulumi-eks is asked for, the Pod Identity agent, the node role."""

from __future__ import annotations

import json

import pytest

from components.aws_eks_cluster import AwsEksClusterArgs
from stacks.config import ConfigError
from stacks.harness import Inventory, run_stack

ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"


def test_eks_cluster_inputs(aws_inv: Inventory) -> None:
    eks = aws_inv.one("eks:index:Cluster").inputs
    assert eks["name"] == "seqstack-dev"
    assert eks["version"] == "1.35"
    assert eks["authenticationMode"] == "API"
    assert eks["enabledClusterLogTypes"] == [
        "api",
        "audit",
        "authenticator",
        "controllerManager",
        "scheduler",
    ]
    assert eks["skipDefaultNodeGroup"] is True
    assert eks["endpointPrivateAccess"] is True
    assert eks["nodeAssociatePublicIpAddress"] is False
    assert eks["createOidcProvider"] is False  # Pod Identity, not IRSA
    assert eks["vpcCniOptions"]["enableNetworkPolicy"] is True  # else NetworkPolicy is not enforced
    assert eks["vpcId"] == aws_inv.named("network-vpc").id
    assert sorted(eks["privateSubnetIds"]) == sorted(
        aws_inv.named(f"network-private-{i}").id for i in range(3)
    )
    assert sorted(eks["publicSubnetIds"]) == sorted(aws_inv.named(f"network-public-{i}").id for i in range(3))


def test_cluster_follows_config() -> None:
    inv = run_stack(
        "dev-aws",
        overrides={
            "seqstack:clusterName": "bio-prod",
            "seqstack:kubernetesVersion": "1.34",
            "seqstack:zoneCount": 2,
        },
    )
    eks = inv.one("eks:index:Cluster").inputs
    assert (eks["name"], eks["version"]) == ("bio-prod", "1.34")
    assert len(eks["privateSubnetIds"]) == 2
    assert inv.outputs["clusterName"] == "bio-prod"


def test_public_api_endpoint_admits_only_the_configured_networks(aws_inv: Inventory) -> None:
    assert aws_inv.one("eks:index:Cluster").inputs["publicAccessCidrs"] == ["0.0.0.0/0"]  # the default
    narrowed = run_stack("dev-aws", overrides={"seqstack:apiAllowedCidrs": ["203.0.113.0/24"]})
    assert narrowed.one("eks:index:Cluster").inputs["publicAccessCidrs"] == ["203.0.113.0/24"]


def test_pod_identity_agent_addon_waits_for_the_cluster(aws_inv: Inventory) -> None:
    addon = aws_inv.one("aws:eks/addon:Addon", "cluster-pod-identity-agent")
    assert addon.inputs["addonName"] == "eks-pod-identity-agent"
    assert addon.inputs["clusterName"] == "seqstack-dev"
    assert "cluster-eks" in addon.dependencies


def test_node_role_can_join_and_pull_but_has_no_s3_or_cni_permissions(aws_inv: Inventory) -> None:
    role = aws_inv.one("aws:iam/role:Role", "cluster-node-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "ec2.amazonaws.com"}]
    attachments = [a for a in aws_inv.of_type(ATTACHMENT) if a.parent == "cluster"]
    assert sorted(a.inputs["policyArn"] for a in attachments) == [
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    ]
    assert all("cluster-node-role" in a.dependencies for a in attachments)
    # Nothing else attaches to or inlines into the node role.
    node_role_refs = {
        r.name
        for r in aws_inv.resources
        if r.type.startswith("aws:iam/") and r.parent != "cluster" and "cluster-node-role" in r.dependencies
    }
    assert node_role_refs == set()
    assert not [r for r in aws_inv.of_type("aws:iam/rolePolicy:RolePolicy") if r.parent == "cluster"]


def test_vpc_cni_gets_its_permissions_through_pod_identity(aws_inv: Inventory) -> None:
    association = aws_inv.one(
        "aws:eks/podIdentityAssociation:PodIdentityAssociation", "cni-identity-association"
    )
    assert (association.inputs["namespace"], association.inputs["serviceAccount"]) == (
        "kube-system",
        "aws-node",
    )
    attached = [a.inputs["policyArn"] for a in aws_inv.of_type(ATTACHMENT) if a.parent == "cni-identity"]
    assert attached == ["arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"]
    assert "cluster-pod-identity-agent" in association.dependencies
    assert "cni-identity-AmazonEKS_CNI_Policy" in association.dependencies


def test_control_plane_logs_have_bounded_retention_and_go_with_the_stack(aws_inv: Inventory) -> None:
    group = aws_inv.one("aws:cloudwatch/logGroup:LogGroup", "cluster-control-plane-logs")
    # The name EKS writes to; declared first, EKS would otherwise create it outside the stack.
    assert group.inputs["name"] == "/aws/eks/seqstack-dev/cluster"
    assert group.inputs["retentionInDays"] == 30
    assert "cluster-control-plane-logs" in aws_inv.named("cluster-eks").dependencies
    assert not group.retain_on_delete and not group.protect
    with pytest.raises(ValueError, match="log_retention_days: 10 "):
        AwsEksClusterArgs(
            cluster_name="c",
            version="1.33",
            vpc_id="vpc",
            private_subnet_ids=["a", "b"],
            public_subnet_ids=["c", "d"],
            log_retention_days=10,
        )


def test_a_kubernetes_version_without_a_pinned_autoscaler_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"seqstack:kubernetesVersion: 1\.31 is not a Kubernetes minor"):
        run_stack("dev-aws", overrides={"seqstack:kubernetesVersion": "1.31"})
