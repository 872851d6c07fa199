"""What ``--markdup`` and ``--output-format cram`` cost: ``seqstack run`` on a ``benchmarks/peer.py``
workload with each combination of the two options.

For each combination the best of ``--repeat`` runs (fresh output folder each time; combinations
alternate, the first one rotating each round) is reported: the run's wall time, the align task's
wall and CPU seconds (from ``run.json``: every other task is the same in all four), and the
size of the alignment file. The reference is the 16.6 kb mtDNA, so the aligner is cheap and the
samtools steps weigh more than on a human genome: the figures bound the options' cost from above.

Usage: ``python benchmarks/align_options.py --workdir DIR [--workload a] [--repeat 2] [--cpus N]``
(DIR must not be a temporary folder: CRAM refuses a reference there).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from benchmarks.peer import WORKLOADS, _timed, prepare, rotations, tool_env
from workflows.local.run import default_memory_gib
from workflows.settings import PipelineSettings

#: (label, extra ``seqstack run`` options)
COMBINATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("bam (default)", ()),
    ("bam --markdup", ("--markdup",)),
    ("cram", ("--output-format", "cram")),
    ("cram --markdup", ("--markdup", "--output-format", "cram")),
)


def align_task(run_json: Path) -> tuple[float, float]:
    """Wall and CPU seconds of the align task's last attempt, summed over samples."""
    data = json.loads(run_json.read_text())
    wall = cpu = 0.0
    for task in data["tasks"]:
        if task["task"] == "align" and task["attempts"]:
            wall += task["attempts"][-1]["durationSeconds"]
            cpu += task["attempts"][-1]["cpuSeconds"] or 0.0
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="a", choices=sorted(WORKLOADS))
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument(
        "--workdir", type=Path, required=True, help="data and runs; not a temporary folder (CRAM refuses it)"
    )
    args = parser.parse_args()
    workload = WORKLOADS[args.workload]
    ds = prepare(workload, args.workdir)
    settings = PipelineSettings.local(args.cpus, default_memory_gib())
    env = tool_env(args.cpus, settings, ds.reference, gate=Path("unused"))  # only PATH/PYTHONPATH matter
    print(f"workload ({workload.key}): {workload.samples} sample(s) x {workload.pairs:,} pairs; {ds.source}")
    best: dict[str, tuple[float, float, float, int]] = {}
    options = dict(COMBINATIONS)
    for round_, label in rotations(list(options), args.repeat):
        extra = options[label]
        out = args.workdir / "runs" / label.replace(" ", "_").replace("(", "").replace(")", "")
        shutil.rmtree(out, ignore_errors=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "seqstack", "run", "--samples", str(ds.sheet)]
        cmd += ["--reference", str(ds.reference), "--outdir", str(out), "--cpus", str(args.cpus), *extra]
        m = _timed(cmd, env, out.parent, out.parent / f"{out.name}.log")
        wall, cpu = align_task(out / "run.json")
        fmt = "cram" if "cram" in extra else "bam"
        size = sum(p.stat().st_size for p in (out / "samples").glob(f"*/*.{fmt}"))
        print(f"  round {round_ + 1} {label:15} run {m.wall:6.1f} s  align {wall:6.1f} s, {cpu:6.1f} CPU-s")
        if label not in best or m.wall < best[label][0]:
            best[label] = (m.wall, wall, cpu, size)
        time.sleep(1)
    base = best[COMBINATIONS[0][0]]
    print(f"\nbest of {args.repeat}, {args.cpus} cores ({time.strftime('%Y-%m-%d')}):")
    print("  options          run wall   align wall   align CPU   file size")
    for label, _ in COMBINATIONS:
        run_wall, wall, cpu, size = best[label]
        print(
            f"  {label:15} {run_wall:7.1f} s  {wall:8.1f} s ({wall / base[1]:4.2f}x)"
            f"  {cpu:7.1f} s ({cpu / base[2]:4.2f}x)  {size / 1e6:6.1f} MB ({size / base[3]:4.2f}x)"
        )


if __name__ == "__main__":
    main()
