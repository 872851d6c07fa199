"""One autoscaled GKE node pool: labelled, optionally spot and tainted, locked-down nodes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import pulumi
import pulumi_gcp as gcp

from components.gcp_identities import node_lockdown
from components.pools import Capacity
from workflows.contract import PoolPlacement

#: Kubernetes taint effects as GKE spells them.
_GKE_TAINT_EFFECTS = {
    "NoSchedule": "NO_SCHEDULE",
    "PreferNoSchedule": "PREFER_NO_SCHEDULE",
    "NoExecute": "NO_EXECUTE",
}


class DiskType(StrEnum):
    """Boot disk type (it also holds the pods' ephemeral storage)."""

    BALANCED = "pd-balanced"
    """SSD-backed, the GKE default: enough for controllers and FastQC."""
    SSD = "pd-ssd"
    """Faster SSD: more IOPS for samtools sort spills and reference index reads."""


@dataclass(frozen=True)
class GkeNodePoolArgs:
    """Which cluster, what machines, how many, and what may run on them."""

    pool_name: str
    """The pool's name in GKE, e.g. ``large``."""
    project: str
    """GCP project id."""
    location: str
    """The cluster's location (its region)."""
    cluster: pulumi.Input[str]
    """The cluster's name."""
    machine_type: str
    """One machine type, e.g. ``n2-standard-32`` (a GKE pool has exactly one)."""
    min_nodes: int
    """Minimum nodes, in total across zones (0 lets the pool scale to zero)."""
    max_nodes: int
    """Maximum nodes, in total across zones."""
    disk_gib: int
    """Boot disk size in GiB."""
    disk_type: DiskType
    """Boot disk type."""
    capacity: Capacity
    """On-demand or spot VMs."""
    placement: PoolPlacement
    """Node labels and taints (from :func:`workflows.contract.pool_placement`)."""
    service_account: pulumi.Input[str]
    """Email of the nodes' Google service account."""
    zone_count: int
    """Zones the cluster's nodes span (GKE's initial node count is per zone)."""
    zones: pulumi.Input[Sequence[str]] | None = None
    """The cluster's zones in order. An on-demand pool whose minimum is below ``zone_count`` is
    placed in its first ``min_nodes`` zones, so that it starts with ``min_nodes`` nodes in total:
    GKE creates ``initial_node_count`` nodes in *each* of a pool's zones. Spot pools keep every
    zone (spot capacity may be in any of them)."""


class GkeNodePool(pulumi.ComponentResource):
    """An autoscaled node pool whose nodes run as a minimal service account.

    Sizes are totals across the cluster's zones (GKE's plain min/max are per zone, which is how
    the seed ended up with three idle 32-vCPU nodes). Spot pools use the ``ANY`` location
    policy so the autoscaler takes spot capacity from whichever zone has it. Pods reach Google
    APIs only as their own Workload Identity: ``GKE_METADATA`` hides the node's credentials.
    """

    pool: gcp.container.NodePool
    """The node pool."""

    def __init__(self, name: str, args: GkeNodePoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9-]{0,38}[a-z0-9]", args.pool_name):
            raise ValueError(f"GkeNodePool {name}: pool_name {args.pool_name!r} is not a valid GKE pool name")
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", args.machine_type):
            raise ValueError(f"GkeNodePool {name}: {args.machine_type!r} is not a machine type name")
        if not 0 <= args.min_nodes <= args.max_nodes or args.max_nodes < 1:
            raise ValueError(f"GkeNodePool {name}: need 0 <= min_nodes <= max_nodes, max_nodes >= 1")
        if args.zone_count < 1:
            raise ValueError(f"GkeNodePool {name}: zone_count {args.zone_count} must be at least 1")
        if args.disk_gib < 10:
            raise ValueError(f"GkeNodePool {name}: disk_gib {args.disk_gib} is below GKE's 10 GiB minimum")
        bad = [t.effect for t in args.placement.tolerations if t.effect not in _GKE_TAINT_EFFECTS]
        if bad:
            raise ValueError(f"GkeNodePool {name}: unknown taint effect(s) {bad}")
        super().__init__("seqstack:gcp:NodePool", name, None, opts)
        spot = args.capacity is Capacity.SPOT
        pinned = not spot and args.zones is not None and 0 < args.min_nodes < args.zone_count
        zones_used = args.min_nodes if pinned else args.zone_count
        node_locations = (
            pulumi.Output.from_input(args.zones).apply(lambda z: list(z or [])[: args.min_nodes])
            if pinned
            else None
        )
        self.pool = gcp.container.NodePool(
            f"{name}-pool",
            name=args.pool_name,
            project=args.project,
            location=args.location,
            cluster=args.cluster,
            node_locations=node_locations,
            # Per zone, and only at creation: enough nodes for the minimum, then the
            # autoscaler keeps the total between min_nodes and max_nodes.
            initial_node_count=-(-args.min_nodes // zones_used),
            autoscaling=gcp.container.NodePoolAutoscalingArgs(
                total_min_node_count=args.min_nodes,
                total_max_node_count=args.max_nodes,
                location_policy="ANY" if spot else "BALANCED",
            ),
            management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            node_config=gcp.container.NodePoolNodeConfigArgs(
                machine_type=args.machine_type,
                spot=spot,
                disk_size_gb=args.disk_gib,
                disk_type=args.disk_type.value,
                image_type="COS_CONTAINERD",
                labels=dict(args.placement.node_selector),
                taints=[
                    gcp.container.NodePoolNodeConfigTaintArgs(
                        key=t.key, value=t.value, effect=_GKE_TAINT_EFFECTS[t.effect]
                    )
                    for t in args.placement.tolerations
                ],
                service_account=args.service_account,
                **node_lockdown(
                    gcp.container.NodePoolNodeConfigShieldedInstanceConfigArgs,
                    gcp.container.NodePoolNodeConfigWorkloadMetadataConfigArgs,
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["initialNodeCount"]),
        )
        self.register_outputs({"name": self.pool.name})
