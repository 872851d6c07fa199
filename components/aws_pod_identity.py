"""An IAM role for one Kubernetes ServiceAccount, bound through EKS Pod Identity."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

#: Trust policy of every Pod Identity role: only the EKS Pod Identity service may assume it, and
#: sts:TagSession lets it attach the cluster/namespace/ServiceAccount session tags.
POD_IDENTITY_TRUST: str = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }
)


@dataclass(frozen=True)
class AwsPodIdentityArgs:
    """Which ServiceAccount gets which permissions."""

    cluster_name: pulumi.Input[str]
    """EKS cluster the association lives in."""
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
            if not _K8S_NAME.match(value):
                raise ValueError(f"AwsPodIdentityArgs.{label}: {value!r} is not a Kubernetes name")
        if self.policy is None and not self.managed_policy_arns:
            raise ValueError(
                f"AwsPodIdentityArgs: {self.namespace}/{self.service_account} needs a policy or "
                "managed_policy_arns (a role with no permissions is a mistake)"
            )


class AwsPodIdentity(pulumi.ComponentResource):
    """A role trusted only by EKS Pod Identity, associated with one namespace/ServiceAccount.

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
            assume_role_policy=POD_IDENTITY_TRUST,
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
            # The association is what hands the role to pods: create it only once the role
            # has its permissions and the agent that serves credentials is installed.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*attachments, *args.depends_on]),
        )
        self.register_outputs({"roleArn": self.role.arn, "associationArn": self.association.association_arn})
