"""The ``seqstack`` command line: every command is registered on ``app`` here, from ``cmd_*`` modules.

Every user-facing failure ends here as one line on stderr (:class:`SeqstackGroup`):

* a :class:`workflows.errors.UserError` (bad sheet, stack outputs, option, storage location,
  price table, stack config, Argo server answer...): ``error: <message>``, exit code
  ``exc.exit_code`` (2 for bad input, 1 for a server that failed);
* a usage error found by the option parser (``--cpus abc``, a missing option):
  ``error: <what>; see 'seqstack run --help'``, exit code 2;
* an ``OSError`` nobody expected (a file that vanished, a full disk): ``error: <file>: <reason>``,
  exit code 1;
* anything else is a bug in seqstack: one line naming the exception and a file holding its
  traceback, exit code 70.
"""

from __future__ import annotations

import atexit
import errno
import os
import sys
import tempfile
import threading
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

import typer

# Typer 0.2x vendors Click as typer._click; its exceptions are the ones raised here.
from typer._click import Context
from typer._click.exceptions import NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from seqstack import cmd_cost, cmd_inventory, cmd_local, cmd_pipeline
from workflows.console import print_error
from workflows.errors import UserError

#: Exit code of a failure that is a bug in seqstack (sysexits' EX_SOFTWARE).
EXIT_INTERNAL = 70


def describe_os_error(exc: OSError) -> str:
    """An OSError as ``<file>: <reason>`` (or just the reason when no file is involved)."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
    return f"{' -> '.join(names)}: {reason}" if names else reason


def _internal_error(exc: BaseException) -> str:
    """One line for a bug, with the traceback saved to a file the line names."""
    summary = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    try:
        with tempfile.NamedTemporaryFile(
            "w", prefix="seqstack-traceback-", suffix=".txt", delete=False
        ) as handle:
            traceback.print_exception(exc, file=handle)
        where = f"traceback in {handle.name}"
    except OSError:
        where = "traceback not saved"
    return f"internal error (a bug in seqstack, please report it): {summary} ({where})"


class SeqstackGroup(TyperGroup):
    """The root command group: turns every failure of every command into one line on stderr."""

    def invoke(self, ctx: Context) -> Any:
        """Run the command; a failure below becomes ``error: ...`` and its exit code."""
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.TyperException, typer.Abort, KeyboardInterrupt):
            raise
        except UserError as exc:
            print_error(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except OSError as exc:
            if exc.errno == errno.EPIPE:  # stdout closed early (`seqstack render ... | head`)
                raise
            print_error(describe_os_error(exc))
            raise typer.Exit(1) from None
        except Exception as exc:
            print_error(_internal_error(exc))
            raise typer.Exit(EXIT_INTERNAL) from None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Click's ``main``, with its usage errors (a box of lines under Rich) as one line."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except NoArgsIsHelpError:
            raise SystemExit(2) from None  # the help is already printed
        except UsageError as exc:
            hint = ""
            if exc.ctx is not None and exc.ctx.command.get_help_option(exc.ctx) is not None:
                hint = f" (see '{exc.ctx.command_path} {exc.ctx.help_option_names[0]}')"
            print_error(exc.format_message().rstrip(".") + hint)
            raise SystemExit(exc.exit_code) from None
        except typer.TyperException as exc:
            print_error(exc.format_message())
            raise SystemExit(exc.exit_code) from None
        except typer.Abort:
            print_error("aborted")
            raise SystemExit(1) from None
        # Without standalone mode Click returns the code of an explicit exit, else the command's value.
        raise SystemExit(result if isinstance(result, int) else 0)


app = typer.Typer(
    cls=SeqstackGroup,
    name="seqstack",
    help="Sequencing QC and alignment: run locally, render and submit Argo workflows, inspect stacks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Sequencing QC and alignment with seqstack."""


# Every command, registered here and only here (the modules define plain functions and never
# import this one), in the order `seqstack --help` lists them.
app.command("run")(cmd_local.run_command)
app.command("demo")(cmd_local.demo_command)
app.command("render")(cmd_pipeline.render_cmd)
app.command("render-index")(cmd_pipeline.render_index_cmd)
app.command("submit")(cmd_pipeline.submit_cmd)
app.command("index")(cmd_pipeline.index_cmd)
app.command("status")(cmd_pipeline.status_cmd)
app.command("inventory")(cmd_inventory.inventory)
app.command("cost")(cmd_cost.cost)


def main() -> None:
    """Console-script entry point (and ``python -m seqstack``): the command, then :func:`exit_now`."""
    if sys.argv[1:2] in (["run"], ["demo"]) and not {"--help", "-h"} & set(sys.argv[2:]):
        # Hera's import starts now, beside the CLI's start (workflows.local.render_ahead).
        from workflows.local.render_ahead import start_early

        start_early()
    try:
        app()
    except SystemExit as exc:
        exit_now(exc.code)
    exit_now(0)


def exit_now(code: int | str | None) -> NoReturn:
    """Exit as ``sys.exit(code)`` would, without the interpreter's teardown when nothing needs it.

    Once Hera and pydantic are loaded, tearing the interpreter down (every module's objects
    freed one by one) takes about 0.25 s after the command's last line, on every ``seqstack run``:
    memory the kernel frees at once anyway. So the exit handlers run (``atexit``: logging,
    temporary folders), stdout and stderr are flushed, and the process ends with the code. A
    thread still running (never the case after a command; Python would wait for it) gets the
    ordinary exit.
    """
    if threading.active_count() > 1:
        sys.exit(code)
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"): the message on stderr, status 1
        print(code, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`seqstack ... | head`): as Python exits
            status = status or 120
    os._exit(status)
