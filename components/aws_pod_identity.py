"""An IAM role for one Kubernetes ServiceAccount, bound through EKS Pod Identity."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from workflows.k8s_names import name_problem

#: Session tags EKS Pod Identity attaches to the AssumeRole request it makes for a pod (the
#: list: https://docs.aws.amazon.com/eks/latest/userguide/pod-id-abac.html).
_CLUSTER_TAG = "aws:RequestTag/eks-cluster-arn"
_NAMESPACE_TAG = "aws:RequestTag/kubernetes-namespace"
_SERVICE_ACCOUNT_TAG = "aws:RequestTag/kubernetes-service-account"


def pod_identity_trust(cluster_arn: str, namespace: str, service_account: str) -> str:
    """Trust policy (JSON) of a Pod Identity role that only one ServiceAccount of one cluster may use.

    Only the EKS Pod Identity service may assume the role, and sts:TagSession lets it attach its
    session tags. Without the condition, any Pod Identity association in the account (a mistaken
    or malicious one for another ServiceAccount, or one in another cluster) could hand this
    role's credentials to its pods; with it, STS refuses unless the cluster ARN, namespace and
    ServiceAccount tags EKS sets are this role's own. AWS documents narrowing the trust this way:
    https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html (tag keys:
    https://docs.aws.amazon.com/eks/latest/userguide/pod-id-abac.html).
    """
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "pods.eks.amazonaws.com"},
                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                    "Condition": {
                        "StringEquals": {
                            _CLUSTER_TAG: cluster_arn,
                            _NAMESPACE_TAG: namespace,
                            _SERVICE_ACCOUNT_TAG: service_account,
                        }
                    },
                }
            ],
        }
    )


def eks_cluster_arn_of(
    cluster_name: pulumi.Input[str], parent: pulumi.Resource | None = None
) -> pulumi.Output[str]:
    """ARN of the EKS cluster ``cluster_name`` in the provider's partition, region and account.

    EKS cluster ARNs are ``arn:<partition>:eks:<region>:<account>:cluster/<name>``. Built from the
    name because :class:`components.aws_eks_cluster.AwsEksCluster` passes on only the name (under
    the mock runtime pulumi-eks's ``eks_cluster`` cannot be read); pass its ``cluster_name``
    output so the ARN, like the name, resolves only once the cluster exists. Invokes go through
    ``parent``'s provider, the one that creates the cluster.
    """
    opts = pulumi.InvokeOutputOptions(parent=parent)
    return pulumi.Output.all(
        aws.get_partition_output(opts=opts).partition,
        aws.get_region_output(opts=opts).region,
        aws.get_caller_identity_output(opts=opts).account_id,
        cluster_name,
    ).apply(lambda v: f"arn:{v[0]}:eks:{v[1]}:{v[2]}:cluster/{v[3]}")


@dataclass(frozen=True)
class AwsPodIdentityArgs:
    """Which ServiceAccount gets which permissions."""

    cluster_name: pulumi.Input[str]
    """EKS cluster the association lives in; pass the cluster's output. The role's trust names
    the cluster's ARN, built from this name (:func:`eks_cluster_arn_of`)."""
    namespace: str
    """Namespace of the ServiceAccount (it need not exist yet)."""
    service_account: str
    """ServiceAccount name."""
    policy: pulumi.Input[str] | None = None
    """Inline IAM policy document (JSON) of the role, scoped to the resources the pods need."""
    managed_policy_arns: Sequence[str] = field(default_factory=tuple)
    """AWS managed policies to attach instead of (or besides) the inline policy."""
    depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)
    """Resources the association must wait for (the Pod Identity agent add-on)."""

    def __post_init__(self) -> None:
        for label, value in (("namespace", self.namespace), ("service_account", self.service_account)):
            if name_problem(value):
                raise ValueError(f"AwsPodIdentityArgs.{label}: {value!r} is not a Kubernetes name")
        if self.policy is None and not self.managed_policy_arns:
            raise ValueError(
                f"AwsPodIdentityArgs: {self.namespace}/{self.service_account} needs a policy or "
                "managed_policy_arns (a role with no permissions is a mistake)"
            )


class AwsPodIdentity(pulumi.ComponentResource):
    """A role trusted only by EKS Pod Identity, associated with one namespace/ServiceAccount.

    Its trust policy names that namespace, ServiceAccount and cluster, so no other association
    can hand out its credentials.

    Pods running as that ServiceAccount get the role's credentials from the Pod Identity agent;
    no other pod does, and the node's own role is not involved.
    """

    role: aws.iam.Role
    """The IAM role the ServiceAccount's pods assume."""
    association: aws.eks.PodIdentityAssociation
    """The binding of the role to the ServiceAccount."""

    def __init__(
        self, name: str, args: AwsPodIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("seqstack:aws:PodIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.role = aws.iam.Role(
            f"{name}-role",
            description=f"EKS Pod Identity role of {args.namespace}/{args.service_account}",
            # Assumable only for this namespace/ServiceAccount on this cluster (see pod_identity_trust).
            assume_role_policy=eks_cluster_arn_of(args.cluster_name, parent=self).apply(
                lambda arn: pod_identity_trust(arn, args.namespace, args.service_account)
            ),
            opts=child,
        )
        attachments: list[pulumi.Resource] = []
        if args.policy is not None:
            attachments.append(
                aws.iam.RolePolicy(f"{name}-policy", role=self.role.name, policy=args.policy, opts=child)
            )
        for arn in args.managed_policy_arns:
            attachments.append(
                aws.iam.RolePolicyAttachment(
                    f"{name}-{arn.rsplit('/', 1)[-1]}", role=self.role.name, policy_arn=arn, opts=child
                )
            )
        self.association = aws.eks.PodIdentityAssociation(
            f"{name}-association",
            cluster_name=args.cluster_name,
            namespace=args.namespace,
            service_account=args.service_account,
            role_arn=self.role.arn,
            # The role's trust conditions match the session tags EKS attaches; with them disabled
            # (the default is on) STS would refuse every credential request. That also rules out
            # the association's own ``policy``, which requires disabled session tags.
            disable_session_tags=False,
            # The association is what hands the role to pods: create it only once the role
            # has its permissions and the agent that serves credentials is installed.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*attachments, *args.depends_on]),
        )
        self.register_outputs({"roleArn": self.role.arn, "associationArn": self.association.association_arn})
