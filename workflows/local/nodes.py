"""The nodes of a local run and their attempts, as Argo's node status tree records them.

Shared by every part of the executor: a :class:`Node` is a task invocation (``Pod``), a DAG or a
fan-out group (``TaskGroup``); an :class:`Attempt` is one run of a pod's process. Their JSON form
is :mod:`workflows.local.record`'s (the owner of ``run.json``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

#: Node phases, as Argo names them.
SUCCEEDED, FAILED, ERROR, SKIPPED, OMITTED = "Succeeded", "Failed", "Error", "Skipped", "Omitted"
PENDING, RUNNING = "Pending", "Running"
DONE_PHASES = frozenset({SUCCEEDED, FAILED, ERROR, SKIPPED, OMITTED})

#: What Argo says when a pod disappears under a running step (preemption, node loss).
POD_DELETED = "pod deleted"
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"


class UnsupportedWorkflowError(ValueError):
    """A rendered object uses something the local executor does not implement."""


class TemplateError(RuntimeError):
    """A template cannot be run as given (unresolved parameter, bad path); fails its node."""


class RunAbortedError(RuntimeError):
    """The run itself failed (its listener could not record an event, or a worker thread died):
    every task was stopped. The message is the cause's, one line; ``__cause__`` is the error."""


@dataclass
class Attempt:
    """One run of a container/script template's process."""

    number: int
    started: float
    finished: float | None = None
    status: str = RUNNING
    message: str = ""
    exit_code: int | None = None
    command: list[str] = field(default_factory=list)
    log: str = ""
    cpu_seconds: float | None = None
    """User + system CPU time of the process and every descendant it waited for; None when the
    process never started (staging failed, cannot exec)."""
    peak_mib: float | None = None
    """Peak resident memory of the largest of those processes; None as for ``cpu_seconds``."""
    ran_seconds: float | None = None
    """Seconds the process ran (launch to exit; staging and publishing excluded)."""
    booked: tuple[float, float] | None = None
    """The cores and MiB the attempt booked (its requests, or less: :mod:`workflows.local.usage`)."""
    warm_cpu_seconds: float | None = None
    """A warm start (:mod:`workflows.local.warm`): the CPU seconds its process had used (its
    imports) when it was handed the task, part of ``cpu_seconds``; None: started cold."""

    @property
    def cores(self) -> float:
        """Cores used on average while the process ran (0 when unknown)."""
        if not self.cpu_seconds or not self.ran_seconds:
            return 0.0
        return self.cpu_seconds / self.ran_seconds


@dataclass
class Node:
    """A node of the run: a task invocation (Pod), a DAG, or a fan-out group."""

    key: str
    """Stable path, e.g. ``seqstack-1/samples(0:s1)/align``; the resume key."""
    task: str
    """Task name in its DAG (``align``), or the workflow name for the root."""
    template: str
    kind: str  # "Pod", "DAG", "TaskGroup"
    sample: str | None = None
    phase: str = PENDING
    message: str = ""
    started: float | None = None
    finished: float | None = None
    attempts: list[Attempt] = field(default_factory=list)
    parameters: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)
    cached: bool = False
    fingerprint: str = ""
    digests: dict[str, list[list[Any]]] = field(default_factory=dict)

    @property
    def resume_key(self) -> str:
        """Key of this node in run.json for ``--resume``: the path without fan-out indices and
        workflow names, so the same sample's task is found again even if the sheet changed."""
        return re.sub(r"\(\d+:([^)]*)\)", r"(\1)", self.display)

    @property
    def display(self) -> str:
        """The key without the workflow name: ``samples(0:s1)/align``."""
        return self.key.split("/", 1)[1] if "/" in self.key else self.key


class Listener(Protocol):
    """Receives node events (``pending``, ``started``, ``retrying``, ``finished``): the progress
    display, the run.json checkpoint. Called from worker threads."""

    def event(self, node: Node, what: str) -> None: ...


def walk(nodes: Iterable[Node]) -> Iterable[Node]:
    """Every node under ``nodes``, depth first."""
    for n in nodes:
        yield n
        yield from walk(n.children)


def first_failure(node: Node) -> str:
    """The innermost failed node's message: the useful 'why' of a failed DAG."""
    if node.phase in (FAILED, ERROR) and node.kind == "Pod":
        return f"{node.task}: {node.message}"
    for child in node.children:
        if child.phase in (FAILED, ERROR):
            return first_failure(child)
    return node.message or node.phase.lower()


def safe_name(name: str) -> str:
    """A node key as a file name (logs, pod directories, default artifact locations)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:120]
