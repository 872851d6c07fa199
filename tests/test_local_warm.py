"""Warm starts: a Python step's interpreter started early with its slow imports done, then handed
the step (workflows.local.warm)."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.local_workflows import MOUNT, run, workflow
from workflows.local.launch import Processes
from workflows.local.warm import WarmStarts, cpu_ticks, preload

#: Prints what a script started with ``python3 <script> <args>`` sees, then exits with $CODE.
PROBE = """\
import os, sys
print("preloaded", "decimal" in sys.modules)
print("gc", __import__("gc").isenabled())
print("name", __name__)
print("argv", sys.argv)
print("path0", sys.path[0])
print("cwd", os.getcwd())
print("env", os.environ.get("STEP_VALUE"), "HOME" in os.environ)
print("uid", os.getuid(), "nice", os.getpriority(os.PRIO_PROCESS, 0))
sys.stdout.flush()
if os.environ.get("CRASH"):
    raise RuntimeError("the step's own error")
sys.exit(int(os.environ["CODE"]))
"""

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching uids needs root")


def step_env(**extra: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], **extra}


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder every uid may enter (pytest's tmp_path is closed to other uids)."""
    base = Path(tempfile.mkdtemp())
    base.chmod(0o755)
    yield base
    shutil.rmtree(base)


def hand_over(
    tmp_path: Path, warm: WarmStarts, env: dict[str, str], popen: dict[str, Any] | None = None
) -> tuple[int, str, float, float]:
    """Hand PROBE to template ``t``'s warm process; its exit code, log, CPU seconds and the CPU
    seconds it had used when it was handed the step."""
    script = tmp_path / "staging" / "script"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(PROBE)
    script.chmod(0o755)
    cwd = tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)
    cwd.chmod(0o777)
    log = tmp_path / "step.log"
    command = ["python3", str(script), "first", "second"]
    started = warm.start("t", command, cwd, env, log, popen or {})
    assert started is not None
    proc, before = started
    processes = Processes(threading.Event(), terminate_grace=1)
    processes.adopt(proc)
    ended = processes.wait(proc, None, None)
    return ended.returncode, log.read_text(), ended.cpu_seconds, before


def test_preload_reads_a_literal_tuple_or_list_of_module_names_without_running_the_source() -> None:
    assert preload('PRELOAD = ("multiqc.__main__", "json")\nraise SystemExit(1)\n') == (
        "multiqc.__main__",
        "json",
    )
    assert preload("PRELOAD = ['a']\n") == ("a",)
    assert preload("import json\n") == ()
    assert preload("PRELOAD = tuple(['a'])\n") == ()  # not a literal
    assert preload("PRELOAD = ('a', 1)\n") == ()
    assert preload("PRELOAD = ('a', name)\n") == ()
    assert preload("def main(:\n") == ()


def test_a_warm_process_runs_the_step_as_python3_script_would_with_its_modules_already_imported(
    tmp_path: Path,
) -> None:
    warm = WarmStarts()
    assert warm.prepare("t", "python3", ["decimal"], step_env(), {})
    code, log, cpu, before = hand_over(tmp_path, warm, step_env(STEP_VALUE="x", CODE="3"))
    assert code == 3
    lines = dict(line.split(" ", 1) for line in log.splitlines())
    assert lines["preloaded"] == "True"
    assert lines["name"] == "__main__"
    assert lines["argv"] == repr([str(tmp_path / "staging" / "script"), "first", "second"])
    assert lines["path0"] == str(tmp_path / "staging")
    assert lines["cwd"] == str(tmp_path / "cwd")
    assert lines["env"] == "x False"  # the step's environment, nothing of the warm one's
    assert lines["uid"].startswith(str(os.getuid()))
    # The process is the executor's child: its CPU, the import's included, is the step's.
    assert cpu >= before >= 0  # (importing decimal may take less than a clock tick)
    assert warm.used == 1
    assert sorted(warm._warm) == []  # one step per warm process


def test_a_module_function_entry_is_called_after_the_import_and_a_failing_one_is_left_alone(
    tmp_path: Path,
) -> None:
    """``module:function`` entries run before the hand-over (gc.disable leaves the collector off
    for the step); one that raises (json.loads without its argument) or cannot be imported is
    skipped, and the step still runs warm."""
    assert preload('PRELOAD = ("decimal", "gc:disable")\n') == ("decimal", "gc:disable")
    warm = WarmStarts()
    entries = ["json:loads", "no_such_module_here:f", "decimal", "gc:disable"]
    assert warm.prepare("t", "python3", entries, step_env(), {})
    code, log, _, _ = hand_over(tmp_path, warm, step_env(CODE="0"))
    assert code == 0
    lines = dict(line.split(" ", 1) for line in log.splitlines())
    assert (lines["preloaded"], lines["gc"], lines["name"]) == ("True", "False", "__main__")
    assert warm.used == 1

    cold = WarmStarts()
    assert cold.prepare("t", "python3", ["decimal"], step_env(), {})
    _, log, _, _ = hand_over(tmp_path / "cold", cold, step_env(CODE="0"))
    assert "gc True" in log  # the collector is on unless an entry turned it off


def test_a_step_that_raises_exits_1_with_its_traceback_in_its_log(tmp_path: Path) -> None:
    warm = WarmStarts()
    assert warm.prepare("t", "python3", ["decimal"], step_env(), {})
    code, log, _, _ = hand_over(tmp_path, warm, step_env(CRASH="1", CODE="0"))
    assert code == 1
    assert "RuntimeError: the step's own error" in log


def test_a_step_whose_interpreter_or_python_environment_differs_starts_cold(tmp_path: Path) -> None:
    warm = WarmStarts()
    assert warm.prepare("t", "python3", ["decimal"], step_env(), {})
    waiting = warm._warm["t"].proc
    log = tmp_path / "log"
    other = step_env(PYTHONPATH=str(tmp_path))  # would change sys.path at start-up
    assert warm.start("t", ["python3", "script.py"], tmp_path, other, log, {}) is None
    assert waiting.poll() is not None  # killed, not left behind
    assert warm.used == 0

    assert warm.prepare("t", "python3", ["decimal"], step_env(), {})
    assert warm.start("t", ["python3", "-c", "print(1)"], tmp_path, step_env(), log, {}) is None
    assert warm.prepare("t", "python3", ["decimal"], step_env(), {})
    assert warm.start("t", ["bash", "script.sh"], tmp_path, step_env(), log, {}) is None
    assert warm.start("no-such-template", ["python3", "s.py"], tmp_path, step_env(), log, {}) is None


def test_a_warm_process_killed_before_its_step_leaves_the_step_to_start_cold(tmp_path: Path) -> None:
    warm = WarmStarts()
    assert warm.prepare("t", "python3", ["decimal"], step_env(), {})
    waiting = warm._warm["t"].proc
    os.killpg(waiting.pid, signal.SIGKILL)
    waiting.wait()
    assert warm.start("t", ["python3", "s.py"], tmp_path, step_env(), tmp_path / "log", {}) is None


def test_close_kills_the_warm_processes_no_step_used() -> None:
    warm = WarmStarts()
    assert warm.prepare("a", "python3", ["decimal"], step_env(), {})
    assert warm.prepare("b", "python3", ["decimal"], step_env(), {})
    procs = [w.proc for w in warm._warm.values()]
    assert sorted(warm._warm) == ["a", "b"]
    warm.close()
    assert all(p.poll() is not None for p in procs)
    assert sorted(warm._warm) == []


def test_no_warm_process_without_modules_or_without_the_interpreter() -> None:
    warm = WarmStarts()
    assert not warm.prepare("t", "python3", [], step_env(), {})
    assert not warm.prepare("t", "no-such-python", ["decimal"], step_env(), {})
    assert sorted(warm._warm) == []


@needs_root
def test_as_root_the_warm_process_waits_at_nice_19_and_runs_its_step_as_the_pods_uid(open_dir: Path) -> None:
    nobody = {"user": 65534, "group": 65534, "extra_groups": [], "umask": 0o022}
    system = {"PATH": "/usr/bin:/bin"}  # a python3 uid 65534 can run (pytest's may be under /root)
    warm = WarmStarts()
    assert warm.prepare("t", "python3", ["decimal"], system, nobody)
    waiting = warm._warm["t"].proc
    assert os.getpriority(os.PRIO_PROCESS, waiting.pid) == 19  # imports on idle cores only
    code, log, _, _ = hand_over(open_dir, warm, {**system, "CODE": "0"}, nobody)
    assert code == 0
    lines = dict(line.split(" ", 1) for line in log.splitlines())
    # Handed the step, it runs at the executor's own priority, as the pod's uid.
    assert lines["uid"] == f"65534 nice {os.getpriority(os.PRIO_PROCESS, 0)}"
    assert lines["preloaded"] == "True"


@needs_root
def test_the_imports_done_before_the_hand_over_are_measured(open_dir: Path) -> None:
    # A module whose import costs 0.3 s of CPU, as MultiQC's costs about 1.5 s.
    (open_dir / "slow_import.py").write_text(
        "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3:\n    pass\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(open_dir)}
    warm = WarmStarts()
    assert warm.prepare("t", "python3", ["slow_import"], env, {})
    pid = warm._warm["t"].proc.pid
    deadline = time.monotonic() + 60  # at nice 19 a busy machine delays it
    while cpu_ticks(pid) < 30 and time.monotonic() < deadline:
        time.sleep(0.05)
    code, _, cpu, before = hand_over(open_dir, warm, {**env, "CODE": "0"})
    assert code == 0
    assert 0.3 <= before <= cpu


def test_without_root_the_warm_process_imports_at_normal_priority(monkeypatch: pytest.MonkeyPatch) -> None:
    """A non-root executor could not put it back at hand-over: it is never lowered."""
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    warm = WarmStarts()
    assert warm.prepare("t", "python3", ["decimal"], step_env(), {})
    assert os.getpriority(os.PRIO_PROCESS, warm._warm["t"].proc.pid) == os.getpriority(os.PRIO_PROCESS, 0)
    warm.close()


def script(name: str, source: str) -> dict[str, Any]:
    return {
        "name": name,
        "script": {
            "image": "python",
            "command": ["python3"],
            "source": source,
            "env": [{"name": "WORK", "value": "/work"}, {"name": "CODE", "value": "0"}],
            "volumeMounts": MOUNT,
            "resources": {"requests": {"cpu": "1"}},
        },
    }


def test_the_executor_hands_a_preloading_templates_first_attempt_to_its_warm_process(tmp_path: Path) -> None:
    source = 'PRELOAD = ("decimal",)\n' + PROBE.replace(
        "sys.stdout.flush()", 'open(os.environ["WORK"] + "/seen", "w").write(sys.argv[0]); sys.stdout.flush()'
    )
    main = {
        "name": "main",
        "dag": {
            "tasks": [
                {"name": "first", "template": "py"},
                {"name": "second", "template": "py", "depends": "first"},
                {"name": "plain", "template": "plain"},
            ]
        },
    }
    wf = workflow([main, script("py", source), script("plain", PROBE)])
    root, nodes = run([wf], tmp_path)
    assert root.phase == "Succeeded"
    assert [a.warm_cpu_seconds is not None for a in nodes["first"].attempts] == [True]
    # The template's one warm process went to its first task; the second, and a template
    # without PRELOAD, start cold.
    assert [a.warm_cpu_seconds for a in nodes["second"].attempts] == [None]
    assert [a.warm_cpu_seconds for a in nodes["plain"].attempts] == [None]
    first_log = Path(nodes["first"].attempts[0].log).read_text()
    assert "preloaded True" in first_log
    assert "preloaded False" in Path(nodes["second"].attempts[0].log).read_text()
