"""The ``seqstack`` command line. Each command group lives in its own module and registers on ``app``."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="seqstack",
    help="Sequencing QC and alignment: run locally, render and submit Argo workflows, inspect stacks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Sequencing QC and alignment with seqstack."""


# Command modules register themselves on `app` when imported (one line each).
from seqstack import (  # noqa: E402
    cmd_cost,  # noqa: F401
    cmd_inventory,  # noqa: F401
    cmd_local,  # noqa: F401
    cmd_pipeline,  # noqa: F401
)


def main() -> None:
    """Console-script entry point."""
    app()
