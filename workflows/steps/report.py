"""``report``: MultiQC over every sample's metrics, once per run (small pool)."""

from __future__ import annotations

from hera.workflows import Container, Task
from hera.workflows import models as m

from workflows.contract import StackOutputs
from workflows.settings import PipelineSettings
from workflows.steps.pod import METRICS, OUT, OUT_BUCKET, WORK, artifact, bash, output
from workflows.steps.step import MAIN_DAG, Step

SCRIPT = """mkdir -p "$WORK/in/metrics"
# `find -print -quit`, not `find | grep -q .`: with thousands of files grep's early exit would
# SIGPIPE find and, under pipefail, silently take the "no metrics" branch.
if [ -n "$(find "$WORK/in/metrics" -type f -print -quit)" ]; then
  multiqc --force --title "seqstack run" --filename multiqc_report.html \\
    --outdir "$WORK/out" "$WORK/in/metrics"
else
  echo "seqstack: no sample produced metrics" >&2
  printf '<html><body><h1>seqstack</h1><p>No sample produced metrics.</p></body></html>\\n' \\
    > "$WORK/out/multiqc_report.html"
fi
"""


def template(stack: StackOutputs, settings: PipelineSettings) -> Container:
    """The ``report`` template: the run's metrics folder in, the MultiQC report out."""
    return Container(
        name=STEP.name,
        image=stack.images[STEP.image],
        inputs=[
            artifact(stack, "metrics", f"{WORK}/in/metrics", OUT_BUCKET, f"{OUT}/{METRICS}", optional=True)
        ],
        outputs=[
            output(stack, "html", f"{WORK}/out/multiqc_report.html", "multiqc_report.html"),
            output(stack, "data", f"{WORK}/out/multiqc_report_data", "multiqc_data", optional=True),
        ],
        # Chunks of one run share the report key: one report at a time, the last sees all samples.
        synchronization=m.Synchronization(mutexes=[m.Mutex(name="seqstack-report")]),
        **bash(SCRIPT),
        **STEP.pod(stack, settings),
    )


def wire(report: Container) -> None:
    """``report`` once every sample finished, whatever its outcome."""
    Task(
        name=STEP.tasks[0], template=report, depends="samples.Succeeded || samples.Failed || samples.Errored"
    )


STEP = Step(
    name="report",
    pool="small",
    image="report",
    size=lambda s: s.report,
    deadline=lambda s: s.step_deadline_seconds,
    build=template,
    outputs=("html", "data"),
    dag=MAIN_DAG,
    tasks=("report",),
    wire=wire,
)
