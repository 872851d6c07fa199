"""Measure CPU-seconds per million read pairs of each pipeline step on the real mtDNA test data.

``seqstack cost`` prices a sample from CPU-hours per task; without a ``--run-json`` from a real
run it uses the default table in ``stacks/data/task_cpu.json``, which this script produces.
It times FastQC, ``bwa mem | samtools sort`` and ``samtools index`` (CPU = user + sys of the
child processes, not wall time) on the 5,053-pair HG00152 mtDNA set repeated ``--copies`` times,
and on the set once, so the fixed start-up cost (the FastQC JVM, loading the index) and the
per-read cost are separated: per_read = (cpu(copies) - cpu(1)) / (pairs(copies) - pairs(1)).

Caveat written with the figures: the reference is the 16.6 kb mitochondrial genome, so bwa's
per-read cost here is a lower bound for a whole human genome (run the pipeline once with
``seqstack run`` on real data and pass its ``results/run.json`` to ``seqstack cost``).

Usage: python benchmarks/cpu_per_read_pair.py [--copies 200] [--threads 2]
       [--write stacks/data/task_cpu.json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "human_mtDNA_HG00152"
R1 = DATA / "HG00152_SRR769545_mt_R1.fastq.gz"
R2 = DATA / "HG00152_SRR769545_mt_R2.fastq.gz"
REF = DATA / "rCRS_NC_012920.1.fasta"


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(cmd: str, cwd: Path) -> float:
    """CPU-seconds (user + sys) of a shell command and all its children."""
    before = _child_cpu()
    subprocess.run(["bash", "-c", f"set -euo pipefail\n{cmd}"], cwd=cwd, check=True, capture_output=True)
    return _child_cpu() - before


def _repeat(src: Path, dst: Path, copies: int) -> int:
    """Write ``copies`` copies of a FASTQ (read names made unique); return the read count."""
    with gzip.open(src, "rt") as handle:
        lines = handle.read().splitlines()
    n = 0
    with gzip.open(dst, "wt", compresslevel=1) as out:
        for c in range(copies):
            for i in range(0, len(lines), 4):
                name = lines[i].split()[0]
                out.write(f"{name}_{c}\n{lines[i + 1]}\n+\n{lines[i + 3]}\n")
                n += 1
    return n


def measure(work: Path, copies: int, threads: int) -> dict[str, float]:
    r1, r2 = work / f"R1_{copies}.fastq.gz", work / f"R2_{copies}.fastq.gz"
    pairs = _repeat(R1, r1, copies)
    _repeat(R2, r2, copies)
    out = work / f"fqc_{copies}"
    out.mkdir()
    t = threads
    return {
        "pairs": pairs,
        # FastQC runs once per read file: both files, so the figure is per pair.
        "fastqc": _timed(f"fastqc -q -t {t} -o {out} {r1} {r2}", work),
        "align": _timed(
            f"bwa mem -K 100000000 -Y -t {t} -R '@RG\\tID:s\\tSM:s\\tPL:ILLUMINA' ref.fasta"
            f" {r1} {r2} 2>/dev/null"
            f" | samtools sort -@ {t} -m 256M -o s{copies}.bam - 2>/dev/null",
            work,
        ),
        "index": _timed(
            f"samtools index s{copies}.bam && samtools flagstat s{copies}.bam >/dev/null"
            f" && samtools stats s{copies}.bam >/dev/null",
            work,
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write", type=Path, help="write the table as JSON to this file")
    args = parser.parse_args()
    for tool in ("fastqc", "bwa", "samtools"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not on PATH")
    if not R1.exists():
        raise SystemExit(f"test data not found: {DATA}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copy(REF, work / "ref.fasta")
        index_cpu = _timed("bwa index ref.fasta 2>/dev/null", work)
        start = time.time()
        one = measure(work, 1, args.threads)
        many = measure(work, args.copies, args.threads)
        wall = time.time() - start
    extra = many["pairs"] - one["pairs"]
    table: dict[str, dict[str, float]] = {}
    for step in ("fastqc", "align", "index"):
        per_million = (many[step] - one[step]) / extra * 1e6
        table[step] = {
            "fixed_cpu_seconds": round(max(one[step] - per_million * one["pairs"] / 1e6, 0.0), 2),
            "cpu_seconds_per_million_pairs": round(per_million, 1),
        }
        print(
            f"{step:7s} 1x: {one[step]:7.2f} s  {args.copies}x: {many[step]:7.2f} s  "
            f"-> {per_million:8.1f} CPU-s per million pairs, fixed {table[step]['fixed_cpu_seconds']:.2f} s"
        )
    print(f"bwa index of the mtDNA reference: {index_cpu:.2f} CPU-s; wall time of the runs {wall:.0f} s")
    if args.write:
        doc = {
            "measured": time.strftime("%Y-%m-%d", time.gmtime()),
            "data": "HG00152 SRR769545 mtDNA, 5,053 read pairs x 101 bp (shared/testdata), "
            f"repeated {args.copies}x = {many['pairs']} pairs",
            "reference": "rCRS NC_012920.1 (16,569 bp): bwa per-read cost is a LOWER BOUND for hg38",
            "tools": _versions(),
            "machine": f"{platform.machine()} {platform.processor() or ''} threads={args.threads}".strip(),
            "method": "CPU = user+sys of child processes (getrusage); per-read = (Nx - 1x) / (N-1) pairs",
            "script": "benchmarks/cpu_per_read_pair.py",
            "tasks": table,
        }
        args.write.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {args.write}")


def _versions() -> str:
    """First line of each tool's version output (samtools prints a non-UTF-8 copyright sign)."""

    def lines(cmd: list[str]) -> list[str]:
        p = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
        return (p.stdout + p.stderr).strip().splitlines() or ["?"]

    bwa = next((ln.split(":", 1)[1].strip() for ln in lines(["bwa"]) if ln.startswith("Version")), "?")
    return f"{lines(['fastqc', '--version'])[0]}; bwa {bwa}; {lines(['samtools', '--version'])[0]}"


if __name__ == "__main__":
    main()
