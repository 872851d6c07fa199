"""``seqstack inventory``: the stack's resources, offline, under Pulumi's mock runtime."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from workflows.console import console
from workflows.errors import UserError


class Format(StrEnum):
    """Output formats of ``seqstack inventory``."""

    TABLE = "table"
    JSON = "json"


def declared(stack: str, project_dir: Path | None = None) -> Any:
    """The stack's resources under Pulumi's mock runtime (``stacks.harness.run_stack``).

    Config is validated first (a ``ConfigError`` names the key); a component that still refuses
    its arguments raises ``ValueError`` while the program runs: that too is a value of the
    stack's config, so it is a user error naming the stack file, not a traceback.
    """
    from stacks.harness import run_stack

    try:
        return run_stack(stack) if project_dir is None else run_stack(stack, project_dir=project_dir)
    except UserError:
        raise
    except ValueError as exc:
        raise UserError(f"stack {stack}: {exc} (a value in Pulumi.{stack}.yaml cannot be built)") from None


def _short(value: Any, width: int = 90) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def inventory(
    stack: Annotated[
        str, typer.Option("--stack", "-s", help="Stack name, e.g. dev-aws (reads Pulumi.<stack>.yaml).")
    ],
    fmt: Annotated[Format, typer.Option("--format", "-f", help="table or json.")] = Format.TABLE,
    policy: Annotated[
        bool,
        typer.Option(
            "--policy",
            help="Run the policy pack (policies/) over the resources instead; exit 1 on a violation.",
        ),
    ] = False,
    project_dir: Annotated[
        Path | None, typer.Option("--project-dir", hidden=True, help="Directory of Pulumi.yaml (tests).")
    ] = None,
) -> None:
    """List every resource the stack declares: type, name, parent, inputs (secrets redacted).

    Runs the real Pulumi program under Pulumi's mock runtime: no credentials, no CLI, no network.
    With --policy, runs the same policies `pulumi preview --policy-pack policies` runs.
    """
    inv = declared(stack, project_dir)
    if policy:
        from policies.offline import check_inventory, print_report

        violations = check_inventory(inv)
        print_report(stack, len(inv.resources), violations, as_json=fmt is Format.JSON)
        raise typer.Exit(1 if any(v.mandatory for v in violations) else 0)
    if fmt is Format.JSON:
        typer.echo(json.dumps(inv.to_json(), indent=2, sort_keys=True, default=str))
        return
    table = Table(title=f"seqstack {stack}: {len(inv.resources)} resources", show_lines=False)
    table.add_column("type", overflow="fold")
    table.add_column("name", overflow="fold")
    table.add_column("parent", overflow="fold")
    table.add_column("inputs", overflow="fold")
    for r in inv.to_json():
        table.add_row(r["type"], r["name"], r["parent"] or "", _short(r["inputs"]))
    console().print(table)
