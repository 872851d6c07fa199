"""``seqstack run``: check the inputs, index the reference, render the pipeline for this machine
and run the rendered Argo objects with the local executor; then say how every sample ended.

Order of work, and why:

1. the sample sheet (:mod:`workflows.sheet`): sheet-level errors (duplicate IDs...) stop here;
2. the reference: missing or not FASTA fails every sample with one line naming it; a missing
   index is built (:mod:`workflows.local.reference`);
3. every sample's FASTQ pair, in Python, streaming (:mod:`workflows.local.fastq`): a bad sample
   is marked failed with its reason and left out of the workflow, so the others still run. The
   files are checked in child processes that start right after the sheet is read, so the check
   overlaps steps 2 and 4 (indexing, and importing Hera behind ``render``: most of a second,
   in a child forked when the run starts, :mod:`workflows.local.render_ahead`);
   the check keeps what it decompresses of gzipped files (:func:`plain_copies`), and the tasks
   are staged those copies, so no tool decompresses the reads again;
4. ``render(...)`` with ``StackOutputs.local(outdir)`` and ``PipelineSettings.local(...)``: the
   same objects ``seqstack submit`` would send to Argo, run by :class:`Executor`;
5. ``<outdir>/run.json`` (rewritten after every task, atomically, so ``--resume`` works after a
   crash or Ctrl-C) and the summary table.

The output folder is claimed (:mod:`workflows.local.outdir`: usable, not another run's, locked)
only once the sheet is accepted, so a rejected sheet creates nothing. SIGTERM and SIGHUP stop a
run as Ctrl-C does (every task's process group stopped, ``run.json`` says ``Interrupted``) and
exit 128 + the signal's number, as a shell reports a process killed by it (143, 129; Ctrl-C 130).
A failure of the run itself (``run.json`` cannot be written: full disk, read-only file system)
stops every task and ends the run with one line, never a hang.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from workflows import task_names
from workflows.console import console as plain_console
from workflows.console import say
from workflows.contract import StackOutputs
from workflows.cram import CramReferenceError, check_reference
from workflows.cram import sha256 as file_sha256
from workflows.local.executor import Executor
from workflows.local.fastq import InputError, PlainCopies, checking_pairs
from workflows.local.idle import usable_cpus
from workflows.local.launch import Fault
from workflows.local.nodes import (
    SKIPPED,
    SUCCEEDED,
    Node,
    RunAbortedError,
    UnsupportedWorkflowError,
    first_failure,
    walk,
)
from workflows.local.outdir import (
    REPORT_HTML,
    RUN_JSON,
    STATE_DIR,
    Claim,
    OutdirError,
    claim,
    sample_dir,
)
from workflows.local.pod import PodEmulation
from workflows.local.preflight import disk_problem, estimated_bytes, memory_problem
from workflows.local.progress import Outcome, Progress, summary_table
from workflows.local.record import RunRecord, alignment_json, earlier_tasks
from workflows.local.reference import ReferenceIndex, ensure_index
from workflows.local.render_ahead import RenderAhead
from workflows.local.render_ahead import take as take_render_ahead
from workflows.local.stopping import Terminated, exit_code, stop_signals_interrupt
from workflows.settings import PipelineSettings, SettingsError
from workflows.sheet import Sample, SampleSheetError, read_sample_sheet

#: Exit codes of ``seqstack run`` (stopped by a signal: :func:`workflows.local.stopping.exit_code`).
EXIT_OK, EXIT_SAMPLE_FAILED, EXIT_USAGE = 0, 1, 2
#: The run itself failed (its record could not be written): every task was stopped.
EXIT_RUN_FAILED = 1

__all__ = ["RUN_JSON", "STATE_DIR", "RunOptions", "run_pipeline"]


@dataclass
class RunOptions:
    """What ``seqstack run`` was asked to do."""

    sheet: Path
    reference: Path
    outdir: Path
    cpus: int = field(default_factory=lambda: os.cpu_count() or 1)
    memory_gib: float | None = None
    resume: bool = False
    overwrite: bool = False
    """Delete an earlier run's outputs in ``outdir`` first (see :mod:`workflows.local.outdir`)."""
    faults: Sequence[Fault] = ()
    failed_lane: str = "fail-sample"
    """What a QC-failed lane does to its sample (``--failed-lane``: ``fail-sample`` or ``drop``)."""
    markdup: bool = False
    """Mark duplicates (``--markdup``)."""
    output_format: str = "bam"
    """``bam`` or ``cram`` (``--output-format``)."""
    temporary_folders: Sequence[Path] | None = None
    """Folders a CRAM's reference may not be in; None: this machine's
    (:func:`workflows.cram.temporary_folders`). Tests that keep everything under pytest's
    temporary folder pass ``()``."""
    executor_security_context: Mapping[str, Any] | None = None
    """Argo's ``executor.securityContext`` the pods are emulated with (as root); None: the one
    the stack installs (``workflows.identity``). Tests put the old mismatched uid back here."""


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


#: The input check's plain copies of gzipped inputs (:class:`PlainCopies`) live in this folder of
#: the run's state folder, from the check to the end of the run.
DECOMPRESSED_DIR = "decompressed"


def plain_copies(
    state: Path,
    need: int,
    memory_gib: float,
    settings: PipelineSettings,
    free: int | None = None,
) -> PlainCopies:
    """Where and how much of the gzipped inputs the check keeps decompressed for the tasks
    (:class:`PlainCopies`): at most a quarter of what the state folder's disk has free beyond
    ``need``, the run's estimated BAMs and sort files (:func:`estimated_bytes`, what the disk
    check asked for), and a quarter of the run's memory budget, so the copies never take the BAMs' room and
    are usually still in the page cache when the tools read them; and one copy at most a quarter
    of a FastQC pod's volume, which holds a lane's copies and FastQC's reports. The folder is
    emptied first (an interrupted run's copies); :class:`CopiesDone` removes it when the report
    starts, and :func:`run_pipeline` when the run ends, however. ``free``: the disk's free bytes
    (for tests)."""
    folder = state / DECOMPRESSED_DIR
    shutil.rmtree(folder, ignore_errors=True)
    if free is None:
        try:
            free = shutil.disk_usage(state).free
        except OSError:
            free = 0
    spare = max(0, free - need)
    volume = min(settings.fastqc.ephemeral_gib, settings.align.ephemeral_gib) * 2**30
    return PlainCopies(folder, int(min(spare, memory_gib * 2**30) // 4), volume // 4)


class CopiesDone:
    """A :class:`workflows.local.nodes.Listener` that removes the input check's plain copies
    (``folder``) once no task of the run reads them again: when a task outside every sample
    starts (the report, which follows every sample's DAG). The removal runs beside that task, on
    the cores it leaves idle (the report runs on one): deleting (a)'s two 230 MB copies took
    0.3 s, between the report's end and the run's. :meth:`wait` before the run ends."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def event(self, node: Node, what: str) -> None:
        """Start the removal when the first task outside every sample starts."""
        if what != "started" or node.kind != "Pod" or node.sample is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=shutil.rmtree, args=(self.folder, True), daemon=True)
                self._thread.start()

    def wait(self) -> None:
        """Until a removal started has ended."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join()


def _task_order(objs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Task names in the order the DAGs declare them (the progress table's columns)."""
    return [
        t["name"]
        for o in objs
        for tmpl in (o.get("spec") or {}).get("templates", [])
        for t in (tmpl.get("dag") or {}).get("tasks", [])
    ]


def outcomes(
    samples: Sequence[Sample], bad: dict[str, str], roots: Sequence[Node], outdir: Path, fmt: str = "bam"
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
        gate = tasks.get(task_names.QC_GATE)
        verdict = "-"
        if gate is not None and gate.phase == SUCCEEDED:
            verdict = gate.parameters.get(task_names.VERDICT, "-")
        # One lane to align: `align` writes the sample's BAM; several: `merge` does.
        finals = [t for t in (tasks.get(task_names.ALIGN), tasks.get(task_names.MERGE)) if t is not None]
        align = next((t for t in finals if t.phase == SUCCEEDED), finals[0] if finals else None)
        bam = sample_dir(outdir, s.id) / f"{s.id}.{fmt}"
        if align is not None and align.phase == SUCCEEDED and bam.exists():
            result.append(Outcome(s.id, "aligned", verdict, "", str(bam)))
        elif verdict == "fail" and (align is None or align.phase == SKIPPED):
            reasons = _qc_reasons(sample_dir(outdir, s.id) / f"{s.id}.qc.json")
            result.append(Outcome(s.id, "qc-failed", verdict, f"QC gate: {reasons}"))
        else:
            dag = dags.get(s.id)
            why = first_failure(dag) if dag is not None else "did not run"
            result.append(Outcome(s.id, "failed", verdict, why))
    return result


def _qc_reasons(path: Path) -> str:
    try:
        return "; ".join(json.loads(path.read_text()).get("reasons") or []) or "fail"
    except (OSError, ValueError, AttributeError, TypeError):
        return "fail"


def _failed_pod(node: Node) -> Node | None:
    """The innermost failed task under ``node`` (the one :func:`first_failure` describes)."""
    if node.phase in ("Failed", "Error") and node.kind == "Pod":
        return node
    for child in node.children:
        if child.phase in ("Failed", "Error"):
            return _failed_pod(child)
    return None


def late_failures(roots: Sequence[Node], outcomes: Sequence[Outcome], bad: dict[str, str]) -> list[str]:
    """One line per sample that failed after the input check: the task, the tool's own first
    error line (the node's message, see :mod:`workflows.local.toollog`) and the log's path."""
    dags: dict[str, Node] = {}
    for n in walk(roots):
        if n.kind == "DAG" and n.sample is not None:
            dags.setdefault(n.sample, n)
    lines = []
    for o in outcomes:
        if not o.failed or o.sample in bad:
            continue
        dag = dags.get(o.sample)
        pod = _failed_pod(dag) if dag is not None else None
        if pod is None:
            lines.append(f"error: sample {o.sample}: {o.reason}")
            continue
        log = f" (log: {pod.attempts[-1].log})" if pod.attempts else ""
        lines.append(f"error: sample {o.sample}: {pod.task} {pod.phase.lower()}: {pod.message}{log}")
    return lines


def run_pipeline(
    opts: RunOptions, console: Console | None = None, live: bool | None = None, err: Console | None = None
) -> int:
    """Run ``seqstack run``; returns the exit code (0 all samples ended well, 1 a sample failed
    or the run itself failed, 2 bad sheet/arguments/output folder, 130 Ctrl-C, 143 SIGTERM, 129
    SIGHUP). Errors go to ``err`` (stderr), one line each."""
    console = console or plain_console()
    err = err or plain_console(stderr=True)
    ctx = _Context()
    try:
        with stop_signals_interrupt():
            return _run(opts, console, live, err, ctx)
    except KeyboardInterrupt as exc:  # outside the executor: checks, indexing, the closing writes
        what = f"terminated ({exc})" if isinstance(exc, Terminated) else "interrupted"
        if ctx.record is not None:  # run.json must not go on saying "Running"
            if isinstance(exc, Terminated):
                ctx.record.header["signal"] = str(exc)
            with contextlib.suppress(OutdirError):
                ctx.record.write("Interrupted")
        when = "" if ctx.tasks_started else " before any task started"
        say(err, f"{what}{when}")
        return exit_code(exc)
    except OutdirError as exc:  # the folder cannot hold the run, or run.json cannot be written
        say(err, f"error: {exc}")
        return EXIT_RUN_FAILED if ctx.claim is not None else EXIT_USAGE
    finally:
        if ctx.plain is not None:
            if ctx.copies_done is not None:
                ctx.copies_done.wait()
            shutil.rmtree(ctx.plain.folder, ignore_errors=True)
        if ctx.claim is not None:
            ctx.claim.release()


@dataclass
class _Context:
    """What :func:`run_pipeline` must know to end a run it did not finish."""

    claim: Claim | None = None
    record: RunRecord | None = None
    tasks_started: bool = False
    plain: PlainCopies | None = None
    copies_done: CopiesDone | None = None


def _run(opts: RunOptions, console: Console, live: bool | None, err: Console, ctx: _Context) -> int:
    if opts.cpus < 1:
        say(err, "error: --cpus must be at least 1")
        return EXIT_USAGE
    # Hera's import, in a forked child on a core this process leaves idle: the one the command
    # line forked, else one forked now, before the output folder is claimed (the child holds
    # none of its locks) and any thread is started.
    with take_render_ahead() as ahead:
        return _run_checked(opts, console, live, err, ctx, ahead)


def _run_checked(
    opts: RunOptions, console: Console, live: bool | None, err: Console, ctx: _Context, ahead: RenderAhead
) -> int:
    try:
        samples = read_sample_sheet(opts.sheet, "file")
    except SampleSheetError as exc:
        say(err, f"error: {exc}")
        return EXIT_USAGE
    if not samples:
        say(err, f"error: {opts.sheet}: no samples")
        return EXIT_USAGE

    memory = opts.memory_gib or default_memory_gib()
    try:
        settings = replace(
            PipelineSettings.local(opts.cpus, memory),
            failed_lane=opts.failed_lane,
            markdup=opts.markdup,
            output_format=opts.output_format,
        )
        if settings.output_format == "cram":  # a CRAM needs its reference later: refuse a temporary one
            check_reference(opts.reference, opts.temporary_folders)
    except (SettingsError, CramReferenceError) as exc:  # e.g. --memory 0.5: a usage error, not a traceback
        say(err, f"error: {exc}")
        return EXIT_USAGE
    # What would only fail halfway through (a task killed for memory), refused before the
    # output folder is created.
    problem = memory_problem(memory, machine_memory_gib())
    if problem:
        say(err, f"error: {problem}")
        return EXIT_USAGE
    # Only now is the folder created: usable, not another run's (or --resume/--overwrite), ours.
    folder = claim(opts.outdir, resume=opts.resume, overwrite=opts.overwrite)
    ctx.claim = folder
    outdir, state = folder.outdir, folder.state
    # A disk too small for the run's BAMs and sort files, refused before any task starts.
    need = estimated_bytes(samples)
    problem = disk_problem(outdir, len(samples), need)
    if problem:
        say(err, f"error: {problem}")
        return EXIT_USAGE
    header: dict[str, Any] = {
        "seqstack": "run",
        "sheet": str(opts.sheet.resolve()),
        "reference": str(opts.reference),
        "outdir": str(outdir),
        "cpus": opts.cpus,
        "memoryGiB": round(memory, 1),
        "alignment": alignment_json(settings.markdup, settings.output_format),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    previous = earlier_tasks(folder.previous)
    record = RunRecord(outdir / RUN_JSON, header, folder.previous)
    record.sheet = {s.id for s in samples}
    ctx.record = record
    record.write("Running")  # a record from the start; an unwritable one stops the run here

    # The check keeps the gzipped inputs it decompresses for the tasks, until the run ends.
    ctx.plain = plain_copies(state, need, memory, settings)
    with checking_pairs(samples, opts.cpus, ctx.plain) as pair_check:
        # The reference: a bad one fails every sample, with one line naming it.
        try:
            index: ReferenceIndex = ensure_index(
                opts.reference,
                state / "reference",
                log=lambda m: say(console, m),
            )
        except InputError as exc:  # once, not once per sample: it is the run's input
            say(err, f"error: {exc}")
            record.samples = [Outcome(s.id, "failed", "-", str(exc)) for s in samples]
            record.write("Failed")
            console.print(summary_table(record.samples))
            return EXIT_SAMPLE_FAILED
        verb = "built" if index.built else "using"
        say(
            console,
            f"aligner: {index.aligner} {index.version}; index {verb}: {index.where}",
        )
        header["aligner"] = {"tool": index.aligner, "version": index.version, "index": index.where}
        header["reference"] = str(index.fasta)
        if settings.output_format == "cram":  # the FASTA the CRAMs decode with: where, and which
            fasta = index.fasta.resolve()
            header["alignment"] = alignment_json(settings.markdup, "cram", fasta, file_sha256(fasta))
        # Large inputs take a while to read: say what is being waited for.
        say(
            console,
            f"inputs: checking the FASTQ files of {len(samples)} sample(s)",
        )
        checked = pair_check()
    bad = checked.problems
    for problem in bad.values():
        say(err, f"error: {problem}")
    header["inputCheckSeconds"] = round(checked.seconds, 3)
    # Gzipped inputs the tasks read decompressed, from the check's copies.
    header["inputsDecompressed"] = len(checked.decompressed)
    good = [s for s in samples if s.id not in bad]
    say(
        console,
        f"inputs: {len(good)} of {len(samples)} sample(s) ready ({checked.seconds:.1f} s)",
    )

    roots: list[Node] = []
    status = "Succeeded"
    if good:
        stack = StackOutputs.local(outdir)
        objs = ahead.render(good, str(index.fasta), str(outdir), stack, settings)
        pods = PodEmulation(opts.executor_security_context)
        header["pods"] = pods.describe()
        env = tool_environment()
        hidden = pods.unreachable_path(env.get("PATH", ""))
        if hidden:
            say(
                console,
                "pods: these PATH folders are closed to the pods' uid, their tools are not used: "
                + ", ".join(hidden),
            )
        if not pods.identities:
            say(
                console,
                "pods: uids not emulated (not running as root): every step runs as this user",
            )
        try:
            executor = Executor(
                objs,
                pods=pods,
                cpus=opts.cpus,
                memory_mib=memory * 1024,
                state_dir=state,
                faults=opts.faults,
                previous=previous,
                env=env,
                # CPU is compressible: a run that has every core also starts tasks on the cores
                # running tasks leave idle, and books a task what its finished siblings on about
                # as much input used. With fewer --cpus than the machine has, the user kept the
                # rest for something else: tasks then book their requests only.
                idle_cores=opts.cpus >= len(usable_cpus()),
                decompressed=checked.decompressed,
            )
            record.nodes = executor.nodes
            # The display and the checkpoint are separate listeners: run.json is rewritten
            # after every task whether or not anything is shown.
            progress = Progress(console, live=live, order=_task_order(objs))
            ctx.copies_done = CopiesDone(ctx.plain.folder)
            executor.listeners = [record, progress, ctx.copies_done]
        except UnsupportedWorkflowError as exc:
            say(err, f"error: {exc}")
            return EXIT_USAGE
        ctx.tasks_started = True
        try:
            with progress:
                roots = executor.run()
        except KeyboardInterrupt as exc:
            record.samples = []
            if isinstance(exc, Terminated):
                header["signal"] = signal.Signals(exc.signum).name
            record.write("Interrupted")
            shutil.rmtree(state / "work", ignore_errors=True)
            pods.cleanup()
            what = f"terminated ({header['signal']})" if isinstance(exc, Terminated) else "interrupted"
            say(
                err,
                f"{what}: stopped every task; finished outputs are kept (rerun with --resume)",
            )
            return exit_code(exc)
        except RunAbortedError as exc:
            shutil.rmtree(state / "work", ignore_errors=True)
            pods.cleanup()
            say(err, f"error: {exc}; stopped every task")
            with contextlib.suppress(OutdirError):  # say so in run.json if it can be written at all
                record.write("Failed")
            return EXIT_RUN_FAILED
        shutil.rmtree(state / "work", ignore_errors=True)
        pods.cleanup()
        # How tasks were given cores, and how many started on idle ones (see ResourceBudget).
        header["cpuBooking"] = (
            "requests or siblings' use, then idle cores" if executor.idle_cores else "requests"
        )
        header["tasksStartedOnIdleCores"] = executor.budget.started_on_idle
        header["tasksBookedFromSiblings"] = executor.budget.booked_less
        header["tasksWarmStarted"] = executor.warm.used
        status = "Succeeded" if all(r.phase == SUCCEEDED for r in roots) else "Failed"

    record.samples = outcomes(samples, bad, roots, outdir, settings.output_format)
    if any(o.failed for o in record.samples):
        status = "Failed"
    # Each sample that failed after the input check: its tool's own error and where the log is.
    for line in late_failures(roots, record.samples, bad):
        say(err, line)
    # A failure outside any sample (the report) fails the run too, with its reason.
    run_failures = [
        n for n in walk(roots) if n.kind == "Pod" and n.sample is None and n.phase in ("Failed", "Error")
    ]
    for n in run_failures:
        say(
            err,
            f"error: {n.task} {n.phase.lower()}: {n.message}"
            + (f" (log: {n.attempts[-1].log})" if n.attempts else ""),
        )
    header["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    record.write(status)
    console.print(summary_table(record.samples))
    report = outdir / REPORT_HTML
    if report.exists():
        say(console, f"report: {report}")
    bams = [o.bam for o in record.samples if o.bam]
    if bams:
        label = "CRAMs:  " if settings.output_format == "cram" else "BAMs:   "
        say(console, label + "\n        ".join(bams))
    say(console, f"record: {outdir / RUN_JSON}")
    return EXIT_SAMPLE_FAILED if run_failures or any(o.failed for o in record.samples) else EXIT_OK
