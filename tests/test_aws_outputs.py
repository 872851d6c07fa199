"""dev-aws outputs: exactly the contract's names, in order, with the contract's shapes."""

from __future__ import annotations

import json
from typing import Any

import pytest

import stacks.aws
from stacks.aws import build_aws
from stacks.config import StackConfig
from stacks.harness import Inventory, run_stack
from workflows.contract import IMAGE_NAMES, OUTPUT_NAMES, POOL_NAMES, SECRET_OUTPUTS, StackOutputs


def test_outputs_follow_the_contract(aws_inv: Inventory) -> None:
    # The harness records outputs as they resolve; the program returns them in contract order
    # (stacks/program.py refuses any other order), so compare as sets here.
    assert set(aws_inv.outputs) == set(OUTPUT_NAMES)
    out = StackOutputs.from_json(aws_inv.outputs, source="dev-aws")
    assert (out.cloud, out.region, out.cluster_name) == ("aws", "eu-west-1", "seqstack-dev")
    assert out.data_bucket.startswith("s3://seqstack-dev-data-")
    assert out.namespace == "biojobs"
    assert out.workflow_service_account == "argo-workflow"
    assert out.registry == "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    assert set(out.images) == set(IMAGE_NAMES)
    for name, ref in out.images.items():
        assert ref.startswith(f"{out.registry}/seqstack-dev/{name}@sha256:")  # pinned by digest
    assert set(out.node_pools) == set(POOL_NAMES)
    assert out.node_pools["system"].tolerations == ()
    assert [t.value for t in out.node_pools["large"].tolerations] == ["large"]
    assert out.argo is not None and out.argo.namespace == "argo"  # the in-cluster platform


def test_build_aws_returns_the_names_in_contract_order(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, ...]] = []

    def spy(cfg: StackConfig) -> dict[str, Any]:
        outputs = build_aws(cfg)
        seen.append(tuple(outputs))
        return outputs

    monkeypatch.setattr(stacks.aws, "build_aws", spy)  # stacks.program imports it at call time
    run_stack("dev-aws")
    assert seen == [OUTPUT_NAMES]


def test_kubeconfig_is_a_secret_for_the_cluster(aws_inv: Inventory) -> None:
    assert aws_inv.secret_outputs == set(SECRET_OUTPUTS) == {"kubeconfig"}
    kubeconfig = json.loads(aws_inv.outputs["kubeconfig"])
    assert kubeconfig["current-context"] == "seqstack-dev"
    assert kubeconfig["clusters"][0]["name"] == "seqstack-dev"
