"""What ``seqstack run`` loads before it starts reading the FASTQ files: the check overlaps the
reference indexing and Hera's import (behind ``render``) only if Hera is not imported first."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_run_module_does_not_import_hera_before_the_input_check() -> None:
    probe = (
        "import sys\n"
        "import seqstack.cmd_local, workflows.local.run, workflows.local.fastq\n"
        "print(sorted(m for m in sys.modules if m == 'hera' or m.startswith('hera.')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]", out[:300]


def probe_modules(code: str, tmp_path: Path) -> str:
    """Run ``code`` in a fresh interpreter with a small good pair at R1, R2 (plain names)."""
    r1, r2 = tmp_path / "a_R1.fastq", tmp_path / "a_R2.fastq"
    r1.write_bytes(b"".join(b"@r%d\nACGT\n+\nIIII\n" % i for i in range(100)))
    r2.write_bytes(b"".join(b"@r%d\nTTGC\n+\nIIII\n" % i for i in range(100)))
    prelude = f"import io, json, sys\nfrom workflows.local import fastq\nR1, R2 = {str(r1)!r}, {str(r2)!r}\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_numpy_is_imported_by_checker_processes_for_large_files_only(tmp_path: Path) -> None:
    # numpy's import (about 0.15 s of CPU) pays only on large files: seqstack's own process checks
    # small sheets with lists of lines, and so does a checker process with small files; it scans
    # large ones (here: every file) with numpy.
    in_run = probe_modules(
        "from tests.sheets import paired\n"
        "with fastq.checking_pairs([paired('a', R1, R2, 2)], cpus=2) as answer:\n"
        "    assert answer().problems == {}\n"
        "print('numpy' in sys.modules)\n",
        tmp_path,
    )
    assert in_run == "False"
    serve = (
        "replies = io.StringIO()\n"
        "fastq.serve(io.StringIO(json.dumps(['a', 'R1', R1]) + '\\n'), replies)\n"
        "print(json.loads(replies.getvalue())['reads'], 'numpy' in sys.modules)\n"
    )
    assert probe_modules(serve, tmp_path) == "100 False"
    assert probe_modules("fastq.VECTORIZED_BYTES = 0\n" + serve, tmp_path) == "100 True"
