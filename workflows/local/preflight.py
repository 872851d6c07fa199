"""What ``seqstack run`` can refuse before any task starts, instead of failing halfway through:
a memory budget above what the machine has, and an output folder's disk too small for what the
run will write.

The disk estimate is deliberately rough and on the low side (a refusal must be certain): a
sorted BAM is about as large as its gzipped FASTQ pair, and ``samtools sort`` spills about as
much again in temporary files while it runs; FastQC's and the metrics' files are small. A plain
(not gzipped) FASTQ counts for a quarter of its size, about what gzip makes of it.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from workflows.sheet import Sample

_GIB = 1 << 30


def memory_problem(requested_gib: float, machine_gib: float) -> str | None:
    """``--memory`` above the machine's physical memory cannot be honoured: tasks sized to it
    would be killed (or swap) instead of queued."""
    if requested_gib > machine_gib:
        return f"--memory {requested_gib:g} GiB is more than this machine has ({machine_gib:.1f} GiB)"
    return None


def estimated_bytes(samples: Sequence[Sample]) -> int:
    """Bytes the run will need on the output folder's disk at its peak (see module docstring)."""
    total = 0
    for path in (Path(f) for s in samples for lane in s.lanes for f in lane.files):
        try:
            size = path.stat().st_size
            with path.open("rb") as f:
                gzipped = f.read(2) == b"\x1f\x8b"
        except OSError:
            continue  # the FASTQ check names it
        total += size if gzipped else size // 4
    return 2 * total


def disk_problem(outdir: Path, samples: int, need: int, free: int | None = None) -> str | None:
    """The output folder's free space is below ``need``, the :func:`estimated_bytes` of the run's
    ``samples`` samples (``free`` for tests)."""
    if free is None:
        try:
            free = shutil.disk_usage(outdir).free
        except OSError:
            return None  # the output folder's own checks name it
    if free < need:
        return (
            f"{outdir}: {free / _GIB:.1f} GiB free, but the BAMs and sort files of {samples} "
            f"sample(s) need about {need / _GIB:.1f} GiB"
        )
    return None
