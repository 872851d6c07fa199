"""One EKS managed node group (a seqstack pool) with its launch template and autoscaler tags."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.pools import Capacity
from workflows.contract import POOL_LABEL, PoolPlacement

#: Kubernetes taint effects as the EKS API spells them.
_EKS_TAINT_EFFECT = {
    "NoSchedule": "NO_SCHEDULE",
    "NoExecute": "NO_EXECUTE",
    "PreferNoSchedule": "PREFER_NO_SCHEDULE",
}

#: Prefix of the Auto Scaling group tags the Cluster Autoscaler reads.
CA_PREFIX = "k8s.io/cluster-autoscaler"


@dataclass(frozen=True)
class AwsNodeGroupArgs:
    """Which cluster, what machines, how many, and what may run on them (the same vocabulary as
    :class:`components.gcp_node_pool.GkeNodePoolArgs`)."""

    pool_name: str
    """The pool's name, e.g. ``large`` (in resource descriptions and the ``seqstack.io/pool`` tag)."""
    cluster_name: pulumi.Input[str]
    """EKS cluster the nodes join."""
    autoscaler_cluster_name: str
    """The cluster name as plain text, for the ``k8s.io/cluster-autoscaler/<name>`` tag."""
    node_role_arn: pulumi.Input[str]
    """IAM role of the nodes (shared by all pools)."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """Private subnets, one per zone, so the group can place nodes in any zone."""
    machine_types: Sequence[str]
    """Instance types, all of one size (a spot shortage of one type does not starve the pool)."""
    min_nodes: int
    """Minimum nodes, in total across zones (0 lets the pool scale to zero)."""
    max_nodes: int
    """Maximum nodes, in total across zones."""
    disk_gib: int
    """Root disk size in GiB (encrypted gp3)."""
    capacity: Capacity
    """On-demand or spot instances."""
    placement: PoolPlacement
    """Node labels and taints (from :func:`workflows.contract.pool_placement`)."""
    depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)
    """What must exist before the first node boots (node role policies, Pod Identity agent...)."""

    def __post_init__(self) -> None:
        name = self.pool_name
        if not self.machine_types:
            raise ValueError(f"AwsNodeGroupArgs.machine_types: {name} lists no machine types")
        if not 0 <= self.min_nodes <= self.max_nodes or self.max_nodes < 1:
            raise ValueError(
                f"AwsNodeGroupArgs.min_nodes/max_nodes: {name} needs 0 <= min <= max, max >= 1, "
                f"got {self.min_nodes} and {self.max_nodes}"
            )
        if self.disk_gib < 20:
            raise ValueError(
                f"AwsNodeGroupArgs.disk_gib: {name} disk {self.disk_gib} GiB is below the 20 GiB AMI"
            )
        if not self.subnet_ids:
            raise ValueError(f"AwsNodeGroupArgs.subnet_ids: {name} needs at least one subnet")
        bad = [t.effect for t in self.placement.tolerations if t.effect not in _EKS_TAINT_EFFECT]
        if bad:
            raise ValueError(f"AwsNodeGroupArgs.placement: {name} has unknown taint effect(s) {bad}")


def autoscaler_tags(args: AwsNodeGroupArgs) -> dict[str, str]:
    """ASG tags that let the Cluster Autoscaler find the group and scale it up from zero.

    With no node running, the autoscaler cannot see the pool's labels, taints or disk; it builds
    a template node from these ``node-template`` tags instead (kubernetes/autoscaler#1869).
    """
    tags = {
        f"{CA_PREFIX}/enabled": "true",
        f"{CA_PREFIX}/{args.autoscaler_cluster_name}": "owned",
        f"{CA_PREFIX}/node-template/resources/ephemeral-storage": f"{args.disk_gib}Gi",
    }
    for key, value in args.placement.node_selector.items():
        tags[f"{CA_PREFIX}/node-template/label/{key}"] = value
    for t in args.placement.tolerations:
        tags[f"{CA_PREFIX}/node-template/taint/{t.key}"] = f"{t.value}:{t.effect}"
    return tags


class AwsNodeGroup(pulumi.ComponentResource):
    """A managed node group for one pool: labelled, tainted if spot, IMDSv2-only, autoscalable.

    ``aws.eks.NodeGroup`` with our own launch template (rather than pulumi-eks' node groups)
    keeps every setting an ordinary, testable input: IMDS hop limit, encrypted gp3 root disk.
    """

    node_group: aws.eks.NodeGroup
    """The EKS managed node group."""
    launch_template: aws.ec2.LaunchTemplate
    """Launch template with the metadata options and root disk."""
    asg_name: pulumi.Output[str]
    """Name of the Auto Scaling group EKS created for the node group."""

    def __init__(self, name: str, args: AwsNodeGroupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("seqstack:aws:NodeGroup", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        placement = args.placement

        self.launch_template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            description=f"seqstack {args.pool_name} pool nodes",
            # IMDSv2 only, one hop: the node itself reaches the metadata service, a pod (one hop
            # further, behind the pod network) does not, so no pod can borrow the node role.
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                http_put_response_hop_limit=1,
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",  # the root volume of the AL2023 EKS AMI
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=args.disk_gib,
                        volume_type="gp3",
                        encrypted="true",
                        delete_on_termination="true",
                    ),
                )
            ],
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(
                    resource_type=kind, tags={"Name": f"{name}", POOL_LABEL: args.pool_name}
                )
                for kind in ("instance", "volume")
            ],
            update_default_version=True,
            opts=child,
        )

        self.node_group = aws.eks.NodeGroup(
            f"{name}-ng",
            cluster_name=args.cluster_name,
            node_role_arn=args.node_role_arn,
            subnet_ids=list(args.subnet_ids),
            ami_type="AL2023_x86_64_STANDARD",
            capacity_type="SPOT" if args.capacity is Capacity.SPOT else "ON_DEMAND",
            # Several types of one size: a spot shortage of one type does not starve the pool.
            instance_types=list(args.machine_types),
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=args.min_nodes, max_size=args.max_nodes, desired_size=args.min_nodes
            ),
            labels=dict(placement.node_selector),
            taints=[
                aws.eks.NodeGroupTaintArgs(key=t.key, value=t.value, effect=_EKS_TAINT_EFFECT[t.effect])
                for t in placement.tolerations
            ],
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=self.launch_template.id,
                version=self.launch_template.latest_version.apply(str),
            ),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable_percentage=33),
            tags={POOL_LABEL: args.pool_name},
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=list(args.depends_on),
                # The Cluster Autoscaler owns the current size; `pulumi up` must not reset it.
                ignore_changes=["scalingConfig.desiredSize"],
            ),
        )

        # Managed node groups do not copy their tags to the Auto Scaling group, and the autoscaler
        # reads the ASG, so the scale-from-zero tags go onto the ASG directly. EKS sets the two
        # auto-discovery tags itself too; declaring them here keeps the contract in one place.
        self.asg_name = self.node_group.resources.apply(_asg_name)
        for key, value in autoscaler_tags(args).items():
            slug = re.sub(r"[^a-z0-9]+", "-", key.removeprefix(f"{CA_PREFIX}/").lower()).strip("-")
            aws.autoscaling.Tag(
                f"{name}-asg-{slug}",
                autoscaling_group_name=self.asg_name,
                tag=aws.autoscaling.TagTagArgs(key=key, value=value, propagate_at_launch=False),
                opts=child,
            )

        self.register_outputs({"nodeGroupName": self.node_group.node_group_name, "asgName": self.asg_name})


def _asg_name(resources: Sequence[aws.eks.outputs.NodeGroupResource]) -> str:
    groups = resources[0].autoscaling_groups if resources else None
    if not groups or not groups[0].name:
        raise ValueError("EKS reported no Auto Scaling group for the node group")
    return groups[0].name
