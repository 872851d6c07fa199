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
