"""`seqstack run` under fault, with the real tools (issue 13): a sample ID that names a run-level
output, a reused output folder, SIGTERM/SIGHUP, a sample that fails after the input check, and
run.json becoming unwritable in the middle of a run. Each would have lost data, hung or said
nothing before."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from tests.test_e2e_local import (
    TOOLS,
    _alive,
    _descendants,
    _named,
    _start,
    _wait_for,
    assert_no_partial_outputs,
    big_sheet,
    run,
)
from workflows.local.demo import DemoSample, generate
from workflows.local.reference import ensure_index
from workflows.local.run import RunOptions, run_pipeline

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        any(shutil.which(t) is None for t in TOOLS), reason="fastqc, bwa and samtools must be on PATH"
    ),
]


def test_a_sample_named_like_a_report_output_keeps_its_outputs(tmp_path: Path) -> None:
    """`multiqc_data` is a valid sample ID; the report's data folder used to replace its folder."""
    data = generate(tmp_path / "data", samples=[DemoSample("multiqc_data", 300, 38, 31)])
    result = run(data.sheet, data.reference, tmp_path / "out")
    assert result.code == 0, result.err
    out = tmp_path / "out"
    sample = out / "samples" / "multiqc_data"
    for name in (
        "multiqc_data.bam",
        "multiqc_data.bam.bai",
        "multiqc_data.flagstat.txt",
        "multiqc_data.qc.json",
    ):
        assert (sample / name).stat().st_size > 0, name
    assert (out / "multiqc_data").is_dir() and (out / "multiqc_report.html").exists()  # the report's
    assert result.record["samples"]["multiqc_data"]["bam"] == str(sample / "multiqc_data.bam")
    assert_no_partial_outputs(out, result.record)


def _fail_bwa(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, line: str) -> None:
    # Where the pods' uid can reach it, as a tool in an image (as root, steps run as uid 1000,
    # and pytest's tmp_path is closed to other users).
    fake = Path(tempfile.mkdtemp(prefix="seqstack-fake-bin-"))
    request.addfinalizer(lambda: shutil.rmtree(fake, ignore_errors=True))
    fake.chmod(0o755)
    (fake / "bwa").write_text(f"#!/bin/sh\necho '{line}' >&2\nexit 1\n")
    (fake / "bwa").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")


def test_a_reused_outdir_is_refused_then_overwritten_or_resumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    data = generate(tmp_path / "data", samples=[DemoSample("a", 300, 38, 31), DemoSample("b", 300, 38, 31)])
    ensure_index(data.reference, tmp_path / "cache")  # with the real bwa, before it is faked below
    out = tmp_path / "out"
    first = run(data.sheet, data.reference, out)
    assert first.code == 0, first.err
    bam_a = out / "samples" / "a" / "a.bam"
    record = (out / "run.json").read_text()

    # Without a flag: one line, exit 2, nothing touched.
    again = run(data.sheet, data.reference, out)
    assert again.code == 2 and again.err.strip().splitlines() == [
        f"error: {out}: holds an earlier run (run.json); use --resume to continue it, "
        "--overwrite to replace it, or another --outdir"
    ]
    assert (out / "run.json").read_text() == record and bam_a.exists()

    # --resume with a sheet that names only b: a's entry stays in run.json, a's outputs stay.
    only_b = tmp_path / "data" / "only_b.csv"  # paths in a sheet are relative to it
    only_b.write_text("\n".join(data.sheet.read_text().splitlines()[0::2]) + "\n")
    assert "a," not in only_b.read_text()
    resumed = run(only_b, data.reference, out, resume=True)
    assert resumed.code == 0, resumed.err
    assert resumed.record["samples"]["a"]["earlierRun"] is True and bam_a.exists()
    assert resumed.task("samples(a)/align(a)")["status"] == "Succeeded"
    assert resumed.record["samples"]["b"]["status"] == "aligned"
    assert "earlierRun" not in resumed.record["samples"]["b"]

    # --overwrite when alignment now fails: no BAM of the earlier run beside the new verdict.
    _fail_bwa(request, monkeypatch, "[E::bwa_idx_load_from_disk] fail to locate the index files")
    fresh = run(data.sheet, data.reference, out, overwrite=True)
    assert fresh.code == 1
    assert fresh.record["samples"]["a"]["status"] == "failed" and not bam_a.exists()
    assert not list(out.rglob("*.bam"))
    assert_no_partial_outputs(out, fresh.record)


def test_a_sample_failing_after_the_input_check_is_one_line_with_the_tools_error_and_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    data = generate(tmp_path / "data", samples=[DemoSample("s1", 200, 38, 31)])
    ensure_index(data.reference, tmp_path / "cache")
    _fail_bwa(request, monkeypatch, "[E::bwa_idx_load_from_disk] fail to locate the index files")
    result = run(data.sheet, data.reference, tmp_path / "out")
    assert result.code == 1
    (line,) = result.err.strip().splitlines()
    log = result.task("samples(s1)/align(s1)")["attempts"][0]["log"]
    # The cause (bwa's [E::...] line), not the last symptom (sort's "failed to read header").
    assert line == (
        "error: sample s1: align failed: Error (exit code 1): "
        f"[E::bwa_idx_load_from_disk] fail to locate the index files (log: {log})"
    )
    assert "failed to read header" in Path(log).read_text()  # the symptom is there, after it
    assert "fail to locate the index files" in result.record["samples"]["s1"]["reason"]


@pytest.mark.parametrize(
    ("sig", "code", "tool"), [(signal.SIGTERM, 143, "bwa"), (signal.SIGHUP, 129, "java")], ids=["TERM", "HUP"]
)
def test_sigterm_and_sighup_stop_every_child_like_ctrl_c(
    tmp_path: Path, sig: signal.Signals, code: int, tool: str
) -> None:
    data = generate(tmp_path / "data", samples=[DemoSample("big", 60_000, 38, 31)])
    out = tmp_path / "results"
    proc = _start(data.sheet, data.reference, out)
    seen = _wait_for(proc, "fastqc: running" if tool == "java" else "align: running", timeout=180)
    deadline = time.monotonic() + 60
    while not _named(_descendants(proc.pid), tool) and time.monotonic() < deadline:
        time.sleep(0.02)
    children = _descendants(proc.pid)
    assert _named(children, tool), seen
    proc.send_signal(sig)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == code, seen + rest
    assert f"terminated ({sig.name}): stopped every task" in rest and "Traceback" not in rest
    time.sleep(0.5)
    assert not [pid for pid in children if _alive(pid)]
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "Interrupted" and record["signal"] == sig.name
    assert not list(out.rglob("*.bam*"))
    assert_no_partial_outputs(out, record)


def test_sigterm_during_the_input_check_stops_the_checks_and_records_it(tmp_path: Path) -> None:
    sheet = big_sheet(tmp_path, 5_000_000)  # seconds of checking
    data = generate(tmp_path / "data", samples=[DemoSample("tiny", 200, 38, 31)])
    out = tmp_path / "results"
    proc = _start(sheet, data.reference, out)
    seen = _wait_for(proc, "aligner:")  # printed while the check workers are still reading
    children = _descendants(proc.pid)
    assert children, seen
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143, seen + rest
    assert "terminated (SIGTERM) before any task started" in rest and "Traceback" not in seen + rest
    time.sleep(0.5)
    assert not [pid for pid in children if _alive(pid)]
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "Interrupted" and record["signal"] == "SIGTERM"


@pytest.mark.parametrize("how", ["directory", "full-disk"])
def test_run_json_becoming_unwritable_mid_run_ends_the_run_with_one_line(tmp_path: Path, how: str) -> None:
    """Real conditions: run.json replaced by a directory while tasks run, or its next write
    landing on a full device (/dev/full answers ENOSPC). The run used to hang forever."""
    data = generate(tmp_path / "data", samples=[DemoSample("s1", 30_000, 38, 31)])
    out = tmp_path / "out"
    result: list[Any] = []
    err = io.StringIO()

    def go() -> None:
        code = run_pipeline(
            RunOptions(sheet=data.sheet, reference=data.reference, outdir=out, cpus=2),
            console=Console(file=io.StringIO(), width=200),
            err=Console(file=err, width=400),
            live=False,
        )
        result.append(code)

    worker = threading.Thread(target=go, daemon=True)
    worker.start()
    logs = out / ".seqstack" / "logs"
    deadline = time.monotonic() + 120
    while not (logs.is_dir() and any(logs.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.01)  # the first task has started
    record = out / "run.json"
    assert record.is_file()
    if how == "directory":
        record.unlink()
        record.mkdir()
        why = "is a directory"
    else:
        (out / f".run.json.tmp-{os.getpid()}").symlink_to("/dev/full")
        why = "No space left on device"
    worker.join(120)
    assert not worker.is_alive(), "the run hung"
    assert result == [1]
    assert err.getvalue().strip().splitlines() == [
        f"error: {record}: cannot write the run record ({why}); stopped every task"
    ]
    assert not _named(_descendants(os.getpid()), "java") and not _named(_descendants(os.getpid()), "bwa")
    assert not (out / ".seqstack" / "work").exists()
    assert not list(out.rglob("*.bam"))
