"""What a local run shows while it works: a live table per sample and task on a terminal, one
plain line per event otherwise (logs, CI), and the closing summary table."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from workflows.console import say
from workflows.local.nodes import ERROR, FAILED, OMITTED, RUNNING, SKIPPED, SUCCEEDED, Node

_STYLE = {
    SUCCEEDED: "green",
    FAILED: "red",
    ERROR: "red",
    SKIPPED: "yellow",
    OMITTED: "dim",
    RUNNING: "cyan",
}


@dataclass
class _Cell:
    phase: str
    attempt: int
    started: float | None
    finished: float | None
    cached: bool
    message: str


class Progress:
    """A :class:`workflows.local.nodes.Listener` that renders the run's state."""

    def __init__(self, console: Console, live: bool | None = None, order: Sequence[str] = ()) -> None:
        self.console = console
        self.order = list(order)
        self.live_mode = console.is_terminal if live is None else live
        self.cells: dict[tuple[str, str], _Cell] = {}
        self.rows: list[str] = []
        self.columns: list[str] = []
        self.lock = threading.Lock()
        self.started = time.time()
        self._live: Live | None = None

    def __enter__(self) -> Progress:
        if self.live_mode:
            self._live = Live(console=self.console, get_renderable=self.table, refresh_per_second=4)
            self._live.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)
            self._live = None

    def note(self, message: str) -> None:
        """A line above the live table (or a plain line)."""
        say(self.console, message)

    def event(self, node: Node, what: str) -> None:
        if node.kind != "Pod":
            return
        row = node.sample or "(run)"
        with self.lock:
            if row not in self.rows:
                self.rows.append(row)
            if node.task not in self.columns:
                self.columns.append(node.task)
                # Columns in the DAG's own order, whatever order the tasks happened to start in.
                rank = {name: i for i, name in enumerate(self.order)}
                self.columns.sort(key=lambda c: rank.get(c, len(rank)))
            self.cells[(row, node.task)] = _Cell(
                phase=node.phase if what != "pending" else "Pending",
                attempt=len(node.attempts),
                started=node.attempts[-1].started if node.attempts else node.started,
                finished=node.finished,
                cached=node.cached,
                message=node.message,
            )
        if not self.live_mode and what != "pending":
            say(self.console, self._line(node, what))

    def _line(self, node: Node, what: str) -> str:
        stamp = time.strftime("%H:%M:%S")
        who = f"{node.sample}/{node.task}" if node.sample else node.task
        attempt = f" (attempt {len(node.attempts)})" if len(node.attempts) > 1 else ""
        if what == "started":
            return f"{stamp} {who}: running{attempt}"
        if what == "retrying":
            return f"{stamp} {who}: attempt {len(node.attempts)} {node.phase}: {node.message}; retrying"
        detail = f": {node.message}" if node.message and node.phase != SUCCEEDED else ""
        if node.cached:
            detail = " (outputs from a previous run)"
        return f"{stamp} {who}: {node.phase}{attempt}{detail}"

    def table(self) -> Table:
        table = Table(title=f"seqstack run  {time.time() - self.started:.0f}s", title_justify="left")
        table.add_column("sample")
        with self.lock:
            for col in self.columns:
                table.add_column(col)
            for row in self.rows:
                table.add_row(row, *[self._cell(self.cells.get((row, c))) for c in self.columns])
        return table

    @staticmethod
    def _cell(cell: _Cell | None) -> Text:
        if cell is None:
            return Text("")
        if cell.phase == RUNNING:
            took = time.time() - (cell.started or time.time())
            extra = f" #{cell.attempt}" if cell.attempt > 1 else ""
            return Text(f"running {took:.0f}s{extra}", style="cyan")
        if cell.phase == "Pending":
            return Text("queued", style="dim")
        label = {SUCCEEDED: "done", FAILED: "failed", ERROR: "error", SKIPPED: "skipped", OMITTED: "-"}.get(
            cell.phase, cell.phase.lower()
        )
        if cell.phase == SUCCEEDED and cell.cached:
            label = "done (resumed)"
        elif cell.phase == SUCCEEDED and cell.started and cell.finished:
            label = f"done {cell.finished - cell.started:.0f}s"
        if cell.attempt > 1:
            label += f" after {cell.attempt} attempts"
        return Text(label, style=_STYLE.get(cell.phase, ""))


@dataclass(frozen=True)
class Outcome:
    """How one sample ended, for the summary table and run.json."""

    sample: str
    status: str
    """``aligned``, ``qc-failed`` (reported, not aligned), or ``failed``."""
    qc: str
    """``pass``, ``fail`` or ``-`` (no verdict)."""
    reason: str
    bam: str | None = None

    @property
    def failed(self) -> bool:
        return self.status == "failed"


def summary_table(outcomes: Sequence[Outcome]) -> Table:
    """The closing table: which samples passed QC, were aligned, or failed and why."""
    table = Table(title="seqstack summary", title_justify="left")
    table.add_column("sample")
    table.add_column("QC")
    table.add_column("aligned")
    table.add_column("status")
    table.add_column("why", overflow="fold")
    for o in outcomes:
        style = {"aligned": "green", "qc-failed": "yellow", "failed": "red"}[o.status]
        table.add_row(
            o.sample,
            o.qc,
            "yes" if o.status == "aligned" else "no",
            Text(o.status, style=style),
            o.reason,
        )
    return table
