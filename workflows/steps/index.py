"""``index``: the aligner index beside the reference, a Workflow of its own (large pool)."""

from __future__ import annotations

from hera.workflows import Container

from workflows.contract import StackOutputs
from workflows.settings import PipelineSettings
from workflows.steps.align import BWA_INDEX, BWA_MEM2_INDEX
from workflows.steps.pod import REF, REF_BUCKET, WORK, artifact, bash
from workflows.steps.step import OWN_WORKFLOW, Step

SCRIPT = """ref="$WORK/out/ref.fa"  # index prefix: the files become <fasta>.<suffix> beside the FASTA
if command -v bwa-mem2 >/dev/null 2>&1; then
  echo "seqstack: indexer=bwa-mem2" >&2
  bwa-mem2 index -p "$ref" "$WORK/in/ref.fa"
else
  echo "seqstack: indexer=bwa" >&2
  bwa index -p "$ref" "$WORK/in/ref.fa"
fi
"""

#: Every index file either aligner may write (outputs are optional per set).
SUFFIXES = tuple(dict.fromkeys(BWA_MEM2_INDEX + BWA_INDEX))


def template(stack: StackOutputs, settings: PipelineSettings) -> Container:
    """The ``index`` template: the FASTA in, whichever index set was built out beside it."""
    return Container(
        name=STEP.name,
        image=stack.images[STEP.image],
        inputs=[artifact(stack, "ref-fa", f"{WORK}/in/ref.fa", REF_BUCKET, REF)],
        outputs=[
            artifact(
                stack,
                "idx" + suffix.replace(".", "-"),
                f"{WORK}/out/ref.fa{suffix}",
                REF_BUCKET,
                REF + suffix,
                optional=True,
            )
            for suffix in SUFFIXES
        ],
        **bash(SCRIPT),
        **STEP.pod(stack, settings),
    )


STEP = Step(
    name="index",
    pool="large",
    image="align",
    size=lambda s: s.index,
    deadline=lambda s: s.align_deadline_seconds,
    build=template,
    outputs=tuple("idx" + suffix.replace(".", "-") for suffix in SUFFIXES),
    dag=OWN_WORKFLOW,
)
