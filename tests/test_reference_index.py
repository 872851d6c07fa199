"""An aligner index is tied to the FASTA it was built from (local runs and cloud submits): another
FASTA's index, or a cut one, is rebuilt when seqstack built it and refused (one line naming both
files) when the user did; bwa's file sizes are predicted exactly (checked against the real bwa)."""

from __future__ import annotations

import io
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from workflows.fasta import FastaError, bwa_file_sizes, parse_ann, remote_problem, scan_fasta
from workflows.local.fastq import InputError
from workflows.local.reference import OWN_MARK, ensure_index

pytestmark = pytest.mark.skipif(shutil.which("bwa") is None, reason="bwa must be on PATH")


def fasta(path: Path, contigs: dict[str, int], seed: int = 1, width: int = 60) -> Path:
    rng = random.Random(seed)
    with path.open("w") as f:
        for name, length in contigs.items():
            seq = "".join(rng.choice("ACGT") for _ in range(length))
            f.write(f">{name} test contig\n")
            f.writelines(seq[i : i + width] + "\n" for i in range(0, length, width))
    return path


def bwa_index(ref: Path) -> None:
    subprocess.run(["bwa", "index", str(ref)], check=True, capture_output=True)


def newer(path: Path, than: Path) -> None:
    """Make ``path``'s files look built after ``than`` (as a copied-in index would)."""
    later = than.stat().st_mtime + 10
    for p in path.parent.glob(path.name + ".*"):
        os.utime(p, (later, later))


@pytest.fixture
def bwa_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The index built and checked here is bwa's, whatever else is installed."""
    monkeypatch.setattr("workflows.local.reference.pick_aligner", lambda: "bwa")


def test_a_users_index_of_another_fasta_is_refused_naming_both_files(tmp_path: Path, bwa_only: None) -> None:
    ref = fasta(tmp_path / "ref.fa", {"chrM": 3000})
    other = fasta(tmp_path / "other.fa", {"chrM": 2500}, seed=2)
    bwa_index(other)
    for suffix in (".amb", ".ann", ".bwt", ".pac", ".sa"):
        shutil.copy(f"{other}{suffix}", f"{ref}{suffix}")
    newer(ref, ref)
    with pytest.raises(InputError) as err:
        ensure_index(ref, tmp_path / "cache")
    message = str(err.value)
    assert message.startswith(f"reference {ref}: the index {ref}.ann does not match it ")
    assert "contig chrM has 3000 bases in the FASTA, 2500 in the index" in message and "\n" not in message
    assert Path(f"{ref}.ann").read_bytes() == Path(f"{other}.ann").read_bytes()  # left alone


def test_seqstacks_own_index_is_rebuilt_when_the_fasta_changed(tmp_path: Path, bwa_only: None) -> None:
    ref = fasta(tmp_path / "ref.fa", {"chr1": 2000, "chr2": 700})
    first = ensure_index(ref, tmp_path / "cache")
    assert first.built and Path(f"{ref}{OWN_MARK}").exists()
    assert ensure_index(ref, tmp_path / "cache").built is False
    fasta(ref, {"chr1": 2000, "chr3": 900}, seed=3)  # another assembly under the same name
    newer(ref, ref)  # the old index still looks newer than the FASTA
    again = ensure_index(ref, tmp_path / "cache")
    assert again.built
    assert parse_ann(Path(f"{ref}.ann").read_text()).contigs == (("chr1", 2000), ("chr3", 900))


def test_a_cut_index_file_is_named_before_any_alignment(tmp_path: Path, bwa_only: None) -> None:
    ref = fasta(tmp_path / "ref.fa", {"chrM": 5000})
    bwa_index(ref)
    sa = Path(f"{ref}.sa")
    sa.write_bytes(sa.read_bytes()[:-100])
    newer(ref, ref)
    with pytest.raises(
        InputError, match=r"index file \.sa is \d+ bytes, \d+ for this reference \(cut short\?\)"
    ):
        ensure_index(ref, tmp_path / "cache")


@pytest.mark.parametrize("total", [1, 4, 31, 32, 33, 64, 127, 128, 129, 1000, 4099])
def test_bwa_file_sizes_are_what_bwa_writes(tmp_path: Path, total: int) -> None:
    ref = fasta(tmp_path / "ref.fa", {"c": total}, seed=total)
    bwa_index(ref)
    actual = {s: Path(f"{ref}{s}").stat().st_size for s in (".pac", ".bwt", ".sa")}
    assert bwa_file_sizes(total) == actual


def test_contig_lengths_are_counted_as_bwa_counts_them(tmp_path: Path) -> None:
    ref = tmp_path / "odd.fa"
    ref.write_bytes(b">c1 a b\r\nACGTAC\r\nNN-*.\r\n\r\n>c2\tx\nacgtRY\nA\n")  # CRLF, gaps, a blank line
    bwa_index(ref)
    with ref.open("rb") as f:
        assert scan_fasta(f) == parse_ann(Path(f"{ref}.ann").read_text()).contigs == (("c1", 11), ("c2", 7))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b">p\nMKVRSWMKVRSWAAC\n", "only 3 of 15 bases are A, C, G, T or N"),  # protein of IUPAC letters
        (b">a\nACGT\n>b\n>c\nAC\n", "contig b has no sequence"),
        (b"> chr1\nACGT\n", "contig 1 has no name"),
        (b">a\nAC>GT\n", "'>' inside a line"),
    ],
)
def test_fasta_that_would_align_nothing_or_break_the_bam_header(data: bytes, expected: str) -> None:
    with pytest.raises(FastaError, match=expected):
        scan_fasta(io.BytesIO(data))


def test_the_remote_check_compares_the_first_contig_and_the_size(tmp_path: Path) -> None:
    ref = fasta(tmp_path / "ref.fa", {"chr1": 1000, "chr2": 333})
    bwa_index(ref)
    ann = parse_ann(Path(f"{ref}.ann").read_text())
    data = ref.read_bytes()
    assert remote_problem(data[:200], len(data), ann) is None
    assert remote_problem(data[:200], len(data) - 1, ann) is None  # no final newline
    assert remote_problem(data[:200], len(data) + 61, ann) == (
        f"the FASTA is {len(data) + 61} bytes, {len(data)} for the contigs in the index "
        "(2 contig(s), 1333 bases, 60 per line)"
    )
    other = fasta(tmp_path / "other.fa", {"chrX": 1000, "chr2": 333}).read_bytes()
    assert (
        remote_problem(other[:200], len(other), ann)
        == "the FASTA's first contig is chrX, the index's is chr1"
    )
    uneven = b">chr1\nACGT\nAC\nACGTACGT\n"
    assert remote_problem(uneven, 10**6, ann) is None  # lines of uneven width: the size says nothing
