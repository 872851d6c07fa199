"""AWS and GCP stacks export the same outputs contract: same names, same shapes, cloud-specific values."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stacks.harness import Inventory, run_stack
from workflows.contract import OUTPUT_NAMES, SECRET_OUTPUTS, StackOutputs


@pytest.fixture(scope="module")
def stacks() -> dict[str, Inventory]:
    return {cloud: run_stack(f"dev-{cloud}") for cloud in ("aws", "gcp")}


def shape(value: Any) -> Any:
    """A value's structure: dict keys and list lengths kept, leaves replaced by their type name."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return type(value).__name__


def test_both_clouds_export_exactly_the_contract_names(stacks):
    for inv in stacks.values():
        assert set(inv.outputs) == set(OUTPUT_NAMES)


def test_both_clouds_export_the_same_shapes(stacks):
    aws, gcp = (stacks[c].outputs for c in ("aws", "gcp"))
    for name in OUTPUT_NAMES:
        assert shape(aws[name]) == shape(gcp[name]), name


def test_both_clouds_keep_the_same_outputs_secret(stacks):
    assert stacks["aws"].secret_outputs == stacks["gcp"].secret_outputs == set(SECRET_OUTPUTS)


def test_both_load_as_stack_outputs_with_their_own_storage_scheme(stacks):
    loaded = {c: StackOutputs.from_json(inv.outputs, source=f"dev-{c}") for c, inv in stacks.items()}
    assert (loaded["aws"].cloud, loaded["gcp"].cloud) == ("aws", "gcp")
    assert loaded["aws"].data_bucket.startswith("s3://")
    assert loaded["gcp"].data_bucket.startswith("gs://")
    assert loaded["aws"].region != loaded["gcp"].region


def test_cloud_neutral_values_are_equal(stacks):
    aws, gcp = (stacks[c].outputs for c in ("aws", "gcp"))
    for name in ("clusterName", "namespace", "workflowServiceAccount", "nodePools", "argo"):
        assert aws[name] == gcp[name], name


def test_each_image_sits_under_its_own_registry(stacks):
    for cloud, inv in stacks.items():
        registry = inv.outputs["registry"]
        assert all(ref.startswith(f"{registry}/") for ref in inv.outputs["images"].values()), cloud


def test_both_kubeconfigs_point_at_one_cluster_with_a_user(stacks):
    for cloud, inv in stacks.items():
        config = json.loads(inv.outputs["kubeconfig"])
        assert config["kind"] == "Config", cloud
        assert len(config["clusters"]) == 1 and config["clusters"][0]["cluster"]["server"].startswith(
            "https://"
        )
        assert config["current-context"] in {c["name"] for c in config["contexts"]}
