"""The executor on small hand-written workflows: attempts, retries, deadlines, the resource budget,
artifacts and what is refused (the DAG itself: ``test_local_dag.py``)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from tests.local_workflows import run, sh, sleepers, spans, workflow
from workflows.local.executor import Executor
from workflows.local.launch import Fault
from workflows.local.nodes import (
    ERROR,
    FAILED,
    SUCCEEDED,
    UnsupportedWorkflowError,
)


def _retry_workflow(
    expression: str | None, backoff: dict[str, Any] | None = None, limit: int = 2
) -> dict[str, Any]:
    strategy: dict[str, Any] = {"limit": limit, "retryPolicy": "Always"}
    if expression:
        strategy["expression"] = expression
    if backoff:
        strategy["backoff"] = backoff
    main = {"name": "main", "dag": {"tasks": [{"name": "flaky", "template": "flaky"}]}}
    flaky = sh(
        "flaky",
        'echo -n done > "$WORK/o"; sleep 2',
        outputs={"parameters": [{"name": "o", "valueFrom": {"path": "/work/o"}}]},
        retryStrategy=strategy,
    )
    return workflow([main, flaky])


PREEMPTION = (
    "(lastRetry.status == 'Error' && lastRetry.message contains 'pod deleted') || "
    "(lastRetry.status == 'Failed' && lastRetry.message matches '(?i)evicted|imminent node shutdown')"
)


def test_sigkill_is_pod_deleted_and_retried_with_backoff(tmp_path: Path) -> None:
    wf = _retry_workflow(PREEMPTION, {"duration": "1s", "factor": 2})
    root, nodes = run([wf], tmp_path, faults=[Fault.parse("kill:flaky@1:after=0.2")])
    node = nodes["flaky"]
    assert root.phase == SUCCEEDED
    assert [a.status for a in node.attempts] == [ERROR, SUCCEEDED]
    assert node.attempts[0].message == "pod deleted"
    assert node.attempts[1].started - node.attempts[0].finished >= 1.0  # backoff honoured
    assert node.parameters == {"o": "done"}


def test_tool_failure_is_not_retried_by_the_preemption_expression(tmp_path: Path) -> None:
    main = {"name": "main", "dag": {"tasks": [{"name": "t", "template": "t"}]}}
    t = sh("t", "exit 2", retryStrategy={"limit": 3, "retryPolicy": "Always", "expression": PREEMPTION})
    root, nodes = run([workflow([main, t])], tmp_path)
    assert [a.exit_code for a in nodes["t"].attempts] == [2]
    assert root.phase == FAILED


def test_retry_limit_and_max_duration(tmp_path: Path) -> None:
    faults = [Fault.parse(f"kill:flaky@{i}") for i in (1, 2, 3)]
    root, nodes = run([_retry_workflow(None, limit=2)], tmp_path, faults=faults)
    assert len(nodes["flaky"].attempts) == 3 and root.phase == FAILED
    root, nodes = run(
        [_retry_workflow(None, {"duration": "1s", "maxDuration": "1s"}, limit=5)],
        tmp_path / "b",
        faults=faults,
    )
    assert len(nodes["flaky"].attempts) == 1  # the first backoff already exceeds maxDuration
    assert "maxDuration" in nodes["flaky"].message


def test_artifacts_move_only_after_success_and_work_dirs_are_private(tmp_path: Path) -> None:
    out = tmp_path / "results"
    src = tmp_path / "in.txt"
    src.write_text("hello\n")
    main = {
        "name": "main",
        "dag": {
            "tasks": [
                {
                    "name": f"copy-{i}",
                    "template": "copy",
                    "arguments": {"parameters": [{"name": "i", "value": str(i)}]},
                }
                for i in range(3)
            ]
            + [{"name": "broken", "template": "broken"}]
        },
    }
    copy = sh(
        "copy",
        'test ! -e "$WORK/out/x.txt"; mkdir -p "$WORK/out"; cat "$WORK/in/x.txt" > "$WORK/out/x.txt"; '
        'echo {{inputs.parameters.i}} >> "$WORK/out/x.txt"',
        inputs={
            "parameters": [{"name": "i"}],
            "artifacts": [
                {"name": "x", "path": "/work/in/x.txt", "plugin": {"name": "seqstack-local", "key": str(src)}}
            ],
        },
        outputs={
            "artifacts": [
                {
                    "name": "y",
                    "path": "/work/out/x.txt",
                    "archive": {"none": {}},
                    "plugin": {"name": "seqstack-local", "key": f"{out}/{{{{inputs.parameters.i}}}}/x.txt"},
                }
            ]
        },
    )
    broken = sh(
        "broken",
        'mkdir -p "$WORK/out"; echo partial > "$WORK/out/x.txt"; exit 1',
        outputs={
            "artifacts": [
                {
                    "name": "y",
                    "path": "/work/out/x.txt",
                    "plugin": {"name": "seqstack-local", "key": f"{out}/broken/x.txt"},
                }
            ]
        },
    )
    _root, nodes = run([workflow([main, copy, broken])], tmp_path)
    for i in range(3):
        assert (out / str(i) / "x.txt").read_text() == f"hello\n{i}\n"
    assert not (out / "broken").exists()
    assert not any((tmp_path / "state" / "work").iterdir())  # no work dir survives
    assert nodes["copy-0"].digests["y"][0][1] == len("hello\n0\n")


def test_unsupported_fields_are_errors_and_scheduling_fields_are_accepted(tmp_path: Path) -> None:
    main = {"name": "main", "dag": {"tasks": [{"name": "t", "template": "t"}]}}
    t = sh("t", "true", nodeSelector={"a": "b"}, tolerations=[], securityContext={}, podSpecPatch="{}")
    wf = workflow([main, t], serviceAccountName="sa", podGC={"strategy": "OnPodSuccess"}, ttlStrategy={})
    with pytest.raises(UnsupportedWorkflowError) as err:
        Executor([wf], cpus=1, state_dir=tmp_path)
    assert "spec.templates[1].podSpecPatch: not supported" in str(err.value)
    assert "nodeSelector" not in str(err.value) and "podGC" not in str(err.value)
    t2 = sh("t", "true")
    t2["container"]["lifecycle"] = {}
    steps = {"name": "s", "steps": [[]]}
    with pytest.raises(UnsupportedWorkflowError) as err:
        Executor([workflow([main, t2, steps])], cpus=1, state_dir=tmp_path)
    assert "container.lifecycle" in str(err.value) and "templates[2].steps" in str(err.value)


def test_literal_mount_path_in_a_script_is_refused(tmp_path: Path) -> None:
    main = {"name": "main", "dag": {"tasks": [{"name": "t", "template": "t"}]}}
    _root, nodes = run([workflow([main, sh("t", "echo hi > /work/x")])], tmp_path)
    assert nodes["t"].phase == ERROR and '"$WORK"' in nodes["t"].message


def test_active_deadline_kills_the_process_and_fails_the_task(tmp_path: Path) -> None:
    main = {"name": "main", "dag": {"tasks": [{"name": "t", "template": "t"}]}}
    t = sh("t", "sleep 30", activeDeadlineSeconds=1)
    root, nodes = run([workflow([main, t])], tmp_path)
    assert nodes["t"].phase == FAILED and "deadline" in nodes["t"].message
    assert root.phase == FAILED


def test_cpu_requests_bound_how_many_tasks_run_at_once(tmp_path: Path) -> None:
    _root, nodes = run([sleepers(3, {"cpu": "2"})], tmp_path)
    # Each task costs the whole 2-cpu budget: no two ever overlap.
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans(nodes, 3)))


def test_memory_requests_bound_how_many_tasks_run_at_once(tmp_path: Path) -> None:
    # Cores for two at once, memory for one at a time: the memory request decides.
    _root, nodes = run([sleepers(3, {"cpu": "1", "memory": "3Gi"})], tmp_path, memory_mib=4096)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans(nodes, 3)))


def test_a_retry_only_gets_what_is_left_of_max_duration(tmp_path: Path) -> None:
    main = {"name": "main", "dag": {"tasks": [{"name": "slow", "template": "slow"}]}}
    slow = sh(
        "slow",
        "sleep 30",
        retryStrategy={
            "limit": 1,
            "retryPolicy": "Always",
            "backoff": {"duration": "0s", "maxDuration": "2s"},
        },
    )
    root, nodes = run([workflow([main, slow])], tmp_path, faults=[Fault.parse("kill:slow@1:after=0.2")])
    attempts = nodes["slow"].attempts
    assert [a.status for a in attempts] == [ERROR, FAILED]
    assert "deadline" in attempts[1].message  # cut at maxDuration, not left to sleep 30 s
    assert root.phase == FAILED
