"""The AWS network an EKS cluster runs in: VPC, public and private subnets per zone, NAT, endpoints."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

#: Interface endpoints nodes use to pull images and get pod-identity credentials without the NAT.
#: The Pod Identity agent calls EKS Auth (AssumeRoleForPodIdentity), not STS, and nothing here
#: uses STS from inside the VPC (no IRSA), so an STS endpoint would cost money and carry nothing.
INTERFACE_ENDPOINT_SERVICES: tuple[str, ...] = ("ecr.api", "ecr.dkr", "eks-auth")


#: Zone IDs where EKS does not create clusters (EKS user guide, "VPC and subnet requirements";
#: CreateCluster answers UnsupportedAvailabilityZoneException). Zone *names* map to different
#: zones in each account, so only the ID identifies them.
EKS_UNSUPPORTED_ZONE_IDS: frozenset[str] = frozenset({"use1-az3", "usw1-az2", "cac1-az3", "cnn1-az4"})


def eks_zones(names: Sequence[str], zone_ids: Sequence[str], count: int) -> list[str]:
    """The first ``count`` zone names whose zone ID EKS supports (fewer if the region has fewer)."""
    if len(names) != len(zone_ids):
        raise ValueError(f"eks_zones: {len(names)} zone names but {len(zone_ids)} zone ids")
    return [name for name, zid in zip(names, zone_ids, strict=True) if zid not in EKS_UNSUPPORTED_ZONE_IDS][
        :count
    ]


@dataclass(frozen=True)
class AwsNetworkArgs:
    """What the network needs to know."""

    cidr: str
    """VPC address range, a /16 to /20 IPv4 CIDR."""
    zones: Sequence[str]
    """Availability zone names to span (2 or 3), e.g. ``eu-west-1a``."""
    region: str
    """Region, for the endpoint service names."""
    cluster_name: str
    """EKS cluster name, for the ``kubernetes.io/cluster/<name>`` subnet tags."""
    nat_per_zone: bool = False
    """One NAT gateway in each zone (no cross-zone single point of failure) instead of one in the
    first zone for the whole VPC."""

    def __post_init__(self) -> None:
        if len(self.zones) not in (2, 3) or len(set(self.zones)) != len(self.zones):
            raise ValueError(f"AwsNetworkArgs.zones: need 2 or 3 distinct zones, got {list(self.zones)}")
        subnet_cidrs(self.cidr, len(self.zones))  # raises on a malformed or too small CIDR


def subnet_cidrs(cidr: str, zone_count: int) -> tuple[list[str], list[str]]:
    """Private and public subnet ranges, one of each per zone.

    The VPC is cut into quarters: one quarter per zone for private subnets (nodes and, with the
    VPC CNI, every pod take an address there, so they get the room), and the last quarter split
    in eight for the public subnets, which hold only NAT gateways and load balancers.
    """
    network = ipaddress.IPv4Network(cidr)
    if not 16 <= network.prefixlen <= 20:
        raise ValueError(f"AwsNetworkArgs.cidr: {cidr!r} must be a /16 to /20")
    quarters = list(network.subnets(prefixlen_diff=2))
    private = [str(q) for q in quarters[:zone_count]]
    public = [str(s) for s in list(quarters[3].subnets(prefixlen_diff=3))[:zone_count]]
    return private, public


class AwsNetwork(pulumi.ComponentResource):
    """A VPC across 2-3 zones laid out for EKS with private nodes.

    Public subnets hold the NAT gateway(s) and internet-facing load balancers; private subnets
    hold the nodes. S3 traffic goes through a gateway endpoint attached to every private route
    table (free, unlike NAT), and ECR/STS through interface endpoints reachable on 443 from
    inside the VPC only.
    """

    vpc_id: pulumi.Output[str]
    """The VPC."""
    private_subnet_ids: list[pulumi.Output[str]]
    """Private subnets, one per zone, in zone order (nodes and the control-plane interfaces)."""
    public_subnet_ids: list[pulumi.Output[str]]
    """Public subnets, one per zone, in zone order (NAT gateways, internet-facing load balancers)."""
    egress: list[pulumi.Resource]
    """What gives the private subnets their way out (NAT routes, S3 and interface endpoints):
    nodes must wait for it, or a node that boots first cannot pull its images and never joins."""

    def __init__(self, name: str, args: AwsNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("seqstack:aws:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        private_cidrs, public_cidrs = subnet_cidrs(args.cidr, len(args.zones))
        cluster_tag = {f"kubernetes.io/cluster/{args.cluster_name}": "shared"}

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            # Both are required for the interface endpoints' private DNS names to resolve.
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": f"{name}-vpc"},
            opts=child,
        )
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags={"Name": f"{name}-igw"}, opts=child)

        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt", vpc_id=vpc.id, tags={"Name": f"{name}-public"}, opts=child
        )
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public_rt.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
            opts=child,
        )

        public_subnets: list[aws.ec2.Subnet] = []
        private_subnets: list[aws.ec2.Subnet] = []
        for i, zone in enumerate(args.zones):
            public = aws.ec2.Subnet(
                f"{name}-public-{i}",
                vpc_id=vpc.id,
                cidr_block=public_cidrs[i],
                availability_zone=zone,
                map_public_ip_on_launch=False,
                # Where the AWS load balancer controller puts internet-facing load balancers.
                tags={"Name": f"{name}-public-{zone}", "kubernetes.io/role/elb": "1", **cluster_tag},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i}-rta", subnet_id=public.id, route_table_id=public_rt.id, opts=child
            )
            private = aws.ec2.Subnet(
                f"{name}-private-{i}",
                vpc_id=vpc.id,
                cidr_block=private_cidrs[i],
                availability_zone=zone,
                tags={
                    "Name": f"{name}-private-{zone}",
                    "kubernetes.io/role/internal-elb": "1",
                    **cluster_tag,
                },
                opts=child,
            )
            public_subnets.append(public)
            private_subnets.append(private)

        # NAT gateways live in public subnets: one in the first zone, or one per zone.
        nat_count = len(args.zones) if args.nat_per_zone else 1
        nats: list[aws.ec2.NatGateway] = []
        for i in range(nat_count):
            eip = aws.ec2.Eip(
                f"{name}-nat-{i}-eip", domain="vpc", tags={"Name": f"{name}-nat-{i}"}, opts=child
            )
            nats.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{i}",
                    allocation_id=eip.id,
                    subnet_id=public_subnets[i].id,
                    tags={"Name": f"{name}-nat-{i}"},
                    # A NAT gateway is useless until the VPC has a route to the internet.
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
            )

        # One private route table per zone even with a single NAT, so switching to perZone only
        # changes routes, and the S3 endpoint is attached the same way in both modes.
        private_rts: list[aws.ec2.RouteTable] = []
        egress: list[pulumi.Resource] = []
        for i, subnet in enumerate(private_subnets):
            rt = aws.ec2.RouteTable(
                f"{name}-private-{i}-rt", vpc_id=vpc.id, tags={"Name": f"{name}-private-{i}"}, opts=child
            )
            default_route = aws.ec2.Route(
                f"{name}-private-{i}-default",
                route_table_id=rt.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nats[i if nat_count > 1 else 0].id,
                opts=child,
            )
            association = aws.ec2.RouteTableAssociation(
                f"{name}-private-{i}-rta", subnet_id=subnet.id, route_table_id=rt.id, opts=child
            )
            private_rts.append(rt)
            egress += [default_route, association]

        # The 2021 seed created this endpoint but attached it to no route table, so every read and
        # write of sequencing data went through (and was billed by) the NAT gateway.
        s3_endpoint = aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[rt.id for rt in private_rts],
            tags={"Name": f"{name}-s3"},
            opts=child,
        )

        endpoint_sg = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg",
            vpc_id=vpc.id,
            description="HTTPS from inside the VPC to the interface endpoints",
            # Inline rules and no egress block: the provider then removes AWS's default
            # allow-all egress rule; endpoints never initiate connections.
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    description="HTTPS from the VPC",
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    cidr_blocks=[args.cidr],
                )
            ],
            tags={"Name": f"{name}-endpoints"},
            opts=child,
        )
        egress.append(s3_endpoint)
        for service in INTERFACE_ENDPOINT_SERVICES:
            interface_endpoint = aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}",
                vpc_id=vpc.id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Interface",
                # Private DNS makes the regional hostnames resolve to the endpoint, so no client
                # (kubelet, containerd, SDKs) needs configuring.
                private_dns_enabled=True,
                subnet_ids=[s.id for s in private_subnets],
                security_group_ids=[endpoint_sg.id],
                tags={"Name": f"{name}-{service}"},
                opts=child,
            )
            egress.append(interface_endpoint)

        self.vpc_id = vpc.id
        self.private_subnet_ids = [s.id for s in private_subnets]
        self.public_subnet_ids = [s.id for s in public_subnets]
        self.egress = egress
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "privateSubnetIds": self.private_subnet_ids,
                "publicSubnetIds": self.public_subnet_ids,
            }
        )
