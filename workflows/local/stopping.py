"""How ``seqstack run`` is stopped: SIGTERM and SIGHUP handled as Ctrl-C is, and the exit code
each way of stopping gives."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

#: Exit code of a run stopped by Ctrl-C (SIGTERM/SIGHUP: 128 + the signal's number, 143/129).
EXIT_INTERRUPTED = 130


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, handled as Ctrl-C is."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_code(exc: KeyboardInterrupt) -> int:
    """128 + the signal's number, as a shell reports a process killed by it (Ctrl-C: 130)."""
    return 128 + exc.signum if isinstance(exc, Terminated) else EXIT_INTERRUPTED


@contextlib.contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Terminated` in the main thread (once: a second signal
    while the tasks are being stopped is ignored, so the clean-up finishes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        if not raised.is_set():
            raised.set()
            raise Terminated(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
