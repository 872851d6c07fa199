"""The step table (``workflows.steps``) is the one definition: the rendered template, the cost
model and the Argo client's per-sample states all follow it."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import pytest

from stacks.cost import default_tasks
from workflows import argo_client
from workflows.contract import POOL_LABEL, StackOutputs
from workflows.pipeline import build_index_workflow, build_template
from workflows.settings import PipelineSettings, Resources, SettingsError
from workflows.steps import INDEX, PIPELINE, SAMPLE_TASKS, by_name
from workflows.steps.step import MAIN_DAG, SAMPLE_DAG

STACK = StackOutputs.load(Path(__file__).parent / "fixtures" / "dev-aws.outputs.json")


def _templates(settings: PipelineSettings) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in build_template(STACK, settings).to_dict()["spec"]["templates"]}


@pytest.mark.parametrize("settings", [PipelineSettings.cloud_defaults(), PipelineSettings.local(3, 6)])
def test_each_step_renders_on_its_pool_with_its_size_image_and_outputs(settings: PipelineSettings) -> None:
    templates = _templates(settings)
    for step in PIPELINE:
        t = templates[step.name]
        body = t.get("container") or t["script"]
        assert t["nodeSelector"][POOL_LABEL] == step.pool
        assert t["metadata"]["labels"][POOL_LABEL] == step.pool
        assert body["image"] == STACK.images[step.image]
        assert body["resources"] == step.size(settings).to_k8s()
        assert t["activeDeadlineSeconds"] == step.deadline(settings)
        outputs = t.get("outputs", {})
        names = [o["name"] for o in outputs.get("artifacts", []) + outputs.get("parameters", [])]
        assert sorted(names) == sorted(step.outputs), step.name


def test_the_dags_hold_each_steps_tasks_in_table_order() -> None:
    templates = _templates(PipelineSettings.cloud_defaults())
    sample = [t["name"] for t in templates[SAMPLE_DAG]["dag"]["tasks"]]
    assert sample == list(SAMPLE_TASKS) == ["fastqc-r1", "fastqc-r2", "qc-gate", "align"]
    main = [t["name"] for t in templates[MAIN_DAG]["dag"]["tasks"]]
    assert main == ["samples", *(t for s in PIPELINE if s.dag == MAIN_DAG for t in s.tasks)]
    for dag in (SAMPLE_DAG, MAIN_DAG):
        for task in templates[dag]["dag"]["tasks"]:
            if task["name"] != "samples":
                assert by_name()[task["template"]].dag == dag


def test_the_index_workflow_is_its_step() -> None:
    settings = PipelineSettings.cloud_defaults()
    (t,) = build_index_workflow("s3://b/ref.fa", STACK, settings).to_dict()["spec"]["templates"]
    assert t["name"] == INDEX.name and t["nodeSelector"][POOL_LABEL] == INDEX.pool
    assert t["container"]["resources"] == INDEX.size(settings).to_k8s()
    assert [o["name"] for o in t["outputs"]["artifacts"]] == list(INDEX.outputs)


def test_every_step_size_is_a_setting_and_every_setting_size_is_checked() -> None:
    """The settings check every Resources field by itself; each step's size is one of them."""
    settings = PipelineSettings.cloud_defaults()
    sizes = [f.name for f in fields(settings) if isinstance(getattr(settings, f.name), Resources)]
    for step in (*PIPELINE, INDEX):
        assert any(step.size(settings) is getattr(settings, name) for name in sizes), step.name
    for name in sizes:
        with pytest.raises(SettingsError, match=f"^{name}: cpu, memory_mib"):
            replace(settings, **{name: Resources(cpu=0, memory_mib=512, ephemeral_gib=1)})


def test_the_cost_models_default_tasks_come_from_the_table() -> None:
    tasks = {t.task: t for t in default_tasks()}
    measured = [s for s in PIPELINE if s.measured]
    assert list(tasks) == [s.name for s in measured] == ["fastqc", "align"]
    for step in measured:
        assert tasks[step.name].pool == step.pool
        assert tasks[step.name].pods_per_sample == len(step.tasks)
    assert tasks["fastqc"].pods_per_sample == 2


def test_the_argo_client_follows_the_sample_tasks() -> None:
    assert argo_client.STEPS == SAMPLE_TASKS
