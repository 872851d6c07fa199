"""``seqstack inventory``: the stack's resources offline, and one clear line when it cannot run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seqstack.cli import app
from stacks.harness import Inventory
from stacks.loader import PROJECT_DIR

runner = CliRunner()


def test_json_lists_every_resource_with_type_name_parent_inputs(aws_inv: Inventory) -> None:
    result = runner.invoke(app, ["inventory", "--stack", "dev-aws", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert isinstance(rows, list)
    assert all(set(row) == {"type", "name", "parent", "inputs"} for row in rows)
    assert len(rows) == len(aws_inv.resources)
    by_name = {row["name"]: row for row in rows}
    assert by_name["network-s3"]["type"] == "aws:ec2/vpcEndpoint:VpcEndpoint"
    assert by_name["network-s3"]["parent"] == "network"
    assert by_name["network"]["parent"] is None
    assert by_name["pool-large-ng"]["inputs"]["capacityType"] == "SPOT"


def test_table_format_shows_the_count_and_the_resources() -> None:
    result = runner.invoke(app, ["inventory", "--stack", "dev-aws"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "seqstack dev-aws:" in result.stdout and "resources" in result.stdout
    assert "eks:index:Cluster" in result.stdout
    assert "aws:s3/bucket:Bucket" in result.stdout


def test_unknown_stack_is_one_clear_line_and_a_nonzero_exit() -> None:
    result = runner.invoke(app, ["inventory", "--stack", "prod-aws"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "no such stack 'prod-aws'" in lines[0] and "dev-aws" in lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        ("seqstack:zoneCount: 3", "seqstack:zoneCount: 5", "seqstack:zoneCount: 5 must be 2 or 3"),
        ("seqstack:natMode: single", "seqstack:natmode: single", "seqstack:natmode: unknown config key"),
        (
            "seqstack:largeMaxNodes: 4",
            "seqstack:largeMaxNodes: 0",
            "seqstack:largeMaxNodes: 0 must be at least 1",
        ),
    ],
)
def test_invalid_config_is_one_clear_line_and_a_nonzero_exit(
    tmp_path: Path, replace: str, by: str, expected: str
) -> None:
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    text = (PROJECT_DIR / "Pulumi.dev-aws.yaml").read_text()
    assert replace in text
    (tmp_path / "Pulumi.dev-aws.yaml").write_text(text.replace(replace, by))

    result = runner.invoke(
        app, ["inventory", "--stack", "dev-aws", "--format", "json", "--project-dir", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert result.stdout == ""  # no partial inventory
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
