"""``seqstack cost``: what a stack costs while idle, and what one sample costs on it.

Both figures come from what the program declares (``stacks.harness.run_stack``, offline) priced
with a dated table of list prices (``seqstack/data/prices.json``; each price names its source,
or says it is an estimate and from when; ``--prices FILE`` overrides entries):

* idle monthly cost: control plane, NAT gateways (and their public addresses), interface
  endpoints x zones, and every node pool at its minimum size (system nodes; worker pools scale
  to zero) with its root disks. Usage-priced items (traffic, logs, storage) are not included.
* cost per sample: CPU-hours per pipeline task x the spot (or on-demand) price per vCPU-hour of
  the pool the task runs on. CPU-hours come from a measured local run (``--run-json
  results/run.json`` from ``seqstack run``) or from the default table
  ``seqstack/data/task_cpu.json`` measured on the real HG00152 mtDNA reads by
  ``benchmarks/cpu_per_read_pair.py``, scaled to ``--reads-per-sample`` million read pairs.
  It assumes nodes packed with work (no idle cores, no boot time), so it is a floor.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from workflows.console import console
from workflows.errors import UserError

DATA = Path(__file__).parent / "data"
DEFAULT_PRICES = DATA / "prices.json"
DEFAULT_TASK_CPU = DATA / "task_cpu.json"
POOL_LABEL = "seqstack.io/pool"

#: Pool each pipeline template runs on (workflows/pipeline.py; a test keeps the two in step).
TEMPLATE_POOLS: dict[str, str] = {"fastqc": "small", "qc-gate": "small", "align": "large", "report": "small"}

#: Default-table tasks: which measured steps make up each pipeline task, and how many pods of it
#: one sample runs (FastQC runs once per read file; the measurement timed both files together).
DEFAULT_TASKS: dict[str, tuple[tuple[str, ...], int]] = {
    "fastqc": (("fastqc",), 2),
    "align": (("align", "index"), 1),
}


class CostError(UserError, ValueError):
    """A price, a machine type or a run record needed for the estimate is missing or malformed."""


@dataclass(frozen=True)
class Price:
    """One list price with where it comes from."""

    price: float
    source: str


@dataclass(frozen=True)
class Line:
    """One row of a cost table."""

    item: str
    quantity: str
    usd: float
    source: str


@dataclass(frozen=True)
class TaskCpu:
    """CPU use of one pipeline task per sample: fixed part per pod plus a part per read pair."""

    task: str
    pool: str
    pods_per_sample: int
    fixed_cpu_seconds: float
    cpu_seconds_per_million_pairs: float
    basis: str

    def cpu_hours(self, million_pairs: float) -> float:
        return (
            self.pods_per_sample * self.fixed_cpu_seconds + self.cpu_seconds_per_million_pairs * million_pairs
        ) / 3600


# ------------------------------------------------------------------------------------------
# Prices


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict) and "price" not in value:
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_prices(override: Path | None = None) -> dict[str, Any]:
    """The default price table, with ``override``'s entries replacing or adding to it."""
    table: dict[str, Any] = json.loads(DEFAULT_PRICES.read_text())
    if override is not None:
        try:
            extra = json.loads(override.read_text())
        except (OSError, ValueError) as exc:  # ValueError: bad JSON, or bytes that are not UTF-8
            raise CostError(f"--prices {override}: {exc}") from None
        if not isinstance(extra, dict):
            raise CostError(
                f"--prices {override}: must be a JSON object shaped like seqstack/data/prices.json, "
                f"got {type(extra).__name__ if extra is not None else 'null'}"
            )
        table = _merge(table, extra)
    return table


class Prices:
    """Price lookups for one cloud region, failing with the missing key's full path."""

    def __init__(self, table: Mapping[str, Any], cloud: str, region: str) -> None:
        self.date = str(table.get("date", "?"))
        hours = table.get("hoursPerMonth", 730)
        if not isinstance(hours, int | float) or isinstance(hours, bool) or not 0 < hours <= 744:
            raise CostError(
                f"hoursPerMonth {hours!r} is not a number of hours in a month; fix it with --prices"
            )
        self.hours = float(hours)
        self.where = f"clouds.{cloud}.{region}"
        region_table = _dig(table, "clouds", cloud, region)
        if not isinstance(region_table, Mapping):
            raise CostError(
                f"no prices for {cloud} region {region} ({self.where}); add them with --prices FILE"
            )
        self.region: Mapping[str, Any] = region_table

    def _price(self, entry: Any, path: str) -> Price:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("price"), int | float):
            raise CostError(f"price {path} missing or without a number; add it with --prices FILE")
        return Price(float(entry["price"]), str(entry.get("source", "no source given")))

    def get(self, key: str) -> Price:
        return self._price(self.region.get(key), f"{self.where}.{key}")

    def machine(self, machine_type: str, spot: bool) -> tuple[Price, int]:
        entry = _dig(self.region, "machines", machine_type)
        path = f"{self.where}.machines.{machine_type}"
        if not isinstance(entry, Mapping) or not isinstance(entry.get("vcpus"), int):
            raise CostError(f"no price for machine type {machine_type} ({path}); add it with --prices FILE")
        kind = "spotHour" if spot else "onDemandHour"
        return self._price(entry.get(kind), f"{path}.{kind}"), int(entry["vcpus"])


# ------------------------------------------------------------------------------------------
# What the stack declares


@dataclass(frozen=True)
class Pool:
    """A node pool as declared: machine type, capacity, minimum size, disk."""

    name: str
    machine_type: str
    spot: bool
    min_nodes: int
    disk_gib: float
    ssd: bool


def _aws_pools(inv: Any) -> list[Pool]:
    templates = {r.name: r for r in inv.of_type("aws:ec2/launchTemplate:LaunchTemplate")}
    pools = []
    for ng in inv.of_type("aws:eks/nodeGroup:NodeGroup"):
        i = ng.inputs
        disk = 20.0  # EKS's default root volume when no launch template sets one
        for lt in templates.values():
            if lt.name in ng.dependencies:
                sizes = [
                    _num(_dig(m, "ebs", "volumeSize")) for m in lt.inputs.get("blockDeviceMappings") or []
                ]
                disk = sum(sizes) or disk
        pools.append(
            Pool(
                name=str((i.get("labels") or {}).get(POOL_LABEL, ng.name)),
                machine_type=str((i.get("instanceTypes") or ["?"])[0]),
                spot=i.get("capacityType") == "SPOT",
                min_nodes=int(_num(_dig(i, "scalingConfig", "minSize"))),
                disk_gib=disk,
                ssd=False,
            )
        )
    return pools


def _gcp_pools(inv: Any) -> list[Pool]:
    pools = []
    for np_ in inv.of_type("gcp:container/nodePool:NodePool"):
        i, config = np_.inputs, np_.inputs.get("nodeConfig") or {}
        autoscaling = i.get("autoscaling") or {}
        if autoscaling.get("totalMinNodeCount") is not None:
            minimum = _num(autoscaling["totalMinNodeCount"])
        else:  # per-zone minimum times the pool's zones
            minimum = _num(autoscaling.get("minNodeCount", i.get("nodeCount", 0))) * max(
                1, len(i.get("nodeLocations") or [])
            )
        pools.append(
            Pool(
                name=str((config.get("labels") or {}).get(POOL_LABEL, np_.name)),
                machine_type=str(config.get("machineType", "?")),
                spot=bool(config.get("spot") or config.get("preemptible")),
                min_nodes=int(minimum),
                disk_gib=_num(config.get("diskSizeGb", 100)),
                ssd=config.get("diskType") == "pd-ssd",
            )
        )
    return pools


def _dig(value: Any, *path: str) -> Any:
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _num(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def pools_of(inv: Any) -> dict[str, Pool]:
    """The stack's node pools by pool name."""
    pools = _aws_pools(inv) if inv.config.cloud == "aws" else _gcp_pools(inv)
    return {p.name: p for p in pools}


def idle_lines(inv: Any, prices: Prices) -> list[Line]:
    """Monthly cost of the stack with no pipeline running."""
    h = prices.hours
    lines: list[Line] = []

    def add(item: str, count: float, unit: str, price: Price, factor: float = 1.0) -> None:
        if count:
            lines.append(Line(item, f"{count:g} {unit}", count * price.price * factor, price.source))

    if inv.config.cloud == "aws":
        add(
            "EKS control plane",
            len(inv.of_type("eks:index:Cluster")),
            "cluster",
            prices.get("controlPlaneHour"),
            h,
        )
        add(
            "NAT gateway",
            len(inv.of_type("aws:ec2/natGateway:NatGateway")),
            "gateway",
            prices.get("natGatewayHour"),
            h,
        )
        add(
            "Public IPv4 (Elastic IP)",
            len(inv.of_type("aws:ec2/eip:Eip")),
            "address",
            prices.get("publicIpv4Hour"),
            h,
        )
        endpoint_azs = sum(
            len(r.inputs.get("subnetIds") or [])
            for r in inv.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
            if r.inputs.get("vpcEndpointType") == "Interface"
        )
        add("Interface VPC endpoints", endpoint_azs, "endpoint-AZ", prices.get("interfaceEndpointAzHour"), h)
    else:
        add(
            "GKE cluster management",
            len(inv.of_type("gcp:container/cluster:Cluster")),
            "cluster",
            prices.get("controlPlaneHour"),
            h,
        )
        nats = inv.of_type("gcp:compute/routerNat:RouterNat")
        idle_vms = sum(p.min_nodes for p in pools_of(inv).values())
        add("Cloud NAT (per VM served)", len(nats) * min(idle_vms, 32), "VM", prices.get("natGatewayHour"), h)
        auto_ips = sum(1 for n in nats if n.inputs.get("natIpAllocateOption") == "AUTO_ONLY")
        add("Cloud NAT address (auto, at least 1)", auto_ips, "address", prices.get("publicIpv4Hour"), h)
    for pool in pools_of(inv).values():
        if pool.min_nodes <= 0:
            continue
        price, _ = prices.machine(pool.machine_type, pool.spot)
        capacity = "spot" if pool.spot else "on-demand"
        add(f"{pool.name} nodes ({pool.machine_type}, {capacity}, minimum)", pool.min_nodes, "node", price, h)
        disk = prices.get("ssdDiskGbMonth" if pool.ssd else "diskGbMonth")
        add(f"{pool.name} node disks", pool.min_nodes * pool.disk_gib, "GiB", disk)
    return lines


# ------------------------------------------------------------------------------------------
# CPU per task


def default_tasks(path: Path = DEFAULT_TASK_CPU) -> list[TaskCpu]:
    """The measured default table (benchmarks/cpu_per_read_pair.py on the mtDNA test data)."""
    doc = json.loads(path.read_text())
    steps = doc["tasks"]
    basis = f"measured {doc.get('measured', '?')} on {doc.get('data', '?')}; {doc.get('reference', '')}"
    return [
        TaskCpu(
            task=task,
            pool=TEMPLATE_POOLS[task],
            pods_per_sample=pods,
            fixed_cpu_seconds=sum(steps[s]["fixed_cpu_seconds"] for s in parts),
            cpu_seconds_per_million_pairs=sum(steps[s]["cpu_seconds_per_million_pairs"] for s in parts),
            basis=basis,
        )
        for task, (parts, pods) in DEFAULT_TASKS.items()
    ]


def _count_pairs(fastq: Path) -> int:
    opener = gzip.open if fastq.suffix == ".gz" else open
    with opener(fastq, "rt") as handle:
        return sum(1 for _ in handle) // 4


#: Fewer read pairs than this per task and start-up time swamps the per-read cost: a run on the
#: 5,053-pair test set says nothing about a 20-million-pair sample.
MIN_MEASURED_PAIRS = 1_000_000


def measured_tasks(run_json: Path, min_pairs: int = MIN_MEASURED_PAIRS) -> list[TaskCpu]:
    """CPU per task from a ``seqstack run`` record.

    Each successful attempt counts ``cpuSeconds`` when the record has it, else its wall time
    times the CPUs the task reserved on that machine (``PipelineSettings.local``). Read pairs
    are counted in the samples' FASTQ files (the sheet named in the record). The fixed part per
    pod is taken from the default table, so a tiny test run does not make start-up look like
    per-read work; the rest is spread over the read pairs.
    """
    from workflows.settings import PipelineSettings
    from workflows.sheet import SampleSheetError, read_sample_sheet

    try:
        record = json.loads(run_json.read_text())
        sheet = Path(record["sheet"])
        cpus = int(record["cpus"])
        memory = float(record.get("memoryGiB", 4))
        tasks = record["tasks"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise CostError(f"--run-json {run_json}: not a seqstack run record ({exc})") from None
    try:
        samples = {s.id: s for s in read_sample_sheet(sheet, "file")}
    except (SampleSheetError, OSError) as exc:
        raise CostError(f"--run-json {run_json}: cannot read its sample sheet: {exc}") from None
    settings = PipelineSettings.local(cpus, memory)
    reserved = {
        "fastqc": settings.fastqc.cpu,
        "qc-gate": settings.qc_gate.cpu,
        "align": settings.align.cpu,
        "report": settings.report.cpu,
    }
    fixed = {t.task: t.fixed_cpu_seconds for t in default_tasks()}
    cpu: dict[str, float] = {}
    pods: dict[str, int] = {}
    ran: dict[str, set[str]] = {}
    wall_based = False
    if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
        raise CostError(f"--run-json {run_json}: not a seqstack run record (tasks is not a list of objects)")
    for task in tasks:
        template = task.get("template")
        if template not in TEMPLATE_POOLS or task.get("status") != "Succeeded" or task.get("cached"):
            continue
        good = [a for a in task.get("attempts", []) if a.get("status") == "Succeeded"]
        if not good:
            continue
        attempt = good[-1]
        if isinstance(attempt.get("cpuSeconds"), int | float):
            seconds = float(attempt["cpuSeconds"])
        else:
            wall_based = True
            seconds = float(attempt.get("durationSeconds", 0)) * min(reserved[template], cpus)
        cpu[template] = cpu.get(template, 0.0) + seconds
        pods[template] = pods.get(template, 0) + 1
        if task.get("sample"):
            ran.setdefault(template, set()).add(task["sample"])
    if not cpu:
        raise CostError(f"--run-json {run_json}: no successful pipeline task to measure")
    pairs = {
        sid: _count_pairs(Path(samples[sid].fastq_1)) for sid in set().union(*ran.values()) if sid in samples
    }
    basis = f"{run_json} ({'wall time x reserved CPUs' if wall_based else 'cpuSeconds'}), {cpus}-CPU machine"
    result = []
    for template, seconds in cpu.items():
        done = ran.get(template, set())
        if not done:
            continue  # the report runs once per run, not per sample
        measured_pairs = sum(pairs.get(s, 0) for s in done)
        if measured_pairs < min_pairs:
            raise CostError(
                f"--run-json {run_json}: {template} ran on {measured_pairs:,} read pairs in all, fewer than "
                f"{min_pairs:,}: start-up time would dominate the per-read figure. Measure a run of at "
                "least that many pairs, or leave out --run-json to use the default table."
            )
        million = measured_pairs / 1e6
        per_pod_fixed = fixed.get(template, 0.0)
        per_sample_pods = pods[template] / len(done)
        variable = max(seconds - pods[template] * per_pod_fixed, 0.0)
        result.append(
            TaskCpu(
                template,
                TEMPLATE_POOLS[template],
                round(per_sample_pods),
                per_pod_fixed,
                variable / million,
                basis,
            )
        )
    return result


def sample_lines(
    tasks: Sequence[TaskCpu], pools: Mapping[str, Pool], prices: Prices, million_pairs: float
) -> list[Line]:
    """Cost of one sample of ``million_pairs`` read pairs: CPU-hours x price per vCPU-hour."""
    lines = []
    for t in tasks:
        pool = pools.get(t.pool)
        if pool is None:
            raise CostError(f"task {t.task} runs on pool {t.pool!r}, which the stack does not declare")
        price, vcpus = prices.machine(pool.machine_type, pool.spot)
        hours = t.cpu_hours(million_pairs)
        capacity = "spot" if pool.spot else "on-demand"
        lines.append(
            Line(
                f"{t.task} ({t.pool}: {pool.machine_type} {capacity}, ${price.price / vcpus:.4f}/vCPU-h)",
                f"{hours:.4f} CPU-h",
                hours * price.price / vcpus,
                price.source,
            )
        )
    return lines


# ------------------------------------------------------------------------------------------
# Command


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
    fmt: Annotated[Format, typer.Option("--format", "-f", help="table or json.")] = Format.TABLE,
) -> None:
    """Idle monthly cost of the stack, and the cost of one sample, from list prices.

    Offline: the stack is the program run under mocks; prices come from a dated table in the
    repository (each with its source). Spot prices are estimates; traffic, logs and storage are
    not included. The per-sample figure assumes full nodes, so it is a floor.
    """
    import datetime as dt

    from seqstack.cmd_inventory import declared
    from seqstack.quotas import how_to_check, pool_quotas, totals
    from stacks.versions import support, support_note

    if not math.isfinite(reads):
        raise CostError(f"--reads-per-sample {reads}: give a number of million read pairs, e.g. 10")
    inv = declared(stack)
    prices = Prices(load_prices(prices_file), inv.config.cloud, inv.config.region)
    idle = idle_lines(inv, prices)
    tasks = measured_tasks(run_json) if run_json else default_tasks()
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
            f"{stack}: one sample of {reads:g} M read pairs",
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
