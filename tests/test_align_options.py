"""``--markdup`` and ``--output-format``: rendered as workflow parameters (the template stays one),
checked in one line on the command line and again in the pod, and a CRAM's reference must be
somewhere that lasts."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from seqstack.cli import app
from seqstack.run_options import OptionError, output_format
from tests import argo_schema
from tests.regenerate_golden import FIXTURES
from workflows.contract import StackOutputs
from workflows.cram import CramReferenceError, check_reference, temporary_folder, temporary_folders
from workflows.local.values import substitute
from workflows.steps import bam

AWS = FIXTURES / "dev-aws.outputs.json"
ARGS = [
    *("--samples", str(FIXTURES / "sheet-s3.csv")),
    *("--reference", "s3://seqstack-dev-aws-data/refs/hg38.fa"),
    *("--output", "s3://seqstack-dev-aws-data/runs/r1"),
]


def render(*extra: str, outputs: Path = AWS, args: list[str] = ARGS) -> Any:
    return CliRunner().invoke(app, ["render", "--stack-outputs", str(outputs), *args, *extra])


def params(obj: dict[str, Any]) -> dict[str, Any]:
    return {p["name"]: p for p in obj["spec"]["arguments"]["parameters"]}


def test_markdup_and_cram_are_workflow_arguments_of_the_same_template() -> None:
    default = render()
    chosen = render("--markdup", "--output-format", "CRAM")
    assert default.exit_code == 0 and chosen.exit_code == 0, chosen.output
    (t0, *wfs0), (t1, *wfs1) = yaml.safe_load_all(default.output), yaml.safe_load_all(chosen.output)
    assert t0 == t1  # one installed template serves every choice
    template = params(t0)
    assert (template["markdup"]["value"], template["markdup"]["enum"]) == ("false", ["false", "true"])
    assert (template["output-format"]["value"], template["output-format"]["enum"]) == ("bam", ["bam", "cram"])
    for wf in wfs0:
        assert (params(wf)["markdup"]["value"], params(wf)["output-format"]["value"]) == ("false", "bam")
    for wf in wfs1:
        assert (params(wf)["markdup"]["value"], params(wf)["output-format"]["value"]) == ("true", "cram")
        argo_schema.assert_valid(wf)
    argo_schema.assert_valid(t1)


def test_an_unknown_output_format_is_one_line() -> None:
    assert output_format(" Bam ") == "bam"
    with pytest.raises(OptionError, match=r"^--output-format sam: use bam or cram$"):
        output_format("sam")
    result = render("--output-format", "sam")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == ["error: --output-format sam: use bam or cram"]


def test_seqstack_run_refuses_an_unknown_output_format_before_anything(tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("sample,fastq_1,fastq_2\n")
    out = tmp_path / "results"
    result = CliRunner().invoke(
        app,
        ["run", "-s", str(sheet), "-r", str(tmp_path / "ref.fa"), "-o", str(out), "--output-format", "bai"],
    )
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == ["error: --output-format bai: use bam or cram"]
    assert not out.exists()


def test_a_reference_in_a_temporary_folder_or_linked_into_one_is_refused(tmp_path: Path) -> None:
    scratch, kept = tmp_path / "scratch", tmp_path / "kept"
    scratch.mkdir()
    kept.mkdir()
    (scratch / "ref.fa").write_text(">c\nACGT\n")
    (kept / "own.fa").write_text(">c\nACGT\n")
    (kept / "link.fa").symlink_to(scratch / "ref.fa")
    folders = [scratch.resolve()]
    assert temporary_folder(scratch / "ref.fa", folders) == scratch.resolve()
    assert temporary_folder(kept / "link.fa", folders) == scratch.resolve()  # where the bytes are
    assert temporary_folder(kept / "own.fa", folders) is None
    check_reference(kept / "own.fa", folders)
    with pytest.raises(CramReferenceError, match=r"^--output-format cram: the reference .*link\.fa is in"):
        check_reference(kept / "link.fa", folders)
    # This machine's own: /tmp and friends, and Python's temporary folder.
    assert Path("/tmp").resolve() in temporary_folders()
    with pytest.raises(CramReferenceError, match="temporary folder"):
        check_reference(Path("/tmp/refs/hg38.fa"))
    check_reference(Path("/data/refs/hg38.fa"))


def test_render_for_a_local_stack_refuses_cram_with_a_temporary_reference(tmp_path: Path) -> None:
    outputs = tmp_path / "local.outputs.json"
    outputs.write_text(json.dumps(StackOutputs.local(tmp_path / "out").to_json()))
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(f"sample,fastq_1,fastq_2\nS1,{tmp_path}/a_1.fq,{tmp_path}/a_2.fq\n")
    ref = Path("/tmp/seqstack-absent/ref.fa")
    args = ["--samples", str(sheet), "--reference", str(ref), "--output", str(tmp_path / "out")]
    assert render(outputs=outputs, args=args).exit_code == 0, "BAM does not need the reference later"
    result = render("--output-format", "cram", outputs=outputs, args=args)
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith(f"error: --output-format cram: the reference {ref} is in the temporary folder")
    # A bucket reference stays where it is: accepted.
    assert render("--output-format", "cram").exit_code == 0


@pytest.mark.parametrize(
    ("markdup", "fmt", "message"),
    [
        ("yes", "bam", "seqstack: workflow parameter markdup is 'yes': use false or true"),
        ("true", "sam", "seqstack: workflow parameter output-format is 'sam': use bam or cram"),
    ],
)
def test_a_hand_made_parameter_value_fails_the_step_in_one_line(markdup: str, fmt: str, message: str) -> None:
    values = {"workflow.parameters.markdup": markdup, "workflow.parameters.output-format": fmt}
    script = substitute(bam.run_options() + "echo reached\n", values, strict=True, where="test")
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True)
    assert (proc.returncode, proc.stdout, proc.stderr.strip()) == (2, "", message)
