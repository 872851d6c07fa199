"""The DAG run: depends, when, fan-out, failFast, output parameters, templateRef scopes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.local_workflows import WORK, run, sh, workflow
from workflows.local.nodes import ERROR, FAILED, OMITTED, SKIPPED, SUCCEEDED


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


def test_a_dependency_cycle_fails_the_dag_naming_its_tasks(tmp_path: Path) -> None:
    main = {
        "name": "main",
        "dag": {
            "tasks": [
                {"name": "a", "template": "t", "depends": "b"},
                {"name": "b", "template": "t", "depends": "a"},
                {"name": "c", "template": "t"},
            ]
        },
    }
    root, _nodes = run([workflow([main, sh("t", "true")])], tmp_path)
    assert root.phase == ERROR and "dependency cycle among ['a', 'b']" in root.message


def test_json_text_in_an_item_fans_out_again_and_an_empty_list_is_one_skipped_node(tmp_path: Path) -> None:
    """As the pipeline's samples carry their lanes: ``item.lanes`` is JSON text passed verbatim
    (Argo's processItem), an inner ``withParam`` over it fans out, and an empty list gives one
    Skipped node (Argo's "Skipped, empty params"), recorded like any skipped task."""
    samples = [
        {"sample": "s1", "lanes": json.dumps([{"unit": "s1_A"}, {"unit": "s1_B"}])},
        {"sample": "s2", "lanes": "[]"},
    ]
    main = {
        "name": "main",
        "dag": {
            "tasks": [
                {
                    "name": "samples",
                    "template": "per-sample",
                    "withItems": samples,
                    "arguments": {
                        "parameters": [
                            {"name": "sample", "value": "{{item.sample}}"},
                            {"name": "lanes", "value": "{{item.lanes}}"},
                        ]
                    },
                }
            ]
        },
    }
    per_sample = {
        "name": "per-sample",
        "inputs": {"parameters": [{"name": "sample"}, {"name": "lanes"}]},
        "dag": {
            "tasks": [
                {
                    "name": "lane",
                    "template": "echo",
                    "withParam": "{{inputs.parameters.lanes}}",
                    "arguments": {"parameters": [{"name": "s", "value": "{{item.unit}}"}]},
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
    root, nodes = run([workflow([main, per_sample, echo])], tmp_path)
    assert root.phase == SUCCEEDED, root.message
    assert nodes["samples(0:s1)/lane(0:s1_A)"].parameters["o"] == "s1_A"
    assert nodes["samples(0:s1)/lane(1:s1_B)"].sample == "s1"
    empty = nodes["samples(1:s2)/lane"]
    assert (empty.kind, empty.phase, empty.message) == ("Pod", SKIPPED, "Skipped, empty params")
    assert not [k for k in nodes if k.startswith("samples(1:s2)/lane(")]
