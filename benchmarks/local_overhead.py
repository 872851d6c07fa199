"""How much does ``seqstack run`` cost on top of the tools it runs?

Generates one sample of ~200,000 read pairs (seeded, see ``workflows.local.demo``), indexes the
reference once (both sides use that index), then times, with the same thread count:

* ``seqstack run`` (sheet, reference, fresh output directory), as a user runs it;
* the plain shell pipeline: ``fastqc R1 & fastqc R2; wait; bwa mem | samtools sort; samtools index``;
* the same shell pipeline plus the extra work ``seqstack run`` also does (flagstat, stats, the QC
  gate reading FastQC's summaries, MultiQC), to separate orchestration overhead from extra steps.

Prints the times and the ratios, the floor any runner of this DAG has (the shell doing the same
steps, over the plain shell), and where ``seqstack run``'s own time goes: launch to its first task,
each task, and the last task to exit (from ``run.json``).
Target: ``seqstack run`` / plain shell <= 1.05.
Usage: ``python benchmarks/local_overhead.py [--pairs 200000] [--cpus N] [--repeat 1] [--workdir DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from workflows.local.demo import DemoSample, generate

SHELL = """set -euo pipefail
cd "$OUT"
fastqc --quiet --threads 1 --outdir . "$R1" & fastqc --quiet --threads 1 --outdir . "$R2" & wait
bwa mem -t "$T" -R '@RG\\tID:s1\\tSM:s1\\tPL:ILLUMINA' "$REF" "$R1" "$R2" 2>bwa.log \\
  | samtools sort -@ "$T" -o s1.bam -
samtools index s1.bam
"""

EXTRA = """
samtools flagstat -@ "$T" s1.bam > s1.flagstat.txt
samtools stats -@ "$T" s1.bam > s1.stats.txt
for z in *_fastqc.zip; do unzip -p "$z" '*/summary.txt' > /dev/null; done
multiqc --quiet --force --outdir mqc . > /dev/null 2>&1
"""


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds, and CPU seconds (user + system) of the command and all its children.

    CPU time is the steadier figure on a shared machine: other load stretches wall time but
    not the work done.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def timeline(run_json: Path, launched: float, ended: float) -> list[str]:
    """Where a ``seqstack run`` spent its wall time: launch to first task, each task, the rest."""
    # Tasks that never ran (a `when` that skipped them) have no start or end.
    ran = [t for t in json.loads(run_json.read_text())["tasks"] if t.get("started") and t.get("finished")]
    tasks = sorted(ran, key=lambda t: _epoch(t["started"]))
    first = min(_epoch(t["started"]) for t in tasks)
    last = max(_epoch(t["finished"]) for t in tasks)
    lines = [f"    launch -> first task        {first - launched:6.2f} s (start-up, input check, render)"]
    for t in tasks:
        start, end = _epoch(t["started"]), _epoch(t["finished"])
        lines.append(f"    {t['key']:<28} {end - start:6.2f} s (from {start - launched:5.2f} s)")
    lines.append(f"    last task -> exit           {ended - last:6.2f} s (summary, run.json)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=200_000)
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="seqstack-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    data = generate(work / "data", samples=[DemoSample("s1", args.pairs, 38, 31)])
    print(f"dataset: {args.pairs} pairs x 2 x 100 bp in {time.perf_counter() - t0:.1f}s ({work / 'data'})")
    subprocess.run(["bwa", "index", str(data.reference)], check=True, capture_output=True)
    r1, r2 = data.reads["s1"]
    bindir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
        "T": str(args.cpus),
        "R1": str(r1),
        "R2": str(r2),
        "REF": str(data.reference),
    }
    seqstack = shutil.which("seqstack", path=env["PATH"]) or "seqstack"
    runs: dict[str, list[tuple[float, float]]] = {
        "seqstack run": [],
        "shell": [],
        "shell + same extra steps": [],
    }
    timelines: list[list[str]] = []
    for i in range(args.repeat):
        for name, script in (("shell", SHELL), ("shell + same extra steps", SHELL + EXTRA)):
            out = work / f"shell-{i}-{len(script)}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            runs[name].append(timed(["bash", "-c", script], {**env, "OUT": str(out)}))
        out = work / f"seqstack-{i}"
        shutil.rmtree(out, ignore_errors=True)
        launched = time.time()
        runs["seqstack run"].append(
            timed(
                [
                    seqstack,
                    "run",
                    "--samples",
                    str(data.sheet),
                    "--reference",
                    str(data.reference),
                    "--outdir",
                    str(out),
                    "--cpus",
                    str(args.cpus),
                ],
                env,
            )
        )
        timelines.append(timeline(out / "run.json", launched, time.time()))
    print(
        f"threads: {args.cpus}, repeats: {args.repeat} (best of), load average now {os.getloadavg()[0]:.2f}"
    )
    wall = {name: min(w for w, _ in times) for name, times in runs.items()}
    cpu = {name: min(c for _, c in times) for name, times in runs.items()}
    for name in runs:
        each = ", ".join(f"{w:.2f}" for w, _ in runs[name])
        print(f"  {name:<26} wall {wall[name]:7.2f} s ({each})   cpu {cpu[name]:7.2f} s")
    for base in ("shell", "shell + same extra steps"):
        print(
            f"ratio seqstack run / {base:<26} wall {wall['seqstack run'] / wall[base]:.3f}"
            f"   cpu {cpu['seqstack run'] / cpu[base]:.3f}"
        )
    floor = wall["shell + same extra steps"] / wall["shell"]
    print(
        f"floor: the shell doing the same steps / the plain shell = {floor:.3f}"
        " (no runner of this DAG can go below it on this machine)"
    )
    best = min(range(args.repeat), key=lambda i: runs["seqstack run"][i][0])
    print("where the best seqstack run's time went:")
    print("\n".join(timelines[best]))
    print("target: seqstack run / shell <= 1.05")


if __name__ == "__main__":
    main()
