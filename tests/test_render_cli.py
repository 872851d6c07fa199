"""``seqstack render`` / ``render-index``: complete YAML on stdout, one-line errors with exit code 2."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from seqstack.cli import app
from tests import argo_schema
from tests.regenerate_golden import CASES, FIXTURES

AWS = FIXTURES / "dev-aws.outputs.json"
ARGS = [
    "--samples",
    str(FIXTURES / "sheet-s3.csv"),
    "--reference",
    "s3://seqstack-dev-aws-data/refs/hg38.fa",
    "--output",
    "s3://seqstack-dev-aws-data/runs/r1",
]


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, list(args), env=env)


def one_error_line(result: Any) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    return str(lines[0])


def test_render_prints_the_same_objects_as_the_golden_case() -> None:
    result = run("render", "--stack-outputs", str(AWS), *ARGS)
    assert result.exit_code == 0, result.output
    assert list(yaml.safe_load_all(result.output)) == CASES["aws"]()


def test_render_with_small_chunks_gives_valid_objects() -> None:
    result = run("render", "--stack-outputs", str(AWS), *ARGS, "--chunk-size", "1")
    assert result.exit_code == 0, result.output
    objs = list(yaml.safe_load_all(result.output))
    assert [o["kind"] for o in objs] == ["WorkflowTemplate", "Workflow", "Workflow"]
    for obj in objs:
        argo_schema.assert_valid(obj)


def test_render_qc_rules_option_reaches_the_workflow() -> None:
    result = run("render", "--stack-outputs", str(AWS), *ARGS, "--qc-fail-on", "Adapter Content")
    assert result.exit_code == 0, result.output
    wf = list(yaml.safe_load_all(result.output))[1]
    rules = next(p["value"] for p in wf["spec"]["arguments"]["parameters"] if p["name"] == "qc-rules")
    assert json.loads(rules)["fail_on_fail"] == ["Adapter Content"]


def test_render_failed_lane_option_reaches_the_workflow_not_the_template() -> None:
    result = run("render", "--stack-outputs", str(AWS), *ARGS, "--failed-lane", "drop")
    assert result.exit_code == 0, result.output
    wt, wf = list(yaml.safe_load_all(result.output))
    assert (
        next(p["value"] for p in wf["spec"]["arguments"]["parameters"] if p["name"] == "failed-lane")
        == "drop"
    )
    # A workflow parameter: the installed template (and its name) stays the same.
    assert wt == CASES["aws"]()[0]
    bad = run("render", "--stack-outputs", str(AWS), *ARGS, "--failed-lane", "skip")
    assert bad.exit_code == 2 and "fail-sample" in bad.output and "drop" in bad.output


def test_bad_sheet_is_one_line(tmp_path: Path) -> None:
    sheet = tmp_path / "s.csv"
    sheet.write_text("sample,fastq_1,fastq_2\nS1,,s3://b/2.fq\n")
    line = one_error_line(run("render", "--stack-outputs", str(AWS), *ARGS[2:], "--samples", str(sheet)))
    assert "row 2, column fastq_1: empty field (single-end rows put their reads in fastq_1)" in line


def test_bad_stack_outputs_name_the_key(tmp_path: Path) -> None:
    data = json.loads(AWS.read_text())
    del data["nodePools"]["large"]
    broken = tmp_path / "outputs.json"
    broken.write_text(json.dumps(data))
    line = one_error_line(run("render", "--stack-outputs", str(broken), *ARGS))
    assert "nodePools.large.nodeSelector is missing" in line


def test_output_in_another_cloud_is_rejected() -> None:
    line = one_error_line(run("render", "--stack-outputs", str(AWS), *ARGS[:4], "--output", "gs://b/run"))
    assert "--output: 'gs://b/run' is gs:// but this stack stores data at s3://" in line


def test_invalid_chunk_size_is_rejected() -> None:
    line = one_error_line(run("render", "--stack-outputs", str(AWS), *ARGS, "--chunk-size", "0"))
    assert "chunk_size must be between 1 and 2000" in line


def test_stack_name_without_the_pulumi_cli(tmp_path: Path) -> None:
    line = one_error_line(run("render", "--stack", "dev-aws", *ARGS, env={"PATH": str(tmp_path)}))
    assert "the pulumi CLI is not on PATH" in line and "--stack-outputs FILE" in line


def fake_pulumi(tmp_path: Path, body: str) -> dict[str, str]:
    script = tmp_path / "pulumi"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return {"PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}


def test_stack_name_reads_pulumi_stack_output(tmp_path: Path) -> None:
    """The CLI runs `pulumi stack output --json --show-secrets --stack NAME` and uses its JSON."""
    (tmp_path / "outputs.json").write_text(AWS.read_text())
    env = fake_pulumi(
        tmp_path,
        '[ "$*" = "stack output --json --show-secrets --stack dev-aws" ] || exit 9\n'
        f"cat {tmp_path}/outputs.json",
    )
    result = run("render", "--stack", "dev-aws", *ARGS, env=env)
    assert result.exit_code == 0, result.output
    assert list(yaml.safe_load_all(result.output)) == CASES["aws"]()


def test_pulumi_failure_is_one_line(tmp_path: Path) -> None:
    env = fake_pulumi(tmp_path, "echo 'error: no stack named dev-azure found' >&2; exit 255")
    line = one_error_line(run("render", "--stack", "dev-azure", *ARGS, env=env))
    assert "stack dev-azure: `pulumi stack output` failed: error: no stack named dev-azure found" in line


@pytest.mark.parametrize("case", ["aws"])
def test_render_index_prints_the_index_workflow(case: str) -> None:
    result = run(
        "render-index", "--stack-outputs", str(AWS), "--reference", "s3://seqstack-dev-aws-data/refs/hg38.fa"
    )
    assert result.exit_code == 0, result.output
    assert list(yaml.safe_load_all(result.output)) == CASES[f"index-{case}"]()
