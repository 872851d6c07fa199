"""run.json: its shape (built in one module), the checkpoint listener, and reading it back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workflows.local.nodes import PENDING, SUCCEEDED, Attempt, Node
from workflows.local.progress import Outcome
from workflows.local.record import EarlierTask, RunRecord, earlier_tasks, task_json


def _done_task() -> Node:
    node = Node("wf-1/samples(0:s1)/align", "align", "align", "Pod", sample="s1", phase=SUCCEEDED)
    node.started, node.finished = 100.0, 112.5
    attempt = Attempt(1, started=100.0, finished=112.25, status=SUCCEEDED, exit_code=0, command=["bash"])
    attempt.cpu_seconds = 20.12345
    node.attempts.append(attempt)
    node.artifacts = {"bam": "/out/s1.bam"}
    node.digests = {"bam": [[".", 10, "ab" * 32]]}
    node.parameters = {"reads": "5"}
    node.fingerprint = "f" * 32
    return node


def test_a_task_entry_records_attempts_with_cpu_seconds() -> None:
    entry = task_json(_done_task())
    assert entry["key"] == "samples(s1)/align" and entry["node"] == "wf-1/samples(0:s1)/align"
    (attempt,) = entry["attempts"]
    assert attempt["cpuSeconds"] == 20.123 and attempt["durationSeconds"] == 12.25
    assert attempt["started"] == "1970-01-01T00:01:40.000Z"
    assert entry["outputs"]["artifacts"]["bam"] == {"path": "/out/s1.bam", "files": [[".", 10, "ab" * 32]]}
    # An attempt whose process never started has no CPU time, not zero.
    assert (
        task_json(Node("k", "t", "t", "Pod", attempts=[Attempt(1, 1.0)]))["attempts"][0]["cpuSeconds"] is None
    )


def test_what_is_written_reads_back_for_resume(tmp_path: Path) -> None:
    record = RunRecord(tmp_path / "run.json", {"seqstack": "run"})
    record.nodes = [_done_task(), Node("wf-1/samples(0:s1)/fastqc", "fastqc", "", "Pod", phase=PENDING)]
    record.samples = [Outcome("s1", "aligned", "pass", "", "/out/s1.bam")]
    record.event(record.nodes[0], "started")
    assert not (tmp_path / "run.json").exists()  # only a finished task is a checkpoint
    record.event(record.nodes[0], "finished")
    data = json.loads((tmp_path / "run.json").read_text())
    assert data["status"] == "Running" and [t["key"] for t in data["tasks"]] == ["samples(s1)/align"]
    assert data["samples"]["s1"] == {"status": "aligned", "qc": "pass", "reason": "", "bam": "/out/s1.bam"}
    earlier = EarlierTask.read(earlier_tasks(data)["samples(s1)/align"])
    assert earlier == EarlierTask(
        status=SUCCEEDED,
        fingerprint="f" * 32,
        parameters={"reads": "5"},
        artifacts={"bam": ("/out/s1.bam", [[".", 10, "ab" * 32]])},
    )


def test_resume_keeps_samples_the_new_sheet_does_not_name(tmp_path: Path) -> None:
    old = {
        "samples": {"s0": {"status": "aligned"}, "s1": {"status": "failed"}},
        "tasks": [{"key": "samples(s0)/align", "sample": "s0"}, {"key": "samples(s1)/align", "sample": "s1"}],
    }
    record = RunRecord(tmp_path / "run.json", {}, old)
    record.sheet = {"s1"}
    record.write("Succeeded")
    data = json.loads((tmp_path / "run.json").read_text())
    assert data["samples"] == {"s0": {"status": "aligned", "earlierRun": True}}
    assert [t["key"] for t in data["tasks"]] == ["samples(s0)/align"]


def test_a_finished_task_is_encoded_once_and_the_file_is_plain_indented_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run.json is rewritten after every task; re-encoding every finished task each time made
    each rewrite cost O(tasks) of Python under the GIL, between one task's end and the next's start."""
    from workflows.local import record as recmod

    calls: list[str] = []
    monkeypatch.setattr(recmod, "task_json", lambda n: (calls.append(n.key), task_json(n))[1])
    record = RunRecord(
        tmp_path / "run.json", {"seqstack": "run"}, {"tasks": [{"key": "old", "sample": "s0"}]}
    )
    record.earlier_samples = {"s0": {"status": "aligned"}}
    running = Node("wf-1/samples(1:s2)/fastqc", "fastqc", "", "Pod", sample="s2", phase="Running")
    running.attempts.append(Attempt(1, started=5.0))
    record.nodes = [_done_task(), running]
    record.event(record.nodes[0], "finished")
    record.write("Running")
    assert calls == ["wf-1/samples(0:s1)/align", running.key, running.key]  # the finished one once
    text = (tmp_path / "run.json").read_text()
    data = json.loads(text)
    assert text == json.dumps(data, indent=2) + "\n"  # byte for byte what json.dumps writes
    assert data["tasks"] == [
        {"key": "old", "sample": "s0"},
        task_json(record.nodes[0]),
        task_json(running),
    ]
    record.nodes = []
    record.earlier_samples = {}
    record.write("Succeeded")  # no task at all: still the same format
    assert (tmp_path / "run.json").read_text().rstrip().endswith('"tasks": []\n}')
