"""dev-gcp exports the outputs contract: every name, loadable by StackOutputs, kubeconfig secret."""

from __future__ import annotations

import pytest

from stacks.harness import Inventory, run_stack
from workflows.contract import (
    IMAGE_NAMES,
    OUTPUT_NAMES,
    POOL_NAMES,
    SECRET_OUTPUTS,
    StackOutputs,
    pool_placement,
)


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return run_stack("dev-gcp")


def test_exports_exactly_the_contract_names(inv):
    assert set(inv.outputs) == set(OUTPUT_NAMES)


def test_stack_outputs_load_the_gcp_outputs(inv):
    out = StackOutputs.from_json(inv.outputs, source="dev-gcp")
    assert (out.cloud, out.region, out.cluster_name) == ("gcp", "europe-west4", "seqstack-dev")
    assert out.scheme == "gs" and out.data_bucket.startswith("gs://seqstack-dev-data-")
    assert (out.namespace, out.workflow_service_account) == ("biojobs", "argo-workflow")
    assert out.argo is not None and out.argo.namespace == "argo"  # the in-cluster platform
    assert out.to_json() == inv.outputs


def test_only_the_kubeconfig_is_secret(inv):
    assert inv.secret_outputs == set(SECRET_OUTPUTS) == {"kubeconfig"}


def test_images_live_in_the_registry(inv):
    registry = inv.outputs["registry"]
    images = inv.outputs["images"]
    assert set(images) == set(IMAGE_NAMES)
    for name, ref in images.items():
        assert ref.startswith(f"{registry}/{name}@sha256:")  # pinned by digest


def test_node_pool_placements_match_the_pools_built(inv):
    assert inv.outputs["nodePools"] == {
        p: pool_placement(p, tainted=p != "system").to_json() for p in POOL_NAMES
    }
    labels = {
        r.inputs["name"]: r.inputs["nodeConfig"]["labels"]
        for r in inv.of_type("gcp:container/nodePool:NodePool")
    }
    assert labels == {p: inv.outputs["nodePools"][p]["nodeSelector"] for p in POOL_NAMES}
