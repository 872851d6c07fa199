"""Hera imported, and the run rendered, in a child forked when ``seqstack run`` starts.

Hera's import (behind :mod:`workflows.render`) is about a second of one core: pydantic builds
its Argo and Kubernetes model classes. Imported in the run's own process it ran beside the FASTQ
check, but on many small samples the check ended first and the import went on alone for most of
a second, the other core idle, before any task could start. A child forked as the run starts
imports it while this process reads the sheet, claims the output folder and checks the inputs,
then renders what it is sent and sends the objects back.

The child is forked only while this process has one thread: a fork copies the calling thread
alone, and a lock another thread held (the import lock among them) would stay held in the child
for ever. It is forked before the output folder is claimed, so it holds no lock of the run's. It
reads from /dev/null and writes to it (nothing it could print reaches the user, nor keeps a pipe
reading this process's output open), and it leaves with ``os._exit``: none of this process's exit
handlers or buffers run twice. It ends when it has answered, or when this process closes its end
(the run stopped before the render, or this process died).

The command line forks it first thing (:func:`start_early`) when its command is one that runs
(``seqstack run``, ``seqstack demo``): the interpreter's start and the CLI's own imports, a
third of a second or more, leave the other core idle too. The run takes that child
(:func:`take`), or forks one itself when there is none (a run started from Python).

Whenever the child cannot answer (it was not forked, it died, its answer does not arrive whole,
``render`` raised in it), the run renders in this process as before, so what a run renders and
every error it reports are :func:`workflows.render.render`'s own.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import signal
import socket
import threading
from collections.abc import Sequence
from typing import Any

from workflows.contract import StackOutputs
from workflows.settings import PipelineSettings
from workflows.sheet import Sample

Obj = dict[str, Any]


class RenderAhead:
    """A forked child that imports Hera now and renders the run when asked (:meth:`render`).

    Use as a context manager: leaving the block ends the child if it is still there.
    """

    def __init__(self) -> None:
        self._pid: int | None = None
        self._sock: socket.socket | None = None
        #: Whether the last :meth:`render` was answered by the child (else rendered here).
        self.answered = False

    def __enter__(self) -> RenderAhead:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def forked(self) -> bool:
        """Whether a child is there to ask."""
        return self._pid is not None

    @property
    def pid(self) -> int | None:
        """The child's process ID, while it is there to ask."""
        return self._pid

    def start(self) -> None:
        """Fork the child, unless this process has other threads or cannot fork."""
        if self._pid is not None or not hasattr(os, "fork") or threading.active_count() != 1:
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            pid = os.fork()
        except OSError:  # e.g. EAGAIN at the process limit: render here
            ours.close()
            theirs.close()
            return
        if pid == 0:  # the child
            ours.close()
            _serve(theirs)  # never returns
        theirs.close()
        self._pid, self._sock = pid, ours

    def render(
        self,
        samples: Sequence[Sample],
        reference: str,
        output: str,
        stack: StackOutputs,
        settings: PipelineSettings,
    ) -> list[Obj]:
        """:func:`workflows.render.render` of these arguments: the child's answer, else rendered
        here (which raises what ``render`` raises)."""
        self.answered = False
        objs = self._ask((list(samples), reference, output, stack, settings))
        if objs is not None:
            self.answered = True
            return objs
        from workflows.render import render

        return render(samples, reference, output, stack, settings)

    def _ask(self, args: tuple[Any, ...]) -> list[Obj] | None:
        sock = self._sock
        if sock is None:
            return None
        try:
            # MSG_NOSIGNAL: a child gone is EPIPE here, never a SIGPIPE that would end this process.
            sock.sendall(pickle.dumps(args, protocol=pickle.HIGHEST_PROTOCOL), socket.MSG_NOSIGNAL)
            sock.shutdown(socket.SHUT_WR)  # the request is whole: the child reads to its end
            with sock.makefile("rb") as answer:
                objs = pickle.load(answer)
        except (OSError, EOFError, pickle.UnpicklingError):  # it died, or said nothing
            objs = None
        finally:
            self.close()
        return objs if isinstance(objs, list) else None

    def close(self) -> None:
        """End the child (if it is still there) and reap it."""
        sock, pid = self._sock, self._pid
        self._sock = self._pid = None
        if sock is not None:
            sock.close()  # a child still importing, or waiting, reads the end of its request
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _serve(sock: socket.socket) -> None:
    """The child: import Hera, read one request, answer it with the rendered objects; then exit."""
    code = 0
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)
        from workflows.render import render  # the point of this child: Hera's import

        with sock.makefile("rb") as request:
            objs = render(*pickle.load(request))
        sock.sendall(pickle.dumps(objs, protocol=pickle.HIGHEST_PROTOCOL), socket.MSG_NOSIGNAL)
    except BaseException:  # whatever it was, the parent renders itself and reports it
        code = 1
    finally:
        os._exit(code)


#: The child :func:`start_early` forked, until a run takes it.
_early: RenderAhead | None = None


def start_early() -> None:
    """Fork the child now, for a run this process is about to start (the command line calls it
    before it parses its arguments). Ended at exit if no run takes it (``seqstack run`` refusing
    its arguments)."""
    global _early
    ahead = RenderAhead()
    ahead.start()
    if ahead.forked:
        atexit.register(ahead.close)
        _early = ahead


def take() -> RenderAhead:
    """The child :func:`start_early` forked (once), else a RenderAhead that forks when entered."""
    global _early
    ahead, _early = _early, None
    return ahead or RenderAhead()
