"""What a stack costs while idle, and what one sample costs on it (``seqstack cost`` prints it).

Both figures come from what the program declares (the :class:`stacks.harness.Inventory` of
``run_stack``, offline) priced with a dated table of list prices (``stacks/data/prices.json``;
each price names its source, or says it is an estimate and from when; ``--prices FILE`` overrides entries):

* idle monthly cost: control plane, NAT gateways (and their public addresses), interface
  endpoints x zones, and every node pool at its minimum size (system nodes; worker pools scale
  to zero) with its root disks. Usage-priced items (traffic, logs, storage) are not included.
* cost per sample: CPU-hours per pipeline task x the spot (or on-demand) price per vCPU-hour of
  the pool the task runs on. CPU-hours come from a measured local run (``--run-json
  results/run.json`` from ``seqstack run``) or from the default table
  ``stacks/data/task_cpu.json`` measured on the real HG00152 mtDNA reads by
  ``benchmarks/cpu_per_read_pair.py``, scaled to ``--reads-per-sample`` million read pairs.
  It assumes nodes packed with work (no idle cores, no boot time), so it is a floor.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stacks.harness import Inventory
from workflows.contract import POOL_LABEL
from workflows.errors import UserError
from workflows.settings import PipelineSettings
from workflows.sheet import SampleSheetError, read_sample_sheet
from workflows.steps import PIPELINE, by_name

DATA = Path(__file__).parent / "data"
DEFAULT_PRICES = DATA / "prices.json"
DEFAULT_TASK_CPU = DATA / "task_cpu.json"


class CostError(UserError, ValueError):
    """A price, a machine type or a run record needed for the estimate is missing or malformed."""


@dataclass(frozen=True)
class Price:
    """One list price with where it comes from."""

    price: float
    """USD per unit (hour, GB-month...)."""
    source: str
    """Where the figure comes from (a page, or "estimate" and when)."""


@dataclass(frozen=True)
class Line:
    """One row of a cost table."""

    item: str
    """What is priced."""
    quantity: str
    """How much of it, with its unit."""
    usd: float
    """Its cost in USD (per month, or per sample)."""
    source: str
    """The price's source."""


@dataclass(frozen=True)
class TaskCpu:
    """CPU use of one pipeline task per sample: fixed part per pod plus a part per read pair."""

    task: str
    """Pipeline step (template) name."""
    pool: str
    """Node pool its pods run on."""
    pods_per_sample: int
    """Pods of it one sample runs."""
    fixed_cpu_seconds: float
    """CPU seconds each pod takes whatever its input (start-up)."""
    cpu_seconds_per_million_pairs: float
    """CPU seconds per million read pairs of the sample."""
    basis: str
    """Where the figures come from (the default table or a run record)."""

    def cpu_hours(self, million_pairs: float) -> float:
        """CPU-hours per sample of ``million_pairs`` million read pairs."""
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
                f"--prices {override}: must be a JSON object shaped like stacks/data/prices.json, "
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
    """Pool name (its ``seqstack.io/pool`` label)."""
    machine_type: str
    """The (first) machine type."""
    spot: bool
    """Spot capacity."""
    min_nodes: int
    """Nodes it keeps while idle."""
    disk_gib: float
    """Root disk per node in GiB."""
    ssd: bool
    """SSD disks (priced apart on GCP)."""


def _aws_pools(inv: Inventory) -> list[Pool]:
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


def _gcp_pools(inv: Inventory) -> list[Pool]:
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


def pools_of(inv: Inventory) -> dict[str, Pool]:
    """The stack's node pools by pool name."""
    pools = _aws_pools(inv) if inv.config.cloud == "aws" else _gcp_pools(inv)
    return {p.name: p for p in pools}


def idle_lines(inv: Inventory, prices: Prices) -> list[Line]:
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


def default_tasks(path: Path = DEFAULT_TASK_CPU, lanes: int = 1) -> list[TaskCpu]:
    """The measured default table (benchmarks/cpu_per_read_pair.py on the mtDNA test data), for
    samples of ``lanes`` lanes.

    Each pipeline step that names measured rows (``Step.measured``) gets their sum, on its pool,
    with its pods per sample of that many lanes (``Step.pods_for``: one FastQC per lane over both
    reads; one ``align`` for one lane, else ``align-lane`` per lane and one ``merge``); a step a
    sample of that many lanes never runs is left out. The per-read part is per sample: its read
    pairs are split over its lanes, not repeated.
    """
    doc = json.loads(path.read_text())
    rows = doc["tasks"]
    basis = f"measured {doc.get('measured', '?')} on {doc.get('data', '?')}; {doc.get('reference', '')}"
    return [
        TaskCpu(
            task=step.name,
            pool=step.pool,
            pods_per_sample=step.pods_for(lanes),
            fixed_cpu_seconds=sum(rows[r]["fixed_cpu_seconds"] for r in step.measured),
            cpu_seconds_per_million_pairs=sum(
                rows[r]["cpu_seconds_per_million_pairs"] for r in step.measured
            ),
            basis=basis,
        )
        for step in PIPELINE
        if step.measured and step.pods_for(lanes)
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
    steps = by_name()
    reserved = {name: step.size(settings).cpu for name, step in steps.items()}
    fixed = {t.task: t.fixed_cpu_seconds for t in default_tasks()}
    cpu: dict[str, float] = {}
    pods: dict[str, int] = {}
    ran: dict[str, set[str]] = {}
    wall_based = False
    if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
        raise CostError(f"--run-json {run_json}: not a seqstack run record (tasks is not a list of objects)")
    for task in tasks:
        template = task.get("template")
        if template not in steps or task.get("status") != "Succeeded" or task.get("cached"):
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
        sid: sum(_count_pairs(Path(lane.fastq_1)) for lane in samples[sid].lanes)
        for sid in set().union(*ran.values())
        if sid in samples
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
                steps[template].pool,
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
