"""``run.json``: the one module that knows its shape.

It builds the document (a header, every sample's outcome, every task with its attempts, output
checksums and resume fingerprint) and reads back what ``--resume`` needs from an earlier one;
:mod:`workflows.local.outdir` only writes the bytes (atomically). ``seqstack cost --run-json``
reads an attempt's ``cpuSeconds`` and ``durationSeconds`` from the same document.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workflows.local.nodes import PENDING, Attempt, Node
from workflows.local.outdir import write_text_atomic
from workflows.local.progress import Outcome


def iso(t: float | None) -> str | None:
    """A time as run.json writes it (UTC, milliseconds)."""
    if t is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1000):03d}Z"


def attempt_json(attempt: Attempt) -> dict[str, Any]:
    """One attempt of a task, as run.json records it."""
    return {
        "attempt": attempt.number,
        "status": attempt.status,
        "message": attempt.message,
        "exitCode": attempt.exit_code,
        "started": iso(attempt.started),
        "finished": iso(attempt.finished),
        "durationSeconds": round((attempt.finished or attempt.started) - attempt.started, 3),
        "cpuSeconds": None if attempt.cpu_seconds is None else round(attempt.cpu_seconds, 3),
        "peakMiB": None if attempt.peak_mib is None else round(attempt.peak_mib, 1),
        "booked": None
        if attempt.booked is None
        else {"cpu": attempt.booked[0], "memoryMiB": round(attempt.booked[1], 1)},
        "warmStartCpuSeconds": None
        if attempt.warm_cpu_seconds is None
        else round(attempt.warm_cpu_seconds, 3),
        "command": attempt.command,
        "log": attempt.log,
    }


def task_json(node: Node) -> dict[str, Any]:
    """One task (a Pod node) as run.json records it; ``key`` is what ``--resume`` looks up."""
    return {
        "key": node.resume_key,
        "node": node.key,
        "task": node.task,
        "template": node.template,
        "sample": node.sample,
        "status": node.phase,
        "message": node.message,
        "cached": node.cached,
        "started": iso(node.started),
        "finished": iso(node.finished),
        "attempts": [attempt_json(a) for a in node.attempts],
        "outputs": {
            "parameters": node.parameters,
            "artifacts": {
                name: {"path": path, "files": node.digests.get(name, [])}
                for name, path in node.artifacts.items()
            },
        },
        "fingerprint": node.fingerprint,
    }


def alignment_json(
    markdup: bool, output_format: str, reference: Path | None = None, sha256: str | None = None
) -> dict[str, Any]:
    """The run's ``alignment`` options as run.json records them; for CRAM also the reference it
    was encoded against (``cramReference``: the FASTA's resolved path and SHA-256), without
    which the CRAM cannot be read."""
    data: dict[str, Any] = {"markdup": markdup, "outputFormat": output_format}
    if output_format == "cram" and reference is not None:
        data["cramReference"] = {"path": str(reference.resolve()), "sha256": sha256}
    return data


@dataclass(frozen=True)
class EarlierTask:
    """What ``--resume`` needs of a task in an earlier run.json."""

    status: str
    fingerprint: str
    parameters: dict[str, str]
    artifacts: dict[str, tuple[str, list[list[Any]]]]
    """Output artifact name -> (path, ``[[relative path, size, sha256], ...]``)."""

    @classmethod
    def read(cls, entry: Mapping[str, Any]) -> EarlierTask:
        """From a ``tasks`` entry; missing fields read as empty (never a resumable success)."""
        outputs = entry.get("outputs") or {}
        arts = outputs.get("artifacts") or {}
        return cls(
            status=str(entry.get("status") or ""),
            fingerprint=str(entry.get("fingerprint") or ""),
            parameters=dict(outputs.get("parameters") or {}),
            artifacts={name: (str(rec["path"]), list(rec.get("files") or [])) for name, rec in arts.items()},
        )


def earlier_tasks(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The task entries of an earlier run.json by resume key (``samples(s1)/align``); the
    executor reads each with :meth:`EarlierTask.read`."""
    tasks = data.get("tasks")
    if not isinstance(tasks, list):
        return {}
    return {t["key"]: t for t in tasks if isinstance(t, dict) and isinstance(t.get("key"), str)}


class RunRecord:
    """``run.json``: every task with status, attempts, times, exit codes, commands and output
    checksums; rewritten atomically so a reader (or ``--resume``) never sees half a file.

    It is a :class:`workflows.local.nodes.Listener`: every finished task rewrites the file."""

    def __init__(self, path: Path, header: dict[str, Any], earlier: Mapping[str, Any] | None = None) -> None:
        self.path = path
        self.header = header
        self.lock = threading.Lock()
        self.nodes: list[Node] = []
        self.samples: list[Outcome] = []
        self.earlier_samples: dict[str, Any] = {}
        self.earlier_tasks: list[Any] = []
        self.sheet: set[str] = set()
        self._texts: dict[int, tuple[tuple[Any, ...], Node, str]] = {}
        if earlier:
            self._keep_earlier(earlier)

    def _keep_earlier(self, earlier: Mapping[str, Any]) -> None:
        """``--resume``: samples of the earlier run that this sheet does not name keep their
        entries (their outputs are still in the folder), marked as from the earlier run."""
        samples = earlier.get("samples")
        self.earlier_samples = dict(samples) if isinstance(samples, dict) else {}
        tasks = earlier.get("tasks")
        self.earlier_tasks = [t for t in tasks if isinstance(t, dict)] if isinstance(tasks, list) else []

    def event(self, node: Node, what: str) -> None:
        """The checkpoint: a finished task rewrites run.json (status ``Running``)."""
        if node.kind == "Pod" and what == "finished":
            self.write("Running")

    def write(self, status: str) -> None:
        """Rewrite the whole document with the run's ``status``.

        The document is ``json.dumps(..., indent=2)`` of everything, but a finished task's entry
        is encoded once and kept: indented JSON is encoded in Python, under the GIL, and the
        whole file was re-encoded after every task (O(tasks) each time, 30 ms at 129 tasks on a
        loaded machine), on the path from one task's end to the start of the next."""
        with self.lock:
            nodes = [n for n in self.nodes if n.kind == "Pod" and n.phase != PENDING]
            earlier = {
                name: {**entry, "earlierRun": True} if isinstance(entry, dict) else entry
                for name, entry in self.earlier_samples.items()
                if name not in self.sheet
            }
            data = {
                **self.header,
                "status": status,
                "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "samples": {
                    **earlier,
                    **{
                        o.sample: {"status": o.status, "qc": o.qc, "reason": o.reason, "bam": o.bam}
                        for o in self.samples
                    },
                },
                "tasks": [],
            }
            kept = [_encode_task(t) for t in self.earlier_tasks if t.get("sample") in earlier]
            text = json.dumps(data, indent=2, default=str)
            tasks = kept + [self._encoded(n) for n in nodes]
            empty = '"tasks": []\n}'
            if tasks and text.endswith(empty):  # the text json.dumps gives with the tasks in place
                text = text[: -len(empty)] + '"tasks": [\n    ' + ",\n    ".join(tasks) + "\n  ]\n}"
            elif tasks:  # "tasks" is not last (a header key named so): encode it all
                text = json.dumps({**data, "tasks": [json.loads(t) for t in tasks]}, indent=2, default=str)
            write_text_atomic(self.path, text + "\n")

    def _encoded(self, node: Node) -> str:
        """A task's entry, encoded; kept once the task is finished (it no longer changes)."""
        stamp = (node.phase, node.finished, len(node.attempts))
        cached = self._texts.get(id(node))
        if cached is not None and cached[0] == stamp and cached[1] is node:
            return cached[2]
        text = _encode_task(task_json(node))
        if node.finished is not None:
            self._texts[id(node)] = (stamp, node, text)
        return text


def _encode_task(entry: Mapping[str, Any]) -> str:
    """A ``tasks`` entry as it appears inside the indented document (two levels deep)."""
    return json.dumps(entry, indent=2, default=str).replace("\n", "\n    ")
