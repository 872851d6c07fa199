"""The local Argo interpreter on small hand-written workflows: each Argo feature the DAG uses."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from workflows.local.executor import Executor
from workflows.local.launch import Fault
from workflows.local.nodes import (
    ERROR,
    FAILED,
    OMITTED,
    SKIPPED,
    SUCCEEDED,
    Node,
    UnsupportedWorkflowError,
    walk,
)

WORK = {"name": "work", "emptyDir": {}}
MOUNT = [{"name": "work", "mountPath": "/work"}]


def sh(name: str, script: str, **extra: Any) -> dict[str, Any]:
    """A container template running a bash script in the /work emptyDir."""
    return {
        "name": name,
        "container": {
            "image": "debian",
            "command": ["bash", "-c", "set -euo pipefail\n" + script],
            "env": [{"name": "WORK", "value": "/work"}],
            "volumeMounts": MOUNT,
            "resources": {"requests": {"cpu": "1"}},
        },
        **extra,
    }


def workflow(templates: list[dict[str, Any]], entry: str = "main", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "wf"},
        "spec": {"entrypoint": entry, "volumes": [WORK], "templates": templates, **spec},
    }


def run(objs: list[dict[str, Any]], tmp_path: Path, **kw: Any) -> tuple[Node, dict[str, Node]]:
    ex = Executor(objs, cpus=2, state_dir=tmp_path / "state", **kw)
    roots = ex.run()
    return roots[0], {n.display: n for n in walk(roots)}


def test_depends_when_and_output_parameters(tmp_path: Path) -> None:
    dag = {
        "name": "main",
        "dag": {
            "tasks": [
                {
                    "name": "a",
                    "template": "say",
                    "arguments": {"parameters": [{"name": "word", "value": "pass"}]},
                },
                {
                    "name": "b",
                    "template": "say",
                    "arguments": {"parameters": [{"name": "word", "value": "fail"}]},
                },
                {
                    "name": "if-a-pass",
                    "template": "say",
                    "depends": "a && b",
                    "when": "'{{tasks.a.outputs.parameters.out}}' == 'pass'",
                    "arguments": {"parameters": [{"name": "word", "value": "ran"}]},
                },
                {
                    "name": "if-b-pass",
                    "template": "say",
                    "depends": "a && b",
                    "when": "'{{tasks.b.outputs.parameters.out}}' == 'pass'",
                    "arguments": {"parameters": [{"name": "word", "value": "ran"}]},
                },
                {
                    "name": "after-skip",
                    "template": "say",
                    "depends": "if-b-pass.Skipped",
                    "arguments": {"parameters": [{"name": "word", "value": "{{workflow.name}}"}]},
                },
            ]
        },
    }
    say = sh(
        "say",
        'printf "%s\\n" "{{inputs.parameters.word}}" > "$WORK/out.txt"',
        inputs={"parameters": [{"name": "word"}]},
        outputs={"parameters": [{"name": "out", "valueFrom": {"path": "/work/out.txt"}}]},
    )
    root, nodes = run([workflow([dag, say])], tmp_path)
    assert root.phase == SUCCEEDED, root.message
    assert nodes["a"].parameters == {"out": "pass"}  # one trailing newline dropped
    assert nodes["if-a-pass"].phase == SUCCEEDED
    assert nodes["if-b-pass"].phase == SKIPPED
    assert nodes["after-skip"].parameters == {"out": "wf"}


def test_with_items_and_with_param_fan_out_into_nested_dags(tmp_path: Path) -> None:
    items = [{"sample": "s1", "n": 1}, {"sample": "s2", "n": 2}]
    main = {
        "name": "main",
        "dag": {
            "tasks": [
                {"name": "list", "template": "emit"},
                {
                    "name": "by-param",
                    "template": "per-sample",
                    "depends": "list",
                    "withParam": "{{tasks.list.outputs.parameters.items}}",
                    "arguments": {"parameters": [{"name": "s", "value": "{{item.sample}}"}]},
                },
                {
                    "name": "by-items",
                    "template": "per-sample",
                    "withItems": items,
                    "arguments": {"parameters": [{"name": "s", "value": "{{item.sample}}-{{item.n}}"}]},
                },
            ]
        },
    }
    emit = sh(
        "emit",
        f"echo '{json.dumps(items)}' > \"$WORK/items.json\"",
        outputs={"parameters": [{"name": "items", "valueFrom": {"path": "/work/items.json"}}]},
    )
    per_sample = {
        "name": "per-sample",
        "inputs": {"parameters": [{"name": "s"}]},
        "dag": {
            "tasks": [
                {
                    "name": "leaf",
                    "template": "echo",
                    "arguments": {"parameters": [{"name": "s", "value": "{{inputs.parameters.s}}"}]},
                }
            ]
        },
    }
    echo = sh(
        "echo",
        'echo -n "{{inputs.parameters.s}}" > "$WORK/o"',
        inputs={"parameters": [{"name": "s"}]},
        outputs={"parameters": [{"name": "o", "valueFrom": {"path": "/work/o"}}]},
    )
    root, nodes = run([workflow([main, emit, per_sample, echo])], tmp_path)
    assert root.phase == SUCCEEDED, root.message
    assert nodes["by-param(0:s1)/leaf"].parameters["o"] == "s1"
    assert nodes["by-param(1:s2)/leaf"].parameters["o"] == "s2"
    assert nodes["by-items(1:s2)/leaf"].parameters["o"] == "s2-2"
    assert nodes["by-items(0:s1)/leaf"].sample == "s1"
    assert nodes["by-items"].kind == "TaskGroup"


def test_group_failure_is_handled_by_depends_and_other_items_still_run(tmp_path: Path) -> None:
    main = {
        "name": "main",
        "dag": {
            "failFast": False,
            "tasks": [
                {
                    "name": "samples",
                    "template": "maybe-fail",
                    "withItems": ["ok", "bad", "ok2"],
                    "arguments": {"parameters": [{"name": "x", "value": "{{item}}"}]},
                },
                {
                    "name": "report",
                    "template": "maybe-fail",
                    "depends": "samples.Succeeded || samples.Failed",
                    "arguments": {"parameters": [{"name": "x", "value": "report"}]},
                },
                {
                    "name": "strict",
                    "template": "maybe-fail",
                    "depends": "samples",
                    "arguments": {"parameters": [{"name": "x", "value": "strict"}]},
                },
            ],
        },
    }
    tmpl = sh(
        "maybe-fail",
        '[ "{{inputs.parameters.x}}" != bad ] || { echo boom >&2; exit 3; }',
        inputs={"parameters": [{"name": "x"}]},
    )
    root, nodes = run([workflow([main, tmpl])], tmp_path)
    assert nodes["samples(1:bad)"].phase == FAILED
    assert nodes["samples(1:bad)"].message == "Error (exit code 3): boom"
    assert nodes["samples(0:ok)"].phase == nodes["samples(2:ok2)"].phase == SUCCEEDED
    assert nodes["samples"].phase == FAILED
    assert nodes["report"].phase == SUCCEEDED
    assert nodes["strict"].phase == OMITTED
    # "strict" is an omitted leaf after a failed branch: the workflow fails, as in Argo.
    assert root.phase == FAILED


def test_fail_fast_stops_new_tasks(tmp_path: Path) -> None:
    main = {
        "name": "main",
        "dag": {
            "tasks": [
                {"name": "bad", "template": "bad"},
                {"name": "slow", "template": "slow"},
                {"name": "after-slow", "template": "slow", "depends": "slow"},
            ]
        },
    }
    # "slow" must still be running when "bad" fails, however loaded the machine: it waits until
    # "bad" has actually run (a file "bad" leaves) and only then sleeps, instead of racing it.
    ran = tmp_path / "bad-ran"
    bad = sh("bad", f"touch {ran}; exit 1")
    slow = sh("slow", f"for _ in $(seq 200); do [ -e {ran} ] && break; sleep 0.05; done; sleep 1")
    root, nodes = run([workflow([main, bad, slow])], tmp_path)
    assert ran.exists()
    assert nodes["slow"].phase == SUCCEEDED  # running tasks finish
    assert nodes["after-slow"].phase == OMITTED  # nothing new starts
    assert root.phase == FAILED


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


def test_workflow_template_ref_with_parameter_override(tmp_path: Path) -> None:
    wft = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "tpl"},
        "spec": {
            "entrypoint": "main",
            "volumes": [WORK],
            "arguments": {"parameters": [{"name": "p", "value": "default"}]},
            "templates": [
                {"name": "main", "dag": {"tasks": [{"name": "t", "template": "t"}]}},
                sh(
                    "t",
                    'echo -n "{{workflow.parameters.p}}" > "$WORK/o"',
                    outputs={"parameters": [{"name": "o", "valueFrom": {"path": "/work/o"}}]},
                ),
            ],
        },
    }
    wf = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "chunk-"},
        "spec": {
            "workflowTemplateRef": {"name": "tpl"},
            "arguments": {"parameters": [{"name": "p", "value": "given"}]},
        },
    }
    root, nodes = run([wft, wf], tmp_path)
    assert root.phase == SUCCEEDED, root.message
    assert nodes["t"].parameters == {"o": "given"}


def test_active_deadline_kills_the_process_and_fails_the_task(tmp_path: Path) -> None:
    main = {"name": "main", "dag": {"tasks": [{"name": "t", "template": "t"}]}}
    t = sh("t", "sleep 30", activeDeadlineSeconds=1)
    root, nodes = run([workflow([main, t])], tmp_path)
    assert nodes["t"].phase == FAILED and "deadline" in nodes["t"].message
    assert root.phase == FAILED


def test_cpu_requests_bound_how_many_tasks_run_at_once(tmp_path: Path) -> None:
    stamp = 'date +%s.%N > "$WORK/t"; sleep 0.5; date +%s.%N >> "$WORK/t"'
    out = {"parameters": [{"name": "t", "valueFrom": {"path": "/work/t"}}]}
    main = {"name": "main", "dag": {"tasks": [{"name": f"t{i}", "template": "two-cpu"} for i in range(3)]}}
    two = sh("two-cpu", stamp, outputs=out)
    two["container"]["resources"] = {"requests": {"cpu": "2"}}
    _root, nodes = run([workflow([main, two])], tmp_path)
    spans = sorted(tuple(map(float, nodes[f"t{i}"].parameters["t"].split())) for i in range(3))
    # Each task costs the whole 2-cpu budget: no two ever overlap.
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))


def test_memory_requests_bound_how_many_tasks_run_at_once(tmp_path: Path) -> None:
    # Cores for two at once, memory for one at a time: the memory request decides.
    stamp = 'date +%s.%N > "$WORK/t"; sleep 0.5; date +%s.%N >> "$WORK/t"'
    out = {"parameters": [{"name": "t", "valueFrom": {"path": "/work/t"}}]}
    main = {"name": "main", "dag": {"tasks": [{"name": f"t{i}", "template": "big"} for i in range(3)]}}
    big = sh("big", stamp, outputs=out)
    big["container"]["resources"] = {"requests": {"cpu": "1", "memory": "3Gi"}}
    _root, nodes = run([workflow([main, big])], tmp_path, memory_mib=4096)
    spans = sorted(tuple(map(float, nodes[f"t{i}"].parameters["t"].split())) for i in range(3))
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))


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
