"""Small hand-written workflows for the local executor's tests."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from workflows.local import executor
from workflows.local.executor import Executor
from workflows.local.idle import IdleCores
from workflows.local.nodes import Node, walk

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


def sleepers(count: int, requests: dict[str, str], seconds: float = 0.5) -> dict[str, Any]:
    """A workflow of ``count`` independent tasks t0.., each with ``requests``, that sleep
    ``seconds`` and write when they started and ended (read them with :func:`spans`)."""
    stamp = f'date +%s.%N > "$WORK/t"; sleep {seconds}; date +%s.%N >> "$WORK/t"'
    out = {"parameters": [{"name": "t", "valueFrom": {"path": "/work/t"}}]}
    main = {"name": "main", "dag": {"tasks": [{"name": f"t{i}", "template": "sleep"} for i in range(count)]}}
    sleep = sh("sleep", stamp, outputs=out)
    sleep["container"]["resources"] = {"requests": requests}
    return workflow([main, sleep])


def spans(nodes: dict[str, Node], count: int) -> list[tuple[float, ...]]:
    """The (start, end) epoch seconds of :func:`sleepers`' tasks, in order of start."""
    return sorted(tuple(map(float, nodes[f"t{i}"].parameters["t"].split())) for i in range(count))


def write_proc_stat(path: Path, cpus: dict[int, tuple[int, int, int]]) -> None:
    """A /proc/stat with, per CPU, (busy user ticks, idle ticks, iowait ticks)."""
    lines = ["cpu  1 2 3 4 5 6 7 8 0 0"]
    for n, (user, idle, iowait) in cpus.items():
        lines.append(f"cpu{n} {user} 0 0 {idle} {iowait} 0 0 0 0 0")
    lines.append("intr 12345")
    path.write_text("\n".join(lines) + "\n")


def fake_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, idle: bool) -> threading.Event:
    """Make the executor read a /proc/stat of two CPUs whose every tick is idle (``idle``) or
    busy, whatever this machine is doing meanwhile; set the returned event to stop its clock."""
    stat = tmp_path / "stat"
    write_proc_stat(stat, {0: (0, 0, 0), 1: (0, 0, 0)})
    stop = threading.Event()

    def tick() -> None:
        n = 0
        while not stop.wait(0.02):
            n += 2
            tmp = tmp_path / "stat.tmp"
            ticks = (0, n, 0) if idle else (n, 0, 0)
            write_proc_stat(tmp, {0: ticks, 1: ticks})
            tmp.replace(stat)

    threading.Thread(target=tick, daemon=True).start()
    monkeypatch.setattr(executor, "IdleCores", lambda observe: IdleCores(observe, stat=stat, cpus={0, 1}))
    return stop
