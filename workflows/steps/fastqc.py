"""``fastqc``: FastQC on one FASTQ file, once per read of each sample (small pool)."""

from __future__ import annotations

from hera.workflows import Container, Parameter, Task

from workflows.contract import StackOutputs
from workflows.settings import PipelineSettings
from workflows.steps.pod import METRICS, SAMPLE, SAMPLE_DIR, WORK, arg, artifact, bash, output
from workflows.steps.step import Step

READ = "{{inputs.parameters.read}}"


def script(settings: PipelineSettings) -> str:
    """The bash body: FastQC with a heap that fits the pod, outputs under fixed names."""
    heap = settings.fastqc_heap_mib
    threads = settings.fastqc.threads
    per_thread = min(10000, heap // threads)  # FastQC 0.12's --memory is per thread
    return f"""name="{SAMPLE}_{READ}"
# FastQC picks gzip by file name: name the input by its content.
magic="$(head -c2 "$WORK/in/reads" | od -An -tx1 | tr -d ' \\n')"
if [ "$magic" = "1f8b" ]; then ext=fastq.gz; else ext=fastq; fi
ln -sf "$WORK/in/reads" "$WORK/in/$name.$ext"
# FastQC 0.12 takes --memory (MB per thread); 0.11.9 does not: give its JVM the whole heap directly.
# (No `fastqc --help | grep -q`: under pipefail grep's early exit can SIGPIPE fastqc.)
usage="$(fastqc --help 2>&1 || true)"
if [[ "$usage" == *--memory* ]]; then
  mem=(--memory {per_thread})
else
  mem=()
  export _JAVA_OPTIONS="-Xmx{heap}m -Djava.io.tmpdir=$WORK/tmp"
fi
# ${{mem[@]+...}}: an empty array under `set -u` is an error in bash < 4.4 (macOS's /bin/bash).
fastqc --quiet --threads {threads} ${{mem[@]+"${{mem[@]}}"}} \\
  --dir "$WORK/tmp" --outdir "$WORK/out" "$WORK/in/$name.$ext"
mv "$WORK/out/${{name}}_fastqc.html" "$WORK/out/fastqc.html"
mv "$WORK/out/${{name}}_fastqc.zip" "$WORK/out/fastqc.zip"
"""


def template(stack: StackOutputs, settings: PipelineSettings) -> Container:
    """The ``fastqc`` template: one read file in, its report out (and a copy for MultiQC)."""
    return Container(
        name=STEP.name,
        image=stack.images[STEP.image],
        inputs=[
            Parameter(name="sample"),
            Parameter(name="read"),
            Parameter(name="bucket"),
            Parameter(name="key"),
            artifact(stack, "reads", f"{WORK}/in/reads", arg("bucket"), arg("key")),
        ],
        outputs=[
            output(
                stack, "html", f"{WORK}/out/fastqc.html", SAMPLE_DIR, "fastqc", f"{SAMPLE}_{READ}_fastqc.html"
            ),
            output(
                stack, "zip", f"{WORK}/out/fastqc.zip", SAMPLE_DIR, "fastqc", f"{SAMPLE}_{READ}_fastqc.zip"
            ),
            output(stack, "metrics-zip", f"{WORK}/out/fastqc.zip", METRICS, f"{SAMPLE}_{READ}_fastqc.zip"),
        ],
        **bash(script(settings)),
        **STEP.pod(stack, settings),
    )


def wire(fastqc: Container) -> None:
    """``fastqc-r1`` || ``fastqc-r2`` in the per-sample DAG."""
    for task in STEP.tasks:
        read = task.removeprefix("fastqc-").upper()
        Task(
            name=task,
            template=fastqc,
            arguments={
                "sample": arg("sample"),
                "read": read,
                "bucket": arg(f"{read.lower()}_bucket"),
                "key": arg(f"{read.lower()}_key"),
            },
        )


STEP = Step(
    name="fastqc",
    pool="small",
    image="fastqc",
    size=lambda s: s.fastqc,
    deadline=lambda s: s.step_deadline_seconds,
    build=template,
    outputs=("html", "zip", "metrics-zip"),
    tasks=("fastqc-r1", "fastqc-r2"),
    wire=wire,
    measured=("fastqc",),
)
