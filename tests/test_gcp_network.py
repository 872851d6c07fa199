"""The GCP network: APIs on first, a custom VPC sized by a documented plan, private egress."""

from __future__ import annotations

import ipaddress

import pytest

from components.gcp_apis import REQUIRED_SERVICES
from components.gcp_network import plan_addresses
from stacks.config import ConfigError
from stacks.harness import Inventory, Recorded, run_stack

SERVICE = "gcp:projects/service:Service"


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return run_stack("dev-gcp")


def upstream(inv: Inventory, r: Recorded) -> set[str]:
    """Everything a resource waits for: its dependencies and its parents', transitively."""
    seen: set[str] = set()
    todo = [r.name]
    while todo:
        current = inv.named(todo.pop())
        for name in (*current.dependencies, *([current.parent] if current.parent else [])):
            if name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


def test_every_required_api_is_enabled_and_left_on_at_destroy(inv):
    services = inv.of_type(SERVICE)
    assert sorted(s.inputs["service"] for s in services) == sorted(REQUIRED_SERVICES)
    assert {s.inputs["project"] for s in services} == {"seqstack-dev"}
    assert all(s.inputs["disableOnDestroy"] is False for s in services)


def test_every_other_gcp_resource_waits_for_the_apis(inv):
    api_names = {s.name for s in inv.of_type(SERVICE)}
    others = [r for r in inv.resources if r.custom and r.type.startswith("gcp:") and r.type != SERVICE]
    assert others
    for r in others:
        assert api_names <= upstream(inv, r), f"{r.name} does not wait for {api_names - upstream(inv, r)}"


def test_vpc_is_custom_mode(inv):
    vpc = inv.one("gcp:compute/network:Network")
    assert vpc.inputs["autoCreateSubnetworks"] is False


def test_subnetwork_has_pod_and_service_ranges_and_private_google_access(inv):
    subnet = inv.one("gcp:compute/subnetwork:Subnetwork")
    ranges = {r["rangeName"]: r["ipCidrRange"] for r in subnet.inputs["secondaryIpRanges"]}
    assert ranges == {"network-pods": "10.40.0.0/17", "network-services": "10.40.144.0/20"}
    assert subnet.inputs["ipCidrRange"] == "10.40.128.0/20"
    assert subnet.inputs["privateIpGoogleAccess"] is True
    assert subnet.inputs["region"] == "europe-west4"
    assert "logConfig" not in subnet.inputs  # flow logs are opt-in


@pytest.mark.parametrize("cidr", ["10.40.0.0/16", "172.16.0.0/18", "192.168.16.0/20"])
def test_address_plan_ranges_lie_inside_the_network_and_never_overlap(cidr):
    plan = plan_addresses(cidr)
    network = ipaddress.IPv4Network(cidr)
    ranges = [ipaddress.IPv4Network(c) for c in (plan.nodes, plan.pods, plan.services, plan.master)]
    assert all(r.subnet_of(network) for r in ranges)
    assert not any(a.overlaps(b) for i, a in enumerate(ranges) for b in ranges[i + 1 :])
    assert ranges[3].prefixlen == 28
    # Each node takes a /25 of the pod range (64 pods per node).
    assert plan.max_nodes == ranges[1].num_addresses // 128


def test_a_network_too_small_for_the_pools_is_refused_naming_vpc_cidr():
    # A /20 leaves pod addresses for 16 nodes; the pools may grow to 3 + 10 + 4 = 17.
    with pytest.raises(ConfigError, match=r"seqstack:vpcCidr: .* 16 nodes, .* 17"):
        run_stack("dev-gcp", overrides={"seqstack:vpcCidr": "10.40.0.0/20"})


def test_private_nodes_egress_through_cloud_nat_on_a_cloud_router(inv):
    router = inv.one("gcp:compute/router:Router")
    nat = inv.one("gcp:compute/routerNat:RouterNat")
    assert router.inputs["network"] == inv.one("gcp:compute/network:Network").id
    assert nat.inputs["region"] == router.inputs["region"] == "europe-west4"
    assert "network-router" in nat.dependencies
    assert nat.inputs["natIpAllocateOption"] == "AUTO_ONLY"
    assert nat.inputs["sourceSubnetworkIpRangesToNat"] == "LIST_OF_SUBNETWORKS"
    [subnet] = nat.inputs["subnetworks"]
    # Our subnetwork (by id), all of its ranges; nothing else in the project is NATed.
    assert subnet["name"] == inv.one("gcp:compute/subnetwork:Subnetwork").id
    assert subnet["sourceIpRangesToNats"] == ["ALL_IP_RANGES"]
