"""``seqstack run`` and ``seqstack demo``: the pipeline on this machine, no cloud account needed.

Both run the rendered Argo objects (the same ones ``seqstack submit`` sends to a cluster) with
the local executor in :mod:`workflows.local`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from seqstack.cli import app


@app.command("run")
def run_command(
    samples: Annotated[
        Path, typer.Option("--samples", "-s", help="Sample sheet CSV (sample,fastq_1,fastq_2).")
    ],
    reference: Annotated[
        Path, typer.Option("--reference", "-r", help="Reference FASTA (indexed if needed).")
    ],
    outdir: Annotated[Path, typer.Option("--outdir", "-o", help="Results directory.")] = Path("results"),
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
    from workflows.local.executor import Fault
    from workflows.local.run import RunOptions, run_pipeline

    try:
        faults = [Fault.parse(f) for f in inject_fault or []]
    except ValueError as exc:
        Console(stderr=True).print(f"error: {exc}", highlight=False, soft_wrap=True, markup=False)
        raise typer.Exit(2) from None
    opts = RunOptions(
        sheet=samples,
        reference=reference,
        outdir=outdir,
        cpus=cpus or os.cpu_count() or 1,
        memory_gib=memory or None,
        resume=resume,
        overwrite=overwrite,
        faults=faults,
    )
    raise typer.Exit(run_pipeline(opts))


@app.command("demo")
def demo_command(
    outdir: Annotated[
        Path, typer.Option("--outdir", "-o", help="Where the demo data and results go.")
    ] = Path("demo-results"),
    cpus: Annotated[
        int, typer.Option("--cpus", help="CPU budget (default: all cores).", show_default=False)
    ] = 0,
) -> None:
    """Generate a small deterministic dataset (one sample fails QC on purpose) and run it."""
    from workflows.local.demo import generate
    from workflows.local.outdir import OutdirError, check_usable
    from workflows.local.run import RunOptions, run_pipeline

    console = Console()
    try:
        check_usable(outdir)  # a file, or a path under one: one line, before anything is written
        check_usable(outdir / "data")
        check_usable(outdir / "results")
    except OutdirError as exc:
        Console(stderr=True).print(f"error: {exc}", highlight=False, soft_wrap=True, markup=False)
        raise typer.Exit(2) from None
    try:
        data = generate(outdir / "data")
    except OSError as exc:  # unwritable, read-only or full: one line naming the file
        where = exc.filename or outdir / "data"
        Console(stderr=True).print(
            f"error: {where}: cannot write the demo data ({exc.strerror or exc})",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
        raise typer.Exit(2) from None
    console.print(
        f"demo data: {data.sheet} ({len(data.samples)} samples), reference {data.reference}", highlight=False
    )
    code = run_pipeline(
        RunOptions(
            sheet=data.sheet,
            reference=data.reference,
            outdir=outdir / "results",
            cpus=cpus or os.cpu_count() or 1,
            overwrite=True,  # the demo's data were just generated afresh: so are its results
        ),
        console,
    )
    raise typer.Exit(code)
