"""Warm starts: a Python step's interpreter started early, its slow imports done before the step
is ready, then handed the step to run as ``python3 <script>`` would.

The report step ends every run, after the last alignment, and MultiQC's import alone is about 1.5 s
of one core there (the whole step is 2-5 s on the benchmark's workloads) while the other cores idle.
A Script template whose source sets ``PRELOAD`` (a tuple of module names, read with :mod:`ast`,
never run here) gets one warm process when the run starts: the template's Python, started as the
identity and with the environment its pod would have, imports those modules and waits. An entry
``module:function`` also calls ``function()`` once the module is imported: work the step would
otherwise do on every run, done before it is ready (the report's MultiQC templates compiled; see
:func:`workflows.report_table.warm_multiqc`). When the step's first attempt starts it receives the
command, the working folder, the environment and its log over a socketpair, and runs the script as
``__main__``.

What the step sees is a plain start: the same interpreter, ``PYTHON*`` and locale variables
(anything else refuses the warm process and starts cold), the same uid and groups, ``sys.argv``,
``sys.path[0]`` the script's folder, its own cwd, environment and stdin/stdout/stderr, exit code
and traceback as ``python3 <script>`` gives them. What differs: the preloaded modules were imported
with the environment the pod has before its own variables are known (``HOME``, ``TMPDIR`` and the
template's ``env`` are set at hand-over; a module that reads them at import reads other values).
The process is the executor's child from the start, so its wait4 CPU time (the import included)
is the step's, as it would be cold.

As root the warm process waits at nice 19, so its import takes cores only while the tasks leave
them idle, and is put back to the executor's priority at hand-over; a non-root executor could not
raise it again, so there it imports at normal priority (the same CPU, earlier). Its ticks stay
busy ones for the idle-core rule (:mod:`workflows.local.idle`): counted as idle, they made the
rule start tasks that starved the import, and the report waited for the rest of it at the tail
(the work is the same either way; only the import shortens the tail). It holds its imports'
memory (about 150 MiB for MultiQC) unbooked until the step starts. run.json records, per attempt,
how much CPU the imports had used at hand-over. Local only: a cluster pod starts its interpreter
when it is scheduled.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The warm process's program (``python -c``): argv[1] is its end of the socketpair, the rest the
#: ``PRELOAD`` entries. A module that fails to import, or a function that fails, is left for the
#: script to do (and fail on) itself.
PROGRAM = r"""
import importlib, json, os, socket, sys
sock = socket.socket(fileno=int(sys.argv[1]))
for entry in sys.argv[2:]:
    name, _, call = entry.partition(":")
    try:
        module = importlib.import_module(name)
        if call:
            getattr(module, call)()
    except Exception:
        pass
def read(data, size):
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:  # the executor is gone, or closed it unused
            os._exit(0)
        data += chunk
    return data
head, fds, _, _ = socket.recv_fds(sock, 8, 2)
if len(fds) != 2:
    os._exit(0)
body = read(b"", int.from_bytes(read(head, 8), "big"))
sock.close()
task = json.loads(body)
out, stdin = fds
os.dup2(stdin, 0)
os.dup2(out, 1)
os.dup2(out, 2)
os.close(stdin)
os.close(out)
os.chdir(task["cwd"])
os.environ.clear()
os.environ.update(task["env"])
import tempfile
tempfile.tempdir = None
script = task["argv"][0]
sys.argv = list(task["argv"])
sys.path[0] = os.path.dirname(os.path.abspath(script))
import runpy
runpy.run_path(script, run_name="__main__")
"""

#: Environment variables that shape an interpreter at start-up (its paths and flags, its locale:
#: the encoding of stdout): a step whose values differ from the warm process's starts cold.
STARTUP_PREFIXES = ("PYTHON", "LC_", "LANG")


def preload(source: str) -> tuple[str, ...]:
    """The entries (``module`` or ``module:function``) a script's top-level ``PRELOAD = (...)``
    lists; () when it has none (or the source does not parse, or the value is not a literal tuple
    or list of strings)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ()
    for stmt in tree.body:
        if (
            isinstance(stmt, ast.Assign)
            and [getattr(t, "id", None) for t in stmt.targets] == ["PRELOAD"]
            and isinstance(stmt.value, ast.Tuple | ast.List)
        ):
            names = [e.value if isinstance(e, ast.Constant) else None for e in stmt.value.elts]
            if all(isinstance(n, str) and n for n in names):
                return tuple(str(n) for n in names)
    return ()


def _startup_env(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(STARTUP_PREFIXES)}


def cpu_ticks(pid: int) -> int:
    """User + system clock ticks ``pid`` has used, all its threads (``/proc/<pid>/stat``); 0 when
    it cannot be read (gone, or not Linux)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return 0
    return int(fields[11]) + int(fields[12])  # utime, stime: the 14th and 15th fields


@dataclass
class _Warm:
    proc: subprocess.Popen[bytes]
    sock: socket.socket
    python: str
    popen: Mapping[str, Any]
    startup: dict[str, str]
    niced: bool


class WarmStarts:
    """The run's warm processes, one per Script template that sets ``PRELOAD``, each used by that
    template's first attempt; :meth:`close` kills the ones never used."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._warm: dict[str, _Warm] = {}
        #: Processes handed a step (the count run.json records).
        self.used = 0

    def prepare(
        self,
        name: str,
        command: str,
        modules: Sequence[str],
        env: Mapping[str, str],
        popen: Mapping[str, Any],
    ) -> bool:
        """Start template ``name``'s warm process: ``command`` (its ``python3``) found on
        ``env``'s PATH, started as ``popen``'s identity; False when it cannot be started."""
        python = shutil.which(command, path=env.get("PATH", os.defpath))
        if python is None or not modules:
            return False
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            proc = subprocess.Popen(
                [python, "-c", PROGRAM, str(theirs.fileno()), *modules],
                cwd="/",
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
                **popen,
            )
        except OSError:
            ours.close()
            return False
        finally:
            theirs.close()
        niced = False
        if os.geteuid() == 0:  # root can put it back at hand-over; see the module docstring
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, proc.pid, 19)
                niced = True
        old = self._take(name)
        with self._lock:
            self._warm[name] = _Warm(proc, ours, python, dict(popen), _startup_env(env), niced)
        if old is not None:
            _kill(old)
        return True

    def start(
        self,
        name: str,
        command: Sequence[str],
        cwd: Path,
        env: Mapping[str, str],
        log: Path,
        popen: Mapping[str, Any],
    ) -> tuple[subprocess.Popen[bytes], float] | None:
        """Hand ``command`` (``[python3, script, *args]``) to template ``name``'s warm process;
        return it, running, and the CPU seconds it had used (its imports); None when there is
        none, or it does not match (then start cold)."""
        warm = self._take(name)
        if warm is None:
            return None
        fits = (
            len(command) >= 2
            and not command[1].startswith("-")
            and shutil.which(command[0], path=env.get("PATH", os.defpath)) == warm.python
            and dict(popen) == warm.popen
            and _startup_env(env) == warm.startup
            and warm.proc.poll() is None
        )
        if not fits:
            _kill(warm)
            return None
        if warm.niced:  # first: a niced process still importing would be slow to read
            _reprioritize(warm.proc.pid, os.getpriority(os.PRIO_PROCESS, 0))
        before = cpu_ticks(warm.proc.pid) / os.sysconf("SC_CLK_TCK")
        body = json.dumps({"argv": list(command[1:]), "cwd": str(cwd), "env": dict(env)}).encode()
        try:
            with log.open("wb") as out, open(os.devnull, "rb") as stdin:
                socket.send_fds(warm.sock, [len(body).to_bytes(8, "big")], [out.fileno(), stdin.fileno()])
                warm.sock.sendall(body)
        except OSError:  # it died meanwhile (killed from outside): start cold
            _kill(warm)
            return None
        finally:
            warm.sock.close()
        with self._lock:
            self.used += 1
        return warm.proc, before

    def close(self) -> None:
        """Kill and reap the warm processes no step was handed."""
        with self._lock:
            names = list(self._warm)
        for name in names:
            warm = self._take(name)
            if warm is not None:
                _kill(warm)

    def _take(self, name: str) -> _Warm | None:
        with self._lock:
            return self._warm.pop(name, None)


def _reprioritize(pid: int, nice: int) -> None:
    # setpriority() on a pid moves one thread: its imports may have started others.
    try:
        tids: Iterable[int] = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        tids = [pid]
    for tid in tids:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, tid, nice)


def _kill(warm: _Warm) -> None:
    warm.sock.close()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(warm.proc.pid, signal.SIGKILL)
    warm.proc.wait()
