"""The GKE cluster: private, VPC-native, Workload Identity, shielded, observable, no default pool."""

from __future__ import annotations

import json

import pytest

from stacks.harness import Inventory, run_stack

CLUSTER = "gcp:container/cluster:Cluster"


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return run_stack("dev-gcp")


@pytest.fixture(scope="module")
def cluster(inv):
    return inv.one(CLUSTER).inputs


def test_regional_in_the_configured_number_of_zones(cluster):
    assert cluster["location"] == "europe-west4"
    assert cluster["nodeLocations"] == ["europe-west4-a", "europe-west4-b", "europe-west4-c"]
    two = run_stack("dev-gcp", overrides={"seqstack:zoneCount": 2}).one(CLUSTER).inputs
    assert two["nodeLocations"] == ["europe-west4-a", "europe-west4-b"]


def test_nodes_are_private_behind_a_control_plane_cidr(cluster):
    private = cluster["privateClusterConfig"]
    assert private["enablePrivateNodes"] is True
    assert private["masterIpv4CidrBlock"] == "10.40.160.0/28"


def test_vpc_native_on_the_subnetwork_ranges(inv, cluster):
    assert cluster["networkingMode"] == "VPC_NATIVE"
    assert cluster["ipAllocationPolicy"] == {
        "clusterSecondaryRangeName": "network-pods",
        "servicesSecondaryRangeName": "network-services",
    }
    assert cluster["network"] == inv.one("gcp:compute/network:Network").id
    assert cluster["subnetwork"] == inv.one("gcp:compute/subnetwork:Subnetwork").id


def test_release_channel_and_minimum_version_from_config(cluster):
    assert cluster["releaseChannel"] == {"channel": "REGULAR"}
    assert cluster["minMasterVersion"] == "1.35"


def test_workload_identity_pool_of_the_project(cluster):
    assert cluster["workloadIdentityConfig"] == {"workloadPool": "seqstack-dev.svc.id.goog"}


def test_shielded_nodes(cluster):
    assert cluster["enableShieldedNodes"] is True


def test_system_and_workload_logs_and_system_metrics(cluster):
    assert cluster["loggingConfig"]["enableComponents"] == ["SYSTEM_COMPONENTS", "WORKLOADS"]
    assert cluster["monitoringConfig"]["enableComponents"] == ["SYSTEM_COMPONENTS"]


def test_default_pool_removed_and_autoscaler_prefers_utilization(cluster):
    assert cluster["removeDefaultNodePool"] is True
    assert cluster["initialNodeCount"] == 1
    assert cluster["clusterAutoscaling"]["autoscalingProfile"] == "OPTIMIZE_UTILIZATION"
    # The short-lived default pool still runs as the node account, not the Compute default.
    assert (
        cluster["nodeConfig"]["serviceAccount"] == "seqstack-dev-nodes@seqstack-dev.iam.gserviceaccount.com"
    )


def test_default_pool_is_locked_down_like_every_node_pool(inv, cluster):
    lockdown = ("oauthScopes", "shieldedInstanceConfig", "workloadMetadataConfig")
    default = {key: cluster["nodeConfig"][key] for key in lockdown}
    assert default == {
        "oauthScopes": ["https://www.googleapis.com/auth/cloud-platform"],
        "shieldedInstanceConfig": {"enableSecureBoot": True, "enableIntegrityMonitoring": True},
        "workloadMetadataConfig": {"mode": "GKE_METADATA"},
    }
    pools = inv.of_type("gcp:container/nodePool:NodePool")
    assert len(pools) == 3
    for pool in pools:
        assert {key: pool.inputs["nodeConfig"][key] for key in lockdown} == default, pool.name


@pytest.mark.parametrize("protect", [True, False])
def test_deletion_protection_follows_config(protect):
    inv = run_stack("dev-gcp", overrides={"seqstack:deletionProtection": protect})
    assert inv.one(CLUSTER).inputs["deletionProtection"] is protect


def test_kubeconfig_execs_the_gke_auth_plugin_against_the_endpoint(inv):
    config = json.loads(inv.outputs["kubeconfig"])
    [cluster] = config["clusters"]
    assert cluster["cluster"]["server"] == "https://203.0.113.10"  # the mock's endpoint
    assert cluster["cluster"]["certificate-authority-data"] == "bW9jay1jYQ=="
    [user] = config["users"]
    assert user["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
    assert "token" not in user["user"]  # no credential is stored in the output
    assert config["current-context"] == "gke_seqstack-dev_europe-west4_seqstack-dev"


def test_public_endpoint_admits_only_the_configured_networks(cluster):
    blocks = cluster["masterAuthorizedNetworksConfig"]["cidrBlocks"]
    assert [b["cidrBlock"] for b in blocks] == ["0.0.0.0/0"]  # the default
    narrowed = run_stack(
        "dev-gcp", overrides={"seqstack:apiAllowedCidrs": ["203.0.113.0/24", "198.51.100.7/32"]}
    )
    blocks = narrowed.one(CLUSTER).inputs["masterAuthorizedNetworksConfig"]["cidrBlocks"]
    assert [b["cidrBlock"] for b in blocks] == ["203.0.113.0/24", "198.51.100.7/32"]
