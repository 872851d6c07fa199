"""The pipeline's steps, each defined once (see :class:`workflows.steps.step.Step`).

To add a step: write its module here (script, template builder, ``wire`` into its DAG, and a
``STEP``), and list it in :data:`PIPELINE` in DAG order. The rendered template, the cost model,
the Argo client's per-sample states and the local run's outcomes all read this table.
"""

from __future__ import annotations

from workflows.steps import align, fastqc, index, merge, qc_gate, report
from workflows.steps.step import SAMPLE_DAG, Step

#: The steps of the pipeline WorkflowTemplate, in the order their templates and tasks appear.
PIPELINE: tuple[Step, ...] = (fastqc.STEP, qc_gate.STEP, align.STEP, align.LANE_STEP, merge.STEP, report.STEP)

#: The aligner index, run as a Workflow of its own by ``seqstack index``.
INDEX: Step = index.STEP

#: The per-sample DAG's task names, in order (``fastqc``, ``align`` and ``align-lane`` run one
#: pod per lane item; see ``Step.pods_for``).
SAMPLE_TASKS: tuple[str, ...] = tuple(t for s in PIPELINE if s.dag == SAMPLE_DAG for t in s.tasks)


def by_name() -> dict[str, Step]:
    """The pipeline's steps by template name."""
    return {s.name: s for s in PIPELINE}
