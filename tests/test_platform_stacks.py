"""The platform inside the real stacks: wired to each cloud's cluster, node pools and identity."""

from __future__ import annotations

import pytest

from stacks.harness import Inventory, run_stack
from tests import k8s_schema


@pytest.fixture(scope="module")
def gcp_inv() -> Inventory:
    return run_stack("dev-gcp")


@pytest.fixture(scope="module", params=["dev-aws", "dev-gcp"])
def inv(request, aws_inv, gcp_inv) -> Inventory:
    return aws_inv if request.param == "dev-aws" else gcp_inv


def test_gke_autoscaler_is_built_in_and_tuned_for_bursty_batch(gcp_inv):
    """GKE needs no Cluster Autoscaler deployment: the cluster's profile makes it remove idle
    nodes quickly (the AWS stack gets the same from its autoscaler's scale-down flags)."""
    cluster = gcp_inv.one("gcp:container/cluster:Cluster").inputs
    assert cluster["clusterAutoscaling"]["autoscalingProfile"] == "OPTIMIZE_UTILIZATION"
    pools = gcp_inv.of_type("gcp:container/nodePool:NodePool")
    spot = [p.inputs for p in pools if p.inputs["nodeConfig"].get("spot")]
    assert spot and all(p["autoscaling"]["totalMinNodeCount"] == 0 for p in spot)


def test_gke_ships_workload_logs_and_enforces_network_policy(gcp_inv):
    cluster = gcp_inv.one("gcp:container/cluster:Cluster").inputs
    assert "WORKLOADS" in cluster["loggingConfig"]["enableComponents"]
    assert "SYSTEM_COMPONENTS" in cluster["monitoringConfig"]["enableComponents"]
    # Dataplane V2 enforces NetworkPolicy, so biojobs' default-deny ingress is real.
    assert cluster["datapathProvider"] == "ADVANCED_DATAPATH"


def test_every_manifest_of_the_stack_validates_against_its_kubernetes_version(inv):
    version = inv.config.kubernetes_version
    assert k8s_schema.version_schemas_present(version)
    for m in k8s_schema.k8s_manifests(inv):
        k8s_schema.validate(k8s_schema.manifest(m), version)
