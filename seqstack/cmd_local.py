"""``seqstack run`` and ``seqstack demo``: the pipeline on this machine, no cloud account needed.

Both run the rendered Argo objects (the same ones ``seqstack submit`` sends to a cluster) with
the local executor in :mod:`workflows.local`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from seqstack.run_options import (
    OptionError,
    check_faults,
    cpu_budget,
    memory_budget,
    outdir_path,
    output_format,
    pod_tasks,
)
from workflows.console import console
from workflows.settings import FailedLane


def run_command(
    samples: Annotated[
        Path,
        typer.Option(
            "--samples",
            "-s",
            help="Sample sheet CSV (sample,fastq_1,fastq_2[,lane]; empty fastq_2: single-end).",
        ),
    ],
    reference: Annotated[
        Path, typer.Option("--reference", "-r", help="Reference FASTA (indexed if needed).")
    ],
    outdir: Annotated[str, typer.Option("--outdir", "-o", help="Results directory.")] = "results",
    cpus: Annotated[
        int, typer.Option("--cpus", help="CPU budget (default: all cores).", show_default=False)
    ] = 0,
    memory: Annotated[
        float,
        typer.Option("--memory", help="Memory budget in GiB (default: 80% of RAM).", show_default=False),
    ] = 0,
    resume: Annotated[
        bool, typer.Option("--resume", help="Skip tasks whose recorded outputs are still complete.")
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Delete an earlier run's outputs in --outdir, then run afresh."),
    ] = False,
    failed_lane: Annotated[
        FailedLane,
        typer.Option(
            "--failed-lane",
            help="What a lane that fails the QC gate does: fail-sample (none of the sample's lanes "
            "is aligned) or drop (align the passing lanes).",
        ),
    ] = FailedLane.FAIL_SAMPLE,
    markdup: Annotated[
        bool, typer.Option("--markdup", help="Mark duplicates (samtools markdup); stats in the report.")
    ] = False,
    output_fmt: Annotated[
        str,
        typer.Option(
            "--output-format", help="bam, or cram (needs the reference kept; run.json records where)."
        ),
    ] = "bam",
    inject_fault: Annotated[
        list[str] | None,
        typer.Option(
            "--inject-fault",
            help="Testing: kill:<task-glob>@<attempt>[:after=<seconds>] SIGKILLs that task's process "
            "on that attempt, as a spot preemption would (repeatable).",
        ),
    ] = None,
) -> None:
    """Run QC and alignment for a sample sheet on this machine (tools from PATH)."""
    from workflows.local.launch import Fault
    from workflows.local.run import RunOptions, run_pipeline

    out_path = outdir_path(outdir)
    budget = cpu_budget(cpus)
    memory_gib = memory_budget(memory)
    fmt = output_format(output_fmt)
    try:
        faults = [Fault.parse(f) for f in inject_fault or []]
    except ValueError as exc:
        raise OptionError(str(exc)) from None
    if faults:
        _check_faults(faults, samples, budget.count, memory_gib)
    out, err = console(), console(stderr=True)
    if budget.note:  # on stdout with the progress: stderr carries failures only
        out.print(budget.note, soft_wrap=True)
    opts = RunOptions(
        sheet=samples,
        reference=reference,
        outdir=out_path,
        cpus=budget.count,
        memory_gib=memory_gib,
        resume=resume,
        overwrite=overwrite,
        faults=faults,
        failed_lane=failed_lane.value,
        markdup=markdup,
        output_format=fmt,
    )
    raise typer.Exit(run_pipeline(opts, out, err=err))


def _check_faults(faults: list[Any], samples: Path, cpus: int, memory_gib: float | None) -> None:
    """Refuse fault rules that can never fire in the workflow this run renders. A sheet that
    cannot be read is left to the run, which reports it with the sheet's own error."""
    from workflows.contract import StackOutputs
    from workflows.local.run import default_memory_gib
    from workflows.render import render
    from workflows.settings import PipelineSettings
    from workflows.sheet import SampleSheetError, read_sample_sheet

    try:
        sheet = read_sample_sheet(samples, "file")
    except SampleSheetError:
        return
    settings = PipelineSettings.local(cpus, memory_gib or default_memory_gib())
    here = Path.cwd()
    objs = render(sheet, str(here / "reference.fa"), str(here), StackOutputs.local(here), settings)
    check_faults(faults, pod_tasks(objs, {s.id: [s.unit(lane) for lane in s.lanes] for s in sheet}))


def demo_command(
    outdir: Annotated[
        str, typer.Option("--outdir", "-o", help="Where the demo data and results go.")
    ] = "demo-results",
    cpus: Annotated[
        int, typer.Option("--cpus", help="CPU budget (default: all cores).", show_default=False)
    ] = 0,
    markdup: Annotated[bool, typer.Option("--markdup", help="Mark duplicates (as `seqstack run`).")] = False,
    output_fmt: Annotated[
        str, typer.Option("--output-format", help="bam or cram (as `seqstack run`).")
    ] = "bam",
) -> None:
    """Generate a small deterministic dataset (one sample fails QC on purpose) and run it."""
    from workflows.local.demo import generate
    from workflows.local.outdir import OutdirError, check_usable
    from workflows.local.run import RunOptions, run_pipeline

    out_path = outdir_path(outdir)
    budget = cpu_budget(cpus)
    fmt = output_format(output_fmt)
    out, err = console(), console(stderr=True)
    # A file, or a path under one: one line (OutdirError is a UserError), before anything is written.
    for folder in (out_path, out_path / "data", out_path / "results"):
        check_usable(folder)
    if budget.note:  # on stdout with the progress: stderr carries failures only
        out.print(budget.note, soft_wrap=True)
    try:
        data = generate(out_path / "data")
    except OSError as exc:  # unwritable, read-only or full: one line naming the file
        where = exc.filename or out_path / "data"
        raise OutdirError(f"{where}: cannot write the demo data ({exc.strerror or exc})") from None
    out.print(f"demo data: {data.sheet} ({len(data.samples)} samples), reference {data.reference}")
    # The demo's data were just generated afresh: so are its results.
    opts = RunOptions(
        data.sheet,
        data.reference,
        outdir=out_path / "results",
        cpus=budget.count,
        overwrite=True,
        markdup=markdup,
        output_format=fmt,
    )
    code = run_pipeline(opts, out, err=err)
    raise typer.Exit(code)
