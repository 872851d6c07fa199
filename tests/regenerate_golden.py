"""Golden YAML of the rendered pipeline: ``python -m tests.regenerate_golden`` (``make golden``).

Regenerate after an intended change to the pipeline, review the diff, commit. CI never runs
this; ``tests/test_render_golden.py`` compares fresh renders with these files as parsed data.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from workflows.contract import StackOutputs
from workflows.render import render, render_index, to_yaml
from workflows.settings import PipelineSettings
from workflows.sheet import read_sample_sheet

TESTS = Path(__file__).resolve().parent
FIXTURES = TESTS / "fixtures"
GOLDEN = TESTS / "golden"


def _cloud(stack_file: str, sheet: str, reference: str, output: str) -> list[dict[str, Any]]:
    stack = StackOutputs.load(FIXTURES / stack_file)
    samples = read_sample_sheet(FIXTURES / sheet, stack.scheme)
    return render(samples, reference, output, stack, PipelineSettings.cloud_defaults())


def _local() -> list[dict[str, Any]]:
    # Absolute local paths in the sheet and a fixed settings size: the golden file does not depend
    # on where the repository is checked out or on the machine's cores.
    stack = StackOutputs.local(Path("/data/out"))
    samples = read_sample_sheet(FIXTURES / "sheet-local.csv", "file")
    return render(samples, "/data/ref/rCRS.fa", "/data/out", stack, PipelineSettings.local(4, 16))


CASES: dict[str, Callable[[], list[dict[str, Any]]]] = {
    "aws": lambda: _cloud(
        "dev-aws.outputs.json",
        "sheet-s3.csv",
        "s3://seqstack-dev-aws-data/refs/hg38.fa",
        "s3://seqstack-dev-aws-data/runs/r1",
    ),
    # Several lanes per sample (named by a lane column) and a single-end sample, in one sheet.
    "aws-lanes": lambda: _cloud(
        "dev-aws.outputs.json",
        "sheet-s3-lanes.csv",
        "s3://seqstack-dev-aws-data/refs/hg38.fa",
        "s3://seqstack-dev-aws-data/runs/r1",
    ),
    "gcp": lambda: _cloud(
        "dev-gcp.outputs.json",
        "sheet-gs.csv",
        "gs://seqstack-dev-gcp-data/refs/hg38.fa",
        "gs://seqstack-dev-gcp-data/runs/r1",
    ),
    "local": _local,
    "index-aws": lambda: render_index(
        "s3://seqstack-dev-aws-data/refs/hg38.fa",
        StackOutputs.load(FIXTURES / "dev-aws.outputs.json"),
        PipelineSettings.cloud_defaults(),
    ),
}


def golden_path(case: str) -> Path:
    return GOLDEN / f"{case}.yaml"


def load_golden(case: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(golden_path(case).read_text()))


def main() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for case, build in CASES.items():
        golden_path(case).write_text(to_yaml(build()))
        print(f"wrote {golden_path(case).relative_to(TESTS.parent)}")


if __name__ == "__main__":
    main()
