"""``align``: bwa-mem2 (or bwa) | samtools sort, index, flagstat, stats (large pool)."""

from __future__ import annotations

from hera.workflows import Artifact, Container, Parameter, Task

from workflows.contract import StackOutputs
from workflows.settings import PipelineSettings
from workflows.steps import bam, qc_gate
from workflows.steps.pod import (
    REF,
    REF_BUCKET,
    SAMPLE,
    WORK,
    arg,
    artifact,
    bash,
)
from workflows.steps.step import Step

#: Index files bwa-mem2 and bwa put beside the FASTA.
BWA_MEM2_INDEX = (".0123", ".amb", ".ann", ".bwt.2bit.64", ".pac")
BWA_INDEX = (".amb", ".ann", ".bwt", ".pac", ".sa")

#: The align task in the per-sample DAG.
TASK = "align"

#: The per-sample DAG's inputs, which align takes whole.
SAMPLE_PARAMS = ("sample", "r1_bucket", "r1_key", "r2_bucket", "r2_key")


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
    """The bash body: align, sort, then index/flagstat/stats side by side; publish only at the end."""
    t = settings.align.threads
    per_thread = settings.sort_mib_per_thread
    return f"""s="{SAMPLE}"
ref="$WORK/ref/ref.fa"
# bwa-mem2 when it and its index are there (the cloud image), else bwa (a laptop with Debian's bwa).
if command -v bwa-mem2 >/dev/null 2>&1 && [ -s "$ref.bwt.2bit.64" ] && [ -s "$ref.0123" ]; then
  aligner=bwa-mem2
elif command -v bwa >/dev/null 2>&1 && [ -s "$ref.bwt" ] && [ -s "$ref.sa" ]; then
  aligner=bwa
else
  echo "seqstack: no aligner index beside the reference: run 'seqstack index' first" >&2
  exit 3
fi
echo "seqstack: aligner=$aligner" >&2
# Argo's wait container uploads output artifacts even when the step failed (argo-workflows
# issues 3761, 14986): every result is written under tmp/ and moved into out/ only once all of
# them are complete, so a failed attempt never publishes a partial BAM or metrics file.
part="$WORK/tmp/$s"
rg="@RG\\tID:$s\\tSM:$s\\tPL:ILLUMINA"
{bam.run_options()}\
# The aligner streams SAM straight into sort (no SAM on disk); sort's {t} x {per_thread} MiB
# + the aligner's (or markdup's) reserve fit the limit (workflows.settings).
{bam.finish(t, bam.aligner_pipe(t, per_thread, '"$WORK/in/R1" "$WORK/in/R2"'))}"""


def reference_inputs(stack: StackOutputs) -> list[Artifact]:
    """The FASTA and the index sets usable here (whichever exists; the align script picks)."""
    arts = [artifact(stack, "ref-fa", f"{WORK}/ref/ref.fa", REF_BUCKET, REF)]
    for suffix in dict.fromkeys(s for index in index_sets(stack.cloud) for s in index):
        name = "ref" + suffix.replace(".", "-")
        arts.append(
            artifact(stack, name, f"{WORK}/ref/ref.fa{suffix}", REF_BUCKET, REF + suffix, optional=True)
        )
    return arts


def template(stack: StackOutputs, settings: PipelineSettings) -> Container:
    """The ``align`` template: both reads and the reference in, BAM or CRAM + index + metrics out."""
    return Container(
        name=STEP.name,
        image=stack.images[STEP.image],
        inputs=[
            Parameter(name="sample"),
            *(Parameter(name=n) for n in ("r1_bucket", "r1_key", "r2_bucket", "r2_key")),
            artifact(stack, "r1", f"{WORK}/in/R1", arg("r1_bucket"), arg("r1_key")),
            artifact(stack, "r2", f"{WORK}/in/R2", arg("r2_bucket"), arg("r2_key")),
            *reference_inputs(stack),
        ],
        outputs=bam.outputs(stack),
        **bash(script(settings)),
        **STEP.pod(stack, settings),
    )


def wire(align: Container) -> None:
    """``align`` after the gate, only when its verdict is ``pass``."""
    Task(
        name=STEP.tasks[0],
        template=align,
        arguments={n: arg(n) for n in SAMPLE_PARAMS},
        depends=qc_gate.TASK,
        when=f"'{{{{tasks.{qc_gate.TASK}.outputs.parameters.{qc_gate.VERDICT}}}}}' == 'pass'",
    )


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
)
