"""The process that does a pod's init and wait work as the executor's identity (the script is
:data:`workflows.local.pod_tools.HELPER`), started once per identity for a whole run.

A process per pod and container costs a Python start-up (about 25 ms of CPU) twice per task: on a
sheet of 32 small samples that is 6 CPU-seconds, more than the tools' own work beyond FastQC. The
work itself is unchanged: the same script, run as the same uid, gid and groups, does the same
system calls on the same paths; only the process is reused. Requests are served one at a time
(each is a few system calls); a helper that died (killed from outside) is started again for the
next request.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Mapping
from typing import IO, Any

from workflows.local.pod_identity import Identity, PodError
from workflows.local.pod_tools import HELPER


class PodHelper:
    """One long-lived helper process running as ``identity`` with ``python``."""

    def __init__(self, identity: Identity, python: str) -> None:
        self.identity = identity
        self.python = python
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [self.python, "-I", "-S", "-c", HELPER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            cwd="/",
            env={"PATH": os.defpath},
            **self.identity.popen(),
        )

    def run(self, plan: Mapping[str, Any], container: str) -> None:
        """Do ``plan`` (``{"stage_in": [...], "check_out": [...]}``) as the identity; raises
        :class:`PodError` ``"<container>: Error (exit code 1): <message>"`` as argoexec fails."""
        with self._lock:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                try:
                    proc = self._proc = self._start()
                except OSError as exc:
                    raise PodError(f"{container}: cannot start as uid {self.identity.uid}: {exc}") from None
            stdin, stdout = _pipes(proc)
            try:
                stdin.write(json.dumps(plan) + "\n")
                stdin.flush()
                line = stdout.readline()
            except OSError:
                line = ""
            if not line:  # it died: say why, and start afresh next time
                proc.kill()
                _, err = proc.communicate()
                self._proc = None
                last = (err.strip().splitlines() or ["no message"])[-1]
                code = proc.returncode
                raise PodError(f"{container}: Error (exit code {code}): {last}")
        error = json.loads(line).get("error")
        if error is not None:
            raise PodError(f"{container}: Error (exit code 1): {error}")

    def stop(self) -> None:
        """End the process (end of input), killing it if it does not go."""
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def _pipes(proc: subprocess.Popen[str]) -> tuple[IO[str], IO[str]]:
    assert proc.stdin is not None and proc.stdout is not None
    return proc.stdin, proc.stdout
