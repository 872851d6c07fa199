"""Checks of ``seqstack run`` / ``seqstack demo`` options that cannot work, before anything is created.

* ``--outdir``: empty (Typer would turn ``""`` into the current folder) or the file-system root;
* ``--cpus``: below 0 is refused; above this machine's CPUs is capped to them, with a note (the
  aligner would otherwise run ``-t 45`` on 2 cores and the scheduler would admit work that
  cannot run at once);
* ``--memory``: not a finite number of GiB (``nan``, ``inf``) or negative;
* ``--output-format``: not ``bam`` or ``cram``;
* ``--inject-fault``: a rule that can never fire: its task glob matches no task of the rendered
  workflow, or its attempt is 0 or beyond the last attempt that task's retry limit allows.

Each failure is a :class:`OptionError`: one line naming the option and the value.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workflows.errors import UserError
from workflows.settings import OUTPUT_FORMATS

if TYPE_CHECKING:
    from workflows.local.launch import Fault


class OptionError(UserError):
    """A command-line option whose value cannot work; the message names the option and value."""


def machine_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def outdir_path(value: str, option: str = "--outdir") -> Path:
    """The output folder as a path; an empty value or the file-system root is refused."""
    if not value.strip():
        raise OptionError(f"{option} is empty: give a folder for the results")
    path = Path(value).expanduser()
    resolved = path.resolve()
    if resolved == resolved.parent:
        raise OptionError(f"{option} {value}: that is the file-system root; give a folder of its own")
    return path


@dataclass(frozen=True)
class Cpus:
    """The CPU budget to use, and a note when the one asked for was capped."""

    count: int
    """CPUs the run may use."""
    note: str = ""
    """One line saying the request was capped to the machine, or empty."""


def cpu_budget(asked: int, available: int | None = None) -> Cpus:
    """``--cpus``: 0 means every CPU; more than the machine has is capped to it."""
    have = available if available is not None else machine_cpus()
    if asked < 0:
        raise OptionError(f"--cpus {asked}: must be at least 1 (leave it out to use all {have} CPUs)")
    if asked == 0:
        return Cpus(have)
    if asked > have:
        return Cpus(have, f"note: --cpus {asked} is more than this machine's {have} CPUs; using {have}")
    return Cpus(asked)


def memory_budget(asked: float) -> float | None:
    """``--memory`` in GiB; 0 means the default (None). ``nan``, ``inf`` and negatives are refused."""
    if not math.isfinite(asked) or asked < 0:
        raise OptionError(f"--memory {asked}: give a number of GiB, e.g. 8")
    return asked or None


def output_format(value: str) -> str:
    """``--output-format``: ``bam`` or ``cram`` (any case); anything else is refused."""
    fmt = value.strip().lower()
    if fmt not in OUTPUT_FORMATS:
        raise OptionError(f"--output-format {value}: use {' or '.join(OUTPUT_FORMATS)}")
    return fmt


@dataclass(frozen=True)
class _PodTask:
    """A task of the rendered workflow that runs a process (what a fault can kill)."""

    key: str
    task: str
    sample: str | None
    attempts: int


def pod_tasks(objs: Sequence[Mapping[str, Any]], units: Mapping[str, Sequence[str]]) -> list[_PodTask]:
    """Every process-running task of rendered objects, keyed as the local executor keys its nodes
    (``<workflow>/samples(0:s1)/align(0:s1)``); ``units`` maps each sample ID to its lanes' units.
    The fan-out over samples gets one key per sample; a fan-out inside a sample one per lane."""
    templates: dict[str, Mapping[str, Any]] = {}
    for obj in objs:
        for tmpl in (obj.get("spec") or {}).get("templates") or []:
            templates[str(tmpl.get("name"))] = tmpl
    found: list[_PodTask] = []

    def walk(template: str, prefix: str, sample: str | None, seen: tuple[str, ...]) -> None:
        tmpl = templates.get(template) or {}
        for task in (tmpl.get("dag") or {}).get("tasks") or []:
            name = str(task.get("name"))
            target = str(task.get("template") or (task.get("templateRef") or {}).get("template"))
            fanned = "withParam" in task or "withItems" in task
            labels = list(units) if sample is None else list(units.get(sample, ()))
            nodes = (
                [(f"{prefix}/{name}({i}:{label})", sample or label) for i, label in enumerate(labels)]
                if fanned
                else [(f"{prefix}/{name}", sample)]
            )
            child = templates.get(target) or {}
            for key, owner in nodes:
                if "dag" in child:
                    if target not in seen:
                        walk(target, key, owner, (*seen, target))
                else:
                    limit = int((child.get("retryStrategy") or {}).get("limit", 0) or 0)
                    found.append(_PodTask(key, name, owner, limit + 1))

    for obj in objs:
        if obj.get("kind") != "Workflow":
            continue
        spec = obj.get("spec") or {}
        entry = spec.get("entrypoint")
        if not entry:
            ref = str((spec.get("workflowTemplateRef") or {}).get("name", ""))
            entry = next(
                (
                    (o.get("spec") or {}).get("entrypoint")
                    for o in objs
                    if o.get("kind") == "WorkflowTemplate" and (o.get("metadata") or {}).get("name") == ref
                ),
                None,
            )
        if entry:
            walk(str(entry), "wf", None, (str(entry),))
    return found


def check_faults(faults: Sequence[Fault], tasks: Sequence[_PodTask]) -> None:
    """Refuse a fault rule that can never fire on ``tasks`` (see :func:`pod_tasks`).

    A rule's glob is matched by :meth:`workflows.local.launch.Fault.matches` itself, against
    nodes keyed as the executor keys them.
    """
    from workflows.local.nodes import Node

    for fault in faults:
        matched = [
            t
            for t in tasks
            if fault.matches(
                Node(key=t.key, task=t.task, template=t.task, kind="Pod", sample=t.sample), fault.attempt
            )
        ]
        rule = f"--inject-fault kill:{fault.glob}@{fault.attempt}"
        if not matched:
            names = sorted({t.task for t in tasks})
            raise OptionError(
                f"{rule}: {fault.glob!r} matches no task of this run (tasks: {', '.join(names)}; "
                "or <sample>/<task>)"
            )
        most = max(t.attempts for t in matched)
        if not 1 <= fault.attempt <= most:
            raise OptionError(
                f"{rule}: attempt {fault.attempt} never happens: attempts are numbered 1 to {most} "
                f"(retry limit {most - 1})"
            )
