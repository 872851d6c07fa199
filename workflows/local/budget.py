"""The resource budget: the cores and memory of this machine that tasks book by their requests,
as the Kubernetes scheduler places pods (the role of Argo's ``workflow/sync`` for mutexes is
:class:`Mutexes`'s). When told how many cores sit idle (:mod:`workflows.local.idle`), the budget
also starts a task on them, beyond its cpu requests; never beyond its memory."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any


class ResourceBudget:
    """A FIFO budget of cores and memory: a task waits its turn, so big tasks are not starved by
    small ones, and tasks whose memory requests do not fit together never run together.

    Cores are compressible, memory is not. Given :meth:`observe` readings, the task at the head
    of the queue also starts when its cores are not free on the budget but the machine has had
    idle cores (its cpu request's worth, or one whole core if it asks for more; less
    :data:`IDLE_SLACK`) over a span of time that began after the last task started that way (one
    idle span starts one task), as long as no more than twice the budget's cores are booked.
    Its memory must still be free.
    """

    #: Cores of measuring noise forgiven: 0.95 cores idle is one idle core.
    IDLE_SLACK = 0.1

    def __init__(self, cpus: float, memory_mib: float = math.inf) -> None:
        self.total = cpus
        self.free = cpus
        self.free_mib = memory_mib
        self.cond = threading.Condition()
        self.queue: deque[tuple[object, float, float]] = deque()
        #: The last reading of idle cores and when its span began (time.monotonic()); None: never.
        self.idle: tuple[float, float] | None = None
        self._idle_start = -math.inf
        #: Tasks started on idle cores (beyond their cpu requests' share of the budget).
        self.started_on_idle = 0

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
            and idle + self.IDLE_SLACK >= min(cost, 1.0)
            and booked + cost <= 2 * self.total + 1e-9
        )

    def acquire(self, cost: float, cancelled: threading.Event, mib: float = 0.0) -> bool:
        """Book ``cost`` cores and ``mib`` MiB in turn; False if ``cancelled`` while waiting."""
        entry = (object(), cost, mib)
        with self.cond:
            self.queue.append(entry)
            while not cancelled.is_set() and (self.queue[0] is not entry or not self._fits(cost, mib)):
                self.cond.wait(0.2)
            self.queue.remove(entry)
            if cancelled.is_set():
                self.cond.notify_all()
                return False
            if self.free + 1e-9 < cost:
                self._idle_start = time.monotonic()
                self.started_on_idle += 1
            self.free -= cost
            self.free_mib -= mib
            self.cond.notify_all()
            return True

    def observe(self, idle: float, since: float) -> None:
        """A reading: ``idle`` cores were idle on average from ``since`` (time.monotonic()) to
        now. Wakes the head of the queue when it may start on them."""
        with self.cond:
            self.idle = (idle, since)
            if self.queue and self._fits(*self.queue[0][1:]):
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
