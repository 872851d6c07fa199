"""The resource budget: the cores and memory of this machine that tasks book by their requests,
as the Kubernetes scheduler places pods (the role of Argo's ``workflow/sync`` for mutexes is
:class:`Mutexes`'s)."""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Mapping
from typing import Any


class ResourceBudget:
    """A FIFO budget of cores and memory: a task waits its turn, so big tasks are not starved by
    small ones, and tasks whose memory requests do not fit together never run together."""

    def __init__(self, cpus: float, memory_mib: float = math.inf) -> None:
        self.total = cpus
        self.free = cpus
        self.free_mib = memory_mib
        self.cond = threading.Condition()
        self.queue: deque[object] = deque()

    def acquire(self, cost: float, cancelled: threading.Event, mib: float = 0.0) -> bool:
        """Book ``cost`` cores and ``mib`` MiB in turn; False if ``cancelled`` while waiting."""
        ticket = object()
        with self.cond:
            self.queue.append(ticket)
            while not cancelled.is_set() and (
                self.queue[0] is not ticket or self.free + 1e-9 < cost or self.free_mib + 1e-9 < mib
            ):
                self.cond.wait(0.2)
            self.queue.remove(ticket)
            if cancelled.is_set():
                self.cond.notify_all()
                return False
            self.free -= cost
            self.free_mib -= mib
            self.cond.notify_all()
            return True

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
