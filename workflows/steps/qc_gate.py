"""``qc-gate``: each lane's and the sample's verdict from its FastQC reports (small pool, report image).

The pod runs :mod:`workflows.qc_gate` itself: its file is the script source, so the program the
cluster runs, the program the local executor runs and the module the unit tests import are one.
"""

from __future__ import annotations

from pathlib import Path

from hera.workflows import Env, Parameter, Script, Task
from hera.workflows import models as m

from workflows import qc_gate, task_names
from workflows.contract import StackOutputs
from workflows.settings import PipelineSettings
from workflows.steps import fastqc
from workflows.steps.pod import METRICS, OUT, OUT_BUCKET, SAMPLE, SAMPLE_DIR, WORK, arg, artifact, output
from workflows.steps.step import Step

#: The output parameter holding ``pass`` or ``fail``.
VERDICT = task_names.VERDICT
#: The output parameter holding the JSON list of lane items to align (``[]`` on fail).
ALIGN_LANES = "align-lanes"
#: The output parameter holding ``one`` (one lane to align: ``align`` writes the sample's
#: outputs) or ``many`` (``align-lane`` per lane, then ``merge``).
LAYOUT = "layout"
#: The gate's task in the per-sample DAG.
TASK = task_names.QC_GATE


def source() -> str:
    """The gate's program as the pod runs it: the text of :mod:`workflows.qc_gate`."""
    return Path(qc_gate.__file__).read_text(encoding="utf-8")


def output_parameter(name: str) -> str:
    """A reference, in the per-sample DAG, to one of the gate's output parameters."""
    return f"{{{{tasks.{TASK}.outputs.parameters.{name}}}}}"


def template(stack: StackOutputs, settings: PipelineSettings) -> Script:
    """The ``qc-gate`` template: the sample's FastQC folder in, the verdict, the lanes to align,
    their layout and ``<sample>.qc.json`` out."""
    pod = STEP.pod(stack, settings)
    pod["env"] = [
        *pod["env"],
        Env(name="QC_RULES", value="{{workflow.parameters.qc-rules}}"),
        Env(name="QC_FAILED_LANE", value="{{workflow.parameters.failed-lane}}"),
        Env(name="QC_SAMPLE", value=SAMPLE),
        Env(name="QC_LANES", value=arg("lanes")),
    ]
    return Script(
        name=STEP.name,
        image=stack.images[STEP.image],
        command=["python3"],
        source=source(),
        inputs=[
            Parameter(name="sample"),
            Parameter(name="lanes"),
            # The whole folder: the program reads only the reports of the lanes it is given.
            artifact(stack, "fastqc", f"{WORK}/in/fastqc", OUT_BUCKET, f"{OUT}/{SAMPLE_DIR}/fastqc"),
        ],
        outputs=[
            *(
                Parameter(name=name, value_from=m.ValueFrom(path=f"{WORK}/out/{name}"))
                for name in (VERDICT, ALIGN_LANES, LAYOUT)
            ),
            output(stack, "qc-json", f"{WORK}/out/{SAMPLE}.qc.json", SAMPLE_DIR, f"{SAMPLE}.qc.json"),
            # The report's copy: the report reads only the run's metrics folder.
            output(stack, "metrics-qc-json", f"{WORK}/out/{SAMPLE}.qc.json", METRICS, f"{SAMPLE}.qc.json"),
        ],
        **pod,
    )


def wire(gate: Script) -> None:
    """``qc-gate`` after every lane's FastQC."""
    Task(
        name=STEP.tasks[0],
        template=gate,
        arguments={"sample": arg("sample"), "lanes": arg("lanes")},
        depends=fastqc.STEP.tasks[0],
    )


STEP = Step(
    name="qc-gate",
    pool="small",
    image="report",
    size=lambda s: s.qc_gate,
    deadline=lambda s: s.step_deadline_seconds,
    build=template,
    outputs=(VERDICT, ALIGN_LANES, LAYOUT, "qc-json", "metrics-qc-json"),
    tasks=(TASK,),
    wire=wire,
)
