"""dev-aws network: subnets per zone, NAT layout, S3 gateway endpoint, interface endpoints."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from components.aws_network import AwsNetworkArgs, subnet_cidrs
from stacks.harness import Inventory, run_stack

SUBNET = "aws:ec2/subnet:Subnet"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE = "aws:ec2/route:Route"
NAT = "aws:ec2/natGateway:NatGateway"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"


def _id_of(inv: Inventory, name: str) -> str:
    """The fake id the mock gave a resource (the harness derives it from the logical name)."""
    return inv.named(name).id


def _subnets(inv: Inventory, kind: str) -> list[dict[str, Any]]:
    found = [r for r in inv.of_type(SUBNET) if r.name.startswith(f"network-{kind}-")]
    return [r.inputs for r in sorted(found, key=lambda r: r.name)]


@pytest.mark.parametrize("zone_count", [3, 2])
def test_one_public_and_one_private_subnet_per_zone_with_eks_tags(zone_count: int) -> None:
    inv = run_stack("dev-aws", overrides={"seqstack:zoneCount": zone_count})
    zones = [f"eu-west-1{z}" for z in "abc"[:zone_count]]
    cluster_tag = "kubernetes.io/cluster/seqstack-dev"
    vpc = ipaddress.IPv4Network(inv.one("aws:ec2/vpc:Vpc").inputs["cidrBlock"])
    assert inv.one("aws:ec2/vpc:Vpc").inputs["enableDnsHostnames"] is True

    public, private = _subnets(inv, "public"), _subnets(inv, "private")
    assert [s["availabilityZone"] for s in public] == zones
    assert [s["availabilityZone"] for s in private] == zones
    for s in public:
        assert s["tags"]["kubernetes.io/role/elb"] == "1"
        assert "kubernetes.io/role/internal-elb" not in s["tags"]
        assert s["tags"][cluster_tag] == "shared"
        assert not s.get("mapPublicIpOnLaunch")
    for s in private:
        assert s["tags"]["kubernetes.io/role/internal-elb"] == "1"
        assert "kubernetes.io/role/elb" not in s["tags"]
        assert s["tags"][cluster_tag] == "shared"

    ranges = [ipaddress.IPv4Network(str(s["cidrBlock"])) for s in public + private]
    assert all(r.subnet_of(vpc) for r in ranges)
    assert all(not a.overlaps(b) for i, a in enumerate(ranges) for b in ranges[i + 1 :])
    # Pods take VPC addresses (VPC CNI): private subnets are the big ones.
    assert all(ipaddress.IPv4Network(str(s["cidrBlock"])).prefixlen == 18 for s in private)


def test_subnet_layout_fits_every_allowed_vpc_size() -> None:
    for prefix in range(16, 21):
        private, public = subnet_cidrs(f"10.0.0.0/{prefix}", 3)
        nets = [ipaddress.IPv4Network(c) for c in private + public]
        assert len(set(nets)) == 6
        assert all(not a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])
    with pytest.raises(ValueError, match="zones"):
        AwsNetworkArgs(cidr="10.0.0.0/16", zones=["a"], region="eu-west-1", cluster_name="c")
    with pytest.raises(ValueError, match="/24"):
        AwsNetworkArgs(cidr="10.0.0.0/24", zones=["a", "b"], region="eu-west-1", cluster_name="c")


def test_single_nat_by_default_one_per_zone_in_per_zone_mode() -> None:
    for mode, expected in (("single", 1), ("perZone", 3)):
        inv = run_stack("dev-aws", overrides={"seqstack:natMode": mode})
        nats = sorted(inv.of_type(NAT), key=lambda r: r.name)
        assert len(nats) == expected, mode
        assert len(inv.of_type("aws:ec2/eip:Eip")) == expected, mode
        public_ids = {_id_of(inv, f"network-public-{i}") for i in range(3)}
        assert {n.inputs["subnetId"] for n in nats} <= public_ids, mode
        assert len({n.inputs["subnetId"] for n in nats}) == expected, mode

        # Every private route table's default route goes to a NAT; per zone, to its own one.
        nat_ids = [_id_of(inv, n.name) for n in nats]
        for i in range(3):
            route = inv.named(f"network-private-{i}-default").inputs
            assert route["destinationCidrBlock"] == "0.0.0.0/0"
            assert route["routeTableId"] == _id_of(inv, f"network-private-{i}-rt")
            assert route["natGatewayId"] == nat_ids[i if expected > 1 else 0], (mode, i)
        public_route = inv.named("network-public-default").inputs
        assert public_route["gatewayId"] == _id_of(inv, "network-igw")


def test_s3_gateway_endpoint_is_attached_to_every_private_route_table(aws_inv: Inventory) -> None:
    s3 = aws_inv.named("network-s3").inputs
    assert s3["vpcEndpointType"] == "Gateway"
    assert s3["serviceName"] == "com.amazonaws.eu-west-1.s3"
    private_rts = [_id_of(aws_inv, r.name) for r in aws_inv.of_type(ROUTE_TABLE) if "private" in r.name]
    assert len(private_rts) == 3
    assert sorted(s3["routeTableIds"]) == sorted(private_rts)
    # ...and those tables really are the ones the private subnets use.
    associations = aws_inv.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
    private_subnet_ids = {_id_of(aws_inv, f"network-private-{i}") for i in range(3)}
    used_by_private = {
        a.inputs["routeTableId"] for a in associations if a.inputs["subnetId"] in private_subnet_ids
    }
    assert used_by_private == set(private_rts)


def test_interface_endpoints_use_private_dns_and_admit_only_https_from_the_vpc(aws_inv: Inventory) -> None:
    interface = [r for r in aws_inv.of_type(ENDPOINT) if r.inputs["vpcEndpointType"] == "Interface"]
    services = sorted(r.inputs["serviceName"] for r in interface)
    assert services == [f"com.amazonaws.eu-west-1.{s}" for s in ("ecr.api", "ecr.dkr", "eks-auth")]
    sg = aws_inv.one("aws:ec2/securityGroup:SecurityGroup", "network-endpoints-sg")
    private_subnet_ids = sorted(_id_of(aws_inv, f"network-private-{i}") for i in range(3))
    for endpoint in interface:
        assert endpoint.inputs["privateDnsEnabled"] is True
        assert sorted(endpoint.inputs["subnetIds"]) == private_subnet_ids
        assert endpoint.inputs["securityGroupIds"] == [_id_of(aws_inv, sg.name)]

    assert sg.inputs["ingress"] == [
        {
            "description": "HTTPS from the VPC",
            "protocol": "tcp",
            "fromPort": 443,
            "toPort": 443,
            "cidrBlocks": ["10.40.0.0/16"],
        }
    ]
    assert "egress" not in sg.inputs  # the provider then drops AWS's default allow-all egress
