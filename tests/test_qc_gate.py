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


def _work(tmp_path: Path, reports: dict[str, Path]) -> Path:
    work = tmp_path / "work"
    (work / "in").mkdir(parents=True)
    for read, z in reports.items():
        shutil.copy(z, work / "in" / f"{read}_fastqc.zip")
    return work


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
    # A FAIL on a rule module in R2 only.
    with zipfile.ZipFile(work / "in" / "R2_fastqc.zip", "w") as archive:
        archive.writestr(
            "x_fastqc/summary.txt", "PASS\tBasic Statistics\tx\nFAIL\tPer base sequence quality\tx\n"
        )
    monkeypatch.setenv("WORK", str(work))
    monkeypatch.setenv("QC_SAMPLE", "HG00152")
    monkeypatch.setenv("QC_RULES", QcRules().to_json())
    assert qc_gate.main() == 0
    report = json.loads((work / "out" / "HG00152.qc.json").read_text())
    assert report["verdict"] == "fail" and report["reasons"] == ["R2: Per base sequence quality FAIL"]
    assert report["modules"]["R1"]["Basic Statistics"] == "PASS"
    assert (work / "out" / "verdict").read_text() == "fail"
    assert capsys.readouterr().out == "seqstack: HG00152 QC fail: R2: Per base sequence quality FAIL\n"


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
    script = tmp_path / "script"
    script.write_text(source)
    work = _work(tmp_path, reports)
    done = subprocess.run(
        [sys.executable, "-I", str(script)],
        cwd=tmp_path,
        env={
            "PATH": os.environ["PATH"],
            "WORK": str(work),
            "QC_SAMPLE": "S1",
            "QC_RULES": QcRules().to_json(),
        },
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout == "seqstack: S1 QC pass\n"
    assert (work / "out" / "verdict").read_text() == "pass"
