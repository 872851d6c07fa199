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
    """A task waiting in the queue, what it would book, and its own condition on the budget's
    lock, notified when it may look again (``eq=False``: each is itself)."""

    cost: float
    mib: float
    turn: threading.Condition


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
    #: Seconds between the head's looks when nothing wakes it (what it would book may shrink).
    HEAD_POLL = 0.2
    #: Seconds between the other waiters' looks when nothing wakes them: a safety net only.
    BEHIND_POLL = 5.0

    def __init__(self, cpus: float, memory_mib: float = math.inf) -> None:
        self.total = cpus
        self.free = cpus
        self.free_mib = memory_mib
        self.lock = threading.Lock()
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
        again (at each look the task takes at the head of the queue: what it needs may be learnt
        while it waits, see :mod:`workflows.local.usage`); returns what was booked, None if
        ``cancelled``."""
        with self.lock:
            entry = _Waiter(cost, mib, threading.Condition(self.lock))
            self.queue.append(entry)
            while not cancelled.is_set():
                if self.queue[0] is not entry:
                    # Only the head may book (first come, first served): the others sleep until
                    # the head leaves or the run is cancelled, not at every release or reading.
                    entry.turn.wait(self.BEHIND_POLL)
                    continue
                if resize is not None:
                    entry.cost, entry.mib = resize()
                if self._fits(entry.cost, entry.mib):
                    break
                entry.turn.wait(self.HEAD_POLL)
            self.queue.remove(entry)
            self._notify_head()
            if cancelled.is_set():
                return None
            if self.free + 1e-9 < entry.cost:
                self._idle_start = time.monotonic()
                self.started_on_idle += 1
            if (entry.cost, entry.mib) != (cost, mib):
                self.booked_less += 1
            self.free -= entry.cost
            self.free_mib -= entry.mib
            return entry.cost, entry.mib

    def _notify_head(self) -> None:
        if self.queue:
            self.queue[0].turn.notify()

    def observe(self, idle: float, since: float) -> None:
        """A reading: ``idle`` cores were idle on average from ``since`` (time.monotonic()) to
        now. Wakes the head of the queue when it may start on them."""
        with self.lock:
            self.idle = (idle, since)
            if self.queue and self._fits(self.queue[0].cost, self.queue[0].mib):
                self._notify_head()

    def release(self, cost: float, mib: float = 0.0) -> None:
        """Give back what :meth:`acquire` booked."""
        with self.lock:
            self.free += cost
            self.free_mib += mib
            self._notify_head()

    def wake(self) -> None:
        """Make the head of the queue look again now, at the cancel flag or at what it would book
        (once cancelled, each waiter wakes the next as it leaves the queue)."""
        with self.lock:
            self._notify_head()


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
