"""The FASTQ input check's CPU per file against the floor (decompressing alone) and a C parser.

``seqstack run`` reads every FASTQ once before any tool starts (workflows/local/fastq.py). On a
2-core machine that CPU is on the run's critical path, so it is measured here on its own, one
file of workload (a) (1 M reads of real mtDNA reads, made by ``benchmarks/peer.py``'s
``prepare``), each contender a fresh process as the check starts one:

* the floor: the file decompressed with ISA-L and nothing else (every check reads every byte);
* seqstack, vectorized: ``python -m workflows.local.fastq SAMPLE R1 FILE``, what a checker
  process does with a file of 32 MiB or more (numpy passes over each block);
* seqstack, lists of lines: :func:`summarize` without ``vectorized``, what a checker process does
  with smaller files and ``seqstack run`` in its own process for small sheets;
* dnaio (installed by this script into ``benchmarks/.venv-dnaio``, never a seqstack dependency):
  a C FASTQ parser iterating the records; it checks the record structure but neither the names
  nor the quality characters, and compares nothing between R1 and R2.

CPU is user + system of the process (``os.wait4``), Python's start-up and imports included.
Contenders alternate, best of ``--repeat``. Not a test: this machine is shared and noisy.

Usage: python benchmarks/fastq_check.py [--workdir DIR] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.peer import WORKLOADS, ensure_installed, prepare
from workflows.local.fastq import CHECKER_ENV

ROOT = Path(__file__).resolve().parents[1]
DNAIO_VERSION = "1.2.4"
DNAIO_VENV = ROOT / "benchmarks" / ".venv-dnaio"

FLOOR = (
    "import sys\nfrom isal import igzip\n"
    "with igzip.open(sys.argv[1], 'rb') as f:\n    while f.read(4 << 20): pass\n"
)
LISTS = (
    "import sys\nfrom pathlib import Path\nfrom workflows.local.fastq import summarize\n"
    "print(summarize('s', 'R1', Path(sys.argv[1])).reads)\n"
)
DNAIO = (
    "import sys\nimport dnaio\n"
    "with dnaio.open(sys.argv[1], open_threads=0) as f:\n    print(sum(1 for _ in f))\n"
)


def ensure_dnaio() -> Path:
    """dnaio ``DNAIO_VERSION`` in its own virtualenv, installed there once; its python."""
    python = DNAIO_VENV / "bin" / "python"
    ensure_installed(
        DNAIO_VENV, "dnaio", DNAIO_VERSION, [str(python), "-c", "import dnaio; print(dnaio.__version__)"]
    )
    return python


def measure(cmd: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one process, its children included; in a checker
    process's environment."""
    started = time.monotonic()
    env = {**os.environ, **CHECKER_ENV, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"failed (exit code {proc.returncode}): {' '.join(cmd)}")
    return usage.ru_utime + usage.ru_stime, wall


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, help="where workload (a) is made (reused when there)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = (args.workdir or Path(tempfile.mkdtemp(prefix="seqstack-check-"))).resolve()
    workload = WORKLOADS["a"]
    ds = prepare(workload, work)
    r1 = next(iter(ds.reads.values()))[0]
    dnaio = ensure_dnaio()
    py = sys.executable
    contenders = {
        "decompress only (floor)": [py, "-c", FLOOR, str(r1)],
        "seqstack, vectorized": [py, "-P", "-m", "workflows.local.fastq", "s", "R1", str(r1)],
        "seqstack, lists of lines": [py, "-c", LISTS, str(r1)],
        f"dnaio {DNAIO_VERSION} (no name/quality checks)": [
            str(dnaio),
            "-c",
            DNAIO,
            str(r1),
        ],
    }
    print(f"FASTQ check of one file: {r1} ({workload.pairs:,} reads); best of {args.repeat}, alternating")
    best: dict[str, tuple[float, float]] = {}
    for round_ in range(args.repeat):
        for name, cmd in contenders.items():
            cpu, wall = measure(cmd)
            print(f"  round {round_ + 1}: {name:46s} {cpu:6.2f} CPU-s  {wall:6.2f} s wall", flush=True)
            if name not in best or cpu < best[name][0]:
                best[name] = (cpu, wall)
    floor = best["decompress only (floor)"][0]
    print(f"\n  {'contender':46s} {'CPU-s':>7s} {'x floor':>8s}   per 1 M reads")
    for name, (cpu, _) in best.items():
        print(f"  {name:46s} {cpu:7.2f} {cpu / floor:8.2f}   {cpu / workload.pairs * 1e6:.2f} CPU-s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
