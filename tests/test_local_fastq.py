"""Input checks before a local run (no tools needed): each bad FASTQ pair or reference gives one
line naming the sample and the file; good pairs pass; the demo data is deterministic."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from pathlib import Path

import pytest

from tests.sheets import paired
from tests.testdata import MTDNA_FASTA, MTDNA_R1, MTDNA_R2
from workflows.local import fastq
from workflows.local.demo import DemoSample, generate
from workflows.local.fastq import (
    InputError,
    PairSummary,
    check_pair,
    compare_pair,
    main,
    summarize,
)
from workflows.local.reference import check_fasta


def records(n: int, start: int = 1, suffix: str = "", mate: int = 1) -> bytes:
    """Reads r<start>.. ; R2's (``mate=2``) sequences differ from R1's, as in a real pair."""
    seq = b"ACGTN" if mate == 1 else b"TTGCA"
    return b"".join(
        b"@r%d%s extra\n%s\n+\nIIII#\n" % (i, suffix.encode(), seq) for i in range(start, start + n)
    )


def write(path: Path, data: bytes, compress: bool = True) -> Path:
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path


def test_good_pair_counts_reads_and_accepts_mate_suffixes_and_plain_text(tmp_path: Path) -> None:
    r1 = write(tmp_path / "a_R1.fastq.gz", records(1000, suffix="/1"))
    r2 = write(tmp_path / "a_R2.fastq", records(1000, suffix="/2", mate=2), compress=False)
    assert check_pair("a", r1, r2).reads == 1000


def truncate(path: Path, nbytes: int) -> None:
    path.write_bytes(path.read_bytes()[:-nbytes])


# Each case: how to break R1/R2, and what the one line must say.
CASES = {
    "truncated gzip": (lambda d: truncate(d / "R1.fastq.gz", 2000), "R1", "truncated gzip"),
    "count mismatch": (
        lambda d: write(d / "R2.fastq.gz", records(4999, mate=2)),
        "R2",
        "R1 has 5000 reads but R2 has 4999",
    ),
    "names out of step": (
        lambda d: write(
            d / "R2.fastq.gz", records(10, mate=2) + records(1, 12, mate=2) + records(4989, 11, mate=2)
        ),
        "R2",
        "read names out of step with R1 at read 11 ('r11' vs 'r12')",
    ),
    "empty FASTQ": (lambda d: write(d / "R1.fastq.gz", b""), "R1", "empty FASTQ (no reads)"),
    "not FASTQ": (
        lambda d: write(d / "R2.fastq.gz", b">chr1\nACGT\n", compress=False),
        "R2",
        "not a FASTQ file",
    ),
    "missing file": (lambda d: (d / "R1.fastq.gz").unlink(), "R1", "file not found"),
    "broken record": (
        lambda d: write(d / "R1.fastq.gz", records(100) + b"@x\nACGT\n+\nII\n" + records(3, 200)),
        "R1",
        "record 101: sequence and quality lengths differ",
    ),
    # Record 101 lacks its '+' line: every later record is shifted, but 101 is the one named.
    "missing plus line": (
        lambda d: write(d / "R1.fastq.gz", records(100) + b"@x\nACGTN\nIIII#\n" + records(4899, 102)),
        "R1",
        "record 101: third line does not start with '+'",
    ),
    # '@' alone, or a blank after it: bwa would name the read '' in the BAM.
    "empty read name": (
        lambda d: write(
            d / "R1.fastq.gz",
            records(50) + b"@\nACGTN\n+\nIIII#\n" + b"@ r52\nACGTN\n+\nIIII#\n" + records(4948, 53),
        ),
        "R1",
        "record 51: empty read name",
    ),
    # FastQC dies on it and the sample failed later with "mv: cannot stat ...fastqc.html".
    "bad quality character": (
        lambda d: write(d / "R1.fastq.gz", records(100) + b"@x\nACGTN\n+\nII I#\n" + records(4899, 102)),
        "R1",
        "record 101: quality character ' ' is not one of '!' to '~'",
    ),
    # Above '~' (a header may hold such bytes, a quality may not).
    "quality character above '~'": (
        lambda d: write(
            d / "R1.fastq.gz", records(100) + b"@x \xff\nACGTN\n+\nIII\x7f#\n" + records(4899, 102)
        ),
        "R1",
        "record 101: quality character '\\x7f' is not one of '!' to '~'",
    ),
    "R2 a copy of R1": (
        lambda d: (d / "R2.fastq.gz").write_bytes((d / "R1.fastq.gz").read_bytes()),
        "R2",
        "same sequences and qualities as R1 {r1} (a copy of R1?)",  # {r1}: R1's path
    ),
}


def by_summaries(sample: str, r1: Path, r2: Path, vectorized: bool = False) -> PairSummary:
    """The way `seqstack run` checks: each file on its own, then compared (small files in its own
    process, with lists of lines; larger ones in checker processes, vectorized)."""
    one = summarize(sample, "R1", r1, vectorized=vectorized)
    return compare_pair(sample, r1, r2, one, summarize(sample, "R2", r2, vectorized=vectorized))


def by_vectorized_summaries(sample: str, r1: Path, r2: Path) -> PairSummary:
    return by_summaries(sample, r1, r2, vectorized=True)


CHECKS = {"lockstep": check_pair, "summaries": by_summaries, "vectorized": by_vectorized_summaries}


@pytest.mark.parametrize("check", sorted(CHECKS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_pair_gives_one_line_naming_sample_and_file(tmp_path: Path, case: str, check: str) -> None:
    write(tmp_path / "R1.fastq.gz", records(5000))
    write(tmp_path / "R2.fastq.gz", records(5000, mate=2))
    breaker, which, expected = CASES[case]
    breaker(tmp_path)
    with pytest.raises(InputError) as err:
        CHECKS[check]("s1", tmp_path / "R1.fastq.gz", tmp_path / "R2.fastq.gz")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"sample s1: {which} {tmp_path / f'{which}.fastq.gz'}") or message.startswith(
        f"sample s1: {tmp_path / f'{which}.fastq.gz'}"
    ), message
    assert expected.format(r1=tmp_path / "R1.fastq.gz") in message, message


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_a_last_record_without_final_newline_is_whole_unless_cut(tmp_path: Path, check: str) -> None:
    r1 = write(tmp_path / "R1.fastq.gz", records(5000).rstrip(b"\n"))
    r2 = write(tmp_path / "R2.fastq", records(5000, mate=2).rstrip(b"\n"), compress=False)
    assert CHECKS[check]("s1", r1, r2).reads == 5000
    write(tmp_path / "R2.fastq", records(5000, mate=2)[:-3], compress=False)  # quality cut short
    with pytest.raises(InputError, match=r"R2 .*: truncated FASTQ \(incomplete record after read 4999\)"):
        CHECKS[check]("s1", r1, r2)


def test_summaries_compare_names_across_runs_of_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 70,000 reads: two runs of digested names; the swap is in the second run. Small read
    # blocks, so records and runs of names are carried from block to block.
    monkeypatch.setattr(fastq, "_BLOCK", 4096)
    r1 = write(tmp_path / "R1.fastq.gz", records(70_000, suffix="/1"))
    mate = write(tmp_path / "R2.fastq.gz", records(70_000, suffix="/2", mate=2))
    assert by_summaries("s1", r1, mate).reads == 70_000
    r2 = write(
        tmp_path / "R2.fastq.gz",
        records(69_000, mate=2) + records(1, 69_002, mate=2) + records(999, 69_001, mate=2),
    )
    assert len(summarize("s1", "R2", r2).names) == 2
    expected = r"read names out of step with R1 at read 69001 \('r69001' vs 'r69002'\)"
    with pytest.raises(InputError, match=expected):
        by_summaries("s1", r1, r2)


# Headers as sequencers and tools write them: comments after a blank or a tab, mate suffixes
# before a comment, a suffix that is not a mate's, a name that is all suffix but one byte, bytes
# above '~' in a comment, a carriage return before the newline.
HEADERS = [
    b"@r{i}",
    b"@r{i}/1",
    b"@r{i} 1:N:0:ACGT",
    b"@r{i}/2\tBC:Z:AC GT",
    b"@r{i}/3",
    b"@x/r{i}/1 c",
    b"@{i}/1",
    b"@r{i} caf\xc3\xa9",
    b"@r{i}\r",
    b"@r{i}\x0bv\x0cw",
]


@pytest.mark.parametrize("header", HEADERS)
def test_the_vectorized_check_summarizes_as_the_lists_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, header: bytes
) -> None:
    # Reads of many lengths, small blocks and short runs: records and runs of names cross blocks;
    # the last record lacks its final newline.
    monkeypatch.setattr(fastq, "_BLOCK", 1000)
    monkeypatch.setattr(fastq, "_RUN", 7)
    reads = b"".join(
        header.replace(b"{i}", b"%d" % i)
        + b"\n"
        + b"ACGT"[: i % 4 + 1] * (i % 9 + 1)
        + b"\n+\n"
        + b"I#"[i % 2 :][:1] * ((i % 4 + 1) * (i % 9 + 1))
        + b"\n"
        for i in range(1, 400)
    )
    path = write(tmp_path / "R1.fastq.gz", reads.rstrip(b"\n"))
    lists = summarize("s1", "R1", path)
    assert lists.reads == 399 and len(lists.names) == 57
    assert summarize("s1", "R1", path, vectorized=True) == lists


def check_in_children(tmp_path: Path, r2_data: bytes, compress: bool = True) -> dict[str, str]:
    """`seqstack run`'s check of one good sample and one with R2 = ``r2_data``, every file read
    by a child process."""
    good = (
        write(tmp_path / "good_R1.fastq.gz", records(3000)),
        write(tmp_path / "good_R2.fastq.gz", records(3000, mate=2)),
    )
    bad = (
        write(tmp_path / "bad_R1.fastq.gz", records(3000)),
        write(tmp_path / "bad_R2.fastq.gz", r2_data, compress),
    )
    samples = [paired("good", str(good[0]), str(good[1]), 2), paired("bad", str(bad[0]), str(bad[1]), 3)]
    with fastq.checking_pairs(samples, cpus=2) as answer:
        return answer().problems


def test_checks_in_child_processes_give_the_same_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fastq, "IN_PROCESS_CHECK_BYTES", 0)
    r2 = tmp_path / "bad_R2.fastq.gz"
    dropped = records(4, mate=2) + records(2995, 6, mate=2)
    assert check_in_children(tmp_path, dropped) == {
        "bad": f"sample bad: {r2}: read names out of step with R1 at read 5 ('r5' vs 'r6')"
    }
    copy = check_in_children(tmp_path, records(3000))  # R2 = R1 byte for byte
    assert copy == {
        "bad": f"sample bad: {r2}: R2 has the same sequences and qualities as R1 "
        f"{tmp_path / 'bad_R1.fastq.gz'} (a copy of R1?)"
    }
    truncated = gzip.compress(records(3000, mate=2), mtime=0)[:-2000]
    problems = check_in_children(tmp_path, truncated, compress=False)
    assert list(problems) == ["bad"] and problems["bad"].startswith(f"sample bad: R2 {r2}: truncated gzip")


def test_many_files_are_read_by_one_checker_process_per_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fastq, "IN_PROCESS_CHECK_BYTES", 0)
    started: list[fastq._Checker] = []

    class Counted(fastq._Checker):
        def __init__(self) -> None:
            super().__init__()
            started.append(self)

    monkeypatch.setattr(fastq, "_Checker", Counted)
    samples = []
    for i in range(6):
        r1 = write(tmp_path / f"s{i}_R1.fastq.gz", records(50))
        r2 = write(tmp_path / f"s{i}_R2.fastq.gz", records(50 if i != 4 else 49, mate=2))
        samples.append(paired(f"s{i}", str(r1), str(r2), i + 2))
    with fastq.checking_pairs(samples, cpus=2) as answer:
        problems = answer().problems
    assert problems == {"s4": f"sample s4: {tmp_path / 's4_R2.fastq.gz'}: R1 has 50 reads but R2 has 49"}
    assert 1 <= len(started) <= 2  # 12 files, 2 cores: 2 processes at most, not 12
    assert all(c.proc.poll() is not None for c in started)  # and none is left behind


def test_a_checker_process_that_dies_names_the_file_and_the_next_file_gets_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fastq, "IN_PROCESS_CHECK_BYTES", 0)

    class Dies(fastq._Checker):
        def summarize(
            self, sample: str, label: str, path: str, copy: fastq.PlainCopy | None
        ) -> fastq.FileSummary | str:
            if path.endswith("s1_R2.fastq.gz"):  # killed (say, out of memory) while reading it
                self.proc.kill()
                self.proc.wait()
            return super().summarize(sample, label, path, copy)

    monkeypatch.setattr(fastq, "_Checker", Dies)
    samples = []
    for i in range(3):
        r1 = write(tmp_path / f"s{i}_R1.fastq.gz", records(50))
        r2 = write(tmp_path / f"s{i}_R2.fastq.gz", records(50, mate=2))
        samples.append(paired(f"s{i}", str(r1), str(r2), i + 2))
    with fastq.checking_pairs(samples, cpus=1) as answer:  # one thread: files in turn
        problems = answer().problems
    assert problems == {
        "s1": f"sample s1: R2 {tmp_path / 's1_R2.fastq.gz'}: the check failed (exit code -9: no message)"
    }


def test_the_serve_loop_answers_each_request_with_one_line(tmp_path: Path) -> None:
    good = write(tmp_path / "R1.fastq.gz", records(10))
    empty = write(tmp_path / "R2.fastq.gz", b"")
    requests = io.StringIO(
        json.dumps(["s1", "R1", str(good)]) + "\n" + json.dumps(["s1", "R2", str(empty)]) + "\n"
    )
    replies = io.StringIO()
    fastq.serve(requests, replies)
    first, second = (json.loads(line) for line in replies.getvalue().splitlines())
    assert first["reads"] == 10 and len(first["names"]) == 1
    assert second == {"problem": f"sample s1: R2 {empty}: empty FASTQ (no reads)"}


def test_a_module_in_the_current_directory_cannot_stand_in_for_the_checker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without `python -P`, the child would import this hashlib.py from its working directory.
    (tmp_path / "hashlib.py").write_text("raise SystemExit('shadowed')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(fastq, "IN_PROCESS_CHECK_BYTES", 0)
    assert check_in_children(tmp_path, records(3000, mate=2)) == {}


def test_the_check_process_entry_prints_a_summary_or_the_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path / "R1.fastq.gz", records(10))
    assert main(["s1", "R1", str(good)]) == 0
    assert json.loads(capsys.readouterr().out)["reads"] == 10
    empty = write(tmp_path / "R2.fastq.gz", b"")
    assert main(["s1", "R2", str(empty)]) == 1
    assert capsys.readouterr().out == f"sample s1: R2 {empty}: empty FASTQ (no reads)\n"
    assert main(["s1", "R3", str(good)]) == 2
    assert main(["s1", str(good)]) == 2


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "file not found"),
        (b"", "empty file"),
        (b"@r1\nACGT\n+\nIIII\n", "first line does not start with '>'"),
        (b">chr1\nACGT\nHELLO WORLD\nACGT\n", "non-nucleotide"),
    ],
)
def test_bad_reference_is_named(tmp_path: Path, content: bytes | None, expected: str) -> None:
    ref = tmp_path / "ref.fa"
    if content is not None:
        ref.write_bytes(content)
    with pytest.raises(InputError) as err:
        check_fasta(ref)
    assert str(err.value).startswith(f"reference {ref}: ") and expected in str(err.value)


def test_real_reads_and_reference_pass() -> None:
    summary = check_pair("HG00152", MTDNA_R1, MTDNA_R2)
    assert summary.reads == 5053  # as PROVENANCE.md states
    check_fasta(MTDNA_FASTA)


def test_demo_data_is_deterministic_and_realistic(tmp_path: Path) -> None:
    samples = [DemoSample("good", 500, 38, 31), DemoSample("bad", 500, 36, 6)]
    a = generate(tmp_path / "a", samples=samples)
    b = generate(tmp_path / "b", samples=samples)
    digest = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / "a").iterdir()}
    assert digest == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / "b").iterdir()}
    assert check_pair("good", *a.reads["good"]).reads == 500
    check_fasta(a.reference)
    ref_len = sum(len(line) for line in a.reference.read_text().splitlines() if not line.startswith(">"))
    assert 30_000 <= ref_len <= 60_000
    # Qualities decay along the read; the bad sample's 3' end collapses below Q20 (FastQC's FAIL).
    lines = gzip.decompress(b.reads["bad"][0].read_bytes()).decode().splitlines()
    quals = [[ord(c) - 33 for c in q] for q in lines[3::4]]
    first = sorted(q[0] for q in quals)[len(quals) // 2]
    last = sorted(q[-1] for q in quals)[len(quals) // 2]
    assert first >= 30 and last < 20
    assert any("N" in s for s in lines[1::4])


def test_every_lane_is_checked_and_a_single_end_lane_alone(tmp_path: Path) -> None:
    """Lanes of one sample are checked pair by pair; a single-end lane has no R2 to compare; a
    bad lane fails its sample (named once), the other samples run."""
    from workflows.sheet import Lane, Sample

    f = {
        name: write(tmp_path / f"{name}.fastq.gz", data)
        for name, data in {
            "a1": records(300),
            "a2": records(300, mate=2),
            "b1": records(200),
            "b2": records(199, mate=2),
            "se": records(100),
        }.items()
    }
    lanes = (Lane("1", str(f["a1"]), str(f["a2"]), 2), Lane("2", str(f["b1"]), str(f["b2"]), 3))
    samples = [Sample("two", lanes, 2), Sample("se", (Lane("1", str(f["se"]), "", 4),), 4)]
    with fastq.checking_pairs(samples, cpus=2) as answer:
        problems = answer().problems
    assert list(problems) == ["two"] and "R1 has 200 reads but R2 has 199" in problems["two"]


@pytest.mark.parametrize("comments", [True, False])
def test_block_names_are_the_record_names_whatever_the_headers(comments: bool) -> None:
    """The block-wise name extraction (two paths: headers with and without comments) gives
    exactly what the per-record rule gives: first word, mate suffix /1 or /2 removed, empty
    when a blank follows '@'; a header without '@' makes the block fail the fast check."""
    heads = [b"@r1/1", b"@r2/2", b"@r3/12", b"@r4/", b"@/1", b"@", b"@a@b", b"@x/1\r", b"@y2"]
    if comments:
        heads += [b"@r5/1 1:N:0", b"@r6\tc", b"@ blank", b"@r7/2\x0bv", b"@r8 /1"]
    assert fastq._names(heads) == [fastq._name(h) for h in heads]
    assert fastq._names([b"@r1", b"r2"]) == [] and fastq._names([b"+r1"]) == []


# --- the check's plain copies of gzipped inputs (what `seqstack run` stages for the tools) ---


@pytest.mark.parametrize("vectorized", [False, True])
def test_a_good_gzipped_file_leaves_a_plain_copy_of_exactly_its_bytes(
    tmp_path: Path, vectorized: bool
) -> None:
    data = records(3000) + b"@last\nACGT\n+\nIIII"  # the last record without its final newline
    path = write(tmp_path / "R1.fastq.gz", data)
    copy = tmp_path / "copies" / "R1.fastq"
    copy.parent.mkdir()
    summary = summarize("s", "R1", path, vectorized=vectorized, copy=fastq.PlainCopy(copy, 10 * len(data)))
    assert summary.reads == 3001 and summary.decompressed == str(copy)
    assert copy.read_bytes() == data
    assert sorted(p.name for p in copy.parent.iterdir()) == ["R1.fastq"]  # no .part left


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: truncate(p, 2000),  # a truncated gzip
        lambda p: write(p, records(3000) + b"@bad\nACGT\n+\nII\n"),  # a broken last record
    ],
)
def test_a_bad_file_leaves_no_copy_and_no_part(tmp_path: Path, damage: object) -> None:
    path = write(tmp_path / "R1.fastq.gz", records(3000))
    damage(path)  # type: ignore[operator]
    copy = tmp_path / "R1.fastq"
    with pytest.raises(InputError):
        summarize("s", "R1", path, copy=fastq.PlainCopy(copy, 1 << 30))
    assert list(tmp_path.iterdir()) == [path]


def test_a_file_larger_than_its_allowance_or_not_gzipped_gets_no_copy(tmp_path: Path) -> None:
    data = records(3000)
    big = write(tmp_path / "R1.fastq.gz", data)
    plain = write(tmp_path / "R2.fastq", records(3000, mate=2), compress=False)
    copies = tmp_path / "copies"
    copies.mkdir()
    small = summarize("s", "R1", big, copy=fastq.PlainCopy(copies / "R1.fastq", len(data) - 1))
    text = summarize("s", "R2", plain, copy=fastq.PlainCopy(copies / "R2.fastq", 1 << 30))
    assert (small.reads, small.decompressed, text.reads, text.decompressed) == (3000, "", 3000, "")
    assert list(copies.iterdir()) == []


def varied(n: int, start: int = 1, mate: int = 1) -> bytes:
    """Reads r<start>.. with pseudo-random 100 bp sequences and qualities: gzip expands them about
    as it does real reads (3-4 times), where :func:`records`' repeats expand far more."""
    out = []
    for i in range(start, start + n):
        digest = b"".join(hashlib.sha256(b"%d %d %d" % (mate, i, k)).digest() for k in range(4))[:100]
        seq = bytes(b"ACGT"[d % 4] for d in digest)
        qual = bytes(33 + d % 41 for d in digest)
        out.append(b"@r%d\n%s\n+\n%s\n" % (i, seq, qual))
    return b"".join(out)


@pytest.mark.parametrize("in_children", [False, True])
def test_checking_pairs_keeps_the_good_samples_copies_within_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_children: bool
) -> None:
    if in_children:
        monkeypatch.setattr(fastq, "IN_PROCESS_CHECK_BYTES", 0)
    data = {
        "good": (varied(3000), varied(3000, mate=2)),
        "bad": (varied(3000), varied(3000, start=2, mate=2)),  # names out of step
        "late": (varied(3000, start=7), varied(3000, start=7, mate=2)),
    }
    samples = []
    for i, (name, (one, two)) in enumerate(data.items()):
        r1, r2 = write(tmp_path / f"{name}_R1.fastq.gz", one), write(tmp_path / f"{name}_R2.fastq.gz", two)
        samples.append(paired(name, str(r1), str(r2), i + 2))
    sizes = [(tmp_path / f"{n}_{r}.fastq.gz").stat().st_size for n in data for r in ("R1", "R2")]
    # Room for the allowances of the first four files (good's and bad's), not the last two.
    budget = sum(sizes[:4]) * fastq.PLAIN_EXPANSION
    copies = fastq.PlainCopies(tmp_path / "copies", budget, file_limit=max(sizes) * fastq.PLAIN_EXPANSION)
    with fastq.checking_pairs(samples, cpus=2, plain=copies) as answer:
        checked = answer()
    assert set(checked.problems) == {"bad"}
    kept = {Path(k).name: v.read_bytes() for k, v in checked.decompressed.items()}
    assert kept == {"good_R1.fastq.gz": data["good"][0], "good_R2.fastq.gz": data["good"][1]}
    # The bad sample's copies are gone, the late one never had any.
    assert sorted(copies.folder.iterdir()) == sorted(checked.decompressed.values())


def test_the_serve_loop_keeps_a_copy_when_asked(tmp_path: Path) -> None:
    data = records(10)
    good = write(tmp_path / "R1.fastq.gz", data)
    copy = tmp_path / "R1.fastq"
    requests = io.StringIO(json.dumps(["s1", "R1", str(good), str(copy), 1000]) + "\n")
    replies = io.StringIO()
    fastq.serve(requests, replies)
    reply = json.loads(replies.getvalue())
    assert (reply["reads"], reply["decompressed"]) == (10, str(copy)) and copy.read_bytes() == data


def test_no_copy_is_planned_for_a_file_allowed_more_than_one_copy_may_take(tmp_path: Path) -> None:
    small = write(tmp_path / "small.fastq.gz", varied(100))
    large = write(tmp_path / "large.fastq.gz", varied(1000))
    plain = write(tmp_path / "plain.fastq", varied(10), compress=False)
    limit = small.stat().st_size * fastq.PLAIN_EXPANSION
    planned = fastq.PlainCopies(tmp_path / "copies", budget=1 << 40, file_limit=limit).plan(
        [str(large), str(small), str(plain)]
    )
    assert list(planned) == [str(small)] and planned[str(small)].limit == limit
