"""dev-aws identity: the pipeline's Pod Identity role reaches the data bucket and nothing else."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.aws_pod_identity import AwsPodIdentityArgs, pod_identity_trust
from stacks.harness import FAKE_ACCOUNT, Inventory, iter_policy_documents

ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_workflow_service_account_is_bound_to_a_pod_identity_role(aws_inv: Inventory) -> None:
    association = aws_inv.one(ASSOCIATION, "workflow-identity-association")
    assert association.inputs["clusterName"] == "seqstack-dev"
    assert association.inputs["namespace"] == aws_inv.outputs["namespace"] == "biojobs"
    assert (
        association.inputs["serviceAccount"] == aws_inv.outputs["workflowServiceAccount"] == "argo-workflow"
    )
    assert association.inputs["roleArn"].startswith("arn:aws:iam::123456789012:role/workflow-identity-role")
    assert "cluster-pod-identity-agent" in association.dependencies
    assert "workflow-identity-policy" in association.dependencies

    role = aws_inv.one("aws:iam/role:Role", "workflow-identity-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {
                "StringEquals": {
                    "aws:RequestTag/eks-cluster-arn": (
                        "arn:aws:eks:eu-west-1:123456789012:cluster/seqstack-dev"
                    ),
                    "aws:RequestTag/kubernetes-namespace": "biojobs",
                    "aws:RequestTag/kubernetes-service-account": "argo-workflow",
                }
            },
        }
    ]


def test_every_pod_identity_role_trusts_only_its_own_service_account_on_this_cluster(
    aws_inv: Inventory,
) -> None:
    # The mock eks:index:Cluster has no arn output (its eksCluster is a resource-typed output the
    # mock cannot return); the stack builds the ARN from the cluster's name in EKS's format, with
    # the account and region the program's invokes and provider report.
    cluster = aws_inv.one("eks:index:Cluster")
    cluster_arn = f"arn:aws:eks:{aws_inv.config.region}:{FAKE_ACCOUNT}:cluster/{cluster.inputs['name']}"
    associations = aws_inv.of_type(ASSOCIATION)
    # VPC CNI, workflow, Cluster Autoscaler, CloudWatch agent.
    assert len(associations) == 4
    trusted_by_pods = {
        r.name
        for r in aws_inv.of_type("aws:iam/role:Role")
        if "pods.eks.amazonaws.com" in r.inputs["assumeRolePolicy"]
    }
    seen = set()
    for association in associations:
        assert association.inputs["clusterName"] == cluster.inputs["name"]
        # The trust conditions need the session tags EKS attaches; they must stay on.
        assert association.inputs["disableSessionTags"] is False, association.name
        (role,) = (r for r in aws_inv.of_type("aws:iam/role:Role") if r.parent == association.parent)
        assert association.inputs["roleArn"].startswith(f"arn:aws:iam::{FAKE_ACCOUNT}:role/{role.name}-")
        (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
        assert statement["Condition"] == {
            "StringEquals": {
                "aws:RequestTag/eks-cluster-arn": cluster_arn,
                "aws:RequestTag/kubernetes-namespace": association.inputs["namespace"],
                "aws:RequestTag/kubernetes-service-account": association.inputs["serviceAccount"],
            }
        }, role.name
        seen.add(role.name)
    # No Pod Identity role without an association (and so without a checked trust).
    assert seen == trusted_by_pods


def test_pod_identity_trust_names_cluster_namespace_and_service_account() -> None:
    arn = "arn:aws:eks:us-east-1:111122223333:cluster/other"
    document = json.loads(pod_identity_trust(arn, "kube-system", "aws-node"))
    assert document["Version"] == "2012-10-17"
    (statement,) = document["Statement"]
    assert statement == {
        "Effect": "Allow",
        "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Condition": {
            "StringEquals": {
                "aws:RequestTag/eks-cluster-arn": arn,
                "aws:RequestTag/kubernetes-namespace": "kube-system",
                "aws:RequestTag/kubernetes-service-account": "aws-node",
            }
        },
    }


def test_workflow_policy_is_scoped_to_the_data_bucket(aws_inv: Inventory) -> None:
    bucket = aws_inv.outputs["dataBucket"].removeprefix("s3://")
    bucket_arn = f"arn:aws:s3:::{bucket}"
    policy = json.loads(
        aws_inv.one("aws:iam/rolePolicy:RolePolicy", "workflow-identity-policy").inputs["policy"]
    )
    by_resource: dict[str, set[str]] = {}
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        for resource in _as_list(statement["Resource"]):
            by_resource.setdefault(resource, set()).update(_as_list(statement["Action"]))
    assert set(by_resource) == {bucket_arn, f"{bucket_arn}/*"}
    assert {"s3:ListBucket", "s3:GetBucketLocation"} <= by_resource[bucket_arn]
    assert {
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
    } <= by_resource[f"{bucket_arn}/*"]
    assert all(a.startswith("s3:") and "*" not in a for actions in by_resource.values() for a in actions)
    # Bucket-level actions on the bucket, object-level actions on its objects, not mixed.
    assert not {a for a in by_resource[bucket_arn] if a.endswith("Object")}
    # No managed policy widens the role.
    assert not [
        a
        for a in aws_inv.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.parent == "workflow-identity"
    ]


def test_no_iam_statement_allows_a_wildcard_action_on_every_resource(aws_inv: Inventory) -> None:
    documents = list(iter_policy_documents(aws_inv))
    # Trusts of node, CNI and workflow roles, the workflow policy, the bucket policy.
    assert len(documents) >= 5
    checked = 0
    for resource, document in documents:
        if "Statement" not in document:  # ECR lifecycle policies share the input name "policy"
            assert resource.type == "aws:ecr/lifecyclePolicy:LifecyclePolicy", resource.name
            continue
        for statement in _as_list(document["Statement"]):
            checked += 1
            if statement["Effect"] != "Allow":
                continue
            actions = _as_list(statement.get("Action", []))
            resources = _as_list(statement.get("Resource", []))
            assert "NotAction" not in statement and "NotResource" not in statement, resource.name
            wildcard_action = any(a == "*" or a.endswith(":*") for a in actions)
            wildcard_resource = any(r == "*" for r in resources)
            assert not (wildcard_action and wildcard_resource), (resource.name, statement)
            assert not wildcard_action, (resource.name, statement)
    assert checked >= 5


def test_pod_identity_args_refuse_a_role_without_permissions_or_a_bad_name() -> None:
    with pytest.raises(ValueError, match="needs a policy"):
        AwsPodIdentityArgs(cluster_name="c", namespace="biojobs", service_account="argo-workflow")
    with pytest.raises(ValueError, match="service_account"):
        AwsPodIdentityArgs(
            cluster_name="c",
            namespace="biojobs",
            service_account="Argo_Workflow",
            policy="{}",
        )
