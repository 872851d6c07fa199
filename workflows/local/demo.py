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
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

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


def _qualities(rng: random.Random, s: DemoSample) -> list[int]:
    out = []
    for i in range(READ_LENGTH):
        mean = s.quality_start - (s.quality_start - s.quality_end) * (i / (READ_LENGTH - 1)) ** 2
        out.append(max(2, min(41, round(rng.gauss(mean, 3.0)))))
    return out


def _sequence(rng: random.Random, template: str, quals: list[int]) -> tuple[str, list[int]]:
    bases = list(template)
    for i, q in enumerate(quals):
        if rng.random() < 0.0015:  # a no-call
            bases[i], quals[i] = "N", 2
        elif rng.random() < 10 ** (-q / 10):  # a substitution as likely as the quality says
            bases[i] = rng.choice([b for b in "ACGT" if b != bases[i]])
    return "".join(bases), quals


def write_pairs(
    r1: Path, r2: Path, contigs: Sequence[tuple[str, str]], sample: DemoSample, rng: random.Random
) -> None:
    weights = [len(seq) for _, seq in contigs]
    with _StableGzip(r1) as f1, _StableGzip(r2) as f2:
        for n in range(1, sample.pairs + 1):
            _, seq = rng.choices(contigs, weights=weights)[0]
            insert = max(READ_LENGTH + 20, min(700, round(rng.gauss(320, 40))))
            start = rng.randrange(0, len(seq) - insert)
            fragment = seq[start : start + insert]
            if rng.random() < 0.5:
                fragment = fragment.translate(_COMPLEMENT)[::-1]
            forward = fragment[:READ_LENGTH]
            reverse = fragment.translate(_COMPLEMENT)[::-1][:READ_LENGTH]
            for f, template, mate in ((f1, forward, 1), (f2, reverse, 2)):
                bases, quals = _sequence(rng, template, _qualities(rng, sample))
                qual = "".join(chr(q + 33) for q in quals)
                f.write(f"@demo:{sample.id}:{n} {mate}:N:0:1\n{bases}\n+\n{qual}\n".encode())


class _StableGzip(gzip.GzipFile):
    """A gzip file with no name or time stamp in its header: identical bytes on every run."""

    def __init__(self, path: Path) -> None:
        self._raw = path.open("wb")
        super().__init__(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=6)

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
        write_pairs(r1, r2, contigs, s, random.Random(f"{seed}:{s.id}"))
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


def expected_error_rate(quality: float) -> float:
    """Substitution probability at a Phred quality (what the generator uses)."""
    return 10 ** (-quality / 10) if quality > 0 else 1.0 - math.ulp(1.0)
