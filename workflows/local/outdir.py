"""The output folder of ``seqstack run``: the one place that decides whether a folder can hold
a run, claims it, and writes its ``run.json``.

Layout (the same keys as the cloud's output prefix, see :mod:`workflows.pipeline`)::

    <outdir>/run.json                 the run record (this module writes it, atomically)
    <outdir>/multiqc_report.html      run-level outputs: at the top
    <outdir>/multiqc_data/
    <outdir>/samples/<sample>/...     one folder per sample, and nothing else, under samples/
    <outdir>/.metrics/<run-id>/...    the report's inputs
    <outdir>/.seqstack/               local state: lock, logs, index cache, work directories

Samples live in their own namespace, so no sample ID can replace a run-level output
(``multiqc_data`` is a valid ID), whatever IDs the sheet allows.

The contract for a folder that already holds something (``seqstack run`` without flags never
mixes two runs' results, nor forgets one):

* a missing or empty folder is used (created only once the sheet has been accepted);
* a folder holding an earlier run (its ``run.json``) is refused unless ``--resume`` (continue
  it: complete outputs are kept, ``run.json`` keeps the earlier samples this sheet no longer
  names) or ``--overwrite`` (the earlier run's outputs are deleted first, so a sample that now
  fails cannot keep an old BAM beside its new verdict);
* a folder holding anything seqstack did not write is refused, even with ``--overwrite``:
  seqstack deletes only what it wrote;
* a second run into a folder in use by a running one is refused (a lock in ``.seqstack/``).

Every refusal is an :class:`OutdirError`, one line naming the folder or file at fault.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workflows.errors import UserError

RUN_JSON = "run.json"
STATE_DIR = ".seqstack"
SAMPLES_DIR = "samples"
METRICS_DIR = ".metrics"
REPORT_HTML = "multiqc_report.html"
REPORT_DATA = "multiqc_data"

#: Everything a run writes at the top of its folder; ``--overwrite`` deletes these and only these.
OWNED = frozenset({RUN_JSON, STATE_DIR, SAMPLES_DIR, METRICS_DIR, REPORT_HTML, REPORT_DATA})
_LOCK = "lock"


class OutdirError(UserError):
    """The output folder (or its ``run.json``) cannot be used; the message is one line naming it."""


def sample_dir(outdir: Path, sample: str) -> Path:
    """Where one sample's outputs go."""
    return outdir / SAMPLES_DIR / sample


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def check_usable(outdir: Path) -> Path:
    """The absolute folder, if it is (or can become) a directory; creates nothing.

    Refuses a file, a path under a file, and a folder that cannot be looked into.
    """
    path = Path(os.path.abspath(outdir))
    for candidate in (path, *path.parents):
        try:
            exists = candidate.exists()
        except OSError as exc:
            raise OutdirError(f"{path}: cannot look into {candidate} ({_why(exc)})") from None
        if not exists:
            continue
        if candidate.is_dir():
            break
        if candidate == path:
            raise OutdirError(f"{path}: exists and is not a directory (choose another --outdir)")
        raise OutdirError(f"{path}: {candidate} is a file, not a directory")
    return path


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` so a reader never sees half a file; any failure (full
    disk, read-only file system, ``path`` a directory) is an :class:`OutdirError` naming it."""
    write_text_atomic(path, json.dumps(data, indent=2, default=str) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    """:func:`write_json_atomic` for a document already encoded."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if path.is_dir() and not path.is_symlink():
            raise IsADirectoryError(errno.EISDIR, "is a directory")
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise OutdirError(f"{path}: cannot write the run record ({_why(exc)})") from None


def read_run_record(path: Path) -> dict[str, Any]:
    """An earlier run's ``run.json``, which must be a JSON object."""
    try:
        text = path.read_text(encoding="utf-8")
    except IsADirectoryError:
        raise OutdirError(f"{path}: is a directory, not a run record") from None
    except OSError as exc:
        raise OutdirError(f"{path}: cannot read the run record ({_why(exc)})") from None
    except UnicodeDecodeError:
        raise OutdirError(f"{path}: not a run record (not UTF-8 text)") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OutdirError(f"{path}: not a run record (invalid JSON at line {exc.lineno})") from None
    if not isinstance(data, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(data), "a number"
        )
        raise OutdirError(f"{path}: not a run record (the JSON is {kind}, not an object)")
    return data


@dataclass
class Claim:
    """An output folder held by this run until :meth:`release`."""

    outdir: Path
    previous: dict[str, Any] = field(default_factory=dict)
    """The earlier run's record when resuming, else empty."""
    _lock: int | None = None

    @property
    def run_json(self) -> Path:
        return self.outdir / RUN_JSON

    @property
    def state(self) -> Path:
        return self.outdir / STATE_DIR

    def release(self) -> None:
        """Let another run use the folder."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def claim(outdir: Path, *, resume: bool = False, overwrite: bool = False) -> Claim:
    """Check ``outdir`` can hold this run, create it, lock it, and apply the reuse contract
    (module docstring). Call only once the inputs' own checks have accepted the sheet."""
    path = check_usable(outdir)
    if resume and overwrite:
        raise OutdirError(f"{path}: --resume and --overwrite contradict each other (choose one)")
    try:
        path.mkdir(parents=True, exist_ok=True)
        state = path / STATE_DIR
        if state.exists() and not state.is_dir():
            raise OutdirError(f"{state}: is a file, not seqstack's state folder")
        state.mkdir(exist_ok=True)
        fd = os.open(state / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OutdirError(f"{path}: cannot create the results folder ({_why(exc)})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise OutdirError(f"{path}: another seqstack run (pid {other}) is using it") from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            os.fsync(fd)  # a read-only or full file system says so here, before any task runs
        except OSError as exc:
            raise OutdirError(f"{path}: not writable ({_why(exc)})") from None
        previous = _apply_contract(path, resume=resume, overwrite=overwrite)
    except BaseException:
        os.close(fd)
        raise
    return Claim(path, previous, fd)


def _apply_contract(path: Path, *, resume: bool, overwrite: bool) -> dict[str, Any]:
    entries = set(os.listdir(path)) - {STATE_DIR}
    foreign = sorted(e for e in entries if e not in OWNED and not e.startswith(f".{RUN_JSON}.tmp-"))
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise OutdirError(
            f"{path}: not empty and not a seqstack results folder (holds {shown}); "
            "choose a new or empty --outdir"
        )
    record = path / RUN_JSON
    if not (record.exists() or record.is_symlink()):
        return {}
    if record.is_dir():
        raise OutdirError(f"{record}: is a directory, not a run record")
    if resume:
        return read_run_record(record)
    if not overwrite:
        raise OutdirError(
            f"{path}: holds an earlier run ({RUN_JSON}); use --resume to continue it, "
            "--overwrite to replace it, or another --outdir"
        )
    _clear(path)
    return {}


def _clear(path: Path) -> None:
    """``--overwrite``: delete what an earlier run wrote (never the lock we hold)."""
    try:
        for name in sorted(OWNED - {STATE_DIR}):
            _remove(path / name)
        for child in (path / STATE_DIR).iterdir():
            if child.name != _LOCK:
                _remove(child)
    except OSError as exc:
        raise OutdirError(f"{path}: cannot delete the earlier run's outputs ({_why(exc)})") from None


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    elif p.exists() or p.is_symlink():
        p.unlink()
