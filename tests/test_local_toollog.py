"""The cause of a failed task is the tool's own first error line, not the last symptom
(workflows/local/toollog.py), checked on logs the real tools write."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from workflows.local.toollog import first_error, first_error_line

FASTQC_LOG = """Started analysis of bad.fq
Analysis complete for bad.fq
Failed to process file bad.fq
java.lang.IllegalArgumentException: No known encodings with chars < 33 (Yours was )
\tat uk.ac.babraham.FastQC.Sequence.QualityEncoding.PhredEncoding.getOffset(PhredEncoding.java:32)
\tat java.base/java.lang.Thread.run(Thread.java:840)
mv: cannot stat '/w/out/s1_R1_fastqc.html': No such file or directory
"""

SORT_LOG = """[M::bwa_idx_load_from_disk] read 0 ALT contigs
[W::sam_hdr_create] Duplicated sequence "a" in file "-"
[E::sam_hrecs_update_hashes] Duplicate entry "a" in sam header
samtools sort: failed to change sort order header to 'SO:coordinate'
"""


def test_the_cause_comes_before_the_symptom() -> None:
    assert first_error_line(FASTQC_LOG) == (
        "java.lang.IllegalArgumentException: No known encodings with chars < 33 (Yours was )"
    )
    assert first_error_line(SORT_LOG) == '[E::sam_hrecs_update_hashes] Duplicate entry "a" in sam header'
    full = "[M::process] read 10 sequences\ncat: write error: No space left on device\nmv: cannot stat 'x'\n"
    assert first_error_line(full) == "cat: write error: No space left on device"
    assert first_error_line("[fread] Unexpected end of file\nsamtools sort: failed to read header\n") == (
        "[fread] Unexpected end of file"
    )
    traceback = "Traceback (most recent call last):\n  File \"x\", line 1\nKeyError: 'Basic Statistics'\n"
    assert first_error_line(traceback) == "KeyError: 'Basic Statistics'"
    # Nothing recognisable: the last line, as before.
    assert first_error_line("starting\nhalfway\n") == "halfway"
    assert first_error_line("") == ""


def test_a_missing_log_gives_no_cause(tmp_path: Path) -> None:
    assert first_error(tmp_path / "none.log") == ""


@pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("fastqc", "bwa", "samtools")), reason="needs fastqc, bwa, samtools"
)
def test_real_tool_logs(tmp_path: Path) -> None:
    # FastQC on qualities below '!' dies with an exception, then the script's mv fails.
    fq = tmp_path / "bad.fq"
    fq.write_bytes(b"@r1\nACGTACGTAC\n+\nIIIIIIIIII\n@r2\nACGT\n+\n\x01III\n")
    log = tmp_path / "fastqc.log"
    script = f"fastqc --quiet -o {tmp_path} {fq}; mv {tmp_path}/bad_fastqc.html {tmp_path}/x.html"
    subprocess.run(["bash", "-c", script], stdout=log.open("wb"), stderr=subprocess.STDOUT, check=False)
    assert "Exception: " in first_error(log) and "mv:" not in first_error(log), log.read_text()
    # Two contigs of the same name: htslib's [E::...] line, not sort's closing complaint.
    ref = tmp_path / "dup.fa"
    ref.write_text(">a\nACGTACGTACGTAGCTAGCTAGCATCGATCGAT\n>a\nACGATCGATCGATCGATCGATGCTAGCTAGCTAGC\n")
    subprocess.run(["bwa", "index", str(ref)], capture_output=True, check=True)
    reads = tmp_path / "r.fq"
    reads.write_text("@r1\nACGTACGTACGTAGCTAGCTAG\n+\nIIIIIIIIIIIIIIIIIIIIII\n")
    log = tmp_path / "align.log"
    script = f"set -o pipefail; bwa mem {ref} {reads} | samtools sort -o {tmp_path}/x.bam -"
    subprocess.run(["bash", "-c", script], stdout=log.open("wb"), stderr=subprocess.STDOUT, check=False)
    assert first_error(log).startswith("[E::"), log.read_text()
    assert "Duplicate entry" in first_error(log)
