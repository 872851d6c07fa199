"""The resource budget: the cores and memory of this machine that tasks book by their requests,
as the Kubernetes scheduler places pods (the role of Argo's ``workflow/sync`` for mutexes is
:class:`Mutexes`'s). When told how many cores sit idle (:mod:`workflows.local.idle`), the budget
also starts a task on them, beyond its cpu requests; never beyond its memory."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(eq=False)
class _Waiter:
    """A task waiting in the queue and what it would book (``eq=False``: each is itself)."""

    cost: float
    mib: float


class ResourceBudget:
    """A FIFO budget of cores and memory: a task waits its turn, so big tasks are not starved by
    small ones, and tasks whose memory requests do not fit together never run together.

    Cores are compressible, memory is not. Given :meth:`observe` readings, the task at the head
    of the queue also starts when its cores are not free on the budget but the machine has had
    idle cores (:data:`IDLE_SHARE` of its cpu request, or of one whole core if it asks for more;
    less :data:`IDLE_SLACK`) over a span of time that began after the last task started that way
    (one idle span starts one task), as long as no more than twice the budget's cores are booked.
    Its memory must still be free.
    """

    #: Cores of measuring noise forgiven: 0.95 cores idle is one idle core.
    IDLE_SLACK = 0.1
    #: The share of a core (or of a smaller request) that must sit idle for a task to start on it.
    #: Half, not all: a lone FastQC JVM at the end of its phase uses about 1.5 of 2 cores for
    #: seconds, and the next task (the first align, the last FastQC) waited for it to end while
    #: half a core idled. Started beside it, both share the cores and the half core is used; the
    #: work is the same (CPU is compressible) and memory is still booked strictly. Measured on the
    #: benchmark's (b), alternating: README, Benchmarks, issue 16's speed-ups.
    IDLE_SHARE = 0.5

    def __init__(self, cpus: float, memory_mib: float = math.inf) -> None:
        self.total = cpus
        self.free = cpus
        self.free_mib = memory_mib
        self.cond = threading.Condition()
        self.queue: deque[_Waiter] = deque()
        #: The last reading of idle cores and when its span began (time.monotonic()); None: never.
        self.idle: tuple[float, float] | None = None
        self._idle_start = -math.inf
        #: Tasks started on idle cores (beyond their cpu requests' share of the budget).
        self.started_on_idle = 0
        #: Tasks that booked less than they first asked for (``resize``).
        self.booked_less = 0

    def _fits(self, cost: float, mib: float) -> bool:
        if self.free_mib + 1e-9 < mib:
            return False
        if self.free + 1e-9 >= cost:
            return True
        if self.idle is None:
            return False
        idle, since = self.idle
        booked = self.total - self.free
        return (
            since > self._idle_start
            and idle + self.IDLE_SLACK >= self.IDLE_SHARE * min(cost, 1.0)
            and booked + cost <= 2 * self.total + 1e-9
        )

    def acquire(self, cost: float, cancelled: threading.Event, mib: float = 0.0) -> bool:
        """Book ``cost`` cores and ``mib`` MiB in turn; False if ``cancelled`` while waiting."""
        return self.book(cost, cancelled, mib) is not None

    def book(
        self,
        cost: float,
        cancelled: threading.Event,
        mib: float = 0.0,
        resize: Callable[[], tuple[float, float]] | None = None,
    ) -> tuple[float, float] | None:
        """Book ``cost`` cores and ``mib`` MiB in turn, or what ``resize()`` says when it is asked
        again (at every wake-up: what the task needs may be learnt while it waits, see
        :mod:`workflows.local.usage`); returns what was booked, None if ``cancelled``."""
        entry = _Waiter(cost, mib)
        with self.cond:
            self.queue.append(entry)
            while not cancelled.is_set():
                if resize is not None:
                    entry.cost, entry.mib = resize()
                if self.queue[0] is entry and self._fits(entry.cost, entry.mib):
                    break
                self.cond.wait(0.2)
            self.queue.remove(entry)
            if cancelled.is_set():
                self.cond.notify_all()
                return None
            if self.free + 1e-9 < entry.cost:
                self._idle_start = time.monotonic()
                self.started_on_idle += 1
            if (entry.cost, entry.mib) != (cost, mib):
                self.booked_less += 1
            self.free -= entry.cost
            self.free_mib -= entry.mib
            self.cond.notify_all()
            return entry.cost, entry.mib

    def observe(self, idle: float, since: float) -> None:
        """A reading: ``idle`` cores were idle on average from ``since`` (time.monotonic()) to
        now. Wakes the head of the queue when it may start on them."""
        with self.cond:
            self.idle = (idle, since)
            if self.queue and self._fits(self.queue[0].cost, self.queue[0].mib):
                self.cond.notify_all()

    def release(self, cost: float, mib: float = 0.0) -> None:
        """Give back what :meth:`acquire` booked."""
        with self.cond:
            self.free += cost
            self.free_mib += mib
            self.cond.notify_all()

    def wake(self) -> None:
        """Make every waiter look at the cancel flag now."""
        with self.cond:
            self.cond.notify_all()


class Mutexes:
    """Named mutexes (``synchronization.mutex``/``mutexes``) shared by every workflow of a run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mutexes: dict[str, threading.Lock] = {}

    def locks(self, synchronization: Mapping[str, Any] | None) -> list[threading.Lock]:
        """The locks a template's ``synchronization`` names, in a fixed order (no deadlock)."""
        sync = synchronization or {}
        names = [str(m["name"]) for m in sync.get("mutexes") or []]
        single = sync.get("mutex")
        if single:
            names.append(str(single["name"]))
        with self._lock:
            return [self._mutexes.setdefault(n, threading.Lock()) for n in sorted(names)]
