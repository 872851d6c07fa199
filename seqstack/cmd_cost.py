"""``seqstack cost``: parses its options and prints what :mod:`stacks.cost` and
:mod:`stacks.quotas` work out (idle monthly cost, cost per sample, the vCPU quota each pool needs).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from workflows.console import console

if TYPE_CHECKING:
    from stacks.cost import Line


class Format(StrEnum):
    """Output formats of ``seqstack cost``."""

    TABLE = "table"
    JSON = "json"


def _table(title: str, lines: Sequence[Line], total_label: str, currency: str) -> Table:
    table = Table(title=title, show_lines=False)
    table.add_column("item", overflow="fold")
    table.add_column("quantity", justify="right")
    table.add_column(currency, justify="right")
    table.add_column("source", overflow="fold", style="dim")
    for line in lines:
        table.add_row(
            line.item,
            line.quantity,
            f"{line.usd:,.2f}" if line.usd >= 0.01 else f"{line.usd:.4f}",
            line.source,
        )
    total = sum(line.usd for line in lines)
    table.add_row(
        Text(total_label, style="bold"),
        "",
        Text(f"{total:,.2f}" if total >= 0.01 else f"{total:.4f}", style="bold"),
        "",
    )
    return table


def cost(
    stack: Annotated[
        str, typer.Option("--stack", "-s", help="Stack name, e.g. dev-aws (reads Pulumi.<stack>.yaml).")
    ],
    prices_file: Annotated[
        Path | None,
        typer.Option("--prices", help="JSON price table whose entries replace the built-in ones."),
    ] = None,
    run_json: Annotated[
        Path | None,
        typer.Option("--run-json", help="run.json of a `seqstack run`: CPU per task measured there."),
    ] = None,
    reads: Annotated[
        float, typer.Option("--reads-per-sample", help="Read pairs per sample, in millions.", min=0.0)
    ] = 10.0,
    lanes: Annotated[
        int,
        typer.Option(
            "--lanes-per-sample", help="Lanes (FASTQ pairs) per sample: FastQC and alignment pods.", min=1
        ),
    ] = 1,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="table or json.")] = Format.TABLE,
) -> None:
    """Idle monthly cost of the stack, and the cost of one sample, from list prices.

    Offline: the stack is the program run under mocks; prices come from a dated table in the
    repository (each with its source). Spot prices are estimates; traffic, logs and storage are
    not included. The per-sample figure assumes full nodes, so it is a floor.
    """
    import datetime as dt

    # Imported here: `seqstack --help` and the other commands do not load Pulumi and Hera.
    from seqstack.cmd_inventory import declared
    from stacks.cost import (
        CostError,
        Prices,
        default_tasks,
        idle_lines,
        load_prices,
        measured_tasks,
        pools_of,
        sample_lines,
    )
    from stacks.quotas import how_to_check, pool_quotas, totals
    from stacks.versions import support, support_note

    if not math.isfinite(reads):
        raise CostError(f"--reads-per-sample {reads}: give a number of million read pairs, e.g. 10")
    inv = declared(stack)
    prices = Prices(load_prices(prices_file), inv.config.cloud, inv.config.region)
    idle = idle_lines(inv, prices)
    tasks = measured_tasks(run_json) if run_json else default_tasks(lanes=lanes)
    per_sample = sample_lines(tasks, pools_of(inv), prices, reads)
    currency = "USD"
    cfg = inv.config
    minor = cfg.kubernetes_version
    k8s_note = support_note(cfg.cloud.value, minor, dt.date.today())
    quotas = pool_quotas(cfg)
    if fmt is Format.JSON:
        doc = {
            "stack": stack,
            "pricesDate": prices.date,
            "readPairsPerSampleMillions": reads,
            "lanesPerSample": lanes,
            "idleMonthly": {"total": sum(x.usd for x in idle), "lines": [asdict(x) for x in idle]},
            "perSample": {"total": sum(x.usd for x in per_sample), "lines": [asdict(x) for x in per_sample]},
            "kubernetes": {
                "version": minor,
                "standardSupportUntil": support(cfg.cloud.value, minor).standard_until.isoformat(),
                "note": k8s_note,
            },
            "quotas": {"pools": [asdict(q) for q in quotas], "totals": totals(quotas)},
        }
        typer.echo(json.dumps(doc, indent=2))
        return
    out = console()
    out.print(
        _table(
            f"{stack}: idle cost per month (prices of {prices.date})", idle, "idle total / month", currency
        )
    )
    out.print(
        _table(
            f"{stack}: one sample of {reads:g} M read pairs" + (f" in {lanes} lanes" if lanes > 1 else ""),
            per_sample,
            "per sample",
            currency,
        )
    )
    quota_table = Table(title=f"{stack}: vCPU quota the pools need at their maximum size")
    for column in ("pool", "machines", "vCPUs", "quota"):
        quota_table.add_column(column, justify="right" if column == "vCPUs" else "left", overflow="fold")
    for q in quotas:
        capacity = "spot" if q.spot else "on-demand"
        quota_table.add_row(q.pool, f"{q.max_nodes} x {q.machine_type} ({capacity})", str(q.vcpus), q.quota)
    out.print(quota_table)
    for quota, vcpus in totals(quotas).items():
        out.print(Text(f"Needs {vcpus} vCPUs of {quota} in {cfg.region}."))
    out.print(Text(f"New accounts often have less; check with: {how_to_check(cfg)}", style="dim"))
    out.print(Text(k8s_note + "."))
    for basis in sorted({t.basis for t in tasks}):
        out.print(f"CPU per task: {basis}", style="dim", soft_wrap=True)
    out.print(
        "Not included: data transfer, NAT/endpoint per-GB processing, logs, bucket storage, node boot "
        "time and idle cores (the per-sample figure is a floor).",
        style="dim",
    )
