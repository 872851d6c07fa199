"""Pod volumes: an emptyDir on this machine and the kubelet's ``sizeLimit`` eviction."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from workflows.local.pod_identity import PodError
from workflows.quantities import QuantityError, quantity_bytes

#: The kubelet's message when an emptyDir outgrows its sizeLimit (pkg/kubelet/eviction/helpers.go,
#: ``emptyDirMessageFmt``; Go's %q quoting, and the trailing space is the kubelet's).
EMPTYDIR_EVICTION = 'Usage of EmptyDir volume "{name}" exceeds the limit "{limit}". '


@dataclass
class Volume:
    """An emptyDir of a pod: its local directory and its sizeLimit."""

    name: str
    """Volume name."""
    path: Path
    """Where it lives on this machine."""
    size_limit: str | None = None
    """The template's sizeLimit as written (``20Gi``), or None."""


class SizeWatch:
    """The kubelet's emptyDir check: usage above sizeLimit evicts the pod (SIGKILL, grace 0)."""

    def __init__(self, volumes: Sequence[tuple[Volume, int]], pgid: int, interval: float) -> None:
        self.volumes = list(volumes)
        self.pgid = pgid
        self.interval = interval
        self.message = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Begin polling (nothing to do without a sizeLimit)."""
        if self.volumes:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()

    def check(self) -> str:
        """Measure once; evict (and return the message) if a volume is over its limit."""
        for v, limit in self.volumes:
            if disk_usage(v.path) > limit:
                self.message = EMPTYDIR_EVICTION.format(name=v.name, limit=v.size_limit)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.pgid, signal.SIGKILL)
                return self.message
        return ""

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.check():
                return

    def stop(self) -> str:
        """Stop polling, measure a last time; the eviction message, or ""."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.message


def disk_usage(path: Path) -> int:
    """Bytes allocated under ``path``, each inode once (what the kubelet's ``du`` measures)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [str(path)]
    while stack:
        top = stack.pop()
        try:
            entries = list(os.scandir(top))
        except OSError:
            continue
        for e in entries:
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
            if stat.S_ISDIR(st.st_mode):
                stack.append(e.path)
    return total


def size_limit_bytes(volume: Volume) -> int:
    """A volume's sizeLimit in bytes; one that cannot be read is a :class:`PodError`."""
    try:
        return quantity_bytes(volume.size_limit)
    except QuantityError as exc:
        raise PodError(f"volume {volume.name}: sizeLimit: {exc}") from None
