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
    assert sample == list(SAMPLE_TASKS) == ["fastqc", "qc-gate", "align", "align-lane", "merge"]
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
    # A one-lane sample: one FastQC (both reads in one JVM) and one align, as the DAG runs them.
    tasks = {t.task: t for t in default_tasks()}
    assert list(tasks) == ["fastqc", "align"]
    for step in PIPELINE:
        if step.name in tasks:
            assert tasks[step.name].pool == step.pool
            assert tasks[step.name].pods_per_sample == step.pods_for(1)
    assert {t: tasks[t].pods_per_sample for t in tasks} == {"fastqc": 1, "align": 1}


def test_pods_per_sample_follow_its_lanes() -> None:
    """A sample of N lanes: N FastQC pods and either one align (N = 1) or N align-lane and one
    merge; the per-read work is the same reads split over lanes, so only pods multiply."""
    tasks = {t.task: t for t in default_tasks(lanes=3)}
    assert {t: tasks[t].pods_per_sample for t in tasks} == {"fastqc": 3, "align-lane": 3, "merge": 1}
    one = {t.task: t for t in default_tasks()}
    # Aligning per lane then finishing once (merge: index/flagstat/stats) is the one-lane align's
    # per-read work split in two (samtools merge itself is not in the measured table).
    per_read = [tasks[t].cpu_seconds_per_million_pairs for t in ("align-lane", "merge")]
    assert sum(per_read) == one["align"].cpu_seconds_per_million_pairs
    by = by_name()
    assert [by[n].pods_for(4) for n in ("fastqc", "qc-gate", "align", "align-lane", "merge")] == [
        4,
        1,
        0,
        4,
        1,
    ]
    assert [by[n].pods_for(1) for n in ("fastqc", "qc-gate", "align", "align-lane", "merge")] == [
        1,
        1,
        1,
        0,
        0,
    ]


def test_the_argo_client_follows_the_sample_tasks() -> None:
    assert argo_client.STEPS == SAMPLE_TASKS
