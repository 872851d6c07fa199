"""A small, deterministic, realistic-enough dataset for ``seqstack demo`` and the tests.

Seeded RNG, so every run writes byte-identical files: a random two-contig reference of a few
tens of kb with repeats (a dispersed repeat copied several times, a tandem repeat), and paired
reads drawn from it with a normal insert-size distribution, position-dependent quality decay,
substitutions at the rate the qualities promise, and a few ``N`` calls. One sample has good
qualities; the other's collapse towards the 3' end so FastQC's "Per base sequence quality"
FAILs and the QC gate stops it before alignment.
"""

from __future__ import annotations

import gzip
import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

READ_LENGTH = 100
_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


@dataclass(frozen=True)
class DemoSample:
    """One generated sample and how its qualities behave."""

    id: str
    pairs: int
    quality_start: float
    """Mean Phred quality at the first base."""
    quality_end: float
    """Mean Phred quality at the last base (decay is quadratic in between)."""


#: The demo's samples: one that passes the QC gate, one that fails it on purpose.
DEMO_SAMPLES: tuple[DemoSample, ...] = (
    DemoSample("demo-good", 4000, 38, 31),
    DemoSample("demo-lowq", 4000, 36, 6),
)


@dataclass(frozen=True)
class DemoData:
    """Where the generated files are."""

    sheet: Path
    reference: Path
    samples: tuple[str, ...]
    reads: dict[str, tuple[Path, Path]]


def reference_sequences(rng: random.Random) -> list[tuple[str, str]]:
    """Two contigs (30 kb and 12 kb) with a dispersed repeat and a tandem repeat."""
    repeat = "".join(rng.choice("ACGT") for _ in range(300))

    def contig(length: int, copies: int) -> str:
        parts: list[str] = []
        for _ in range(copies):
            parts.append("".join(rng.choice("ACGT") for _ in range((length - copies * 300 - 60) // copies)))
            parts.append(repeat)
        parts.append("CA" * 30)
        return "".join(parts)

    return [("demo_chr1", contig(30_000, 4)), ("demo_chr2", contig(12_000, 2))]


def write_fasta(path: Path, contigs: Sequence[tuple[str, str]]) -> None:
    with path.open("w") as f:
        for name, seq in contigs:
            f.write(f">{name} seqstack demo contig\n")
            for i in range(0, len(seq), 70):
                f.write(seq[i : i + 70] + "\n")


_BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
_INDEX = np.full(256, 4, dtype=np.uint8)
_INDEX[_BASES] = np.arange(4, dtype=np.uint8)


def read_arrays(
    contigs: Sequence[tuple[str, str]], sample: DemoSample, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bases and qualities of every pair (``N x READ_LENGTH`` byte arrays), vectorised."""
    n = sample.pairs
    lengths = np.array([len(seq) for _, seq in contigs])
    which = rng.choice(len(contigs), size=n, p=lengths / lengths.sum())
    inserts = np.clip(np.rint(rng.normal(320, 40, n)), READ_LENGTH + 20, 700).astype(np.int64)
    starts = (rng.random(n) * (lengths[which] - inserts)).astype(np.int64)
    flips = rng.random(n) < 0.5
    r1 = bytearray()
    r2 = bytearray()
    for c, start, size, flip in zip(
        which.tolist(), starts.tolist(), inserts.tolist(), flips.tolist(), strict=True
    ):
        fragment = contigs[c][1][start : start + size]
        if flip:
            fragment = fragment.translate(_COMPLEMENT)[::-1]
        r1 += fragment[:READ_LENGTH].encode()
        r2 += fragment.translate(_COMPLEMENT)[::-1][:READ_LENGTH].encode()
    reads = []
    for raw in (r1, r2):
        bases = np.frombuffer(bytes(raw), dtype=np.uint8).reshape(n, READ_LENGTH).copy()
        position = np.arange(READ_LENGTH) / (READ_LENGTH - 1)
        mean = sample.quality_start - (sample.quality_start - sample.quality_end) * position**2
        quals = np.clip(np.rint(rng.normal(mean, 3.0, (n, READ_LENGTH))), 2, 41).astype(np.uint8)
        # Substitutions exactly as likely as the qualities promise; a few no-calls at quality 2.
        substitute = rng.random((n, READ_LENGTH)) < 10.0 ** (-quals.astype(np.float64) / 10)
        shifted = (_INDEX[bases] + rng.integers(1, 4, (n, READ_LENGTH))) % 4
        bases = np.where(substitute, _BASES[shifted], bases)
        no_call = rng.random((n, READ_LENGTH)) < 0.0015
        bases[no_call] = ord("N")
        quals[no_call] = 2
        reads.append((bases, quals))
    return reads[0][0], reads[0][1], reads[1][0], reads[1][1]


def write_pairs(
    r1: Path, r2: Path, contigs: Sequence[tuple[str, str]], sample: DemoSample, rng: np.random.Generator
) -> None:
    b1, q1, b2, q2 = read_arrays(contigs, sample, rng)
    for path, bases, quals, mate in ((r1, b1, q1, 1), (r2, b2, q2, 2)):
        phred = (quals + 33).astype(np.uint8)
        with _StableGzip(path) as f:
            chunk = []
            for i in range(sample.pairs):
                chunk.append(
                    b"@demo:%s:%d %d:N:0:1\n%s\n+\n%s\n"
                    % (sample.id.encode(), i + 1, mate, bases[i].tobytes(), phred[i].tobytes())
                )
                if len(chunk) == 10_000:
                    f.write(b"".join(chunk))
                    chunk.clear()
            f.write(b"".join(chunk))


class _StableGzip(gzip.GzipFile):
    """A gzip file with no name or time stamp in its header: identical bytes on every run."""

    def __init__(self, path: Path) -> None:
        self._raw = path.open("wb")
        super().__init__(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=4)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


def generate(outdir: Path, seed: int = 20240611, samples: Sequence[DemoSample] = DEMO_SAMPLES) -> DemoData:
    """Write the reference, the reads and ``samples.csv`` under ``outdir``; same seed, same bytes."""
    outdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    contigs = reference_sequences(rng)
    reference = outdir / "demo_reference.fa"
    if not reference.exists() or reference.read_text() != _fasta_text(contigs):
        write_fasta(reference, contigs)  # rewritten only when different: keeps its index valid
    reads: dict[str, tuple[Path, Path]] = {}
    for s in samples:
        r1, r2 = outdir / f"{s.id}_R1.fastq.gz", outdir / f"{s.id}_R2.fastq.gz"
        sample_seed = int.from_bytes(hashlib.sha256(f"{seed}:{s.id}".encode()).digest()[:8], "big")
        write_pairs(r1, r2, contigs, s, np.random.default_rng(sample_seed))
        reads[s.id] = (r1, r2)
    sheet = outdir / "samples.csv"
    rows = ["sample,fastq_1,fastq_2"] + [f"{sid},{r1.name},{r2.name}" for sid, (r1, r2) in reads.items()]
    sheet.write_text("\n".join(rows) + "\n")
    return DemoData(sheet=sheet, reference=reference, samples=tuple(reads), reads=reads)


def _fasta_text(contigs: Sequence[tuple[str, str]]) -> str:
    lines = []
    for name, seq in contigs:
        lines.append(f">{name} seqstack demo contig")
        lines.extend(seq[i : i + 70] for i in range(0, len(seq), 70))
    return "\n".join(lines) + "\n"
