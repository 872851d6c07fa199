"""The pod plan: what a container/script node is before anything starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from workflows.local.nodes import Node, TemplateError
from workflows.local.pod import PodEmulation
from workflows.local.podplan import Machine, PodPlan, plan_pod
from workflows.local.templates import Invocation, Scope


def _plan(tmp_path: Path, body: dict[str, Any], **tmpl: Any) -> PodPlan:
    scope = Scope(
        templates={},
        workflow_name="wf",
        namespace="ns",
        parameters={"ref": "/data/ref.fa"},
        volumes={"work": {"name": "work", "emptyDir": {"sizeLimit": "1Gi"}}},
        retry={"limit": 2},
        deadline=None,
    )
    machine = Machine(2, 4096, tmp_path / "state", {"PATH": "/usr/bin"}, PodEmulation(identities=False))
    template = {
        "name": "t",
        "inputs": {"parameters": [{"name": "n"}], "artifacts": [{"name": "r1", "path": "/work/r1.fq"}]},
        "container": {"volumeMounts": [{"name": "work", "mountPath": "/work"}], **body},
        **tmpl,
    }
    node = Node("wf/samples(0:s1)/t", "t", "", "Pod", sample="s1")
    return plan_pod(machine, Invocation(scope, template, {"n": "3"}, {"r1": "/data/s1_R1.fq"}, node))


def test_paths_env_and_command_are_made_local(tmp_path: Path) -> None:
    plan = _plan(
        tmp_path,
        {
            "command": ["bash", "-c", 'x "$WORK" {{inputs.parameters.n}} {{workflow.parameters.ref}}'],
            "env": [
                {"name": "WORK", "value": "/work"},
                {"name": "IN", "value": "{{inputs.artifacts.r1.path}}"},
            ],
        },
    )
    assert plan.command == ["bash", "-c", 'x "$WORK" 3 /data/ref.fa']
    assert plan.env["WORK"] == str(plan.workdir) and plan.env["IN"] == str(plan.workdir / "r1.fq")
    assert plan.inputs == [(plan.resolved["inputs"]["artifacts"][0], "/data/s1_R1.fq")]
    assert plan.local_path("/work/a/b", "x") == plan.workdir / "a" / "b"
    with pytest.raises(TemplateError, match=r"x path '/tmp/y' is not under an emptyDir volume mount"):
        plan.local_path("/tmp/y", "x")
    assert plan.retry.attempts == 3  # the workflow's retryStrategy when the template has none


def test_booking_is_the_requests_capped_at_the_machine(tmp_path: Path) -> None:
    big = _plan(tmp_path, {"command": ["true"], "resources": {"requests": {"cpu": "8", "memory": "96Gi"}}})
    assert (big.cpu, big.memory_mib) == (2, 4096)
    small = _plan(
        tmp_path, {"command": ["true"], "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}
    )
    assert (small.cpu, small.memory_mib) == (0.5, 1024)
    assert _plan(tmp_path, {"command": ["true"]}).cpu == 1  # no request: one core
    with pytest.raises(TemplateError, match=r"resources.requests: cannot read quantity '2 cores'"):
        _plan(tmp_path, {"command": ["true"], "resources": {"requests": {"cpu": "2 cores"}}})


def test_timeout_literal_mounts_and_missing_command_fail_the_template(tmp_path: Path) -> None:
    assert _plan(tmp_path, {"command": ["true"]}, timeout="2m").deadline_seconds == 120
    with pytest.raises(TemplateError, match="names the volume mount /work literally"):
        _plan(tmp_path, {"command": ["bash", "-c", "ls /work/x"]})
    with pytest.raises(TemplateError, match="no command"):
        _plan(tmp_path, {})


def test_the_fingerprint_follows_the_resolved_command(tmp_path: Path) -> None:
    a = _plan(tmp_path, {"command": ["echo", "{{inputs.parameters.n}}"]})
    b = _plan(tmp_path, {"command": ["echo", "{{inputs.parameters.n}}"]})
    c = _plan(tmp_path, {"command": ["echo", "4"]})
    assert a.fingerprint == b.fingerprint != c.fingerprint
