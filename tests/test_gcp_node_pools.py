"""GKE node pools: sizes as totals, spot pools from zero, labels and taints from the contract."""

from __future__ import annotations

import pytest

from stacks.config import ConfigError
from stacks.harness import Inventory, run_stack
from workflows.contract import POOL_LABEL

POOL = "gcp:container/nodePool:NodePool"
NODE_ACCOUNT = "seqstack-dev-nodes@seqstack-dev.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return run_stack("dev-gcp")


@pytest.fixture(scope="module")
def pools(inv):
    return {r.inputs["name"]: r.inputs for r in inv.of_type(POOL)}


def test_three_pools_of_the_cluster(inv, pools):
    assert sorted(pools) == ["large", "small", "system"]
    assert all(p["cluster"] == "seqstack-dev" and p["location"] == "europe-west4" for p in pools.values())
    assert all("gke-cluster" in r.dependencies for r in inv.of_type(POOL))


def test_system_pool_is_on_demand_and_never_empty(pools):
    system = pools["system"]
    assert system["nodeConfig"]["spot"] is False
    assert system["nodeConfig"]["machineType"] == "e2-standard-2"
    assert system["autoscaling"]["totalMinNodeCount"] == 1
    assert system["autoscaling"]["totalMaxNodeCount"] == 3


@pytest.mark.parametrize(
    ("name", "machine", "maximum"), [("small", "n2-standard-4", 10), ("large", "n2-standard-32", 4)]
)
def test_spot_pools_scale_from_a_total_of_zero_in_any_zone(pools, name, machine, maximum):
    pool = pools[name]
    assert pool["nodeConfig"]["spot"] is True
    assert pool["nodeConfig"]["machineType"] == machine
    assert pool["initialNodeCount"] == 0
    # Totals across zones (the per-zone fields would multiply by the zone count).
    assert pool["autoscaling"] == {
        "totalMinNodeCount": 0,
        "totalMaxNodeCount": maximum,
        "locationPolicy": "ANY",
    }


def test_every_pool_is_labelled_and_only_spot_pools_are_tainted(pools):
    for name, pool in pools.items():
        assert pool["nodeConfig"]["labels"] == {POOL_LABEL: name}
    assert pools["system"]["nodeConfig"]["taints"] == []
    for name in ("small", "large"):
        assert pools[name]["nodeConfig"]["taints"] == [
            {"key": POOL_LABEL, "value": name, "effect": "NO_SCHEDULE"}
        ]


def test_disk_sizes_from_config_and_types_per_pool(pools):
    disks = {name: (p["nodeConfig"]["diskSizeGb"], p["nodeConfig"]["diskType"]) for name, p in pools.items()}
    assert disks == {"system": (50, "pd-balanced"), "small": (200, "pd-balanced"), "large": (500, "pd-ssd")}


def test_nodes_are_shielded_hide_their_credentials_and_run_as_the_node_account(pools):
    for pool in pools.values():
        node = pool["nodeConfig"]
        assert node["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
        assert node["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
        assert node["serviceAccount"] == NODE_ACCOUNT
        assert node["oauthScopes"] == ["https://www.googleapis.com/auth/cloud-platform"]
        assert pool["management"] == {"autoRepair": True, "autoUpgrade": True}


def test_system_pool_starts_with_one_node_in_total_not_one_per_zone(pools):
    """GKE creates initialNodeCount nodes in each of a pool's zones: 1 x 3 zones was 3 nodes."""
    system = pools["system"]
    assert system["nodeLocations"] == ["europe-west4-a"]
    assert system["initialNodeCount"] == 1
    assert (
        system["initialNodeCount"] * len(system["nodeLocations"])
        == system["autoscaling"]["totalMinNodeCount"]
    )
    for name in ("small", "large"):  # spot pools keep every zone of the cluster
        assert "nodeLocations" not in pools[name]


def test_an_on_demand_pool_of_two_starts_in_two_zones_with_one_node_each():
    inv = run_stack("dev-gcp", overrides={"seqstack:systemMinNodes": 2})
    system = next(r.inputs for r in inv.of_type(POOL) if r.inputs["name"] == "system")
    assert (system["nodeLocations"], system["initialNodeCount"]) == (["europe-west4-a", "europe-west4-b"], 1)


def test_system_pool_starts_with_enough_nodes_per_zone_for_its_total():
    inv = run_stack("dev-gcp", overrides={"seqstack:systemMinNodes": 4, "seqstack:systemMaxNodes": 6})
    system = next(r.inputs for r in inv.of_type(POOL) if r.inputs["name"] == "system")
    assert system["initialNodeCount"] == 2  # ceil(4 / 3 zones)


def test_several_machine_types_are_refused_on_gcp_naming_the_key():
    with pytest.raises(ConfigError, match=r"seqstack:largeMachineTypes: .*one machine type"):
        run_stack("dev-gcp", overrides={"seqstack:largeMachineTypes": ["n2-standard-32", "n2d-standard-32"]})
