"""``report``: what seqstack decided for every sample, and MultiQC over the run's metrics, once per
run (small pool, report image).

The pod runs :mod:`workflows.report_table` itself: its file is the script source, so the program
the cluster runs, the program the local executor runs and the module the tests import are one.
"""

from __future__ import annotations

from pathlib import Path

from hera.workflows import Env, RawArtifact, Script, Task
from hera.workflows import models as m

from workflows import report_table
from workflows.contract import StackOutputs
from workflows.settings import PipelineSettings
from workflows.steps.pod import METRICS, OUT, OUT_BUCKET, REF, REF_BUCKET, WORK, artifact, output
from workflows.steps.step import MAIN_DAG, Step


def source() -> str:
    """The report's program as the pod runs it: the text of :mod:`workflows.report_table`."""
    return Path(report_table.__file__).read_text(encoding="utf-8")


def reference(stack: StackOutputs) -> str:
    """The run's reference FASTA as the user named it (a URI on clouds, a path locally)."""
    if stack.scheme == "file":
        return REF
    return f"{stack.scheme}://{REF_BUCKET}/{REF}"


def template(stack: StackOutputs, settings: PipelineSettings) -> Script:
    """The ``report`` template: the run's metrics folder and sample list in, the report out."""
    pod = STEP.pod(stack, settings)
    pod["env"] = [*pod["env"], Env(name="REPORT_REFERENCE", value=reference(stack))]
    return Script(
        name=STEP.name,
        image=stack.images[STEP.image],
        command=["python3"],
        source=source(),
        inputs=[
            artifact(stack, "metrics", f"{WORK}/in/metrics", OUT_BUCKET, f"{OUT}/{METRICS}", optional=True),
            # A file, not an environment variable: a chunk's list can pass Linux's 128 KiB limit
            # on one variable (execve fails with E2BIG).
            RawArtifact(
                name="samples",
                path=f"{WORK}/in/{report_table.SAMPLES_FILE}",
                data="{{workflow.parameters.samples}}",
            ),
        ],
        outputs=[
            output(stack, "html", f"{WORK}/out/multiqc_report.html", "multiqc_report.html"),
            output(stack, "data", f"{WORK}/out/multiqc_report_data", "multiqc_data", optional=True),
            # This chunk's samples, for the reports of the run's later chunks (they share METRICS).
            output(
                stack,
                "samples",
                f"{WORK}/out/{report_table.SAMPLES_FILE}",
                METRICS,
                f"{report_table.SAMPLES_PREFIX}{{{{workflow.name}}}}.json",
            ),
        ],
        # Chunks of one run share the report key: one report at a time, the last sees all samples.
        synchronization=m.Synchronization(mutexes=[m.Mutex(name="seqstack-report")]),
        **pod,
    )


def wire(report: Script) -> None:
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
    outputs=("html", "data", "samples"),
    dag=MAIN_DAG,
    tasks=("report",),
    wire=wire,
)
