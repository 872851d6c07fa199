"""``qc-gate``: the sample's verdict from its two FastQC reports (small pool, report image).

The pod runs :mod:`workflows.qc_gate` itself: its file is the script source, so the program the
cluster runs, the program the local executor runs and the module the unit tests import are one.
"""

from __future__ import annotations

from pathlib import Path

from hera.workflows import Env, Parameter, Script, Task
from hera.workflows import models as m

from workflows import qc_gate
from workflows.contract import StackOutputs
from workflows.settings import PipelineSettings
from workflows.steps import fastqc
from workflows.steps.pod import METRICS, OUT, OUT_BUCKET, SAMPLE, SAMPLE_DIR, WORK, arg, artifact, output
from workflows.steps.step import Step

#: The output parameter holding ``pass`` or ``fail``.
VERDICT = "verdict"
#: The gate's task in the per-sample DAG.
TASK = "qc-gate"


def source() -> str:
    """The gate's program as the pod runs it: the text of :mod:`workflows.qc_gate`."""
    return Path(qc_gate.__file__).read_text(encoding="utf-8")


def template(stack: StackOutputs, settings: PipelineSettings) -> Script:
    """The ``qc-gate`` template: both FastQC zips in, the verdict and ``<sample>.qc.json`` out."""
    pod = STEP.pod(stack, settings)
    pod["env"] = [
        *pod["env"],
        Env(name="QC_RULES", value="{{workflow.parameters.qc-rules}}"),
        Env(name="QC_SAMPLE", value=SAMPLE),
    ]
    return Script(
        name=STEP.name,
        image=stack.images[STEP.image],
        command=["python3"],
        source=source(),
        inputs=[
            Parameter(name="sample"),
            *(
                artifact(
                    stack,
                    f"{read.lower()}-zip",
                    f"{WORK}/in/{read}_fastqc.zip",
                    OUT_BUCKET,
                    f"{OUT}/{SAMPLE_DIR}/fastqc/{SAMPLE}_{read}_fastqc.zip",
                )
                for read in qc_gate.READS
            ),
        ],
        outputs=[
            Parameter(name=VERDICT, value_from=m.ValueFrom(path=f"{WORK}/out/verdict")),
            output(stack, "qc-json", f"{WORK}/out/{SAMPLE}.qc.json", SAMPLE_DIR, f"{SAMPLE}.qc.json"),
            # The report's copy: the report reads only the run's metrics folder.
            output(stack, "metrics-qc-json", f"{WORK}/out/{SAMPLE}.qc.json", METRICS, f"{SAMPLE}.qc.json"),
        ],
        **pod,
    )


def wire(gate: Script) -> None:
    """``qc-gate`` after both FastQC tasks."""
    Task(
        name=STEP.tasks[0],
        template=gate,
        arguments={"sample": arg("sample")},
        depends=" && ".join(fastqc.STEP.tasks),
    )


STEP = Step(
    name="qc-gate",
    pool="small",
    image="report",
    size=lambda s: s.qc_gate,
    deadline=lambda s: s.step_deadline_seconds,
    build=template,
    outputs=(VERDICT, "qc-json", "metrics-qc-json"),
    tasks=(TASK,),
    wire=wire,
)
