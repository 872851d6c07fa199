"""``seqstack run``: check the inputs, index the reference, render the pipeline for this machine
and run the rendered Argo objects with the local executor; then say how every sample ended.

Order of work, and why:

1. the sample sheet (:mod:`workflows.sheet`): sheet-level errors (duplicate IDs...) stop here;
2. the reference: missing or not FASTA fails every sample with one line naming it; a missing
   index is built (:mod:`workflows.local.reference`);
3. every sample's FASTQ pair, in Python, streaming (:mod:`workflows.local.fastq`): a bad sample
   is marked failed with its reason and left out of the workflow, so the others still run. The
   files are checked in child processes that start right after the sheet is read, so the check
   overlaps steps 2 and 4 (indexing, and importing Hera behind ``render``: most of a second);
4. ``render(...)`` with ``StackOutputs.local(outdir)`` and ``PipelineSettings.local(...)``: the
   same objects ``seqstack submit`` would send to Argo, run by :class:`Executor`;
5. ``<outdir>/run.json`` (rewritten after every task, atomically, so ``--resume`` works after a
   crash or Ctrl-C) and the summary table.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from workflows.console import console as plain_console
from workflows.contract import StackOutputs
from workflows.local.executor import (
    SKIPPED,
    SUCCEEDED,
    Executor,
    Fault,
    Node,
    UnsupportedWorkflowError,
    first_failure,
    walk,
)
from workflows.local.fastq import InputError, checking_pairs
from workflows.local.progress import Outcome, Progress, summary_table
from workflows.local.reference import ReferenceIndex, ensure_index
from workflows.settings import PipelineSettings, SettingsError
from workflows.sheet import Sample, SampleSheetError, read_sample_sheet

#: Exit codes of ``seqstack run``.
EXIT_OK, EXIT_SAMPLE_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

RUN_JSON = "run.json"
STATE_DIR = ".seqstack"


@dataclass
class RunOptions:
    """What ``seqstack run`` was asked to do."""

    sheet: Path
    reference: Path
    outdir: Path
    cpus: int = field(default_factory=lambda: os.cpu_count() or 1)
    memory_gib: float | None = None
    resume: bool = False
    faults: Sequence[Fault] = ()


def tool_environment() -> dict[str, str]:
    """The environment of the task processes: ours, with this Python's bin directory first on
    PATH, because MultiQC (and the QC gate's python3) are installed with seqstack, maybe in a
    virtualenv that is not activated; fastqc, bwa and samtools come from PATH as usual."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(
        [bindir, *[p for p in env.get("PATH", "").split(os.pathsep) if p != bindir]]
    )
    return env


def machine_memory_gib() -> float:
    """Physical memory of this machine."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        return 4.0


def default_memory_gib() -> float:
    """The memory budget of a local run when none is given: 80 % of this machine's."""
    return max(1.0, machine_memory_gib() * 0.8)


class _RunRecord:
    """``run.json``: every task with status, attempts, times, exit codes, commands and output
    checksums; rewritten atomically so a reader (or ``--resume``) never sees half a file."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path = path
        self.header = header
        self.lock = threading.Lock()
        self.nodes: list[Node] = []
        self.samples: list[Outcome] = []

    def write(self, status: str) -> None:
        with self.lock:
            tasks = [n.to_json() for n in self.nodes if n.kind == "Pod" and n.phase not in ("Pending",)]
            data = {
                **self.header,
                "status": status,
                "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "samples": {
                    o.sample: {"status": o.status, "qc": o.qc, "reason": o.reason, "bam": o.bam}
                    for o in self.samples
                },
                "tasks": tasks,
            }
            tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
            tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
            os.replace(tmp, self.path)


def _previous_tasks(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return {t["key"]: t for t in data.get("tasks", []) if isinstance(t, dict) and "key" in t}


def outcomes(
    samples: Sequence[Sample], bad: dict[str, str], roots: Sequence[Node], outdir: Path
) -> list[Outcome]:
    """How each sample ended, from the executor's nodes (the per-sample DAG and its tasks)."""
    per_sample: dict[str, dict[str, Node]] = {}
    dags: dict[str, Node] = {}
    for n in walk(roots):
        if n.sample is None:
            continue
        if n.kind == "DAG":
            dags.setdefault(n.sample, n)
        elif n.kind == "Pod":
            per_sample.setdefault(n.sample, {})[n.task] = n
    result = []
    for s in samples:
        if s.id in bad:
            result.append(Outcome(s.id, "failed", "-", bad[s.id]))
            continue
        tasks = per_sample.get(s.id, {})
        gate = tasks.get("qc-gate")
        verdict = gate.parameters.get("verdict", "-") if gate is not None and gate.phase == SUCCEEDED else "-"
        align = tasks.get("align")
        bam = outdir / s.id / f"{s.id}.bam"
        if align is not None and align.phase == SUCCEEDED and bam.exists():
            result.append(Outcome(s.id, "aligned", verdict, "", str(bam)))
        elif verdict == "fail" and (align is None or align.phase == SKIPPED):
            reasons = _qc_reasons(outdir / s.id / f"{s.id}.qc.json")
            result.append(Outcome(s.id, "qc-failed", verdict, f"QC gate: {reasons}"))
        else:
            dag = dags.get(s.id)
            why = first_failure(dag) if dag is not None else "did not run"
            result.append(Outcome(s.id, "failed", verdict, why))
    return result


def _qc_reasons(path: Path) -> str:
    try:
        return "; ".join(json.loads(path.read_text()).get("reasons") or []) or "fail"
    except (OSError, json.JSONDecodeError):
        return "fail"


def run_pipeline(
    opts: RunOptions, console: Console | None = None, live: bool | None = None, err: Console | None = None
) -> int:
    """Run ``seqstack run``; returns the exit code (0 all samples ended well, 1 a sample failed,
    2 bad sheet/arguments, 130 interrupted). Errors go to ``err`` (stderr), one line each."""
    console = console or plain_console()
    err = err or plain_console(stderr=True)
    try:
        return _run(opts, console, live, err)
    except KeyboardInterrupt:  # before the workflow started (checks, indexing): nothing to clean
        err.print("interrupted before any task started", highlight=False, soft_wrap=True, markup=False)
        return EXIT_INTERRUPTED


def _run(opts: RunOptions, console: Console, live: bool | None, err: Console) -> int:
    outdir = opts.outdir.resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    state = outdir / STATE_DIR
    if opts.cpus < 1:
        err.print("error: --cpus must be at least 1", highlight=False, soft_wrap=True, markup=False)
        return EXIT_USAGE
    try:
        samples = read_sample_sheet(opts.sheet, "file")
    except SampleSheetError as exc:
        err.print(f"error: {exc}", highlight=False, soft_wrap=True, markup=False)
        return EXIT_USAGE
    if not samples:
        err.print(f"error: {opts.sheet}: no samples", highlight=False, soft_wrap=True, markup=False)
        return EXIT_USAGE

    memory = opts.memory_gib or default_memory_gib()
    try:
        settings = PipelineSettings.local(opts.cpus, memory)
    except SettingsError as exc:  # e.g. --memory 0.5: a usage error, not a traceback
        err.print(f"error: {exc}", highlight=False, soft_wrap=True, markup=False)
        return EXIT_USAGE
    header: dict[str, Any] = {
        "seqstack": "run",
        "sheet": str(opts.sheet.resolve()),
        "reference": str(opts.reference),
        "outdir": str(outdir),
        "cpus": opts.cpus,
        "memoryGiB": round(memory, 1),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    previous = _previous_tasks(outdir / RUN_JSON) if opts.resume else {}
    record = _RunRecord(outdir / RUN_JSON, header)

    with checking_pairs(samples, opts.cpus) as pair_check:
        # The reference: a bad one fails every sample, with one line naming it.
        try:
            index: ReferenceIndex = ensure_index(
                opts.reference,
                state / "reference",
                log=lambda m: console.print(m, highlight=False, soft_wrap=True, markup=False),
            )
        except InputError as exc:
            for s in samples:
                err.print(f"sample {s.id}: {exc}", highlight=False, soft_wrap=True, markup=False)
            record.samples = [Outcome(s.id, "failed", "-", str(exc)) for s in samples]
            record.write("Failed")
            console.print(summary_table(record.samples))
            return EXIT_SAMPLE_FAILED
        verb = "built" if index.built else "using"
        console.print(
            f"aligner: {index.aligner} {index.version}; index {verb}: {index.where}",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
        header["aligner"] = {"tool": index.aligner, "version": index.version, "index": index.where}
        header["reference"] = str(index.fasta)
        # Hera, behind render, takes most of a second to import: here, while the checks read.
        from workflows.render import render

        # Large inputs take a while to read: say what is being waited for.
        console.print(
            f"inputs: checking the FASTQ files of {len(samples)} sample(s)",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
        checked = pair_check()
    bad = checked.problems
    for problem in bad.values():
        err.print(f"error: {problem}", highlight=False, soft_wrap=True, markup=False)
    header["inputCheckSeconds"] = round(checked.seconds, 3)
    good = [s for s in samples if s.id not in bad]
    console.print(
        f"inputs: {len(good)} of {len(samples)} sample(s) ready ({checked.seconds:.1f} s)",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )

    roots: list[Node] = []
    status = "Succeeded"
    if good:
        stack = StackOutputs.local(outdir)
        objs = render(good, str(index.fasta), str(outdir), stack, settings)
        try:
            executor = Executor(
                objs,
                cpus=opts.cpus,
                memory_mib=memory * 1024,
                state_dir=state,
                faults=opts.faults,
                previous=previous,
                env=tool_environment(),
            )
        except UnsupportedWorkflowError as exc:
            err.print(f"error: {exc}", highlight=False, soft_wrap=True, markup=False)
            return EXIT_USAGE
        order = [
            t["name"]
            for o in objs
            for tmpl in (o.get("spec") or {}).get("templates", [])
            for t in (tmpl.get("dag") or {}).get("tasks", [])
        ]
        progress = Progress(console, live=live, order=order)
        record.nodes = executor.nodes

        def checkpoint(_: Node) -> None:
            record.write("Running")

        progress.on_finished = checkpoint
        executor.listener = progress
        try:
            with progress:
                roots = executor.run()
        except KeyboardInterrupt:
            record.samples = []
            record.write("Interrupted")
            shutil.rmtree(state / "work", ignore_errors=True)
            err.print("interrupted: stopped every task; finished outputs are kept (rerun with --resume)")
            return EXIT_INTERRUPTED
        shutil.rmtree(state / "work", ignore_errors=True)
        status = "Succeeded" if all(r.phase == SUCCEEDED for r in roots) else "Failed"

    record.samples = outcomes(samples, bad, roots, outdir)
    if any(o.failed for o in record.samples):
        status = "Failed"
    # A failure outside any sample (the report) fails the run too, with its reason.
    run_failures = [
        n for n in walk(roots) if n.kind == "Pod" and n.sample is None and n.phase in ("Failed", "Error")
    ]
    for n in run_failures:
        err.print(
            f"error: {n.task} {n.phase.lower()}: {n.message}"
            + (f" (log: {n.attempts[-1].log})" if n.attempts else ""),
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
    header["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    record.write(status)
    console.print(summary_table(record.samples))
    report = outdir / "multiqc_report.html"
    if report.exists():
        console.print(f"report: {report}", highlight=False, soft_wrap=True, markup=False)
    bams = [o.bam for o in record.samples if o.bam]
    if bams:
        console.print("BAMs:   " + "\n        ".join(bams), highlight=False, soft_wrap=True, markup=False)
    console.print(f"record: {outdir / RUN_JSON}", highlight=False, soft_wrap=True, markup=False)
    return EXIT_SAMPLE_FAILED if run_failures or any(o.failed for o in record.samples) else EXIT_OK
