"""`seqstack run --markdup` and `--output-format cram` end to end, with the real tools on the real
mtDNA reads plus known duplicates (copies of some of its pairs):

* the duplicate counts ``samtools markdup`` published equal ``samtools fixmate -m | sort |
  markdup`` run by hand on the same reads, and the BAM carries that many duplicate flags;
* the CRAM run publishes CRAM + CRAI (no BAM), records the reference (resolved path, SHA-256) in
  run.json, and decodes with that reference to the BAM run's records;
* a CRAM run whose reference is in a temporary folder is refused in one line, before anything
  is created.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_bam_fragments import by_hand_markdup, duplicates_flagged, make_reads, markdup_stats, records
from tests.test_e2e_local import TOOLS, Result, run
from tests.testdata import MTDNA_FASTA
from workflows.cram import temporary_folders

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        any(shutil.which(t) is None for t in TOOLS), reason="fastqc, bwa and samtools must be on PATH"
    ),
]

SAMPLE = "HG00152"
COPIES = 400


class Runs:
    """One sheet, run twice: ``--markdup`` (BAM) and ``--markdup --output-format cram``."""

    def __init__(self, base: Path) -> None:
        self.base = base
        plain = make_reads(base / "reads", (0,), copies=COPIES)
        self.reads = []
        for path in plain:  # gzipped, as a facility delivers them
            gz = path.with_suffix(".fastq.gz")
            with path.open("rb") as src, gzip.open(gz, "wb") as dst:
                shutil.copyfileobj(src, dst)
            self.reads.append(gz)
        self.ref = base / "ref" / "ref.fa"
        self.ref.parent.mkdir()
        shutil.copy(MTDNA_FASTA, self.ref)
        self.sheet = base / "sheet.csv"
        self.sheet.write_text(f"sample,fastq_1,fastq_2\n{SAMPLE},{self.reads[0]},{self.reads[1]}\n")
        self.bam = run(self.sheet, self.ref, base / "bam", markdup=True)
        # Everything here is under pytest's temporary folder, which a real run refuses for CRAM
        # (test below): this one lets it, to check what the CRAM run writes.
        self.cram = run(
            self.sheet, self.ref, base / "cram", markdup=True, output_format="cram", temporary_folders=()
        )

    def sample_dir(self, result: Result) -> Path:
        return result.outdir / "samples" / SAMPLE


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    return Runs(tmp_path_factory.mktemp("align-options"))


def test_markdup_run_publishes_the_duplicate_counts_samtools_gives_by_hand(runs: Runs) -> None:
    result = runs.bam
    assert result.code == 0, result.out + result.err
    assert result.record["alignment"] == {"markdup": True, "outputFormat": "bam"}
    folder = runs.sample_dir(result)
    stats = markdup_stats(folder / f"{SAMPLE}.markdup.txt")
    hand, _ = by_hand_markdup(runs.base / "hand", runs.ref, runs.reads)
    assert stats == hand
    assert int(stats["DUPLICATE PAIR"]) >= 2 * COPIES  # every copied pair, and its two reads
    bam = folder / f"{SAMPLE}.bam"
    assert duplicates_flagged(bam, runs.ref) == int(stats["DUPLICATE TOTAL"])
    # The same stats in the run's flat metrics folder, for the report.
    (metrics,) = (result.outdir / ".metrics").glob(f"*/{SAMPLE}.markdup.txt")
    assert metrics.read_text() == (folder / f"{SAMPLE}.markdup.txt").read_text()
    assert not list(folder.glob("*.cram*"))


def test_cram_run_records_its_reference_and_decodes_to_the_bam_runs_records(runs: Runs) -> None:
    result = runs.cram
    assert result.code == 0, result.out + result.err
    folder = runs.sample_dir(result)
    names = sorted(p.name for p in folder.iterdir() if p.is_file())
    assert names == sorted(
        f"{SAMPLE}{ext}"
        for ext in (".cram", ".cram.crai", ".flagstat.txt", ".stats.txt", ".markdup.txt", ".qc.json")
    )
    recorded = result.record["alignment"]
    fasta = runs.ref.resolve()
    assert recorded == {
        "markdup": True,
        "outputFormat": "cram",
        "cramReference": {"path": str(fasta), "sha256": hashlib.sha256(fasta.read_bytes()).hexdigest()},
    }
    assert result.record["samples"][SAMPLE]["bam"] == str(folder / f"{SAMPLE}.cram")
    assert "CRAMs:" in result.out
    cram_records = records(folder / f"{SAMPLE}.cram", Path(recorded["cramReference"]["path"]))
    bam_records = records(runs.sample_dir(runs.bam) / f"{SAMPLE}.bam", runs.ref)
    assert cram_records == bam_records
    assert (folder / f"{SAMPLE}.markdup.txt").read_text().split("\n", 1)[1] == (
        runs.sample_dir(runs.bam) / f"{SAMPLE}.markdup.txt"
    ).read_text().split("\n", 1)[1]  # the same stats, the COMMAND line (file names) aside


def test_cram_with_a_reference_in_a_temporary_folder_is_refused_in_one_line(
    runs: Runs, tmp_path: Path
) -> None:
    assert any(f in runs.ref.resolve().parents for f in temporary_folders())  # pytest's tmp is one
    out = tmp_path / "results"
    code, err = run_refused(runs.sheet, runs.ref, out)
    assert code == 2
    lines = err.strip().splitlines()
    assert lines == [
        f"error: --output-format cram: the reference {runs.ref} is in the temporary folder "
        f"{next(f for f in temporary_folders() if f in runs.ref.resolve().parents)}, which will not "
        "keep it; a CRAM cannot be read without it: put the reference somewhere permanent, or write BAM"
    ]
    assert not out.exists()


def run_refused(sheet: Path, ref: Path, out: Path) -> tuple[int, str]:
    """`seqstack run --output-format cram` as a user runs it (no test hook), in a process."""
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, COLUMNS="400")
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "seqstack", "run", "--samples", str(sheet), "--reference", str(ref)),
            *("--outdir", str(out), "--output-format", "cram"),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    return proc.returncode, proc.stderr
