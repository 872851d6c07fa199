"""``align`` and ``align-lane``: bwa-mem2 (or bwa) | samtools sort per lane (large pool).

A sample with one lane to align runs ``align``: the lane aligned and finished (index, flagstat,
stats) into the sample's files, exactly the names a one-lane sample always had. A sample with
several runs ``align-lane`` per lane (a sorted lane BAM under ``samples/<sample>/lanes/``) and
then ``merge`` (:mod:`workflows.steps.merge`). Every lane gets its own read group
``ID:<sample>.<lane> SM:<sample> LB:<sample> PL:ILLUMINA PU:<lane>``.
"""

from __future__ import annotations

from hera.workflows import Artifact, Container, Parameter, Task

from workflows import task_names
from workflows.contract import StackOutputs
from workflows.settings import PipelineSettings
from workflows.steps import bam, fastqc, qc_gate
from workflows.steps.pod import (
    REF,
    REF_BUCKET,
    SAMPLE,
    SAMPLE_DIR,
    WORK,
    arg,
    artifact,
    bash,
    output,
)
from workflows.steps.step import LANE_PARAMS, Step

#: Index files bwa-mem2 and bwa put beside the FASTA.
BWA_MEM2_INDEX = (".0123", ".amb", ".ann", ".bwt.2bit.64", ".pac")
BWA_INDEX = (".amb", ".ann", ".bwt", ".pac", ".sa")

#: The align tasks in the per-sample DAG.
TASK = task_names.ALIGN
LANE_TASK = "align-lane"

#: Where a sample's lane BAMs go (under its folder), for ``merge``.
LANES_DIR = "lanes"
LANE = "{{inputs.parameters.lane}}"
UNIT = "{{inputs.parameters.unit}}"


def index_sets(cloud: str) -> tuple[tuple[str, ...], ...]:
    """The aligner index sets a run on ``cloud`` can use, preferred first.

    A cloud reads only bwa-mem2's set (what ``seqstack index`` builds there): Argo's GCS driver
    lists an input key by plain prefix and, when no object has exactly that key, downloads every
    object starting with it (argo-workflows v4.0.6 ``workflow/artifacts/gcs/gcs.go``,
    ``listByPrefix``), so an absent classic ``.bwt`` would pull bwa-mem2's ``.bwt.2bit.64``, the
    largest index file, into every align pod a second time. Within bwa-mem2's set no name is a
    prefix of another. Local runs (exact paths) also accept classic bwa's set.
    """
    return (BWA_MEM2_INDEX,) if cloud != "local" else (BWA_MEM2_INDEX, BWA_INDEX)


def script(settings: PipelineSettings) -> str:
    """The bash body of ``align``: align one lane (its gzipped reads decompressed side by side),
    sort (marking duplicates when asked), flagstat, stats and a BAM's index as the file is
    written (a CRAM's index after it); publish only at the end."""
    return f"""s="{SAMPLE}"
ref="$WORK/ref/ref.fa"
{choose_aligner()}
{read_group()}
{bam.run_options()}\
# Argo's wait container uploads output artifacts even when the step failed (argo-workflows
# issues 3761, 14986): every result is written under tmp/ and moved into out/ only once all of
# them are complete, so a failed attempt never publishes a partial BAM or metrics file.
part="$WORK/tmp/$s"
{bam.feed_reads()}\
# The aligner streams SAM straight into sort (no SAM on disk); sort's memory + the aligner's (or
# markdup's) reserve fit the limit (workflows.settings).
{bam.finish(settings.align.threads, aligner(settings), then=bam.fed())}"""


def choose_aligner() -> str:
    """Shell lines setting ``aligner`` from what is installed and indexed (or exiting 3)."""
    return """\
# bwa-mem2 when it and its index are there (the cloud image), else bwa (a laptop with Debian's bwa).
if command -v bwa-mem2 >/dev/null 2>&1 && [ -s "$ref.bwt.2bit.64" ] && [ -s "$ref.0123" ]; then
  aligner=bwa-mem2
elif command -v bwa >/dev/null 2>&1 && [ -s "$ref.bwt" ] && [ -s "$ref.sa" ]; then
  aligner=bwa
else
  echo "seqstack: no aligner index beside the reference: run 'seqstack index' first" >&2
  exit 3
fi
echo "seqstack: aligner=$aligner" >&2"""


def read_group() -> str:
    """Shell lines setting ``rg`` (the lane's read group) and ``reads`` (R1, and R2 when the lane
    has an R2 key, ``$R2_KEY`` from the environment: the optional R2 input is absent for
    single-end lanes, and required to be there for paired ones, never guessed from whether it
    can be seen)."""
    return f"""lane="{LANE}"
rg="@RG\\tID:$s.$lane\\tSM:$s\\tLB:$s\\tPL:ILLUMINA\\tPU:$lane"
reads=("$WORK/in/R1")
if [ -n "$R2_KEY" ]; then reads+=("$WORK/in/R2"); fi"""


def aligner(settings: PipelineSettings) -> bam.Producer:
    """The aligner over the lane's ``reads`` streamed into a coordinate sort (see :mod:`bam`)."""
    return bam.aligner_pipe(settings.align.threads, settings.sort_mib_per_thread, '"${reads[@]}"')


def lane_script(settings: PipelineSettings) -> str:
    """The bash body of ``align-lane``: one lane aligned and sorted to ``out/lane.bam``, to be
    merged with the sample's other lanes."""
    return f"""s="{SAMPLE}"
ref="$WORK/ref/ref.fa"
{choose_aligner()}
{read_group()}
{bam.run_options()}\
part="$WORK/tmp/{UNIT}"
{bam.feed_reads()}\
# Sorted, with fixmate's tags when duplicates will be marked (after the merge, across lanes).
{bam.to_file(aligner(settings), '"$part.bam"')}\
{bam.fed()}\
rm -f "$part".*.fifo
mv "$part.bam" "$WORK/out/lane.bam"
"""


def reference_inputs(stack: StackOutputs) -> list[Artifact]:
    """The FASTA and the index sets usable here (whichever exists; the align script picks)."""
    arts = [artifact(stack, "ref-fa", f"{WORK}/ref/ref.fa", REF_BUCKET, REF)]
    for suffix in dict.fromkeys(s for index in index_sets(stack.cloud) for s in index):
        name = "ref" + suffix.replace(".", "-")
        arts.append(
            artifact(stack, name, f"{WORK}/ref/ref.fa{suffix}", REF_BUCKET, REF + suffix, optional=True)
        )
    return arts


def lane_inputs(stack: StackOutputs) -> list[Parameter | Artifact]:
    """One lane item's parameters and reads (R2 optional: empty key for single-end lanes)."""
    return [
        Parameter(name="sample"),
        *(Parameter(name=n) for n in LANE_PARAMS),
        artifact(stack, "r1", f"{WORK}/in/R1", arg("r1_bucket"), arg("r1_key")),
        artifact(stack, "r2", f"{WORK}/in/R2", arg("r2_bucket"), arg("r2_key"), optional=True),
    ]


def template(stack: StackOutputs, settings: PipelineSettings) -> Container:
    """The ``align`` template: one lane's reads and the reference in, the sample's BAM + index +
    metrics out (a sample with one lane to align)."""
    return Container(
        name=STEP.name,
        image=stack.images[STEP.image],
        inputs=[*lane_inputs(stack), *reference_inputs(stack)],
        outputs=bam.outputs(stack),
        **bash(script(settings)),
        **fastqc.lane_pod(STEP.pod(stack, settings)),
    )


def lane_template(stack: StackOutputs, settings: PipelineSettings) -> Container:
    """The ``align-lane`` template: one lane's reads and the reference in, its sorted BAM out to
    ``samples/<sample>/lanes/<unit>.bam`` (a sample with several lanes to align)."""
    return Container(
        name=LANE_STEP.name,
        image=stack.images[LANE_STEP.image],
        inputs=[*lane_inputs(stack), *reference_inputs(stack)],
        outputs=[output(stack, "lane-bam", f"{WORK}/out/lane.bam", SAMPLE_DIR, LANES_DIR, f"{UNIT}.bam")],
        **bash(lane_script(settings)),
        **fastqc.lane_pod(LANE_STEP.pod(stack, settings)),
    )


def when_layout(layout: str) -> str:
    """The ``when`` of a task that runs only for a passed sample with ``layout`` (``one``/``many``)."""
    verdict = qc_gate.output_parameter(qc_gate.VERDICT)
    return f"'{verdict}' == 'pass' && '{qc_gate.output_parameter(qc_gate.LAYOUT)}' == '{layout}'"


def _lane_task(name: str, template: Container, layout: str) -> None:
    Task(
        name=name,
        template=template,
        with_param=qc_gate.output_parameter(qc_gate.ALIGN_LANES),
        arguments={"sample": arg("sample"), **{n: f"{{{{item.{n}}}}}" for n in LANE_PARAMS}},
        depends=qc_gate.TASK,
        when=when_layout(layout),
    )


def wire(align: Container) -> None:
    """``align`` after the gate, over its one lane to align, only when the verdict is ``pass``
    and the layout ``one``."""
    _lane_task(STEP.tasks[0], align, "one")


def wire_lanes(align_lane: Container) -> None:
    """``align-lane`` after the gate, once per lane to align, when the layout is ``many``."""
    _lane_task(LANE_STEP.tasks[0], align_lane, "many")


STEP = Step(
    name="align",
    pool="large",
    image="align",
    size=lambda s: s.align,
    deadline=lambda s: s.align_deadline_seconds,
    build=template,
    outputs=bam.OUTPUT_NAMES,
    tasks=(TASK,),
    wire=wire,
    measured=("align", "index"),
    pods=lambda lanes: 1 if lanes == 1 else 0,
)

#: ``align-lane``: one pod per lane of a sample with several lanes to align.
LANE_STEP = Step(
    name="align-lane",
    pool="large",
    image="align",
    size=lambda s: s.align,
    deadline=lambda s: s.align_deadline_seconds,
    build=lane_template,
    outputs=("lane-bam",),
    tasks=(LANE_TASK,),
    wire=wire_lanes,
    measured=("align",),
    pods=lambda lanes: lanes if lanes > 1 else 0,
)
