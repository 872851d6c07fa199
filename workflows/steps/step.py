"""What one pipeline step is: the single definition everything else about the step is read from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hera.workflows import Container, Script

from workflows.contract import StackOutputs
from workflows.settings import PipelineSettings, Resources
from workflows.steps.pod import pod

#: Where a step's tasks sit: the per-sample DAG, the run-level ``main`` DAG, or a Workflow of its
#: own (the index).
SAMPLE_DAG = "sample"
MAIN_DAG = "main"
OWN_WORKFLOW = ""

#: The per-sample DAG's inputs: the sample ID and its lane items as a JSON string.
SAMPLE_PARAMS = ("sample", "lanes")
#: The fields of one lane item (``workflows.pipeline.lane_items``), which per-lane templates take.
LANE_PARAMS = ("lane", "unit", "r1_bucket", "r1_key", "r2_bucket", "r2_key")


@dataclass(frozen=True)
class Step:
    """One pipeline step: its template, where and how big it runs, what it publishes.

    The template (:attr:`build`), the DAG tasks (:attr:`wire`), the cost model's pool and pod
    counts, the Argo client's per-sample states and the local run's outcomes all read this.
    """

    name: str
    """Template name (``fastqc``, ``qc-gate``...)."""
    pool: str
    """Node pool the step's pods run on (``small`` or ``large``)."""
    image: str
    """Key of the stack's image the step runs in (``StackOutputs.images``)."""
    size: Callable[[PipelineSettings], Resources]
    """The step's pod size under the given settings."""
    deadline: Callable[[PipelineSettings], int]
    """Seconds each attempt may run under the given settings."""
    build: Callable[[StackOutputs, PipelineSettings], Container | Script]
    """Builds the step's template (inside a WorkflowTemplate or Workflow context)."""
    outputs: tuple[str, ...]
    """Names of the template's outputs (artifacts and parameters)."""
    dag: str = SAMPLE_DAG
    """Which DAG runs the step: :data:`SAMPLE_DAG`, :data:`MAIN_DAG` or :data:`OWN_WORKFLOW`."""
    tasks: tuple[str, ...] = ()
    """Its task names in that DAG (one pod each per sample in the per-sample DAG)."""
    wire: Callable[[Any], None] | None = None
    """Adds :attr:`tasks` to the DAG being built, given the built template."""
    measured: tuple[str, ...] = ()
    """Rows of ``stacks/data/task_cpu.json`` whose CPU this step's pods use (empty: not priced
    from the default table)."""
    pods: Callable[[int], int] | None = None
    """Pods one sample of N aligned lanes runs of this step (None: one per task)."""

    def pods_for(self, lanes: int) -> int:
        """Pods one sample with ``lanes`` lanes (all passing QC) runs of this step (0 for
        run-level steps)."""
        if self.dag != SAMPLE_DAG:
            return 0
        return self.pods(lanes) if self.pods is not None else len(self.tasks)

    @property
    def pods_per_sample(self) -> int:
        """Pods a one-lane sample runs of this step (0 for run-level steps)."""
        return self.pods_for(1)

    def pod(self, stack: StackOutputs, settings: PipelineSettings) -> dict[str, Any]:
        """The step's pod fields (placement on its pool, its size, retries, deadline...)."""
        return pod(stack, settings, self.pool, self.size(settings), self.deadline(settings))
