"""`seqstack run` / `seqstack demo` command-line surface (no tools needed)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from seqstack.cli import app
from workflows.local.launch import Fault
from workflows.local.nodes import Node


def test_a_malformed_fault_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["run", "-s", str(tmp_path / "s.csv"), "-r", str(tmp_path / "r.fa"), "--inject-fault", "kill:align"],
    )
    assert result.exit_code == 2
    assert "kill:<task-glob>@<attempt>" in result.output


def test_a_memory_budget_below_1_gib_is_a_usage_error(tmp_path: Path) -> None:
    sheet = tmp_path / "s.csv"
    sheet.write_text("sample,fastq_1,fastq_2\na,x.fq,y.fq\n")
    result = CliRunner().invoke(
        app, ["run", "-s", str(sheet), "-r", str(tmp_path / "r.fa"), "-o", str(tmp_path), "--memory", "0.5"]
    )
    assert result.exit_code == 2
    assert "needs >= 1 cpu and >= 1 GiB memory" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_an_unknown_failed_lane_policy_is_a_usage_error(tmp_path: Path) -> None:
    sheet = tmp_path / "s.csv"
    sheet.write_text("sample,fastq_1,fastq_2\na,x.fq,y.fq\n")
    result = CliRunner().invoke(
        app,
        [
            "run",
            "-s",
            str(sheet),
            "-r",
            str(tmp_path / "r.fa"),
            "-o",
            str(tmp_path / "o"),
            "--failed-lane",
            "x",
        ],
    )
    assert result.exit_code == 2
    assert "--failed-lane" in result.output and "fail-sample" in result.output
    assert not (tmp_path / "o").exists()


def test_fault_syntax_and_matching() -> None:
    fault = Fault.parse("kill:s1/al*@2:after=1.5")
    assert fault == Fault(glob="s1/al*", attempt=2, after=1.5)
    assert Fault.parse("kill:align@1").after == 0.0
    s1 = Node(key="wf/samples(0:s1)/align", task="align", template="align", kind="Pod", sample="s1")
    s2 = Node(key="wf/samples(1:s2)/align", task="align", template="align", kind="Pod", sample="s2")
    assert fault.matches(s1, 2) and not fault.matches(s1, 1) and not fault.matches(s2, 2)
    assert Fault.parse("kill:align@1").matches(s2, 1)  # a bare task name matches every sample
    assert Fault.parse("kill:samples(*:s2)/align@1").matches(s2, 1)


def test_sheet_errors_exit_2_before_running(tmp_path: Path) -> None:
    sheet = tmp_path / "s.csv"
    sheet.write_text("sample,fastq_1\na,x.fq\n")
    result = CliRunner().invoke(
        app, ["run", "-s", str(sheet), "-r", str(tmp_path / "r.fa"), "-o", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "fastq_2" in result.output
    assert not (tmp_path / "o" / "run.json").exists()
