"""The cores this machine has left idle lately, read from ``/proc/stat`` (Linux).

The local executor books every task's cpu request on its budget, as the Kubernetes scheduler
places pods by their requests. A request is not what a process uses: a FastQC pod books one core
and its JVM runs two threads for a while, one thread at other times, and none at all in the last
second of every run (FastQC 0.11's ``OfflineRunner`` polls for the end of its files once a second
before it exits); a tiny align books every core and uses one. CPU, unlike memory, is
compressible: a task started on cores that sit idle slows nobody down. :class:`IdleCores`
measures those cores so the budget (:class:`workflows.local.budget.ResourceBudget`) can start the
next task on them; memory is never booked beyond the budget.

Only the CPUs this process may run on are counted (``sched_getaffinity``: a container's cpuset),
and the idle time includes I/O wait (the core was free to run something else). Steal time is not
idle: the hypervisor gave that time to another machine.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

#: Seconds between two readings of /proc/stat. 0.05, not 0.1: a task ending leaves its cores idle
#: at once, and with a 0.2 s span the next task waited about a quarter of a second on them (the
#: first align of (b) beside the last FastQC: 1.3 cores idle for 0.26 s). A 0.1 s span still
#: holds 10 clock ticks per core (``USER_HZ`` 100). Measured on (b) and (c), alternating: README,
#: Benchmarks, issue 16's speed-ups.
INTERVAL = 0.05
#: Readings a measurement spans: idle cores are averaged over INTERVAL x WINDOW seconds.
WINDOW = 2


def usable_cpus() -> set[int]:
    """The CPUs this process may run on."""
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return set(range(os.cpu_count() or 1))


def read_fields(stat: Path, cpus: set[int]) -> list[int] | None:
    """Clock ticks of ``cpus`` since boot from ``stat`` (``/proc/stat``'s format), summed per
    field: user, nice, system, idle, iowait, irq, softirq, steal (guest time is already in user
    and nice); None when it cannot be read or names none of them.

    Read as bytes with plain ``os`` calls: the executor reads it every :data:`INTERVAL` for the
    whole run (the peer benchmark's sampler every 20 ms), and through ``Path.read_text`` and
    ``str`` lines a reading cost 0.30-0.33 ms of CPU against 0.18-0.21 ms so (this 2-core
    machine, readings 20 ms apart, so not from a warm cache)."""
    chunks = []
    try:
        fd = os.open(stat, os.O_RDONLY)
        try:
            # 64 KiB at a time: a larger buffer is allocated by mmap, page faults and all.
            while chunk := os.read(fd, 1 << 16):
                chunks.append(chunk)
        finally:
            os.close(fd)
    except OSError:
        return None
    names = {b"cpu%d" % n for n in cpus}
    sums = [0] * 8
    seen = 0
    for line in b"".join(chunks).split(b"\n"):
        if line.startswith(b"cpu") and (fields := line.split())[0] in names:
            for i, v in enumerate(fields[1:9]):
                sums[i] += int(v)
            seen += 1
    return sums if seen else None


def read_ticks(stat: Path, cpus: set[int]) -> tuple[int, int] | None:
    """(idle, total) clock ticks of ``cpus`` since boot, from ``stat`` (``/proc/stat``'s format);
    None when it cannot be read or names none of them. Idle includes I/O wait."""
    fields = read_fields(stat, cpus)
    return None if fields is None else (fields[3] + fields[4], sum(fields))


class IdleCores:
    """A daemon thread that reads ``/proc/stat`` every :data:`INTERVAL` seconds and tells
    ``observe(idle_cores, since)`` how many of the usable cores were idle, on average, over the
    last :data:`WINDOW` readings (``since``: when that span began, ``time.monotonic()``)."""

    def __init__(
        self,
        observe: Callable[[float, float], None],
        stat: Path = Path("/proc/stat"),
        interval: float = INTERVAL,
        window: int = WINDOW,
        cpus: set[int] | None = None,
    ) -> None:
        self.observe = observe
        self.stat = stat
        self.interval = interval
        self.window = window
        #: The CPUs counted (default: those this process may run on).
        self.cpus = usable_cpus() if cpus is None else cpus
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Start reading; False (and nothing started) when ``/proc/stat`` cannot be read."""
        first = read_ticks(self.stat, self.cpus)
        if first is None:
            return False
        self._thread = threading.Thread(target=self._loop, args=(first,), daemon=True)
        self._thread.start()
        return True

    def stop(self) -> None:
        """Stop reading (returns when the thread has ended)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self, first: tuple[int, int]) -> None:
        readings = [(time.monotonic(), *first)]
        while not self._stop.wait(self.interval):
            now = read_ticks(self.stat, self.cpus)
            if now is None:  # unreadable from here on: no idle core may be counted on
                self.observe(0.0, time.monotonic())
                return
            readings.append((time.monotonic(), *now))
            readings = readings[-(self.window + 1) :]
            since, idle0, total0 = readings[0]
            _, idle1, total1 = readings[-1]
            if total1 > total0:
                self.observe(len(self.cpus) * (idle1 - idle0) / (total1 - total0), since)
