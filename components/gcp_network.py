"""A dedicated VPC for GKE: one subnetwork with pod and service ranges, Cloud Router and Cloud NAT."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

#: Pods per node GKE reserves addresses for. 64 pods take a /25 of the pod range per node
#: (GKE reserves twice the pod count, rounded up to a power of two). Our nodes run a handful of
#: big bioinformatics pods plus ~15 GKE daemons, so 64 is ample and doubles the node count a
#: pod range can hold compared with GKE's default of 110 (a /24 per node).
MAX_PODS_PER_NODE = 64
_NODE_POD_PREFIX = 25


@dataclass(frozen=True)
class AddressPlan:
    """How one network CIDR is cut into GKE's ranges (see :func:`plan_addresses`)."""

    nodes: str
    """Primary range of the subnetwork: node IPs (and internal load balancers)."""
    pods: str
    """Secondary range for pod IPs."""
    services: str
    """Secondary range for ClusterIP Services."""
    master: str
    """/28 for the GKE control plane's private endpoint (no subnetwork may overlap it)."""
    max_nodes: int
    """Nodes the pod range can hold at :data:`MAX_PODS_PER_NODE`."""


def plan_addresses(cidr: str) -> AddressPlan:
    """Cut a /16-/20 network into node, pod, service and control-plane ranges, deterministically.

    With the network split into 16 equal blocks (prefix + 4): blocks 0-7 (the first half,
    prefix + 1) hold pods, because every node takes a whole /25 of it; block 8 holds nodes,
    block 9 Services, and the first /28 of block 10 the control plane. Blocks 10-15 stay free
    for later. For 10.40.0.0/16: pods 10.40.0.0/17 (256 nodes), nodes 10.40.128.0/20,
    services 10.40.144.0/20, control plane 10.40.160.0/28. For a /20: pods a /21 (16 nodes),
    nodes and services a /24 each.
    """
    network = ipaddress.IPv4Network(cidr)
    if not 16 <= network.prefixlen <= 20:
        raise ValueError(f"network {cidr!r}: expected a /16 to /20")
    blocks = list(network.subnets(prefixlen_diff=4))
    pods = next(network.subnets(prefixlen_diff=1))
    master = next(blocks[10].subnets(new_prefix=28))
    return AddressPlan(
        nodes=str(blocks[8]),
        pods=str(pods),
        services=str(blocks[9]),
        master=str(master),
        max_nodes=2 ** (_NODE_POD_PREFIX - pods.prefixlen),
    )


@dataclass(frozen=True)
class GcpNetworkArgs:
    """Where the network lives and its address range."""

    project: str
    """GCP project id."""
    region: str
    """Region of the subnetwork, router and NAT."""
    cidr: str
    """The network's address range, a /16 to /20 (see :func:`plan_addresses`)."""
    flow_log_sampling: float | None = None
    """Fraction of VPC flows to log (0-1]; None turns flow logs off (they cost per GB)."""


class GcpNetwork(pulumi.ComponentResource):
    """A custom-mode VPC with one regional subnetwork, Private Google Access and Cloud NAT.

    Nodes have private IPs only, so they reach Google APIs (GCS, Artifact Registry) through
    Private Google Access and everything else (Docker Hub, GitHub) through Cloud NAT. Cloud NAT
    is a regional, distributed service with no per-zone gateway to fail, so seqstack's
    ``natMode`` (single or perZone, an AWS choice) needs no counterpart here.
    """

    network: gcp.compute.Network
    """The VPC."""
    subnetwork: gcp.compute.Subnetwork
    """The nodes' subnetwork, with the pod and service ranges."""
    plan: AddressPlan
    """The address ranges in use."""
    pods_range_name: str
    """Name of the pod secondary range (for the cluster's ip_allocation_policy)."""
    services_range_name: str
    """Name of the Service secondary range."""

    def __init__(self, name: str, args: GcpNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        try:
            self.plan = plan_addresses(args.cidr)
        except ValueError as exc:
            raise ValueError(f"GcpNetwork {name}: {exc}") from None
        if args.flow_log_sampling is not None and not 0 < args.flow_log_sampling <= 1:
            raise ValueError(
                f"GcpNetwork {name}: flow_log_sampling {args.flow_log_sampling} is not in (0, 1]"
            )
        super().__init__("seqstack:gcp:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.pods_range_name = f"{name}-pods"
        self.services_range_name = f"{name}-services"

        # Custom mode: auto mode would create a subnetwork in every region with fixed ranges
        # that may overlap ours.
        self.network = gcp.compute.Network(
            f"{name}-vpc",
            project=args.project,
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            opts=child,
        )
        flow_logs = (
            gcp.compute.SubnetworkLogConfigArgs(
                aggregation_interval="INTERVAL_5_SEC",
                flow_sampling=args.flow_log_sampling,
                metadata="INCLUDE_ALL_METADATA",
            )
            if args.flow_log_sampling is not None
            else None
        )
        self.subnetwork = gcp.compute.Subnetwork(
            f"{name}-nodes",
            project=args.project,
            region=args.region,
            network=self.network.id,
            ip_cidr_range=self.plan.nodes,
            secondary_ip_ranges=[
                gcp.compute.SubnetworkSecondaryIpRangeArgs(
                    range_name=self.pods_range_name, ip_cidr_range=self.plan.pods
                ),
                gcp.compute.SubnetworkSecondaryIpRangeArgs(
                    range_name=self.services_range_name, ip_cidr_range=self.plan.services
                ),
            ],
            # Private nodes have no external IP; this lets them reach GCS and Artifact Registry.
            private_ip_google_access=True,
            log_config=flow_logs,
            opts=child,
        )
        router = gcp.compute.Router(
            f"{name}-router",
            project=args.project,
            region=args.region,
            network=self.network.id,
            opts=child,
        )
        gcp.compute.RouterNat(
            f"{name}-nat",
            project=args.project,
            region=args.region,
            router=router.name,
            nat_ip_allocate_option="AUTO_ONLY",
            # Only our subnetwork, all its ranges (pods egress with their own IPs in VPC-native).
            source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
            subnetworks=[
                gcp.compute.RouterNatSubnetworkArgs(
                    name=self.subnetwork.id, source_ip_ranges_to_nats=["ALL_IP_RANGES"]
                )
            ],
            # Image pulls and tool downloads from many pods at once need more than 64 ports.
            enable_dynamic_port_allocation=True,
            min_ports_per_vm=64,
            max_ports_per_vm=4096,
            enable_endpoint_independent_mapping=False,
            log_config=gcp.compute.RouterNatLogConfigArgs(enable=True, filter="ERRORS_ONLY"),
            opts=child,
        )
        self.register_outputs(
            {"network": self.network.id, "subnetwork": self.subnetwork.id, "nodesCidr": self.plan.nodes}
        )
