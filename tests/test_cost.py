"""``seqstack cost``: idle cost follows what the stack declares, prices are sourced and dated,
per-sample cost follows CPU per task, and overrides and run records are honoured."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from seqstack.cli import app
from stacks import cost
from stacks.cost import CostError, Prices, TaskCpu, idle_lines, load_prices, measured_tasks, pools_of
from stacks.harness import run_stack

runner = CliRunner()


def _cost(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["cost", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.output)
    return doc


def _items(doc: dict[str, Any], part: str) -> dict[str, float]:
    return {line["item"]: line["usd"] for line in doc[part]["lines"]}


def test_price_table_is_dated_and_every_price_has_a_source() -> None:
    table = load_prices()
    assert table["date"] and table["currency"] == "USD"

    def prices(node: Any) -> list[dict[str, Any]]:
        if isinstance(node, dict) and "price" in node:
            return [node]
        if isinstance(node, dict):
            return [p for v in node.values() for p in prices(v)]
        return []

    found = prices(table["clouds"])
    assert len(found) > 20
    for p in found:
        assert p["price"] > 0 and p["source"].strip(), p
        # A figure not read from a current page must say it is an estimate and from when.
        if "estimate" in p["source"]:
            assert any(year in p["source"] for year in ("2024", "2025", "2026")), p


@pytest.mark.parametrize("stack", ["dev-aws", "dev-gcp"])
def test_every_machine_type_the_stacks_use_by_default_is_priced(stack: str) -> None:
    inv = run_stack(stack)
    prices = Prices(load_prices(), inv.config.cloud, inv.config.region)
    for pool in pools_of(inv).values():
        prices.machine(pool.machine_type, spot=True)
        prices.machine(pool.machine_type, spot=False)


def test_aws_idle_cost_is_the_sum_of_what_is_declared() -> None:
    doc = _cost("--stack", "dev-aws")
    items = _items(doc, "idleMonthly")
    assert items["EKS control plane"] == pytest.approx(0.10 * 730)
    assert items["NAT gateway"] == pytest.approx(0.048 * 730)  # natMode single: one gateway
    # ecr.api, ecr.dkr, sts interface endpoints in 3 zones each; the S3 gateway endpoint is free.
    assert items["Interface VPC endpoints"] == pytest.approx(3 * 3 * 0.011 * 730)
    assert items["system nodes (t3.large, on-demand, minimum)"] == pytest.approx(0.0912 * 730)
    assert items["system node disks"] == pytest.approx(50 * 0.088)
    # Worker pools scale to zero, so they cost nothing idle.
    assert not any(name.startswith(("small", "large")) for name in items)
    assert doc["idleMonthly"]["total"] == pytest.approx(sum(items.values()))


def test_per_zone_nat_and_a_warm_worker_pool_raise_the_idle_cost() -> None:
    inv = run_stack("dev-aws", overrides={"seqstack:natMode": "perZone", "seqstack:smallMinNodes": 1})
    prices = Prices(load_prices(), "aws", inv.config.region)
    items = {line.item: line.usd for line in idle_lines(inv, prices)}
    assert items["NAT gateway"] == pytest.approx(3 * 0.048 * 730)
    assert items["small nodes (m6i.xlarge, spot, minimum)"] == pytest.approx(0.085 * 730)


def test_gcp_idle_cost() -> None:
    items = _items(_cost("--stack", "dev-gcp"), "idleMonthly")
    assert items["GKE cluster management"] == pytest.approx(0.10 * 730)
    assert items["system nodes (e2-standard-2, on-demand, minimum)"] == pytest.approx(0.0737 * 730)
    assert items["Cloud NAT (per VM served)"] == pytest.approx(1 * 0.0014 * 730)


def test_per_sample_cost_scales_with_reads_and_uses_spot_prices() -> None:
    small = _cost("--stack", "dev-aws", "--reads-per-sample", "10")
    large = _cost("--stack", "dev-aws", "--reads-per-sample", "100")
    assert large["perSample"]["total"] > 5 * small["perSample"]["total"]
    align = next(line for line in large["perSample"]["lines"] if line["item"].startswith("align"))
    table = json.loads(cost.DEFAULT_TASK_CPU.read_text())["tasks"]
    cpu_seconds = 100 * (
        table["align"]["cpu_seconds_per_million_pairs"] + table["index"]["cpu_seconds_per_million_pairs"]
    )
    cpu_seconds += table["align"]["fixed_cpu_seconds"] + table["index"]["fixed_cpu_seconds"]
    assert align["usd"] == pytest.approx(cpu_seconds / 3600 * 0.68 / 32)  # m6i.8xlarge spot / 32 vCPU


def test_lanes_per_sample_add_pods_not_reads() -> None:
    """Four lanes: four FastQC and four align-lane pods and one merge, over the same reads: the
    start-up of the extra pods is all that is added."""
    one = _cost("--stack", "dev-aws", "--reads-per-sample", "10")
    four = _cost("--stack", "dev-aws", "--reads-per-sample", "10", "--lanes-per-sample", "4")
    assert four["lanesPerSample"] == 4
    assert [line["item"].split(" ")[0] for line in four["perSample"]["lines"]] == [
        "fastqc",
        "align-lane",
        "merge",
    ]
    table = json.loads(cost.DEFAULT_TASK_CPU.read_text())["tasks"]

    def hours(doc: dict[str, Any]) -> dict[str, float]:
        return {d["item"].split(" ")[0]: float(d["quantity"].split()[0]) for d in doc["perSample"]["lines"]}

    h1, h4 = hours(one), hours(four)
    # FastQC: the same reads, three more JVM start-ups.
    assert h4["fastqc"] - h1["fastqc"] == pytest.approx(
        3 * table["fastqc"]["fixed_cpu_seconds"] / 3600, abs=2e-4
    )
    # Alignment: per lane, then one finishing pass; the per-read work is the one-lane align's.
    per_read = 10 * (
        table["align"]["cpu_seconds_per_million_pairs"] + table["index"]["cpu_seconds_per_million_pairs"]
    )
    fixed = 4 * table["align"]["fixed_cpu_seconds"] + table["index"]["fixed_cpu_seconds"]
    assert h4["align-lane"] + h4["merge"] == pytest.approx((per_read + fixed) / 3600, abs=2e-4)


def test_prices_file_overrides_one_entry(tmp_path: Path) -> None:
    override = {"clouds": {"aws": {"eu-west-1": {"natGatewayHour": {"price": 1.0, "source": "test"}}}}}
    (tmp_path / "p.json").write_text(json.dumps(override))
    doc = _cost("--stack", "dev-aws", "--prices", str(tmp_path / "p.json"))
    items = _items(doc, "idleMonthly")
    assert items["NAT gateway"] == pytest.approx(730.0)
    assert items["EKS control plane"] == pytest.approx(73.0), "other entries keep the built-in price"


def test_unpriced_machine_type_is_an_error_naming_the_key() -> None:
    inv = run_stack("dev-aws", overrides={"seqstack:systemMachineTypes": ["m7i.large"]})
    prices = Prices(load_prices(), "aws", inv.config.region)
    with pytest.raises(CostError, match=r"clouds\.aws\.eu-west-1\.machines\.m7i\.large"):
        idle_lines(inv, prices)


def _write_fastq(path: Path, pairs: int) -> None:
    with gzip.open(path, "wt") as out:
        for i in range(pairs):
            out.write(f"@r{i}\nACGT\n+\nIIII\n")


def _run_record(tmp_path: Path, pairs: int, tasks: list[dict[str, Any]], lanes: int = 1) -> Path:
    """A run record of sample s1 with ``pairs`` read pairs split evenly over ``lanes`` lanes."""
    rows = []
    for lane in range(1, lanes + 1):
        r1, r2 = (tmp_path / f"s_L{lane}_{read}.fastq.gz" for read in ("1", "2"))
        _write_fastq(r1, pairs // lanes)
        _write_fastq(r2, pairs // lanes)
        rows.append(f"s1,{r1},{r2}\n")
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("sample,fastq_1,fastq_2\n" + "".join(rows))
    record = {"seqstack": "run", "sheet": str(sheet), "cpus": 4, "memoryGiB": 8.0, "tasks": tasks}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(record))
    return path


def _task(template: str, sample: str | None, **attempt: Any) -> dict[str, Any]:
    return {"template": template, "sample": sample, "status": "Succeeded", "cached": False,
            "attempts": [{"status": "Succeeded", **attempt}]}  # fmt: skip


def test_run_record_cpu_seconds_become_cpu_per_million_pairs(tmp_path: Path) -> None:
    # A sample of two lanes: one FastQC pod per lane; its pairs are counted over both lanes.
    run_json = _run_record(
        tmp_path,
        pairs=2000,
        lanes=2,
        tasks=[
            _task("fastqc", "s1", cpuSeconds=10.0, durationSeconds=99.0),
            _task("fastqc", "s1", cpuSeconds=12.0, durationSeconds=99.0),
            _task("align", "s1", cpuSeconds=30.0, durationSeconds=99.0),
            _task("report", None, cpuSeconds=5.0, durationSeconds=5.0),
        ],
    )
    tasks = {t.task: t for t in measured_tasks(run_json, min_pairs=1000)}
    assert set(tasks) == {"fastqc", "align"}, "the report runs once per run, not per sample"
    fixed = {t.task: t.fixed_cpu_seconds for t in cost.default_tasks()}
    assert tasks["fastqc"].pods_per_sample == 2
    assert tasks["fastqc"].cpu_seconds_per_million_pairs == pytest.approx(
        (22.0 - 2 * fixed["fastqc"]) / 0.002
    )
    assert tasks["align"].cpu_seconds_per_million_pairs == pytest.approx((30.0 - fixed["align"]) / 0.002)
    assert tasks["align"].pool == "large" and tasks["fastqc"].pool == "small"


def test_run_record_without_cpu_seconds_uses_wall_time_times_reserved_cpus(tmp_path: Path) -> None:
    run_json = _run_record(tmp_path, pairs=1000, tasks=[_task("align", "s1", durationSeconds=10.0)])
    (align,) = measured_tasks(run_json, min_pairs=1)
    # PipelineSettings.local(4 cpus, 8 GiB) gives align all 4 CPUs.
    fixed = {t.task: t.fixed_cpu_seconds for t in cost.default_tasks()}
    assert align.cpu_seconds_per_million_pairs == pytest.approx((40.0 - fixed["align"]) / 0.001)
    assert "wall time x reserved CPUs" in align.basis


def test_a_run_too_small_to_extrapolate_is_refused(tmp_path: Path) -> None:
    run_json = _run_record(tmp_path, pairs=100, tasks=[_task("align", "s1", cpuSeconds=1.0)])
    with pytest.raises(CostError, match="start-up time would dominate"):
        measured_tasks(run_json)
    result = runner.invoke(app, ["cost", "--stack", "dev-aws", "--run-json", str(run_json)])
    assert result.exit_code == 2


def test_task_cpu_model() -> None:
    t = TaskCpu("fastqc", "small", 2, 4.0, 36.0, "test")
    assert t.cpu_hours(10) == pytest.approx((2 * 4.0 + 360.0) / 3600)


@pytest.mark.parametrize("text", ["[1, 2]", '"prices"', "null", "3"])
def test_prices_file_that_is_not_an_object_is_one_line_naming_the_file(tmp_path: Path, text: str) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(text)
    result = runner.invoke(app, ["cost", "--stack", "dev-aws", "--prices", str(prices)])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and str(prices) in lines[0] and "JSON object" in lines[0], result.output


@pytest.mark.parametrize(
    "override",
    [{"clouds": []}, {"clouds": {"aws": {"eu-west-1": {"machines": []}}}}, {"hoursPerMonth": "lots"}],
)
def test_prices_of_the_wrong_shape_inside_are_one_line_too(tmp_path: Path, override: dict[str, Any]) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps(override))
    result = runner.invoke(app, ["cost", "--stack", "dev-aws", "--prices", str(prices)])
    assert result.exit_code == 2, result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1, result.output


def test_cost_says_when_the_kubernetes_minor_leaves_standard_support() -> None:
    doc = _cost("--stack", "dev-gcp")
    assert doc["kubernetes"]["version"] == "1.35"
    assert doc["kubernetes"]["standardSupportUntil"] == "2027-04-11"
    assert "standard support on gcp" in doc["kubernetes"]["note"]


def test_cost_prints_the_vcpu_quota_each_pool_needs_by_the_quotas_name() -> None:
    aws = _cost("--stack", "dev-aws")["quotas"]
    by_pool = {q["pool"]: q for q in aws["pools"]}
    assert (by_pool["large"]["vcpus"], by_pool["large"]["spot"]) == (4 * 32, True)
    assert "L-34B43A08" in by_pool["large"]["quota"] and "L-1216C47A" in by_pool["system"]["quota"]
    spot = next(v for k, v in aws["totals"].items() if "L-34B43A08" in k)
    assert spot == 10 * 4 + 4 * 32  # small and large pools share the spot quota
    gcp = {q["pool"]: q for q in _cost("--stack", "dev-gcp")["quotas"]["pools"]}
    assert gcp["system"]["quota"] == "CPUS"  # e2 counts against plain CPUS
    assert gcp["large"]["quota"].startswith("PREEMPTIBLE_CPUS (or N2_CPUS")
