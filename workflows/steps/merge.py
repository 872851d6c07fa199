"""``merge``: a sample's aligned lanes merged into its one sorted BAM, then finished as ``align``
finishes (markdup when asked, BAM or CRAM, index, flagstat, stats), large pool.

Runs only for samples with several lanes to align, after every ``align-lane``. Its input is the
sample's ``lanes/`` folder; it merges exactly the lanes the QC gate chose (its ``align-lanes``),
so a lane BAM left there by an earlier run (or a dropped lane) never enters the merge.
"""

from __future__ import annotations

from hera.workflows import Container, Env, Parameter, Task

from workflows import task_names
from workflows.contract import StackOutputs
from workflows.settings import PipelineSettings
from workflows.steps import align, bam, qc_gate
from workflows.steps.pod import (
    OUT,
    OUT_BUCKET,
    REF,
    REF_BUCKET,
    SAMPLE,
    SAMPLE_DIR,
    WORK,
    arg,
    artifact,
    bash,
)
from workflows.steps.step import Step

TASK = task_names.MERGE


def script(settings: PipelineSettings) -> str:
    """The bash body: ``samtools merge`` of the chosen lane BAMs, then :func:`bam.finish`."""
    t = settings.align.threads
    return f"""s="{SAMPLE}"
# The units to merge, from the gate's JSON lane items in $LANES (an environment variable, so no
# file name in them is ever shell text; units themselves are [A-Za-z0-9_-], no JSON escapes).
units=($(printf '%s' "$LANES" | grep -o '"unit": *"[^"]*"' | sed 's/.*"\\([^"]*\\)"$/\\1/'))
if [ "${{#units[@]}}" -lt 2 ]; then
  echo "seqstack: merge needs at least two lanes, got ${{#units[@]}}" >&2
  exit 2
fi
bams=()
for unit in "${{units[@]}}"; do
  bams+=("$WORK/in/lanes/$unit.bam")
done
ref="$WORK/ref/ref.fa"
{bam.run_options()}\
part="$WORK/tmp/$s"
# Each lane BAM is coordinate-sorted with its own @RG: the merge is sorted and keeps every @RG;
# duplicates are marked on the merged stream, so across lanes of the library.
{bam.finish(t, bam.merged(t, '"${bams[@]}"'))}"""


def template(stack: StackOutputs, settings: PipelineSettings) -> Container:
    """The ``merge`` template: the sample's lane BAMs in, its BAM + index + metrics out."""
    pod = STEP.pod(stack, settings)
    pod["env"] = [*pod["env"], Env(name="LANES", value=arg("lanes"))]
    return Container(
        name=STEP.name,
        image=stack.images[STEP.image],
        inputs=[
            Parameter(name="sample"),
            Parameter(name="lanes"),
            artifact(
                stack, "lanes-dir", f"{WORK}/in/lanes", OUT_BUCKET, f"{OUT}/{SAMPLE_DIR}/{align.LANES_DIR}"
            ),
            # The FASTA alone (no aligner index): a CRAM is encoded against it, and samtools stats
            # is given it (the finishing is the same as align's).
            artifact(stack, "ref-fa", f"{WORK}/ref/ref.fa", REF_BUCKET, REF),
        ],
        outputs=bam.outputs(stack),
        **bash(script(settings)),
        **pod,
    )


def wire(merge: Container) -> None:
    """``merge`` after every ``align-lane``, when the gate chose several lanes."""
    Task(
        name=STEP.tasks[0],
        template=merge,
        arguments={"sample": arg("sample"), "lanes": qc_gate.output_parameter(qc_gate.ALIGN_LANES)},
        depends=align.LANE_TASK,
        when=align.when_layout("many"),
    )


STEP = Step(
    name="merge",
    pool="large",
    image="align",
    size=lambda s: s.align,
    deadline=lambda s: s.align_deadline_seconds,
    build=template,
    outputs=align.STEP.outputs,
    tasks=(TASK,),
    wire=wire,
    measured=("index",),
    pods=lambda lanes: 1 if lanes > 1 else 0,
)
