"""run.json: its shape (built in one module), the checkpoint listener, and reading it back."""

from __future__ import annotations

import json
from pathlib import Path

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
