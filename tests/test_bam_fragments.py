"""The alignment shell of :mod:`workflows.steps.bam`, run with the real tools on real reads.

The fragments are run exactly as a step renders them (the workflow parameters substituted the
way the local executor substitutes them), on reads made from the real mtDNA pairs in
``tests/data``:

* the same reads aligned with 1, 2 and 3 threads give identical records, over many ``-K``
  batches whose insert sizes differ (so per-batch insert-size estimation matters: the records do
  change when the batching does), and without ``-K`` bwa's records do depend on the thread count;
* duplicate marking finds exactly the pairs copied into the input, as ``samtools fixmate -m |
  sort | markdup`` run by hand does;
* CRAM decodes, with the reference, to the BAM's records; single-end input works for BAM, CRAM
  and markdup, and is as thread-independent as paired input;
* lanes aligned to files (fixmate's tags on) and merged into the finishing give what ``samtools
  merge | markdup`` gives by hand, with both lanes' read groups;
* flagstat, stats and a BAM's index read from ``tee`` as the file is written equal them run on
  the finished file;
* gzipped reads fed through igzip's FIFOs (and read by bwa itself without igzip) give the plain
  reads' records, and a gzipped file cut short fails the step in one line.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.testdata import MTDNA_FASTA, MTDNA_R1, MTDNA_R2
from workflows.local.values import substitute
from workflows.steps import bam
from workflows.steps.pod import bash

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        any(shutil.which(t) is None for t in ("bwa", "samtools")), reason="bwa and samtools must be on PATH"
    ),
]

#: Read-pair copies of the real mtDNA reads, each with its 5' ends trimmed by this many bases: the
#: insert sizes (and read lengths) of each copy differ, so consecutive -K batches see different
#: insert-size distributions.
TRIMS = (0, 40, 20, 60, 10, 50)
#: -K for the tests: the copies above (~4.3 Mbp) span ~11 batches.
SMALL_BATCH = 400_000


def fastq(path: Path) -> Iterator[tuple[str, str, str]]:
    """(name, sequence, quality) records of a gzipped FASTQ, with the name's first word."""
    with gzip.open(path, "rt") as f:
        while header := f.readline():
            seq, _, qual = f.readline().strip(), f.readline(), f.readline().strip()
            yield header[1:].split()[0], seq, qual


def make_reads(folder: Path, trims: Sequence[int], copies: int = 0, paired: bool = True) -> list[Path]:
    """FASTQ file(s) of the real reads, once per trim (names prefixed ``t<k>_``); ``copies``: the
    first that many pairs of the first segment appear twice more under new names (``dup<i>_``),
    base for base: known duplicates."""
    folder.mkdir(parents=True, exist_ok=True)
    reads = [list(fastq(MTDNA_R1)), list(fastq(MTDNA_R2))][: 2 if paired else 1]
    paths = [folder / f"R{i + 1}.fastq" for i in range(len(reads))]
    for path, records in zip(paths, reads, strict=True):
        with path.open("w") as out:
            for k, trim in enumerate(trims):
                for name, seq, qual in records:
                    out.write(f"@t{k}_{name}\n{seq[trim:]}\n+\n{qual[trim:]}\n")
            for i, (name, seq, qual) in enumerate(records[:copies]):
                out.write(f"@dup{i}_{name}\n{seq}\n+\n{qual}\n")
    return paths


@pytest.fixture(scope="module")
def ref(tmp_path_factory: pytest.TempPathFactory) -> Path:
    fasta = tmp_path_factory.mktemp("ref") / "ref.fa"
    shutil.copy(MTDNA_FASTA, fasta)
    subprocess.run(["bwa", "index", str(fasta)], check=True, capture_output=True)
    return fasta


class Finished:
    """What the fragments published into ``out/`` and what bwa said on stderr."""

    def __init__(self, out: Path, stderr: str) -> None:
        self.out, self.stderr = out, stderr

    def file(self, ext: str) -> Path:
        return self.out / f"S{ext}"


def run_fragments(
    work: Path,
    ref: Path,
    reads: Sequence[Path],
    threads: int,
    *,
    markdup: bool = False,
    fmt: str = "bam",
    batch: int = SMALL_BATCH,
    path: str | None = None,
) -> Finished:
    """:func:`bam.finish` over :func:`bam.aligner_pipe`, as the align step runs them (``path``:
    the PATH the step runs with)."""
    words = " ".join(f'"{p}"' for p in reads)
    body = (
        f'aligner=bwa\nref="{ref}"\nrg="@RG\\tID:S\\tSM:S\\tPL:ILLUMINA"\npart="$WORK/tmp/S"\n'
        + bam.run_options()
        + bam.finish(threads, bam.aligner_pipe(threads, 256, words, batch_bases=batch))
    )
    return _run(body, work, markdup, fmt, path=path)


def run_fed(
    work: Path, ref: Path, reads: Sequence[Path], *, path: str | None = None, ok: bool = True
) -> Finished:
    """The align step's way in: the ``reads`` array, :func:`bam.feed_reads` in front of the
    aligner, :func:`bam.fed` after it (``path``: the PATH the step runs with)."""
    words = " ".join(f'"{p}"' for p in reads)
    body = (
        f'aligner=bwa\nref="{ref}"\ns=S\nlane=L1\nrg="@RG\\tID:S\\tSM:S"\npart="$WORK/tmp/S"\n'
        f"reads=({words})\n"
        + bam.run_options()
        + bam.feed_reads()
        + bam.finish(2, bam.aligner_pipe(2, 256, '"${reads[@]}"'), then=bam.fed())
    )
    return _run(body, work, False, "bam", path=path, ok=ok)


def _run(
    body: str, work: Path, markdup: bool, fmt: str, *, path: str | None = None, ok: bool = True
) -> Finished:
    """Run a step body under the pods' bash prelude with the run's two parameters filled in;
    ``ok``: whether it must succeed (and leave nothing in tmp/) or fail (and publish nothing)."""
    values = {
        f"workflow.parameters.{bam.MARKDUP_PARAM}": "true" if markdup else "false",
        f"workflow.parameters.{bam.FORMAT_PARAM}": fmt,
    }
    script = substitute(bash(body)["args"][0], values, strict=True, where="test")
    work.mkdir(parents=True)
    env = {**os.environ, "WORK": str(work), **({"PATH": path} if path else {})}
    proc = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True)
    if ok:
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert not any((work / "tmp").glob("S.*")), "every result is moved out of tmp/"
    else:
        assert proc.returncode != 0
        assert not any((work / "out").iterdir()), "a failed step publishes nothing"
    return Finished(work / "out", proc.stderr)


def records(path: Path, ref: Path) -> list[str]:
    """``samtools view`` records (no header, so no @PG), each with its optional tags in name
    order: a CRAM regenerates MD and NM on decoding and appends them, which only reorders tags."""
    text = subprocess.run(
        ["samtools", "view", "--reference", str(ref), str(path)], check=True, capture_output=True, text=True
    ).stdout
    out = []
    for line in text.splitlines():
        fields = line.split("\t")
        out.append("\t".join(fields[:11] + sorted(fields[11:])))
    assert out, f"{path} has no records"
    return out


def batches(stderr: str) -> int:
    """How many batches bwa read (one ``[M::process] read N sequences`` line each)."""
    return len(re.findall(r"\[M::process\] read \d+ sequences", stderr))


@pytest.mark.parametrize("markdup", [False, True], ids=["plain", "markdup"])
def test_thread_counts_give_identical_records_over_many_batches(
    tmp_path: Path, ref: Path, markdup: bool
) -> None:
    reads = make_reads(tmp_path / "reads", TRIMS)
    runs = [run_fragments(tmp_path / f"t{t}", ref, reads, t, markdup=markdup) for t in (1, 2, 3)]
    assert all(batches(r.stderr) >= 10 for r in runs), [batches(r.stderr) for r in runs]
    first = records(runs[0].file(".bam"), ref)
    for other in runs[1:]:
        assert records(other.file(".bam"), ref) == first
    # The batches matter: the same reads in other batches (insert sizes estimated over other
    # reads) align differently, so equal records above are not a property of these reads alone.
    rebatched = run_fragments(tmp_path / "rebatched", ref, reads, 1, markdup=markdup, batch=3 * SMALL_BATCH)
    assert records(rebatched.file(".bam"), ref) != first


def test_without_a_fixed_batch_bwa_records_depend_on_the_thread_count(tmp_path: Path, ref: Path) -> None:
    """Why -K: bwa's default batch is 10 Mbp x threads, so ~12 Mbp are two batches with one
    thread and one batch with two, and the records differ (measured: ~10,000 of ~162,000 SAM
    lines). With -K, the same reads give the same records whatever -t (test above)."""
    reads = make_reads(tmp_path / "reads", TRIMS * 2 + (30, 0, 45, 15))
    sams = []
    for threads in (1, 2):
        proc = subprocess.run(
            ["bwa", "mem", "-t", str(threads), str(ref), *map(str, reads)],
            check=True,
            capture_output=True,
            text=True,
        )
        assert batches(proc.stderr) == (2 if threads == 1 else 1)
        sams.append([line for line in proc.stdout.splitlines() if not line.startswith("@")])
    differing = sum(a != b for a, b in zip(sams[0], sams[1], strict=True))
    assert differing > 100, differing


def by_hand_markdup(tmp: Path, ref: Path, reads: Sequence[Path]) -> tuple[dict[str, str], Path]:
    """``samtools fixmate -m | sort | markdup -f`` run by hand; its stats (without COMMAND)."""
    tmp.mkdir()
    pipe = (
        f'bwa mem -K {bam.BATCH_BASES} -Y -R "@RG\\tID:S\\tSM:S\\tPL:ILLUMINA" "{ref}" '
        + " ".join(f'"{p}"' for p in reads)
        + f' | samtools fixmate -m - "{tmp}/fixmate.bam"'
        + f' && samtools sort -o "{tmp}/sorted.bam" "{tmp}/fixmate.bam"'
        + f' && samtools markdup -f "{tmp}/stats.txt" "{tmp}/sorted.bam" "{tmp}/marked.bam"'
    )
    subprocess.run(["bash", "-o", "pipefail", "-c", pipe], check=True, capture_output=True)
    return markdup_stats(tmp / "stats.txt"), tmp / "marked.bam"


def markdup_stats(path: Path) -> dict[str, str]:
    """``samtools markdup -f`` stats as a dict, without the COMMAND line (it names the files)."""
    lines = path.read_text().splitlines()
    assert lines[0].startswith("COMMAND: samtools markdup")
    return dict(line.split(": ", 1) for line in lines[1:] if ": " in line)


def duplicates_flagged(path: Path, ref: Path) -> int:
    out = subprocess.run(
        ["samtools", "view", "-c", "-f", "1024", "--reference", str(ref), str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(out)


@pytest.mark.parametrize("paired", [True, False], ids=["paired", "single-end"])
def test_markdup_finds_the_copied_reads_as_samtools_does_by_hand(
    tmp_path: Path, ref: Path, paired: bool
) -> None:
    copies = 300
    clean = make_reads(tmp_path / "clean", (0,), paired=paired)
    dupped = make_reads(tmp_path / "dupped", (0,), copies=copies, paired=paired)
    # The pipeline's own batch size, as by hand (another -K pairs some reads differently).
    base = run_fragments(tmp_path / "base", ref, clean, 2, markdup=True, batch=bam.BATCH_BASES)
    marked = run_fragments(tmp_path / "marked", ref, dupped, 2, markdup=True, batch=bam.BATCH_BASES)
    stats = markdup_stats(marked.file(".markdup.txt"))
    hand, hand_bam = by_hand_markdup(tmp_path / "hand", ref, dupped)
    assert stats == hand
    # Every copy is a duplicate of its original: exactly `copies` more duplicate pairs (markdup
    # counts their reads: two per pair) or single reads.
    key, per_copy = ("DUPLICATE PAIR", 2) if paired else ("DUPLICATE SINGLE", 1)
    before = markdup_stats(base.file(".markdup.txt"))
    assert int(stats[key]) - int(before[key]) == copies * per_copy
    # The flags in the BAM are the ones counted, and the same as by hand.
    assert duplicates_flagged(marked.file(".bam"), ref) == int(stats["DUPLICATE TOTAL"]) > 0
    assert records(marked.file(".bam"), ref) == records(hand_bam, ref)


@pytest.mark.parametrize("paired", [True, False], ids=["paired", "single-end"])
@pytest.mark.parametrize("markdup", [False, True], ids=["plain", "markdup"])
def test_cram_decodes_to_the_bams_records_and_single_end_is_thread_independent(
    tmp_path: Path, ref: Path, paired: bool, markdup: bool
) -> None:
    reads = make_reads(tmp_path / "reads", TRIMS[:3], copies=50, paired=paired)
    as_bam = run_fragments(tmp_path / "bam", ref, reads, 1, markdup=markdup)
    as_cram = run_fragments(tmp_path / "cram", ref, reads, 2, markdup=markdup, fmt="cram")
    published = sorted(p.name for p in as_cram.out.iterdir())
    expected = ["S.cram", "S.cram.crai", "S.flagstat.txt", "S.stats.txt"]
    assert published == sorted(expected + (["S.markdup.txt"] if markdup else []))
    assert sorted(p.name for p in as_bam.out.iterdir()) == sorted(
        [e.replace("cram", "bam").replace(".bam.crai", ".bam.bai") for e in expected]
        + (["S.markdup.txt"] if markdup else [])
    )
    header = subprocess.run(
        ["samtools", "view", "-H", str(as_cram.file(".cram"))], check=True, capture_output=True, text=True
    ).stdout
    assert "M5:c68f52674c9fb33aef52dcf399755519" in header  # the contig's MD5, to find the reference by
    assert records(as_cram.file(".cram"), ref) == records(as_bam.file(".bam"), ref)
    assert as_cram.file(".flagstat.txt").read_text() == as_bam.file(".flagstat.txt").read_text()
    # The CRAM's index works: a region query returns that region's records.
    region = subprocess.run(
        [
            "samtools",
            "view",
            "-c",
            "--reference",
            str(ref),
            str(as_cram.file(".cram")),
            "NC_012920.1:1000-1100",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert 0 < int(region) < len(records(as_bam.file(".bam"), ref))
    if markdup:
        # markdup's stats are the same whichever format it wrote (and thread count it had).
        assert markdup_stats(as_cram.file(".markdup.txt")) == markdup_stats(as_bam.file(".markdup.txt"))


def run_merge(
    work: Path,
    ref: Path,
    lanes: Sequence[Path],
    threads: int,
    *,
    fmt: str,
    markdup: bool = True,
    path: str | None = None,
) -> Finished:
    """:func:`bam.finish` over :func:`bam.merged`, as a merge step runs them (``path``: the PATH
    the step runs with)."""
    words = " ".join(f'"{p}"' for p in lanes)
    body = (
        f'ref="{ref}"\npart="$WORK/tmp/S"\n'
        + bam.run_options()
        + bam.finish(threads, bam.merged(threads, words))
    )
    return _run(body, work, markdup, fmt, path=path)


def test_lanes_aligned_to_files_then_merged_are_marked_as_samtools_merge_and_markdup_by_hand(
    tmp_path: Path, ref: Path
) -> None:
    """Per-lane BAMs from :func:`bam.to_file` (fixmate's tags on: ``markdup`` true), then
    :func:`bam.merged` into :func:`bam.finish`: what ``samtools merge | markdup`` gives by hand."""
    reads = make_reads(tmp_path / "reads", (0, 30), copies=200)
    lanes = []
    for lane in (0, 1):  # the first half of the pairs, then the second
        folder = tmp_path / f"lane{lane}"
        folder.mkdir()
        parts = []
        for path in reads:
            lines = path.read_text().splitlines(keepends=True)
            half = len(lines) // 8 * 4  # a whole number of records
            part = folder / path.name
            part.write_text("".join(lines[:half] if lane == 0 else lines[half:]))
            parts.append(part)
        body = (
            f'aligner=bwa\nref="{ref}"\nrg="@RG\\tID:S.{lane}\\tSM:S"\npart="$WORK/tmp/S"\n'
            + bam.run_options()
            + bam.to_file(bam.aligner_pipe(2, 256, " ".join(f'"{p}"' for p in parts)), f'"{folder}/lane.bam"')
        )
        values = {
            f"workflow.parameters.{bam.MARKDUP_PARAM}": "true",
            f"workflow.parameters.{bam.FORMAT_PARAM}": "bam",
        }
        script = substitute(bash(body)["args"][0], values, strict=True, where="test")
        subprocess.run(
            ["bash", "-c", script],
            env={**os.environ, "WORK": str(folder / "work")},
            check=True,
            capture_output=True,
        )
        lanes.append(folder / "lane.bam")
    merged = run_merge(tmp_path / "merged", ref, lanes, 2, fmt="bam")
    as_cram = run_merge(tmp_path / "merged-cram", ref, lanes, 1, fmt="cram")
    hand = tmp_path / "hand"
    hand.mkdir()
    subprocess.run(
        [
            "bash",
            "-o",
            "pipefail",
            "-c",
            f"samtools merge -o - {lanes[0]} {lanes[1]}"
            f" | samtools markdup -f {hand}/stats.txt - {hand}/marked.bam",
        ],
        check=True,
        capture_output=True,
    )
    stats = markdup_stats(merged.file(".markdup.txt"))
    assert stats == markdup_stats(hand / "stats.txt")
    assert int(stats["DUPLICATE PAIR"]) >= 2 * 200
    assert records(merged.file(".bam"), ref) == records(hand / "marked.bam", ref)
    assert records(as_cram.file(".cram"), ref) == records(merged.file(".bam"), ref)
    # Unmarked, samtools merge writes the CRAM itself: the lanes' records as merged by hand.
    plain = run_merge(tmp_path / "plain-cram", ref, lanes, 2, fmt="cram", markdup=False)
    published = sorted(p.name for p in plain.out.iterdir())
    assert published == ["S.cram", "S.cram.crai", "S.flagstat.txt", "S.stats.txt"]
    subprocess.run(["samtools", "merge", "-o", str(hand / "plain.bam"), *map(str, lanes)], check=True)
    assert records(plain.file(".cram"), ref) == records(hand / "plain.bam", ref)
    assert duplicates_flagged(plain.file(".cram"), ref) == 0
    header = subprocess.run(
        ["samtools", "view", "-H", str(merged.file(".bam"))], capture_output=True, text=True, check=True
    ).stdout
    assert "ID:S.0" in header and "ID:S.1" in header  # both lanes' read groups


def without_stats_command_line(path: Path) -> str:
    """``samtools stats`` output without its ``# The command line was:`` line (it names the input)."""
    return "".join(line for line in path.read_text().splitlines(keepends=True) if "command line" not in line)


@pytest.mark.parametrize("fmt", ["bam", "cram"])
@pytest.mark.parametrize("markdup", [False, True], ids=["plain", "markdup"])
def test_flagstat_stats_and_index_read_as_the_file_is_written_match_them_run_on_the_finished_file(
    tmp_path: Path, ref: Path, markdup: bool, fmt: str
) -> None:
    reads = make_reads(tmp_path / "reads", TRIMS[:2], copies=50)
    calls = tmp_path / "samtools-calls"
    path = samtools_logged_to(calls, tmp_path / "bin")
    done = run_fragments(tmp_path / "run", ref, reads, 2, markdup=markdup, fmt=fmt, path=path)
    final = done.file(f".{fmt}")
    # A BAM's index is built from the stream (its input "-"), a CRAM's from the file: either is
    # byte for byte the index samtools builds from the finished file.
    index_ext = {"bam": ".bam.bai", "cram": ".cram.crai"}[fmt]
    _, index_call = samtools_calls(calls)["index"]
    part = tmp_path / "run" / "tmp" / "S"
    if fmt == "bam":
        assert index_call.split()[-1] == "-"
    else:
        assert index_call.split()[-2:] == [f"{part}.cram", f"{part}.cram.crai"]
    subprocess.run(["samtools", "index", str(final), str(tmp_path / "by-hand.idx")], check=True)
    assert done.file(index_ext).read_bytes() == (tmp_path / "by-hand.idx").read_bytes()
    flagstat = subprocess.run(
        ["samtools", "flagstat", str(final)], check=True, capture_output=True, text=True
    )
    assert done.file(".flagstat.txt").read_text() == flagstat.stdout
    by_hand = tmp_path / "stats.txt"
    with by_hand.open("w") as out:
        subprocess.run(["samtools", "stats", "--reference", str(ref), str(final)], check=True, stdout=out)
    assert without_stats_command_line(done.file(".stats.txt")) == without_stats_command_line(by_hand)
    assert "SN\traw total sequences:" in by_hand.read_text()


@pytest.mark.parametrize("markdup", [False, True], ids=["plain", "markdup"])
def test_the_producer_runs_at_a_higher_niceness_than_the_stream_readers_and_markdup(
    tmp_path: Path, ref: Path, markdup: bool
) -> None:
    """The sort (or merge) compresses on every thread while single-threaded stats reads the
    stream: it runs 5 nicer, so it only takes what the readers (and markdup) leave."""
    own = os.nice(0)
    nicer = min(own + 5, 19)  # 19 is the highest niceness
    reads = make_reads(tmp_path / "reads", TRIMS[:2], copies=20)
    calls = tmp_path / "samtools-calls"
    path = samtools_logged_to(calls, tmp_path / "bin")
    run_fragments(tmp_path / "run", ref, reads, 2, markdup=markdup, path=path)
    niceness = {command: n for command, (n, _) in samtools_calls(calls).items()}
    readers = {"flagstat": own, "stats": own, "index": own}
    if markdup:
        assert niceness == {"fixmate": own, "sort": nicer, "markdup": own, **readers}
    else:
        assert niceness == {"sort": nicer, **readers}
    # The merge of a sample's lanes is the producer of its merge step.
    lane = run_fragments(tmp_path / "lane", ref, reads, 2, markdup=True).file(".bam")
    merge_calls = tmp_path / "merge-calls"
    path = samtools_logged_to(merge_calls, tmp_path / "merge-bin")
    run_merge(tmp_path / "merged", ref, [lane], 2, fmt="bam", markdup=markdup, path=path)
    merged = {command: n for command, (n, _) in samtools_calls(merge_calls).items()}
    assert merged["merge"] == nicer
    assert merged["stats"] == own


def gzip_in_two_members(plain: Path) -> Path:
    """``plain`` gzipped as two concatenated members (as ``cat a.gz b.gz`` makes), half each,
    named as the step names its inputs (``R1.fastq`` -> ``R1``)."""
    data = plain.read_bytes()
    half = data.index(b"\n@", len(data) // 2) + 1
    out = plain.with_name(plain.stem)
    out.write_bytes(gzip.compress(data[:half]) + gzip.compress(data[half:]))
    return out


def bwa_command_line(bam_path: Path) -> str:
    header = subprocess.run(
        ["samtools", "view", "-H", str(bam_path)], check=True, capture_output=True, text=True
    )
    return next(line for line in header.stdout.splitlines() if line.startswith("@PG\tID:bwa"))


def samtools_logged_to(log: Path, folder: Path) -> str:
    """A PATH whose ``samtools`` writes its niceness and its arguments as a line to ``log``
    (read by :func:`samtools_calls`), then runs the real one."""
    folder.mkdir()
    real = shutil.which("samtools")
    wrapper = folder / "samtools"
    # coreutils' nice with no command prints the niceness it runs at.
    wrapper.write_text(f'#!/bin/bash\necho "$(nice) $*" >> "{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    return f"{folder}:{os.environ['PATH']}"


def samtools_calls(log: Path) -> dict[str, tuple[int, str]]:
    """What :func:`samtools_logged_to` logged: each subcommand -> (its niceness, its arguments)."""
    calls = {}
    for line in log.read_text().splitlines():
        niceness, args = line.split(" ", 1)
        command = args.split()[0]
        assert command not in calls, f"samtools {command} ran twice"
        calls[command] = (int(niceness), args)
    return calls


def tools_without_igzip(folder: Path) -> str:
    """A PATH of links to every command the step uses, igzip left out."""
    folder.mkdir()
    for tool in ("bash", "bwa", "samtools", "nice", "tee", "mkfifo", "rm", "mv", "mkdir"):
        found = shutil.which(tool)
        assert found, tool
        (folder / tool).symlink_to(found)
    return str(folder)


@pytest.mark.skipif(shutil.which("igzip") is None, reason="igzip (Debian's isal) must be on PATH")
def test_gzipped_reads_are_decompressed_by_igzip_beside_the_aligner_into_the_same_records(
    tmp_path: Path, ref: Path
) -> None:
    plain = make_reads(tmp_path / "reads", TRIMS[:2])
    gzipped = [gzip_in_two_members(p) for p in plain]
    from_plain = run_fed(tmp_path / "plain", ref, plain)
    fed = run_fed(tmp_path / "fed", ref, gzipped)
    assert records(fed.file(".bam"), ref) == records(from_plain.file(".bam"), ref)
    # bwa read FIFOs, one per file (igzip's), and read the plain files themselves.
    assert "/tmp/S.R1.fifo /" in bwa_command_line(fed.file(".bam"))
    assert bwa_command_line(fed.file(".bam")).endswith("/tmp/S.R2.fifo")
    assert f"{plain[0]} {plain[1]}" in bwa_command_line(from_plain.file(".bam"))
    # Without igzip, bwa reads the gzipped files itself: the same records again.
    unfed = run_fed(tmp_path / "unfed", ref, gzipped, path=tools_without_igzip(tmp_path / "bin"))
    assert f"{gzipped[0]} {gzipped[1]}" in bwa_command_line(unfed.file(".bam"))
    assert records(unfed.file(".bam"), ref) == records(from_plain.file(".bam"), ref)


@pytest.mark.skipif(shutil.which("igzip") is None, reason="igzip (Debian's isal) must be on PATH")
def test_a_gzipped_file_cut_short_fails_the_step_in_one_line_and_publishes_nothing(
    tmp_path: Path, ref: Path
) -> None:
    (plain,) = make_reads(tmp_path / "reads", TRIMS[:2], paired=False)
    whole = gzip_in_two_members(plain).read_bytes()
    cut = tmp_path / "R1"
    cut.write_bytes(whole[: len(whole) * 3 // 4])  # bwa alone would align the first 3/4 and succeed
    failed = run_fed(tmp_path / "run", ref, [cut], ok=False)
    assert (
        failed.stderr.splitlines()[-1]
        == "seqstack: sample S: igzip could not decompress R1 of lane L1 (above)"
    )
