"""The QC gate module (:mod:`workflows.qc_gate`) on real FastQC reports of the mtDNA reads, and
proof that the pod runs exactly this module."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.testdata import MTDNA_R1, MTDNA_R2
from workflows import qc_gate
from workflows.contract import StackOutputs
from workflows.pipeline import build_template
from workflows.settings import PipelineSettings, QcRules
from workflows.steps import qc_gate as gate_step


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real FastQC zips of the HG00152 R1/R2 reads, named as the gate's pod receives them."""
    tmp = tmp_path_factory.mktemp("fastqc")
    found = {}
    for read, fastq in (("R1", MTDNA_R1), ("R2", MTDNA_R2)):
        subprocess.run(["fastqc", "--quiet", "--outdir", str(tmp), str(fastq)], check=True, timeout=600)
        found[read] = tmp / fastq.name.replace(".fastq.gz", "_fastqc.zip")
    return found


def _work(tmp_path: Path, reports: dict[str, Path], units: tuple[str, ...] = ("HG00152",)) -> Path:
    """The gate's work folder: the sample's FastQC folder with each unit's R1 and R2 reports."""
    work = tmp_path / "work"
    (work / "in" / "fastqc").mkdir(parents=True)
    for unit in units:
        for read, z in reports.items():
            shutil.copy(z, work / "in" / "fastqc" / f"{unit}_{read}_fastqc.zip")
    return work


def _lanes(sample: str, *lanes: str, paired: bool = True) -> str:
    """The gate's QC_LANES: lane items as workflows.pipeline.lane_items makes them."""
    many = len(lanes) > 1
    return json.dumps(
        [
            {
                "lane": lane,
                "unit": f"{sample}_{lane}" if many else sample,
                "r1_bucket": "",
                "r1_key": f"/r/{sample}_{lane}_1.fq.gz",
                "r2_bucket": "",
                "r2_key": f"/r/{sample}_{lane}_2.fq.gz" if paired else "",
            }
            for lane in lanes
        ]
    )


def _fail_r2(work: Path, unit: str) -> None:
    """A FAIL on a rule module in ``unit``'s R2 only."""
    with zipfile.ZipFile(work / "in" / "fastqc" / f"{unit}_R2_fastqc.zip", "w") as archive:
        archive.writestr(
            "x_fastqc/summary.txt", "PASS\tBasic Statistics\tx\nFAIL\tPer base sequence quality\tx\n"
        )


def _gate(monkeypatch: pytest.MonkeyPatch, work: Path, sample: str, lanes: str, policy: str) -> dict:
    monkeypatch.setenv("WORK", str(work))
    monkeypatch.setenv("QC_SAMPLE", sample)
    monkeypatch.setenv("QC_RULES", QcRules().to_json())
    monkeypatch.setenv("QC_LANES", lanes)
    monkeypatch.setenv("QC_FAILED_LANE", policy)
    assert qc_gate.main() == 0
    out = work / "out"
    return {
        "qc": json.loads((out / f"{sample}.qc.json").read_text()),
        **{name: (out / name).read_text() for name in ("verdict", "align-lanes", "layout")},
    }


def test_summary_reads_every_module_fastqc_reported(reports: dict[str, Path]) -> None:
    results = qc_gate.summary(str(reports["R1"]))
    assert results["Basic Statistics"] == "PASS"
    assert set(results.values()) <= {"PASS", "WARN", "FAIL"}
    assert len(results) >= 10


def test_default_rules_pass_the_real_reads_and_warn_rules_fail_them(reports: dict[str, Path]) -> None:
    modules = {read: qc_gate.summary(str(z)) for read, z in reports.items()}
    assert qc_gate.reasons(modules, json.loads(QcRules().to_json())) == []
    warned = sorted({m for r in modules.values() for m, status in r.items() if status == "WARN"})
    assert warned, modules  # the real reads warn somewhere, so a warn rule has something to catch
    strict = json.loads(QcRules(fail_on_warn=(warned[0],)).to_json())
    why = qc_gate.reasons(modules, strict)
    expected = [f"{read}: {warned[0]} WARN" for read in ("R1", "R2") if modules[read][warned[0]] == "WARN"]
    assert why == expected


def test_a_warn_rule_fails_a_module_that_fails_outright(reports: dict[str, Path]) -> None:
    """``fail_on_warn`` is the stricter rule: a module that FAILs must fail it too."""
    modules = {read: qc_gate.summary(str(z)) for read, z in reports.items()}
    modules["R1"]["Adapter Content"] = "FAIL"
    modules["R2"]["Adapter Content"] = "WARN"
    rules = {"fail_on_fail": [], "fail_on_warn": ["Adapter Content"]}
    assert qc_gate.reasons(modules, rules) == ["R1: Adapter Content FAIL", "R2: Adapter Content WARN"]
    both = {"fail_on_fail": ["Adapter Content"], "fail_on_warn": ["Adapter Content"]}
    assert qc_gate.reasons(modules, both) == ["R1: Adapter Content FAIL", "R2: Adapter Content WARN"]


def test_a_rule_module_missing_from_the_report_fails(reports: dict[str, Path]) -> None:
    modules = {read: qc_gate.summary(str(z)) for read, z in reports.items()}
    del modules["R2"]["Per base sequence quality"]
    why = qc_gate.reasons(modules, {"fail_on_fail": ["Per base sequence quality"]})
    assert why == ["R2: Per base sequence quality missing from FastQC's report"]


def test_main_writes_the_verdict_and_report(
    tmp_path: Path,
    reports: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    work = _work(tmp_path, reports)
    _fail_r2(work, "HG00152")
    lanes = _lanes("HG00152", "1")
    got = _gate(monkeypatch, work, "HG00152", lanes, "fail-sample")
    report = got["qc"]
    # A one-lane sample's reasons read as they always did.
    assert report["verdict"] == "fail" and report["reasons"] == ["R2: Per base sequence quality FAIL"]
    (lane,) = report["lanes"]
    assert lane["modules"]["R1"]["Basic Statistics"] == "PASS" and lane["paired"] is True
    assert lane["verdict"] == "fail" and lane["unit"] == "HG00152"
    assert report["aligned_lanes"] == [] and report["failed_lane"] == "fail-sample"
    assert (got["verdict"], got["align-lanes"]) == ("fail", "[]")
    assert capsys.readouterr().out == "seqstack: HG00152 QC fail: R2: Per base sequence quality FAIL\n"


@pytest.mark.parametrize("policy", ["fail-sample", "drop"])
def test_a_failed_lane_fails_the_sample_or_is_dropped(
    tmp_path: Path, reports: dict[str, Path], monkeypatch: pytest.MonkeyPatch, policy: str
) -> None:
    work = _work(tmp_path, reports, units=("S_1", "S_2", "S_3"))
    _fail_r2(work, "S_2")
    lanes = _lanes("S", "1", "2", "3")
    got = _gate(monkeypatch, work, "S", lanes, policy)
    qc = got["qc"]
    assert [(j["lane"], j["verdict"]) for j in qc["lanes"]] == [("1", "pass"), ("2", "fail"), ("3", "pass")]
    assert qc["reasons"] == ["lane 2: R2: Per base sequence quality FAIL"]
    assert qc["failed_lane"] == policy
    if policy == "fail-sample":
        assert (got["verdict"], json.loads(got["align-lanes"]), qc["aligned_lanes"]) == ("fail", [], [])
    else:
        # The passing lanes' own items, as the align tasks take them; several: align-lane + merge.
        items = json.loads(lanes)
        assert got["verdict"] == "pass" and qc["aligned_lanes"] == ["1", "3"]
        assert json.loads(got["align-lanes"]) == [items[0], items[2]] and got["layout"] == "many"


def test_drop_with_one_lane_left_aligns_it_as_a_one_lane_sample(
    tmp_path: Path, reports: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    work = _work(tmp_path, reports, units=("S_1", "S_2"))
    _fail_r2(work, "S_1")
    got = _gate(monkeypatch, work, "S", _lanes("S", "1", "2"), "drop")
    assert got["verdict"] == "pass" and got["layout"] == "one"
    assert [i["lane"] for i in json.loads(got["align-lanes"])] == ["2"]


def test_drop_fails_the_sample_when_no_lane_passes(
    tmp_path: Path, reports: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    work = _work(tmp_path, reports, units=("S_1", "S_2"))
    _fail_r2(work, "S_1")
    _fail_r2(work, "S_2")
    got = _gate(monkeypatch, work, "S", _lanes("S", "1", "2"), "drop")
    assert (got["verdict"], got["align-lanes"]) == ("fail", "[]")
    assert got["qc"]["reasons"][-1] == "no lane passed QC"


def test_single_end_lanes_are_judged_on_r1_alone_and_stale_reports_are_ignored(
    tmp_path: Path, reports: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    work = _work(tmp_path, {"R1": reports["R1"]}, units=("SE",))
    # A failing report of a lane the gate was not given (an earlier run's) changes nothing.
    shutil.copy(reports["R1"], work / "in" / "fastqc" / "SE_9_R1_fastqc.zip")
    _fail_r2(work, "SE_9")
    got = _gate(monkeypatch, work, "SE", _lanes("SE", "1", paired=False), "fail-sample")
    (lane,) = got["qc"]["lanes"]
    assert lane["paired"] is False and list(lane["modules"]) == ["R1"]
    assert got["verdict"] == "pass" and got["layout"] == "one"


def test_the_pod_runs_this_module_alone_with_only_the_standard_library(
    tmp_path: Path, reports: dict[str, Path]
) -> None:
    """The rendered source is the module's file; run isolated (-I, outside the repository) it
    decides the real reads as the module does: the report image needs nothing of seqstack."""
    stack = StackOutputs.load(Path(__file__).parent / "fixtures" / "dev-aws.outputs.json")
    templates = build_template(stack, PipelineSettings.cloud_defaults()).to_dict()["spec"]["templates"]
    gate = next(t for t in templates if t["name"] == "qc-gate")
    source = gate["script"]["source"]
    assert source == Path(qc_gate.__file__).read_text() == gate_step.source()
    assert "{{" not in source  # Argo would substitute it
    env = {e["name"]: e["value"] for e in gate["script"]["env"]}
    assert env["QC_SAMPLE"] == "{{inputs.parameters.sample}}"
    assert env["QC_LANES"] == "{{inputs.parameters.lanes}}"
    assert env["QC_FAILED_LANE"] == "{{workflow.parameters.failed-lane}}"
    script = tmp_path / "script"
    script.write_text(source)
    work = _work(tmp_path, reports)
    done = subprocess.run(
        [sys.executable, "-I", str(script)],
        cwd=tmp_path,
        env={
            "PATH": os.environ["PATH"],
            "WORK": str(work),
            "QC_SAMPLE": "HG00152",
            "QC_RULES": QcRules().to_json(),
            "QC_LANES": _lanes("HG00152", "1"),
            "QC_FAILED_LANE": "fail-sample",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout == "seqstack: HG00152 QC pass\n"
    assert (work / "out" / "verdict").read_text() == "pass"
