"""``fastqc``: one FastQC per lane over both its reads (or its one read, single-end), small pool.

One JVM reads both files with ``--threads 2`` (as nf-core's fastqc module does) instead of one
pod per read file. The R2 input is optional with the lane's ``r2_key`` as its key: Argo's
executor skips an optional input artifact whose key is empty (argo-workflows v4.1.2
``workflow/executor/executor.go``, ``loadArtifact``: ``!art.HasLocationOrKey()`` -> "Ignoring
optional artifact which was not supplied"), and so does the local artifact plugin.
"""

from __future__ import annotations

from typing import Any

from hera.workflows import Container, Env, Parameter, Task

from workflows.contract import StackOutputs
from workflows.settings import PipelineSettings
from workflows.steps.pod import METRICS, SAMPLE_DIR, WORK, arg, artifact, bash, is_gzip, output
from workflows.steps.step import LANE_PARAMS, Step

UNIT = "{{inputs.parameters.unit}}"
#: The reads a lane may have; R2 is absent for single-end lanes.
READS = ("R1", "R2")

#: The JVM option FastQC runs with when every input of the lane is small: HotSpot's first (C1)
#: compiler only. By default HotSpot compiles hot code twice, quickly with C1 and then again,
#: optimised, with C2; C2's compiles cost about 1.5 CPU-s of FastQC's start and pay back only on
#: long inputs. Measured on this project's reads (101 bp, FastQC 0.11.9, OpenJDK 17, 2 threads,
#: best of 3-4): 1,500 reads per file 3.19 -> 2.21 s (4.12 -> 3.37 CPU-s); 100,000 reads
#: 4.17 -> 3.18 s (6.54 -> 5.01 CPU-s); 250,000 reads 4.20 -> 5.15 s (7.51 -> 7.87 CPU-s);
#: 1 M reads 8.23 -> 14.16 s. The same reports either way: a compiler changes speed, not results.
C1_ONLY = "-XX:TieredStopAtLevel=1"
#: Below this size every gzipped input counts as small (about 120,000 reads of 100 bp; 100,000
#: of them are 10.3 MB here): under the crossover (about 200,000 reads) with a margin.
SMALL_GZIP_BYTES = 12 * 2**20
#: The same for uncompressed FASTQ (100,000 reads of 101 bp are about 25 MB).
SMALL_PLAIN_BYTES = 32 * 2**20


#: How the step waits for FastQC. FastQC's main thread looks once a second whether its reports are
#: written (``OfflineRunner``: ``Thread.sleep(1000)`` until a counter its analysis threads lower
#: after each report), so the JVM idles for half a second on average after its last report, its
#: cores booked and the QC gate waiting. A report's HTML is the last file FastQC writes for it
#: (``HTMLReportArchive``: the zip is closed first; ``--extract``, which would unzip after it, is
#: not used), so once every HTML ends in ``</html>`` FastQC has nothing left to do but exit, and
#: the step stops it then (exit 143, its own SIGTERM, is success here). Until then the step polls
#: every 50 ms with bash builtins only (``read -t`` on a pipe nobody writes is a sleep without a
#: process) and reads an HTML's end only once the file is there. A FastQC whose HTML never ends
#: so, or which fails, is waited for as before, with its own exit status.
WAIT_FOR_REPORTS = """written() {  # every report's HTML is complete
  local html end
  for html in "${htmls[@]}"; do
    [ -s "$html" ] || return 1
    end="$(tail -c 16 "$html")" || return 1
    [[ "$end" == *"</html>" ]] || return 1
  done
}
exec 9<> <(:) || true
until written; do
  kill -0 "$fastqc_pid" 2>/dev/null || break  # it ended on its own
  read -t 0.05 -u 9 _ 2>/dev/null || [ $? -gt 128 ] || sleep 0.05  # bash 3.2: whole seconds only
done
exec 9<&-
if written && kill "$fastqc_pid" 2>/dev/null; then
  wait "$fastqc_pid" || [ $? -eq 143 ]
else
  wait "$fastqc_pid"
fi
"""


def script(settings: PipelineSettings) -> str:
    """The bash body: FastQC with a heap that fits the pod, outputs under fixed names."""
    heap = settings.fastqc_heap_mib
    return f"""unit="{UNIT}"
# FastQC picks gzip by file name, and MultiQC names a report after it: name each input
# <unit>_R1.fastq[.gz] (<unit>_R2...) by its content.
# Paired when the lane has an R2 key ($R2_KEY: in the environment, so no file name is ever shell
# text); its R2 input must then be there: never judged by whether the file can be seen, which
# would quietly make a paired lane single-end.
reads=(R1)
if [ -n "$R2_KEY" ]; then reads+=(R2); fi
files=()
# The JVM's first compiler only, unless an input is large (workflows.steps.fastqc.C1_ONLY).
jit={C1_ONLY}
for read in "${{reads[@]}}"; do
  if {is_gzip('"$WORK/in/$read"')}; then
    ext=fastq.gz; small={SMALL_GZIP_BYTES}
  else
    ext=fastq; small={SMALL_PLAIN_BYTES}
  fi
  [ "$(wc -c < "$WORK/in/$read")" -lt "$small" ] || jit=""
  ln -sf "$WORK/in/$read" "$WORK/in/${{unit}}_$read.$ext"
  files+=("$WORK/in/${{unit}}_$read.$ext")
done
threads=${{#files[@]}}
# FastQC 0.12 takes --memory (MB per thread); 0.11.9 does not: give its JVM the whole heap directly.
# (No `fastqc --help | grep -q`: under pipefail grep's early exit can SIGPIPE fastqc.)
usage="$(fastqc --help 2>&1 || true)"
if [[ "$usage" == *--memory* ]]; then
  per_thread=$(( {heap} / threads )); [ "$per_thread" -le 10000 ] || per_thread=10000
  mem=(--memory "$per_thread")
  if [ -n "$jit" ]; then export _JAVA_OPTIONS="${{_JAVA_OPTIONS:+$_JAVA_OPTIONS }}$jit"; fi
else
  mem=()
  # No path here: the JVM splits this variable at blanks (a folder with a space in its name
  # would stop it); --dir below gives FastQC's temporary folder as an argument of its own.
  export _JAVA_OPTIONS="-Xmx{heap}m${{jit:+ $jit}}"
fi
htmls=()
for read in "${{reads[@]}}"; do htmls+=("$WORK/tmp/${{unit}}_${{read}}_fastqc.html"); done
rm -f "${{htmls[@]}}"
# ${{mem[@]+...}}: an empty array under `set -u` is an error in bash < 4.4 (macOS's /bin/bash).
fastqc --quiet --threads "$threads" ${{mem[@]+"${{mem[@]}}"}} \\
  --dir "$WORK/tmp" --outdir "$WORK/tmp" "${{files[@]}}" &
fastqc_pid=$!
{WAIT_FOR_REPORTS}# Publish only complete reports (Argo uploads whatever exists at an output path).
for read in "${{reads[@]}}"; do
  mv "$WORK/tmp/${{unit}}_${{read}}_fastqc.html" "$WORK/out/${{read}}_fastqc.html"
  mv "$WORK/tmp/${{unit}}_${{read}}_fastqc.zip" "$WORK/out/${{read}}_fastqc.zip"
done
"""


def lane_pod(pod: dict[str, Any]) -> dict[str, Any]:
    """A per-lane step's pod fields with ``R2_KEY`` (empty: single-end) in its environment."""
    return {**pod, "env": [*pod["env"], Env(name="R2_KEY", value=arg("r2_key"))]}


def template(stack: StackOutputs, settings: PipelineSettings) -> Container:
    """The ``fastqc`` template: one lane's reads in, a report per read out (and copies for MultiQC)."""
    outputs = []
    for read in READS:
        optional = {"optional": True} if read == "R2" else {}
        name = f"{UNIT}_{read}_fastqc"
        src = f"{WORK}/out/{read}_fastqc"
        r = read.lower()
        outputs += [
            output(stack, f"{r}-html", f"{src}.html", SAMPLE_DIR, "fastqc", f"{name}.html", **optional),
            output(stack, f"{r}-zip", f"{src}.zip", SAMPLE_DIR, "fastqc", f"{name}.zip", **optional),
            output(stack, f"{r}-metrics-zip", f"{src}.zip", METRICS, f"{name}.zip", **optional),
        ]
    return Container(
        name=STEP.name,
        image=stack.images[STEP.image],
        inputs=[
            Parameter(name="sample"),
            *(Parameter(name=n) for n in LANE_PARAMS),
            artifact(stack, "r1", f"{WORK}/in/R1", arg("r1_bucket"), arg("r1_key")),
            artifact(stack, "r2", f"{WORK}/in/R2", arg("r2_bucket"), arg("r2_key"), optional=True),
        ],
        outputs=outputs,
        **bash(script(settings)),
        **lane_pod(STEP.pod(stack, settings)),
    )


def wire(fastqc: Container) -> None:
    """``fastqc`` in the per-sample DAG, once per lane of the sample."""
    Task(
        name=STEP.tasks[0],
        template=fastqc,
        with_param=arg("lanes"),
        arguments={"sample": arg("sample"), **{n: f"{{{{item.{n}}}}}" for n in LANE_PARAMS}},
    )


STEP = Step(
    name="fastqc",
    pool="small",
    image="fastqc",
    size=lambda s: s.fastqc,
    deadline=lambda s: s.step_deadline_seconds,
    build=template,
    outputs=tuple(f"{r.lower()}-{kind}" for r in READS for kind in ("html", "zip", "metrics-zip")),
    tasks=("fastqc",),
    wire=wire,
    measured=("fastqc",),
    pods=lambda lanes: lanes,
)
