"""Container Insights and container logs on EKS: the CloudWatch Observability add-on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws_pod_identity import AwsPodIdentity, AwsPodIdentityArgs

ADDON_NAME = "amazon-cloudwatch-observability"
#: The add-on's agent runs as this ServiceAccount (fixed by the add-on).
NAMESPACE = "amazon-cloudwatch"
SERVICE_ACCOUNT = "cloudwatch-agent"
#: What the agent and Fluent Bit need to put metrics and logs (AWS managed, write-only).
AGENT_POLICY = "CloudWatchAgentServerPolicy"


@dataclass(frozen=True)
class AwsObservabilityArgs:
    """Which cluster gets Container Insights."""

    cluster_name: pulumi.Input[str]
    """EKS cluster name; pass the cluster's output so the add-on waits for the cluster."""
    partition: str = "aws"
    """AWS partition of the managed policy ARN."""
    addon_version: str | None = None
    """Add-on version; None lets EKS pick its default for the cluster's Kubernetes version."""
    depends_on: Sequence[pulumi.Resource] = ()
    """What the add-on waits for: the Pod Identity agent and nodes to run its DaemonSets on."""

    def __post_init__(self) -> None:
        if self.addon_version is not None and not self.addon_version.startswith("v"):
            raise ValueError(
                f"AwsObservabilityArgs.addon_version: {self.addon_version!r} is not like v4.5.0-eksbuild.1"
            )


class AwsObservability(pulumi.ComponentResource):
    """The CloudWatch Observability add-on with its own Pod Identity role.

    Metrics (Container Insights) and every container's stdout/stderr (Fluent Bit) go to
    CloudWatch, so a spot node's logs survive the node. The add-on's DaemonSets tolerate every
    taint by default (chart value ``tolerations: [{operator: Exists}]``), so they run on the
    tainted spot pools too. The agent's permissions come from its own role, not from the node
    role, which has none of them.

    The nodes' IMDSv2 hop limit of 1 does not starve it: the add-on's Fluent Bit and CloudWatch
    agent DaemonSets run with ``hostNetwork: true`` (chart ``amazon-cloudwatch-observability``,
    aws-observability/helm-charts#82, "allows the agent pod to hit IMDS for clusters with a
    restricted hop limit"; in every chart release since 2.0.1), so they reach IMDS from the
    node's own network namespace while ordinary pods cannot.
    """

    addon: aws.eks.Addon
    """The add-on."""
    identity: AwsPodIdentity
    """Role and Pod Identity association of ``amazon-cloudwatch/cloudwatch-agent``."""

    def __init__(
        self, name: str, args: AwsObservabilityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("seqstack:aws:Observability", name, None, opts)
        self.identity = AwsPodIdentity(
            f"{name}-identity",
            AwsPodIdentityArgs(
                cluster_name=args.cluster_name,
                namespace=NAMESPACE,
                service_account=SERVICE_ACCOUNT,
                managed_policy_arns=(f"arn:{args.partition}:iam::aws:policy/{AGENT_POLICY}",),
                depends_on=tuple(args.depends_on),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.addon = aws.eks.Addon(
            f"{name}-addon",
            cluster_name=args.cluster_name,
            addon_name=ADDON_NAME,
            addon_version=args.addon_version,
            # Credentials are in place before the agent's first pod asks for them.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.identity, *args.depends_on]),
        )
        self.register_outputs({"addon": ADDON_NAME, "roleArn": self.identity.role.arn})
