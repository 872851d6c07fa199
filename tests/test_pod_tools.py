"""The shims of emulated pods (:func:`workflows.local.pod_tools.make_shims`): a uid that cannot
run this interpreter gets ``python3`` and this interpreter's console scripts through another
Python of the same version."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from workflows.local.pod_tools import make_shims


def test_shims_rewrite_this_interpreters_scripts_and_skip_everything_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bindir = tmp_path / "venv" / "bin"
    bindir.mkdir(parents=True)
    (bindir / "python").write_bytes(b"\x7fELF\x02\x01")
    monkeypatch.setattr(sys, "executable", str(bindir / "python"))
    (bindir / "multiqc").write_text(f"#!{bindir}/python\nimport sys\nsys.exit(0)\n")
    (bindir / "activate").write_text("# sourced, not run\n")
    (bindir / "other").write_text("#!/usr/bin/env bash\necho other\n")
    # A binary (ruff's is 25 MB): no shebang, only its first line is read.
    (bindir / "ruff").write_bytes(b"\x7fELF" + bytes(2 * 1024 * 1024))
    shims = tmp_path / "shims"

    make_shims(shims, "/usr/bin/python3.11")

    assert sorted(p.name for p in shims.iterdir()) == sorted(
        ["python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}", "multiqc"]
    )
    assert (shims / "python3").readlink() == Path("/usr/bin/python3.11")
    assert (shims / "multiqc").read_text() == f"#!{shims}/python3\nimport sys\nsys.exit(0)\n"
    assert (shims / "multiqc").stat().st_mode & 0o777 == 0o755
