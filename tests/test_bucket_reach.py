"""Locations the pipeline's pods cannot reach are refused before anything is rendered or sent.

On a cloud the pods' identity reaches only the stack's data bucket (``dataBucket``); a read,
reference or output elsewhere would fail on the cluster as an Argo ``Error``, which the
preemption retry repeats. ``render``, ``submit``, ``render-index`` and ``index`` refuse it in
one line naming the sheet row and column (or the option) and the bucket expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from seqstack.cli import app
from tests.regenerate_golden import FIXTURES
from workflows.storage import outside_bucket

AWS = FIXTURES / "dev-aws.outputs.json"
GCP = FIXTURES / "dev-gcp.outputs.json"
IN_AWS = "s3://seqstack-dev-aws-data"


def one_error_line(args: list[str]) -> str:
    result: Any = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return str(lines[0])


def sheet(tmp_path: Path, r2: str) -> Path:
    path = tmp_path / "s.csv"
    path.write_text(
        "sample,fastq_1,fastq_2\n"
        f"S1,{IN_AWS}/reads/S1_R1.fq.gz,{IN_AWS}/reads/S1_R2.fq.gz\n"
        f"S2,{IN_AWS}/reads/S2_R1.fq.gz,{r2}\n"
    )
    return path


@pytest.mark.parametrize("command", ["render", "submit"])
def test_a_read_in_another_bucket_names_row_column_and_the_bucket(tmp_path: Path, command: str) -> None:
    path = sheet(tmp_path, "s3://someone-elses-bucket/S2_R2.fq.gz")
    refs = ["--reference", f"{IN_AWS}/refs/hg38.fa", "--output", f"{IN_AWS}/runs/r1"]
    line = one_error_line([command, "--stack-outputs", str(AWS), "--samples", str(path), *refs])
    assert f"{path}: row 3, column fastq_2: s3://someone-elses-bucket/S2_R2.fq.gz is outside" in line
    assert f"data bucket {IN_AWS} " in line


@pytest.mark.parametrize("command", ["render", "submit"])
@pytest.mark.parametrize(
    ("option", "value"),
    [("--reference", "s3://refs-bucket/hg38.fa"), ("--output", "s3://seqstack-dev-aws-data-old/runs/r1")],
)
def test_reference_or_output_in_another_bucket_names_the_option(
    tmp_path: Path, command: str, option: str, value: str
) -> None:
    given = {"--reference": f"{IN_AWS}/refs/hg38.fa", "--output": f"{IN_AWS}/runs/r1", option: value}
    path = sheet(tmp_path, f"{IN_AWS}/reads/S2_R2.fq.gz")
    args = [command, "--stack-outputs", str(AWS), "--samples", str(path)]
    line = one_error_line(args + [x for kv in given.items() for x in kv])
    assert line.startswith(f"error: {option}: {value} is outside the stack's data bucket {IN_AWS} ")


@pytest.mark.parametrize("command", [["render-index"], ["index", "--dry-run"]])
def test_index_commands_refuse_a_reference_in_another_bucket(command: list[str]) -> None:
    line = one_error_line([*command, "--stack-outputs", str(GCP), "--reference", "gs://public-refs/hg38.fa"])
    assert (
        "--reference: gs://public-refs/hg38.fa is outside the stack's data bucket gs://seqstack-dev-gcp-data"
        in line
    )


def test_the_same_bucket_is_matched_whole_not_by_prefix() -> None:
    assert outside_bucket("s3://data/refs/x.fa", "s3://data") is None
    assert outside_bucket("s3://data-2/refs/x.fa", "s3://data") is not None
    assert outside_bucket("gs://data/x", "s3://data") is not None
    # Local runs read any path.
    assert outside_bucket("/elsewhere/x.fa", "file:///out") is None
