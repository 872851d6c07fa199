"""The output folder of `seqstack run` (workflows/local/outdir.py): usable or one line, claimed
only after the sheet is accepted, never mixing or forgetting runs; run.json written atomically;
a run that cannot write run.json stops instead of hanging (no tools needed here)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from seqstack.cli import app
from workflows.local.executor import Executor
from workflows.local.nodes import Node, RunAbortedError
from workflows.local.outdir import OWNED, OutdirError, check_usable, claim, read_run_record, write_json_atomic
from workflows.local.run import RunOptions, run_pipeline
from workflows.pipeline import SAMPLES_PREFIX


def _earlier_run(outdir: Path) -> None:
    """What a finished run leaves behind."""
    (outdir / "samples" / "s1").mkdir(parents=True)
    (outdir / "samples" / "s1" / "s1.bam").write_bytes(b"BAM")
    (outdir / "multiqc_report.html").write_text("<html/>")
    (outdir / "run.json").write_text(json.dumps({"status": "Succeeded", "samples": {"s1": {}}, "tasks": []}))


def test_a_missing_folder_is_created_and_locked_and_a_second_run_is_refused(tmp_path: Path) -> None:
    with claim(tmp_path / "a" / "b") as held:
        assert held.outdir.is_dir() and held.previous == {}
        with pytest.raises(OutdirError, match=rf"{tmp_path}/a/b: another seqstack run \(pid {os.getpid()}\)"):
            claim(tmp_path / "a" / "b")
    claim(tmp_path / "a" / "b").release()  # released: usable again


def test_a_file_or_a_path_under_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutdirError, match=r"/f: exists and is not a directory"):
        claim(tmp_path / "f")
    with pytest.raises(OutdirError, match=rf"/f/out: {tmp_path}/f is a file, not a directory"):
        check_usable(tmp_path / "f" / "out")
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / ".seqstack").write_text("x")
    with pytest.raises(OutdirError, match=r"\.seqstack: is a file"):
        claim(tmp_path / "o")


def test_an_earlier_run_is_refused_without_resume_or_overwrite_and_left_untouched(tmp_path: Path) -> None:
    _earlier_run(tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if ".seqstack" not in p.parts)
    with pytest.raises(OutdirError, match=r"holds an earlier run \(run.json\); use --resume .* --overwrite"):
        claim(tmp_path)
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if ".seqstack" not in p.parts)
    assert after == before and (tmp_path / "samples" / "s1" / "s1.bam").read_bytes() == b"BAM"


def test_resume_returns_the_earlier_record_and_keeps_its_outputs(tmp_path: Path) -> None:
    _earlier_run(tmp_path)
    with claim(tmp_path, resume=True) as held:
        assert held.previous["status"] == "Succeeded"
    assert (tmp_path / "samples" / "s1" / "s1.bam").exists()


def test_overwrite_deletes_only_what_an_earlier_run_wrote(tmp_path: Path) -> None:
    _earlier_run(tmp_path)
    (tmp_path / ".seqstack" / "logs").mkdir(parents=True)
    with claim(tmp_path, overwrite=True) as held:
        assert held.previous == {}
        assert sorted(p.name for p in tmp_path.iterdir()) == [".seqstack"]
        assert sorted(p.name for p in (tmp_path / ".seqstack").iterdir()) == ["lock"]


def test_a_folder_holding_other_files_is_refused_even_with_overwrite(tmp_path: Path) -> None:
    (tmp_path / "thesis.tex").write_text("years of work")
    for flags in ({}, {"overwrite": True}, {"resume": True}):
        with pytest.raises(
            OutdirError, match=r"not empty and not a seqstack results folder \(holds thesis.tex\)"
        ):
            claim(tmp_path, **flags)
    assert (tmp_path / "thesis.tex").read_text() == "years of work"


def test_run_json_that_is_a_directory_or_not_an_object_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "d" / "run.json").mkdir(parents=True)
    for flags in ({}, {"resume": True}, {"overwrite": True}):
        with pytest.raises(OutdirError, match=r"run.json: is a directory, not a run record"):
            claim(tmp_path / "d", **flags)
    for text, what in (
        ("[1, 2]", "the JSON is an array, not an object"),
        ("{", "invalid JSON at line 1"),
        ('"x"', "the JSON is a string, not an object"),
        ("null", "the JSON is null"),
    ):
        (tmp_path / "run.json").write_text(text)
        with pytest.raises(OutdirError, match=rf"run.json: not a run record \({what}"):
            read_run_record(tmp_path / "run.json")


def test_write_json_atomic_names_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    write_json_atomic(tmp_path / "run.json", {"a": 1})
    assert json.loads((tmp_path / "run.json").read_text()) == {"a": 1}
    (tmp_path / "run.json").unlink()
    (tmp_path / "run.json").mkdir()
    with pytest.raises(
        OutdirError, match=rf"{tmp_path}/run.json: cannot write the run record \(is a directory\)"
    ):
        write_json_atomic(tmp_path / "run.json", {"a": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


def test_a_full_disk_is_one_line_naming_run_json(tmp_path: Path) -> None:
    # /dev/full answers every write with ENOSPC: the kernel's own full-disk error, no mocking.
    (tmp_path / f".run.json.tmp-{os.getpid()}").symlink_to("/dev/full")
    with pytest.raises(OutdirError) as caught:
        write_json_atomic(tmp_path / "run.json", {"a": 1})
    assert str(caught.value) == f"{tmp_path}/run.json: cannot write the run record (No space left on device)"
    assert list(tmp_path.iterdir()) == []


def test_resume_and_overwrite_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(OutdirError, match="--resume and --overwrite contradict each other"):
        claim(tmp_path / "o", resume=True, overwrite=True)
    assert not (tmp_path / "o").exists()


def test_the_local_layout_and_the_rendered_one_agree() -> None:
    assert SAMPLES_PREFIX in OWNED


# ------------------------------------------------------------------------- through run_pipeline


def _sheet(tmp_path: Path) -> Path:
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("sample,fastq_1,fastq_2\ns1,r1.fq,r2.fq\n")
    return sheet


def _run(tmp_path: Path, outdir: Path, **kw: Any) -> tuple[int, str]:
    err = io.StringIO()
    code = run_pipeline(
        RunOptions(sheet=_sheet(tmp_path), reference=tmp_path / "ref.fa", outdir=outdir, cpus=1, **kw),
        console=Console(file=io.StringIO()),
        err=Console(file=err, width=400),
        live=False,
    )
    return code, err.getvalue()


def _a_file(p: Path) -> None:
    (p / "file").write_text("x")


def _run_json_dir(p: Path) -> None:
    (p / "out" / "run.json").mkdir(parents=True)


def _an_earlier_run(p: Path) -> None:
    (p / "out").mkdir()
    _earlier_run(p / "out")


@pytest.mark.parametrize(
    ("make", "outdir", "message"),
    [
        (_a_file, "file", "file: exists and is not a directory"),
        (_a_file, "file/out", "file is a file, not a directory"),
        (_run_json_dir, "out", "run.json: is a directory, not a run record"),
        (_an_earlier_run, "out", "holds an earlier run"),
    ],
    ids=["outdir-a-file", "outdir-under-a-file", "run-json-a-directory", "earlier-run"],
)
def test_an_unusable_outdir_is_one_line_and_exit_2(
    tmp_path: Path, make: Any, outdir: str, message: str
) -> None:
    make(tmp_path)
    code, err = _run(tmp_path, tmp_path / outdir)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and message in err, err


def test_resume_with_a_run_json_that_is_not_an_object_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "run.json").write_text("[]")
    code, err = _run(tmp_path, tmp_path / "out", resume=True)
    assert code == 2 and err.strip().splitlines() == [
        f"error: {tmp_path}/out/run.json: not a run record (the JSON is an array, not an object)"
    ]


def test_a_rejected_sheet_creates_no_outdir(tmp_path: Path) -> None:
    sheet = tmp_path / "s.csv"
    sheet.write_text("sample,fastq_1,fastq_2\nbad id,x.fq,y.fq\n")
    result = CliRunner().invoke(
        app, ["run", "-s", str(sheet), "-r", str(tmp_path / "r.fa"), "-o", str(tmp_path / "o")]
    )
    assert result.exit_code == 2 and "sample ID 'bad id'" in result.output
    assert not (tmp_path / "o").exists()


def test_demo_with_an_outdir_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    proc = subprocess.run(
        [sys.executable, "-m", "seqstack", "demo", "--outdir", str(tmp_path / "f")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"error: {tmp_path}/f: exists and is not a directory (choose another --outdir)"
    ]
    assert (tmp_path / "f").read_text() == "x"


# -------------------------------------------------------------------------------- no hangs


def _slow_workflow() -> list[dict[str, Any]]:
    def sh(name: str, script: str) -> dict[str, Any]:
        return {"name": name, "container": {"image": "x", "command": ["bash", "-c", script]}}

    return [
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {"name": "wf"},
            "spec": {
                "entrypoint": "main",
                "templates": [
                    {
                        "name": "main",
                        "dag": {
                            "tasks": [
                                {"name": "quick", "template": "quick"},
                                {"name": "slow", "template": "slow"},
                                {"name": "after", "template": "quick", "depends": "quick"},
                            ]
                        },
                    },
                    sh("quick", 'while [ ! -s "$PIDFILE" ]; do sleep 0.05; done'),
                    sh("slow", 'echo $$ > "$PIDFILE"; exec sleep 60'),
                ],
            },
        }
    ]


class _FullDisk:
    """A listener whose record cannot be written once the first task ends (ENOSPC)."""

    def event(self, node: Node, what: str) -> None:
        if node.kind == "Pod" and what == "finished":
            raise OutdirError("/results/run.json: cannot write the run record (No space left on device)")


def test_a_listener_failure_stops_every_task_and_ends_the_run(tmp_path: Path) -> None:
    """The hang of issue 13: the failure killed a worker thread and the DAG waited forever."""
    pidfile = tmp_path / "slow.pid"
    ex = Executor(
        _slow_workflow(),
        cpus=2,
        state_dir=tmp_path / "state",
        listeners=[_FullDisk()],
        terminate_grace=1,
        env={**os.environ, "PIDFILE": str(pidfile)},
    )
    outcome: list[BaseException | None] = []

    def go() -> None:
        try:
            ex.run()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=go, daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "the run hung"
    assert time.monotonic() - started < 20  # not after sleep 60
    (exc,) = outcome
    assert isinstance(exc, RunAbortedError) and "No space left on device" in str(exc)
    pid = int(pidfile.read_text())
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
