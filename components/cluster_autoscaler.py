"""The Kubernetes Cluster Autoscaler on EKS: its Helm chart and its own Pod Identity role."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws_pod_identity import AwsPodIdentity, AwsPodIdentityArgs
from workflows.contract import PoolPlacement

#: The chart's repository (kubernetes/autoscaler, published to GitHub Pages).
AUTOSCALER_HELM_REPO = "https://kubernetes.github.io/autoscaler"
AUTOSCALER_CHART = "cluster-autoscaler"

#: The autoscaler must match the cluster's minor version: chart version and image tag per minor.
#: The image is each line's LATEST patch (kubernetes/autoscaler tags ``cluster-autoscaler-1.NN.P``,
#: newest as of the repository snapshot of 2026-08-22: 1.33.6, 1.34.5, 1.35.2, all tagged
#: 2026-07-22); the chart is the newest whose ``appVersion`` is that minor (tag
#: ``cluster-autoscaler-chart-X.Y.Z``, ``cluster-autoscaler/charts/cluster-autoscaler/Chart.yaml``):
#: 9.51.0 (1.33.0), 9.53.0 (1.34.2), 9.59.0 (1.35.0). The chart's templates do not change with
#: the patch, so a newer image under the same chart is what the chart's own bumps do. That the
#: images exist at registry.k8s.io under these tags could not be checked here (no network).
#: Which minors are allowed, and until when, is ``stacks/versions.py`` (a test keeps both in step).
CHART_BY_MINOR: dict[str, tuple[str, str]] = {
    "1.33": ("9.51.0", "v1.33.6"),
    "1.34": ("9.53.0", "v1.34.5"),
    "1.35": ("9.59.0", "v1.35.2"),
}

NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "cluster-autoscaler"

_DURATION = re.compile(r"^(\d+(s|m|h))+$")

#: Read-only calls the autoscaler makes to discover groups and instance shapes. Describe/Get APIs
#: do not support resource-level permissions, so they are granted on "*" (read-only).
DESCRIBE_ACTIONS: tuple[str, ...] = (
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeScalingActivities",
    "autoscaling:DescribeTags",
    "ec2:DescribeImages",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:GetInstanceTypesFromInstanceRequirements",
)


def autoscaler_policy(cluster_name: str, partition: str, region: str, account: str) -> str:
    """The autoscaler's IAM policy: it may resize and shrink only this cluster's groups.

    The write actions are conditioned on the ``k8s.io/cluster-autoscaler/<cluster>: owned`` tag
    EKS puts on the Auto Scaling groups of the cluster's managed node groups, so another
    cluster's groups are out of reach. ``eks:DescribeNodegroup`` (labels, taints and resources of
    a managed group scaled to zero) is limited to this cluster's node groups.
    """
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ScaleOwnGroups",
                    "Effect": "Allow",
                    "Action": [
                        "autoscaling:SetDesiredCapacity",
                        "autoscaling:TerminateInstanceInAutoScalingGroup",
                    ],
                    # Any Auto Scaling group of this account and region, narrowed by the tag.
                    "Resource": f"arn:{partition}:autoscaling:{region}:{account}:autoScalingGroup:*"
                    ":autoScalingGroupName/*",
                    "Condition": {
                        "StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}
                    },
                },
                {"Sid": "Discover", "Effect": "Allow", "Action": list(DESCRIBE_ACTIONS), "Resource": "*"},
                {
                    "Sid": "ReadOwnNodegroups",
                    "Effect": "Allow",
                    "Action": ["eks:DescribeNodegroup"],
                    "Resource": f"arn:{partition}:eks:{region}:{account}:nodegroup/{cluster_name}/*/*",
                },
            ],
        },
        indent=2,
    )


@dataclass(frozen=True)
class ClusterAutoscalerArgs:
    """Which cluster the autoscaler manages and how eagerly it shrinks."""

    cluster_name: pulumi.Input[str]
    """EKS cluster name; pass the cluster's output so the role waits for the cluster."""
    region: str
    """AWS region of the cluster."""
    kubernetes_version: str
    """The cluster's minor version; picks the matching chart and image."""
    system_placement: PoolPlacement
    """Node selector and tolerations of the system pool (the autoscaler must not run on spot)."""
    pod_identity_depends_on: Sequence[pulumi.Resource] = ()
    """What the Pod Identity association waits for (the Pod Identity agent add-on)."""
    scale_down_unneeded_time: str = "2m"
    """How long a node must be unneeded before removal (default 10m: idle spot nodes cost money)."""
    scale_down_delay_after_add: str = "2m"
    """Pause of scale-down after a scale-up (default 10m; pipeline bursts start all at once)."""

    def __post_init__(self) -> None:
        if self.kubernetes_version not in CHART_BY_MINOR:
            raise ValueError(
                f"ClusterAutoscalerArgs.kubernetes_version: no pinned autoscaler for "
                f"{self.kubernetes_version!r} (known: {', '.join(CHART_BY_MINOR)})"
            )
        for label, value in (
            ("scale_down_unneeded_time", self.scale_down_unneeded_time),
            ("scale_down_delay_after_add", self.scale_down_delay_after_add),
        ):
            if not _DURATION.match(value):
                raise ValueError(f"ClusterAutoscalerArgs.{label}: {value!r} is not a duration like 2m")


def autoscaler_values(args: ClusterAutoscalerArgs, cluster_name: str) -> dict[str, Any]:
    """The chart values (a pure function of the args and the cluster name)."""
    _, image_tag = CHART_BY_MINOR[args.kubernetes_version]
    return {
        "cloudProvider": "aws",
        "awsRegion": args.region,
        # Finds every ASG tagged k8s.io/cluster-autoscaler/enabled and .../<cluster>; min/max
        # come from the groups, so pools with min 0 scale from and to zero.
        "autoDiscovery": {"clusterName": cluster_name},
        "fullnameOverride": "cluster-autoscaler",
        "image": {"tag": image_tag},
        "rbac": {"serviceAccount": {"create": True, "name": SERVICE_ACCOUNT}},
        "nodeSelector": dict(args.system_placement.node_selector),
        "tolerations": [t.to_json() for t in args.system_placement.tolerations],
        # The chart's pod-level key is "securityContext"; the image has no named non-root user.
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65534,
            "runAsGroup": 65534,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containerSecurityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {"requests": {"cpu": "100m", "memory": "300Mi"}, "limits": {"memory": "600Mi"}},
        "extraArgs": {
            "logtostderr": True,
            "stderrthreshold": "info",
            "v": 2,
            # Of the groups that fit a pending pod, the one that leaves the least idle CPU/memory.
            "expander": "least-waste",
            # Each pool is one node group across all zones today (the ASG balances zones itself),
            # so this only acts if a pool is ever split into per-zone groups; then it spreads the
            # pool instead of filling one zone, and the EKS labels below must not tell them apart.
            "balance-similar-node-groups": True,
            "balancing-ignore-label_1": "eks.amazonaws.com/nodegroup",
            "balancing-ignore-label_2": "eks.amazonaws.com/nodegroup-image",
            "balancing-ignore-label_3": "eks.amazonaws.com/sourceLaunchTemplateId",
            "balancing-ignore-label_4": "eks.amazonaws.com/sourceLaunchTemplateVersion",
            # Pipeline pods use an emptyDir at /work; with the default (true) a node running a
            # finished step's leftovers could never be removed.
            "skip-nodes-with-local-storage": False,
            "scale-down-unneeded-time": args.scale_down_unneeded_time,
            "scale-down-delay-after-add": args.scale_down_delay_after_add,
            "scale-down-delay-after-delete": "0s",
            # DaemonSets (logs, metrics) run on every node; they should not keep one alive.
            "ignore-daemonsets-utilization": True,
            # A spot request that EC2 cannot fill is abandoned for another group after this.
            "max-node-provision-time": "10m",
        },
    }


class ClusterAutoscaler(pulumi.ComponentResource):
    """Cluster Autoscaler for the EKS managed node groups, on the system pool.

    Its own Pod Identity role (kube-system/cluster-autoscaler) may only resize this cluster's
    groups; nothing else in the cluster gets autoscaling rights. Kubernetes children use the
    provider passed in ``opts`` (``providers=[...]``).
    """

    release: k8s.helm.v3.Release
    """The Helm release."""
    identity: AwsPodIdentity
    """Role and Pod Identity association."""

    def __init__(
        self, name: str, args: ClusterAutoscalerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("seqstack:aws:ClusterAutoscaler", name, None, opts)
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        cluster = pulumi.Output.from_input(args.cluster_name)
        policy = pulumi.Output.all(cluster, partition, account).apply(
            lambda v: autoscaler_policy(v[0], v[1], args.region, v[2])
        )
        self.identity = AwsPodIdentity(
            f"{name}-identity",
            AwsPodIdentityArgs(
                cluster_name=args.cluster_name,
                namespace=NAMESPACE,
                service_account=SERVICE_ACCOUNT,
                policy=policy,
                depends_on=tuple(args.pod_identity_depends_on),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        chart_version, _ = CHART_BY_MINOR[args.kubernetes_version]
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name="cluster-autoscaler",
            chart=AUTOSCALER_CHART,
            version=chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=AUTOSCALER_HELM_REPO),
            namespace=NAMESPACE,
            values=cluster.apply(lambda c: autoscaler_values(args, c)),
            atomic=True,
            timeout=600,
            # Credentials must be associated before the pod starts, or it runs without them.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.identity]),
        )
        self.register_outputs({"chartVersion": chart_version, "roleArn": self.identity.role.arn})
