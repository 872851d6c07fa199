"""Run a workflow's first steps while the input check still reads, and nothing else.

``seqstack run`` reads every FASTQ file before a sample may run (:mod:`workflows.local.fastq`): on
a sample of a million read pairs that is a second of both cores. FastQC leaves part of its cores
idle (its JVM starts, its queue starts one file per half second), so the check's CPU fits in
FastQC's gaps if FastQC need not wait for it. :class:`InputHold` lets the executor start the
tasks that only read the inputs (FastQC) at once, and holds everything else until the check has
answered: every other task's start, and every task's end (a finished FastQC publishes nothing
until then). A check that passes releases the hold and the run goes on as if it had waited;
one that finds a bad sample stops the run before anything was published, and ``seqstack run``
runs the samples that passed, exactly as if the check had answered first (:mod:`workflows.local.run`).

:class:`DeferredEvents` holds the run's listeners' events (the progress display, run.json) the
same way, so a run the check stops leaves no trace in either.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence

from workflows.local.nodes import Listener, Node


class InputHold:
    """The check's answer, awaited by the executor's task threads (see the module docstring)."""

    def __init__(self, free: Collection[str]) -> None:
        #: Tasks that may start before the answer (they read the inputs and publish nothing yet).
        self.free = frozenset(free)
        self._answered = threading.Event()
        self._passed = False
        self._lock = threading.Lock()

    def settle(self, passed: bool) -> None:
        """The answer: ``passed`` (every sample may run) or not. The first answer stands: a run
        cancelled meanwhile stays cancelled."""
        with self._lock:
            if self._answered.is_set():
                return
            self._passed = passed
            self._answered.set()

    @property
    def settled(self) -> bool:
        """Whether the answer is in."""
        return self._answered.is_set()

    @property
    def passed(self) -> bool:
        """The answer was in and good (False until it is in)."""
        return self._answered.is_set() and self._passed

    def wait(self) -> bool:
        """Block until the answer; whether the run may go on."""
        self._answered.wait()
        return self._passed


class DeferredEvents:
    """A listener that keeps its listeners' events until :meth:`release` hands them over, in
    order (then passes every later one straight on), or :meth:`drop` forgets them."""

    def __init__(self, listeners: Sequence[Listener]) -> None:
        self.listeners = list(listeners)
        self._kept: list[tuple[Node, str]] | None = []
        self._dropped = False
        self._lock = threading.Lock()

    def event(self, node: Node, what: str) -> None:
        with self._lock:
            if self._dropped:
                return
            if self._kept is not None:
                self._kept.append((node, what))
                return
            for listener in self.listeners:
                listener.event(node, what)

    def release(self) -> None:
        """Hand the kept events over (a listener's error propagates, as from :meth:`event`)."""
        with self._lock:
            kept, self._kept = self._kept or [], None
            for node, what in kept:
                for listener in self.listeners:
                    listener.event(node, what)

    def drop(self) -> None:
        """Forget the kept events and every later one."""
        with self._lock:
            self._dropped = True
            self._kept = None
