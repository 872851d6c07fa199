"""Process launching: CPU time of the whole waited tree, deadlines, faults and cancellation."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from workflows.local import pod_identity
from workflows.local.launch import Fault, Processes
from workflows.local.nodes import Node
from workflows.local.pod_identity import Identity

BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.4: pass\n"


def _processes() -> Processes:
    return Processes(threading.Event(), terminate_grace=1)


def test_cpu_time_counts_the_tools_a_shell_pipeline_forks(tmp_path: Path) -> None:
    """The CPU is burnt two levels down (bash -> pipeline -> python), never by bash itself."""
    procs = _processes()
    script = f"{sys.executable} -c '{BURN}' | cat; {sys.executable} -c '{BURN}'"
    proc = procs.launch(["bash", "-c", script], tmp_path, dict(os.environ), tmp_path / "log", {})
    ended = procs.wait(proc, deadline=None, kill_at=None)
    assert ended.returncode == 0 and proc.returncode == 0
    assert 0.75 <= ended.cpu_seconds < 5, ended.cpu_seconds


def test_an_idle_process_has_next_to_no_cpu_time(tmp_path: Path) -> None:
    procs = _processes()
    proc = procs.launch(["sleep", "0.3"], tmp_path, dict(os.environ), tmp_path / "log", {})
    ended = procs.wait(proc, deadline=None, kill_at=None)
    assert ended.returncode == 0 and ended.cpu_seconds < 0.1


def test_deadline_and_fault_kill_the_group(tmp_path: Path) -> None:
    procs = _processes()
    proc = procs.launch(["bash", "-c", "sleep 30 & wait"], tmp_path, dict(os.environ), tmp_path / "log", {})
    ended = procs.wait(proc, deadline=time.monotonic() + 0.3, kill_at=None)
    assert ended.deadline_exceeded and ended.returncode == -9
    proc = procs.launch(["sleep", "30"], tmp_path, dict(os.environ), tmp_path / "log", {})
    ended = procs.wait(proc, deadline=None, kill_at=time.monotonic() + 0.2)
    assert not ended.deadline_exceeded and ended.returncode == -9


def test_stop_all_terminates_running_processes_and_waits_for_their_reaping(tmp_path: Path) -> None:
    procs = _processes()
    proc = procs.launch(["sleep", "30"], tmp_path, dict(os.environ), tmp_path / "log", {})
    result = []
    waiter = threading.Thread(target=lambda: result.append(procs.wait(proc, None, None)))
    waiter.start()
    started = time.monotonic()
    procs.stop_all()
    assert result and result[0].returncode == -15  # SIGTERM was enough, and it was reaped
    assert time.monotonic() - started < 5 and procs.cancelled.is_set()
    waiter.join()
    # Started after the cancel: killed at once rather than left running.
    late = procs.launch(["sleep", "30"], tmp_path, dict(os.environ), tmp_path / "log", {})
    assert procs.wait(late, None, None).returncode == -9


def test_fault_rules_match_task_sample_and_attempt() -> None:
    node = Node(key="wf/samples(0:s1)/align", task="align", template="align", kind="Pod", sample="s1")
    assert Fault.parse("kill:s1/align@2:after=1.5") == Fault("s1/align", 2, 1.5)
    assert Fault.parse("kill:align@2").matches(node, 2)
    assert not Fault.parse("kill:align@2").matches(node, 1)
    assert Fault.parse("kill:samples(*)/al*@1").matches(node, 1)
    assert not Fault.parse("kill:s2/align@1").matches(node, 1)


def test_waiting_sleeps_until_the_exit_instead_of_polling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task's end is seen the moment it happens (a pidfd), not at the next poll: on a sheet of
    many short tasks the polls' delays left cores idle while the next task was ready."""
    from workflows.local import launch

    waiter = launch._exit_waiter(os.getpid())  # Linux >= 5.3 (elsewhere: polling, the fallback)
    assert waiter is not None
    waiter.close()
    sleeps: list[float] = []
    monkeypatch.setattr(launch.time, "sleep", sleeps.append)
    procs = _processes()
    proc = procs.launch(["sleep", "0.3"], tmp_path, dict(os.environ), tmp_path / "log", {})
    ended = procs.wait(proc, deadline=time.monotonic() + 30, kill_at=None)
    assert ended.returncode == 0 and not ended.deadline_exceeded
    assert sleeps == []  # it never polled
    proc = procs.launch(["sleep", "30"], tmp_path, dict(os.environ), tmp_path / "log", {})
    t0 = time.monotonic()
    ended = procs.wait(proc, deadline=t0 + 0.2, kill_at=None)  # the deadline still wakes it
    assert ended.deadline_exceeded and ended.returncode == -9 and time.monotonic() - t0 < 5


ID_PROBE = ["sh", "-c", "id -u; id -g; id -G; umask; echo $$"]
needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="identities are taken only as root (CI runs as root)"
)


@needs_root
@pytest.mark.parametrize("identity", [Identity(1000, 1001, (2000, 2001)), Identity(1000, 0)])
def test_a_task_started_as_an_identity_has_what_popen_itself_would_give_it(
    tmp_path: Path, identity: Identity
) -> None:
    """setpriv takes the identity (the executor is not forked): uid, gid, groups, umask are what
    CPython's own ``user``/``group``/``extra_groups``/``umask`` give, in the launched pid."""
    procs = _processes()
    proc = procs.launch(ID_PROBE, tmp_path, dict(os.environ), tmp_path / "log", identity.popen())
    assert procs.wait(proc, deadline=None, kill_at=None).returncode == 0
    *ids, pid = (tmp_path / "log").read_text().splitlines()
    assert int(pid) == proc.pid  # setpriv exec'd the command: the same process
    direct = subprocess.run(ID_PROBE, capture_output=True, text=True, check=True, **identity.popen())
    assert ids == direct.stdout.splitlines()[:-1]
    groups = " ".join(str(g) for g in sorted({identity.gid, *identity.groups}))
    assert ids == [str(identity.uid), str(identity.gid), groups, "0022"]


@needs_root
def test_a_command_an_identity_cannot_find_exits_127_with_one_line_naming_it(tmp_path: Path) -> None:
    procs = _processes()
    popen = Identity(1000, 1000).popen()
    proc = procs.launch(["no-such-tool", "x"], tmp_path, {"PATH": "/usr/bin:/bin"}, tmp_path / "log", popen)
    assert procs.wait(proc, deadline=None, kill_at=None).returncode == 127
    (line,) = (tmp_path / "log").read_text().splitlines()
    assert "no-such-tool" in line


def test_an_identity_is_taken_by_setpriv_and_left_to_popen_without_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The keywords that make CPython fork the executor go to setpriv; none remain."""
    popen = Identity(1000, 1001, (2000,)).popen()
    command, rest = pod_identity.exec_as(["bash", "-c", "true"], popen)
    assert command[-4:] == ["--", "bash", "-c", "true"]
    assert command[1:4] == ["--reuid=1000", "--regid=1001", "--groups=2000"]
    assert rest == {"umask": 0o022}
    assert pod_identity.exec_as(["true"], {}) == (["true"], {})
    monkeypatch.setattr(pod_identity, "setpriv", lambda: None)
    assert pod_identity.exec_as(["true"], popen) == (["true"], popen)
