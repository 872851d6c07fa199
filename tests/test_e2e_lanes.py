"""`seqstack run` end to end on real reads with several lanes per sample and single-end reads.

The real mtDNA pairs (tests/data) are split into two "lanes" by read number; the two-lane
sample's BAM is compared with the one-lane run of the same reads. A lane of the same reads with
every base quality set to 2 fails the QC gate's default rules, for the failed-lane policy.
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from tests.testdata import MTDNA_FASTA, MTDNA_R1, MTDNA_R2
from workflows.local.run import RunOptions, run_pipeline
from workflows.steps.bam import BATCH_BASES

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        any(shutil.which(t) is None for t in ("fastqc", "bwa", "samtools")),
        reason="fastqc, bwa and samtools must be on PATH",
    ),
]

#: Bit 0x2 (properly paired): bwa decides it from the insert sizes it estimates per batch of
#: reads, and each lane is aligned as a batch of its own (as nf-core/sarek aligns per lane).
PROPER_PAIR = 0x2


def _records(path: Path) -> list[list[str]]:
    with gzip.open(path, "rt") as f:
        lines = f.read().splitlines()
    return [lines[i : i + 4] for i in range(0, len(lines), 4)]


def _write(path: Path, records: list[list[str]]) -> Path:
    with gzip.open(path, "wt") as f:
        f.write("".join("\n".join(r) + "\n" for r in records))
    return path


def _run(sheet: Path, out: Path, **options: Any) -> tuple[int, dict[str, Any], str]:
    text, err = io.StringIO(), io.StringIO()
    code = run_pipeline(
        RunOptions(sheet=sheet, reference=sheet.parent / "ref.fa", outdir=out, cpus=2, **options),
        console=Console(file=text, width=200),
        err=Console(file=err, width=200),
        live=False,
    )
    return code, json.loads((out / "run.json").read_text()), text.getvalue() + err.getvalue()


def _view(bam: Path) -> list[tuple[Any, ...]]:
    """Every record as (name, flag, rname, pos, mapq, cigar, rnext, pnext, tlen, seq, RG), sorted."""
    out = subprocess.run(["samtools", "view", str(bam)], capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        f = line.split("\t")
        rg = next((t[5:] for t in f[11:] if t.startswith("RG:Z:")), "")
        rows.append((f[0], int(f[1]), f[2], int(f[3]), int(f[4]), f[5], f[6], int(f[7]), int(f[8]), f[9], rg))
    return sorted(rows)


def _primary(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Records that are neither secondary (0x100) nor supplementary (0x800)."""
    return [r for r in rows if not r[1] & 0x900]


def _read_groups(bam: Path) -> list[str]:
    header = subprocess.run(["samtools", "view", "-H", str(bam)], capture_output=True, text=True, check=True)
    return [line for line in header.stdout.splitlines() if line.startswith("@RG")]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("lanes")
    shutil.copy(MTDNA_FASTA, d / "ref.fa")
    r1, r2 = _records(MTDNA_R1), _records(MTDNA_R2)
    half = len(r1) // 2
    _write(d / "A_R1.fastq.gz", r1[:half])
    _write(d / "A_R2.fastq.gz", r2[:half])
    _write(d / "B_R1.fastq.gz", r1[half:])
    _write(d / "B_R2.fastq.gz", r2[half:])
    _write(d / "SE.fastq.gz", r1[:half])  # single-end: R1 alone (a file of its own)
    # Lane B again with every quality at 2 ('#'): FastQC's per-base quality FAILs.
    _write(d / "lowq_R1.fastq.gz", [[n, s, p, "#" * len(q)] for n, s, p, q in r1[half:]])
    _write(d / "lowq_R2.fastq.gz", [[n, s, p, "#" * len(q)] for n, s, p, q in r2[half:]])
    _write(d / "good_R1.fastq.gz", r1[:half])
    _write(d / "good_R2.fastq.gz", r2[:half])
    return d


@pytest.fixture(scope="module")
def mixed(data: Path) -> tuple[Path, dict[str, Any], str]:
    """One run of a mixed sheet: a one-lane pair, the same reads as two lanes, a single-end sample."""
    sheet = data / "mixed.csv"
    sheet.write_text(
        "sample,lane,fastq_1,fastq_2\n"
        f"one,,{MTDNA_R1},{MTDNA_R2}\n"
        "two,A,A_R1.fastq.gz,A_R2.fastq.gz\n"
        "two,B,B_R1.fastq.gz,B_R2.fastq.gz\n"
        "se,,SE.fastq.gz,\n"
    )
    out = data / "mixed-out"
    code, record, text = _run(sheet, out)
    assert code == 0, text
    return out, record, text


def test_two_lanes_give_one_bam_with_the_one_lane_runs_reads_and_two_read_groups(
    mixed: tuple[Path, dict[str, Any], str],
) -> None:
    out, record, _ = mixed
    one, two = out / "samples" / "one" / "one.bam", out / "samples" / "two" / "two.bam"
    assert record["samples"]["two"]["status"] == "aligned" and record["samples"]["two"]["bam"] == str(two)
    assert _read_groups(two) == [
        "@RG\tID:two.A\tSM:two\tLB:two\tPL:ILLUMINA\tPU:A",
        "@RG\tID:two.B\tSM:two\tLB:two\tPL:ILLUMINA\tPU:B",
    ]
    assert _read_groups(one) == ["@RG\tID:one.1\tSM:one\tLB:one\tPL:ILLUMINA\tPU:1"]
    a, b = _view(one), _view(two)
    assert len(a) == len(b) and len(_primary(a)) == 2 * 5053  # every read once, plus supplementaries
    # The same reads, placed identically: names, positions, MAPQ, CIGAR, mates, TLEN, sequence.
    strip = [(*r[:1], r[1] & ~PROPER_PAIR, *r[2:10]) for r in a]
    assert strip == [(*r[:1], r[1] & ~PROPER_PAIR, *r[2:10]) for r in b]
    # Flags too, but for "properly paired" on a few pairs at the edge of the insert-size window
    # each lane estimated for itself (measured: 2 pairs of 5,053).
    differ = [x for x, y in zip(a, b, strict=True) if x[1] != y[1]]
    assert len(differ) <= 0.002 * len(a), differ
    # Every read keeps its lane's read group: lane A holds the first half of the reads.
    lane_a = {r[0][1:].split()[0] for r in _records(out.parent / "A_R1.fastq.gz")}
    assert {r[10] for r in b if r[0] in lane_a} == {"two.A"}
    assert {r[10] for r in b if r[0] not in lane_a} == {"two.B"}
    # Sorted and indexed like a one-lane BAM.
    header = subprocess.run(["samtools", "view", "-H", str(two)], capture_output=True, text=True, check=True)
    assert "SO:coordinate" in header.stdout and (out / "samples" / "two" / "two.bam.bai").exists()


def test_a_one_lane_sample_writes_exactly_todays_files(mixed: tuple[Path, dict[str, Any], str]) -> None:
    out, _, _ = mixed
    folder = out / "samples" / "one"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "fastqc/one_R1_fastqc.html",
        "fastqc/one_R1_fastqc.zip",
        "fastqc/one_R2_fastqc.html",
        "fastqc/one_R2_fastqc.zip",
        "one.bam",
        "one.bam.bai",
        "one.flagstat.txt",
        "one.qc.json",
        "one.stats.txt",
    ]


def test_lane_outputs_and_the_report_metrics_are_named_by_unit(
    mixed: tuple[Path, dict[str, Any], str],
) -> None:
    out, record, _ = mixed
    two = out / "samples" / "two"
    assert sorted(p.name for p in (two / "fastqc").iterdir()) == [
        f"two_{lane}_{read}_fastqc.{ext}" for lane in "AB" for read in ("R1", "R2") for ext in ("html", "zip")
    ]
    assert sorted(p.name for p in (two / "lanes").iterdir()) == ["two_A.bam", "two_B.bam"]
    (metrics,) = (out / ".metrics").iterdir()
    assert {p.name for p in metrics.iterdir()} >= {
        "two_A_R1_fastqc.zip",
        "two_B_R2_fastqc.zip",
        "two.qc.json",
        "two.flagstat.txt",
        "se_R1_fastqc.zip",
    }
    qc = json.loads((two / "two.qc.json").read_text())
    assert [(x["lane"], x["unit"], x["paired"], x["verdict"]) for x in qc["lanes"]] == [
        ("A", "two_A", True, "pass"),
        ("B", "two_B", True, "pass"),
    ]
    assert qc["aligned_lanes"] == ["A", "B"] and qc["failed_lane"] == "fail-sample"
    # One FastQC pod per lane (both reads in it), then align-lane per lane and one merge.
    tasks = {t["key"]: t["status"] for t in record["tasks"]}
    assert tasks["samples(two)/fastqc(two_A)"] == tasks["samples(two)/fastqc(two_B)"] == "Succeeded"
    assert tasks["samples(two)/align-lane(two_A)"] == tasks["samples(two)/merge"] == "Succeeded"
    assert tasks["samples(two)/align(two_A)"] == "Skipped"


def test_a_single_end_sample_runs_end_to_end(mixed: tuple[Path, dict[str, Any], str]) -> None:
    out, record, _ = mixed
    folder = out / "samples" / "se"
    assert record["samples"]["se"]["status"] == "aligned"
    assert sorted(p.name for p in (folder / "fastqc").iterdir()) == ["se_R1_fastqc.html", "se_R1_fastqc.zip"]
    rows = _view(folder / "se.bam")
    assert len(_primary(rows)) == 5053 // 2 and not any(r[1] & 0x1 for r in rows)  # none is paired
    qc = json.loads((folder / "se.qc.json").read_text())
    assert qc["lanes"][0]["paired"] is False and list(qc["lanes"][0]["modules"]) == ["R1"]
    assert _read_groups(folder / "se.bam") == ["@RG\tID:se.1\tSM:se\tLB:se\tPL:ILLUMINA\tPU:1"]


@pytest.mark.parametrize("policy", ["fail-sample", "drop"])
def test_the_failed_lane_policy(data: Path, policy: str) -> None:
    sheet = data / f"policy-{policy}.csv"
    sheet.write_text(
        "sample,lane,fastq_1,fastq_2\n"
        "mix,1,good_R1.fastq.gz,good_R2.fastq.gz\n"
        "mix,2,lowq_R1.fastq.gz,lowq_R2.fastq.gz\n"
    )
    out = data / f"policy-{policy}-out"
    code, record, text = _run(sheet, out, failed_lane=policy)
    assert code == 0, text
    folder = out / "samples" / "mix"
    qc = json.loads((folder / "mix.qc.json").read_text())
    assert [(x["lane"], x["verdict"]) for x in qc["lanes"]] == [("1", "pass"), ("2", "fail")]
    assert qc["reasons"] == [
        "lane 2: R1: Per base sequence quality FAIL",
        "lane 2: R2: Per base sequence quality FAIL",
    ]
    if policy == "fail-sample":
        assert record["samples"]["mix"]["status"] == "qc-failed" and qc["verdict"] == "fail"
        assert not list(folder.rglob("*.bam")) and qc["aligned_lanes"] == []
        return
    # drop: the passing lane alone, aligned as a one-lane sample is (no lanes/ folder, no merge).
    assert record["samples"]["mix"]["status"] == "aligned" and qc["aligned_lanes"] == ["1"]
    bam = folder / "mix.bam"
    assert _read_groups(bam) == ["@RG\tID:mix.1\tSM:mix\tLB:mix\tPL:ILLUMINA\tPU:1"]
    assert len(_primary(_view(bam))) == 2 * (5053 // 2) and not (folder / "lanes").exists()


def test_duplicates_are_marked_across_lanes_and_the_merge_writes_cram(data: Path) -> None:
    """Lane B carries copies of 200 of lane A's pairs under new names: duplicates are marked on
    the merged stream, so each original/copy pair has exactly one record flagged, and the merge
    writes the sample's CRAM (decoded with the reference recorded in run.json)."""
    r1, r2 = _records(MTDNA_R1), _records(MTDNA_R2)
    half = len(r1) // 2
    copies = range(0, 2000, 10)  # 200 pairs of lane A

    def renamed(records: list[list[str]]) -> list[list[str]]:
        return [[f"@copy{i}", records[i][1], "+", records[i][3]] for i in copies]

    _write(data / "Bdup_R1.fastq.gz", r1[half:] + renamed(r1))
    _write(data / "Bdup_R2.fastq.gz", r2[half:] + renamed(r2))
    sheet = data / "dup.csv"
    sheet.write_text(
        "sample,lane,fastq_1,fastq_2\ndup,A,A_R1.fastq.gz,A_R2.fastq.gz\ndup,B,Bdup_R1.fastq.gz,Bdup_R2.fastq.gz\n"
    )
    out = data / "dup-out"
    code, record, text = _run(sheet, out, markdup=True, output_format="cram", temporary_folders=())
    assert code == 0, text
    folder = out / "samples" / "dup"
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == [
        "dup.cram",
        "dup.cram.crai",
        "dup.flagstat.txt",
        "dup.markdup.txt",
        "dup.qc.json",
        "dup.stats.txt",
    ]
    assert record["alignment"]["cramReference"]["path"] == str((data / "ref.fa").resolve())
    view = subprocess.run(
        ["samtools", "view", "-T", record["alignment"]["cramReference"]["path"], str(folder / "dup.cram")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    flags = {}
    for line in view:
        name, flag = line.split("\t")[:2]
        if not int(flag) & 0x900:
            flags.setdefault(name, []).append(int(flag))
    assert len(flags) == len(r1) + len(copies)  # every pair of both lanes, once
    a_names = [r[0][1:].split()[0] for r in r1]
    for i in copies:  # an original and its copy in the other lane are never both kept
        assert any(all(f & 0x400 for f in flags[n]) for n in (a_names[i], f"copy{i}")), a_names[i]
    # As many duplicates as samtools finds in both lanes' reads aligned as one, by hand.
    cat = {}
    for read in ("R1", "R2"):
        cat[read] = data / f"dup-all_{read}.fastq.gz"
        cat[read].write_bytes(
            (data / f"A_{read}.fastq.gz").read_bytes() + (data / f"Bdup_{read}.fastq.gz").read_bytes()
        )
    hand = data / "dup-hand.txt"
    subprocess.run(
        f"bwa mem -K {BATCH_BASES} -Y -t 2 {data / 'ref.fa'} {cat['R1']} {cat['R2']} 2>/dev/null"
        " | samtools fixmate -m -u - - | samtools sort -u - | "
        f"samtools markdup -f {hand} - {data / 'dup-hand.bam'}",
        shell=True,
        check=True,
    )

    def duplicate_pairs(stats: Path) -> int:
        return int(
            next(x for x in stats.read_text().splitlines() if x.startswith("DUPLICATE PAIR:")).split(":")[1]
        )

    assert duplicate_pairs(folder / "dup.markdup.txt") == duplicate_pairs(hand) >= len(copies)
