"""Process launching and cancellation: each task's process in its own process group, waited
with its deadline and any injected fault, its CPU time measured, and every group stopped on
cancel (SIGTERM, then SIGKILL after a grace period), as snakemake's ``executors/local.py``.

CPU time: the process is reaped here with ``os.wait4``, whose rusage is the user + system time
of the process *and of every descendant it waited for* (the kernel adds a reaped child's usage,
its own reaped children included, to its parent's). A ``bash -c 'bwa mem | samtools sort'``
step waits for both tools, so both are counted; threads are part of their process. What it
cannot see: a descendant that outlives the leader (reparented, then killed with the group, and
never reaped by the tree): such CPU is missed, never counted twice. ``RUSAGE_CHILDREN`` of this
process would mix the concurrently running tasks, and /proc accounting vanishes with the
process, so the per-process wait4 rusage is the one exact per-attempt figure.
"""

from __future__ import annotations

import contextlib
import fnmatch
import math
import os
import re
import select
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workflows.local.nodes import Node
from workflows.local.pod_identity import exec_as


@dataclass(frozen=True)
class Fault:
    """``kill:<glob>@<attempt>[:after=<s>]``: SIGKILL a matching task's process on that attempt."""

    glob: str
    attempt: int
    after: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Fault:
        """Read one ``--inject-fault`` rule."""
        m = re.fullmatch(r"kill:([^@]+)@(\d+)(?::after=(\d+(?:\.\d+)?))?", text.strip())
        if not m:
            raise ValueError(f"bad fault {text!r}: expected kill:<task-glob>@<attempt>[:after=<seconds>]")
        return cls(glob=m.group(1), attempt=int(m.group(2)), after=float(m.group(3) or 0))

    def matches(self, node: Node, attempt: int) -> bool:
        """Does this rule kill ``node``'s attempt number ``attempt``?"""
        if attempt != self.attempt:
            return False
        names = (node.task, node.display, f"{node.sample}/{node.task}" if node.sample else node.task)
        return any(fnmatch.fnmatchcase(n, self.glob) for n in names)


@dataclass(frozen=True)
class Exit:
    """How a launched process ended."""

    returncode: int
    """As :class:`subprocess.Popen` reports it: negative for a signal."""
    cpu_seconds: float
    """User + system time of the process and the descendants it waited for."""
    deadline_exceeded: bool
    """It was killed because its deadline passed."""
    peak_mib: float = 0.0
    """Peak resident memory of the largest of those processes (``ru_maxrss``; at least this
    process's own peak, which Linux carries into a child through ``exec``)."""
    seconds: float = 0.0
    """Seconds from the start of the wait (just after the launch) to the exit."""


@dataclass
class _Running:
    proc: subprocess.Popen[bytes]
    reaped: threading.Event


class Processes:
    """The running task processes of one run. Only the thread that launched a process reaps it
    (with ``os.wait4``, for its rusage); :meth:`stop_all` signals and waits for that."""

    def __init__(self, cancelled: threading.Event, terminate_grace: float) -> None:
        self.cancelled = cancelled
        self.terminate_grace = terminate_grace
        self._lock = threading.Lock()
        self._running: dict[int, _Running] = {}

    def launch(
        self,
        command: Sequence[str],
        cwd: Path,
        env: Mapping[str, str],
        log: Path,
        popen: Mapping[str, Any],
    ) -> subprocess.Popen[bytes]:
        """Start ``command`` in a new session, output to ``log``; raises OSError if it cannot.
        An identity in ``popen`` is taken by ``setpriv`` (:func:`exec_as`), not by a fork."""
        command, popen = exec_as(command, popen)
        with log.open("wb") as out:
            proc = subprocess.Popen(
                command,
                cwd=cwd,
                env=dict(env),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                **popen,
            )
        self.adopt(proc)
        return proc

    def adopt(self, proc: subprocess.Popen[bytes]) -> None:
        """Count ``proc`` (a child of this process, leading its own session) among the running:
        :meth:`stop_all` stops it, :meth:`wait` reaps it."""
        with self._lock:
            self._running[proc.pid] = _Running(proc, threading.Event())
            # stop_all() sets the flag before it snapshots the table under this lock: a process
            # started just after that snapshot is ours to stop, or Ctrl-C waits for it to end.
            late = self.cancelled.is_set()
        if late:
            signal_group(proc.pid, signal.SIGKILL)

    def wait(self, proc: subprocess.Popen[bytes], deadline: float | None, kill_at: float | None) -> Exit:
        """Reap ``proc``; SIGKILL its group at ``kill_at`` (an injected fault) or ``deadline``
        (``time.monotonic()`` instants). Anything it left running in its group is killed."""
        deadline_exceeded = False
        delay = 0.0005
        began = time.monotonic()
        exited = _exit_waiter(proc.pid)
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid == proc.pid:
                    break
                now = time.monotonic()
                if kill_at is not None and now >= kill_at:
                    signal_group(proc.pid, signal.SIGKILL)
                    kill_at = None
                if deadline is not None and now >= deadline:
                    deadline_exceeded = True
                    signal_group(proc.pid, signal.SIGKILL)
                    deadline = None
                if exited is not None:
                    # Sleep until it exits or the next instant to act at: the next task starts
                    # the moment this one ends, not at the next poll.
                    due = [t - now for t in (kill_at, deadline) if t is not None]
                    exited.poll(max(0, math.ceil(min(due) * 1000)) if due else None)
                else:
                    time.sleep(delay)
                    delay = min(delay * 2, 0.05)
        finally:
            if exited is not None:
                exited.close()
            with self._lock:
                running = self._running.pop(proc.pid, None)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if running is not None:
            running.reaped.set()
        # The leader is gone; anything it left running in its group goes too.
        signal_group(proc.pid, signal.SIGKILL)
        return Exit(
            proc.returncode,
            usage.ru_utime + usage.ru_stime,
            deadline_exceeded,
            peak_mib=usage.ru_maxrss / 1024,  # KiB on Linux
            seconds=time.monotonic() - began,
        )

    def stop_all(self) -> None:
        """SIGTERM every running process group, SIGKILL the survivors after the grace period,
        and wait until their launchers reaped them."""
        self.cancelled.set()
        with self._lock:
            running = list(self._running.items())
        for pid, _ in running:
            signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.terminate_grace
        for pid, r in running:
            if not r.reaped.wait(max(0.0, deadline - time.monotonic())):
                signal_group(pid, signal.SIGKILL)
        for pid, r in running:
            signal_group(pid, signal.SIGKILL)  # stragglers that left the leader behind
            r.reaped.wait(5)


class _ExitWaiter:
    """A pidfd (Linux 5.3+): readable once the process has exited, so waiting costs no polling."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.poller = select.poll()
        self.poller.register(fd, select.POLLIN)

    def poll(self, timeout_ms: int | None) -> None:
        self.poller.poll(timeout_ms)

    def close(self) -> None:
        os.close(self.fd)


def _exit_waiter(pid: int) -> _ExitWaiter | None:
    """A waiter on ``pid``'s exit, or None where pidfds are not available (then: polling)."""
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None or not hasattr(select, "poll"):
        return None
    try:
        return _ExitWaiter(pidfd_open(pid))
    except OSError:  # an older kernel, or a sandbox without the system call
        return None


def signal_group(pgid: int, sig: int) -> None:
    """Signal a process group that may already be gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
