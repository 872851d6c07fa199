"""The EKS control plane (pulumi-eks), its Pod Identity agent, and the one IAM role all nodes share."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks

from components.naming import stable_suffix

#: Every control-plane log stream; audit and authenticator are the ones an incident needs.
CONTROL_PLANE_LOGS: tuple[str, ...] = ("api", "audit", "authenticator", "controllerManager", "scheduler")

#: AWS managed policies of the node role, by name. Pull-only ECR access; no S3 (pods get data
#: access through Pod Identity, never through the node); the VPC CNI gets its own Pod Identity role.
NODE_POLICIES: tuple[str, ...] = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly")

#: EKS access policies by access level (``arn:<partition>:eks::aws:cluster-access-policy/<name>``):
#: cluster admin, or read most objects (not Secrets) and write nothing.
EKS_ACCESS_POLICIES: dict[str, str] = {"admin": "AmazonEKSClusterAdminPolicy", "view": "AmazonEKSViewPolicy"}

_VERSION = re.compile(r"^1\.\d{2}$")

#: The retention periods CloudWatch Logs accepts.
_RETENTION_DAYS = frozenset({1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 3653})


@dataclass(frozen=True)
class AwsEksClusterArgs:
    """What the cluster needs to know."""

    cluster_name: str
    """EKS cluster name (fixed, so subnet tags and node groups can name it before it exists)."""
    version: str
    """Kubernetes minor version, ``1.NN``."""
    vpc_id: pulumi.Input[str]
    """VPC the cluster runs in."""
    private_subnet_ids: Sequence[pulumi.Input[str]]
    """Subnets of the control-plane network interfaces and the nodes."""
    public_subnet_ids: Sequence[pulumi.Input[str]]
    """Subnets for internet-facing load balancers."""
    partition: str = "aws"
    """AWS partition of the managed policy ARNs (``aws``, ``aws-cn``, ``aws-us-gov``)."""
    log_retention_days: int = 30
    """Days CloudWatch keeps the control-plane logs."""
    api_allowed_cidrs: Sequence[str] = ("0.0.0.0/0",)
    """Networks that may reach the public API endpoint (an access entry is still required)."""
    admin_principal_arns: Sequence[str] = ()
    """IAM roles/users given cluster-admin through an access entry (the creator has one already)."""
    view_principal_arns: Sequence[str] = ()
    """IAM roles/users given read-only access (``AmazonEKSViewPolicy``), e.g. the PR-preview role."""

    def __post_init__(self) -> None:
        if not _VERSION.match(self.version):
            raise ValueError(f"AwsEksClusterArgs.version: {self.version!r} is not of the form 1.NN")
        if self.log_retention_days not in _RETENTION_DAYS:
            raise ValueError(
                f"AwsEksClusterArgs.log_retention_days: {self.log_retention_days} is not one of "
                f"CloudWatch's periods {sorted(_RETENTION_DAYS)}"
            )
        overlap = set(self.admin_principal_arns) & set(self.view_principal_arns)
        if overlap:
            raise ValueError(f"AwsEksClusterArgs: {sorted(overlap)} are both admin and read-only")
        if len(self.private_subnet_ids) < 2:
            raise ValueError("AwsEksClusterArgs.private_subnet_ids: EKS needs subnets in at least 2 zones")


def access_entries(args: AwsEksClusterArgs) -> dict[str, eks.AccessEntryArgs]:
    """One access entry per principal: cluster-scoped admin or view policy, keyed by a stable hash
    of the ARN (reordering the config list replaces nothing)."""
    levels = [(arn, "admin") for arn in args.admin_principal_arns] + [
        (arn, "view") for arn in args.view_principal_arns
    ]
    return {
        f"{level}-{stable_suffix(arn)}": eks.AccessEntryArgs(
            principal_arn=arn,
            access_policies={
                level: eks.AccessPolicyAssociationArgs(
                    policy_arn=eks_policy_arn(level, args.partition),
                    access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                )
            },
        )
        for arn, level in levels
    }


def eks_policy_arn(level: str, partition: str = "aws") -> str:
    """The EKS access policy of a level (``admin`` or ``view``)."""
    return f"arn:{partition}:eks::aws:cluster-access-policy/{EKS_ACCESS_POLICIES[level]}"


class AwsEksCluster(pulumi.ComponentResource):
    """An EKS cluster with access entries, full control-plane logging and the Pod Identity agent.

    It has no node groups of its own (see :class:`components.aws_node_group.AwsNodeGroup`), but
    owns the node IAM role they share.
    """

    cluster_name: pulumi.Output[str]
    """The cluster name, resolved only once the cluster exists (use it to order dependents)."""
    kubeconfig_json: pulumi.Output[str]
    """Kubeconfig (uses ``aws eks get-token``, so it holds no long-lived credential)."""
    cluster_security_group_id: pulumi.Output[str]
    """Security group of the control plane."""
    node_security_group_id: pulumi.Output[str]
    """Security group pulumi-eks creates for nodes."""
    oidc_issuer: pulumi.Output[str]
    """The cluster's OIDC issuer URL (an IAM OIDC provider for IRSA could be built from it)."""
    node_role: aws.iam.Role
    """IAM role of every managed node group."""
    node_policy_attachments: list[aws.iam.RolePolicyAttachment]
    """The node role's policy attachments (node groups must wait for them)."""
    pod_identity_agent: aws.eks.Addon
    """The Pod Identity agent add-on; associations only work once it runs on a node."""

    def __init__(
        self, name: str, args: AwsEksClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("seqstack:aws:EksCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # EKS writes control-plane logs to this group, creating it (kept forever, outside the
        # stack) if it does not exist. Declaring it first bounds its retention and lets
        # `pulumi destroy` remove it with the cluster.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs",
            name=f"/aws/eks/{args.cluster_name}/cluster",
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        cluster = eks.Cluster(
            f"{name}-eks",
            name=args.cluster_name,
            version=args.version,
            vpc_id=args.vpc_id,
            private_subnet_ids=list(args.private_subnet_ids),
            public_subnet_ids=list(args.public_subnet_ids),
            # Nodes never get public addresses; they reach the internet through the NAT.
            node_associate_public_ip_address=False,
            # Access entries instead of the aws-auth ConfigMap: who may use the cluster is an
            # AWS API object, auditable in CloudTrail, and cannot be broken by a bad kubectl edit.
            authentication_mode=eks.AuthenticationMode.API,
            enabled_cluster_log_types=list(CONTROL_PLANE_LOGS),
            # Nodes and pods talk to the API server inside the VPC. The public endpoint stays on
            # because `pulumi up` runs from a laptop or CI runner outside the VPC and must reach
            # the API to install the in-cluster platform; access still needs an IAM identity
            # with an access entry; seqstack:apiAllowedCidrs narrows it to where the runners are.
            endpoint_private_access=True,
            endpoint_public_access=True,
            public_access_cidrs=list(args.api_allowed_cidrs),
            # Node groups are ours (labels, taints, launch template, scale-from-zero tags).
            skip_default_node_group=True,
            # Pod Identity replaces IRSA, so no IAM OIDC provider is created.
            create_oidc_provider=False,
            # The VPC CNI ignores NetworkPolicy objects unless its policy agent is on; without
            # this the biojobs default-deny ingress policy would be declared but not enforced.
            vpc_cni_options=eks.VpcCniOptionsArgs(enable_network_policy=True),
            # EKS gives only the creating identity an entry; everyone else who runs `pulumi up`,
            # `preview` or kubectl needs one (stacks/access.py).
            access_entries=access_entries(args),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group]),
        )
        # Under the mock runtime a multi-language component's resource-typed outputs (eksCluster)
        # cannot be read, so dependents get the (already known) name through a plain output that
        # resolves only once the whole cluster component is up, which also orders them after it.
        self.cluster_name = cluster.oidc_issuer.apply(lambda _: args.cluster_name)
        self.kubeconfig_json = cluster.kubeconfig_json
        self.cluster_security_group_id = cluster.cluster_security_group_id
        self.node_security_group_id = cluster.node_security_group_id
        self.oidc_issuer = cluster.oidc_issuer

        # A DaemonSet on every node that hands out Pod Identity credentials; installed before any
        # node group so the first pods (aws-node included) already find it.
        self.pod_identity_agent = aws.eks.Addon(
            f"{name}-pod-identity-agent",
            cluster_name=self.cluster_name,
            addon_name="eks-pod-identity-agent",
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            opts=child,
        )

        self.node_role = aws.iam.Role(
            f"{name}-node-role",
            description=f"EKS nodes of {args.cluster_name}: join the cluster and pull images, nothing else",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "ec2.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
            opts=child,
        )
        # Node groups wait for these: a node that boots before its policies are attached fails
        # to join and the node group creation times out.
        self.node_policy_attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{policy}",
                role=self.node_role.name,
                policy_arn=f"arn:{args.partition}:iam::aws:policy/{policy}",
                opts=child,
            )
            for policy in NODE_POLICIES
        ]

        self.register_outputs(
            {
                "clusterName": self.cluster_name,
                "nodeRoleArn": self.node_role.arn,
                "clusterSecurityGroupId": self.cluster_security_group_id,
            }
        )
