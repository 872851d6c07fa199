"""Submission, watching and status against a fake Argo server on 127.0.0.1 (tests/fake_argo.py)."""

from __future__ import annotations

import copy
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.fake_argo import FakeArgo
from tests.regenerate_golden import CASES
from workflows.argo_client import ArgoConnection, ArgoError, SampleState, sample_states, submit, watch
from workflows.contract import StackOutputs


@pytest.fixture
def argo() -> Iterator[FakeArgo]:
    fake = FakeArgo().start()
    yield fake
    fake.stop()


def conn(fake: FakeArgo, token: str | None = None) -> ArgoConnection:
    return ArgoConnection(host=fake.url, token=token or fake.token, namespace="biojobs")


def posts(fake: FakeArgo) -> list[str]:
    return [path for method, path in fake.requests if method == "POST"]


def test_submit_creates_the_template_then_each_workflow(argo: FakeArgo) -> None:
    objs = CASES["aws"]()
    names = submit(conn(argo), objs)
    assert names == ["seqstack-" + objs[1]["metadata"]["generateName"].split("seqstack-")[1] + "00000"]
    assert posts(argo) == ["/api/v1/workflow-templates/biojobs", "/api/v1/workflows/biojobs"]
    assert argo.templates["seqstack-pipeline-v2-0-0"]["spec"] == objs[0]["spec"]
    # The server received exactly the rendered Workflow (Hera's models dropped or added nothing).
    stored = {k: v for k, v in argo.workflows[names[0]].items() if k != "metadata"}
    assert stored == {k: v for k, v in objs[1].items() if k != "metadata"}


def test_an_identical_template_is_left_alone_and_a_changed_one_is_refused(argo: FakeArgo) -> None:
    objs = CASES["aws"]()
    submit(conn(argo), objs)
    submit(conn(argo), objs)
    assert posts(argo).count("/api/v1/workflow-templates/biojobs") == 1
    assert posts(argo).count("/api/v1/workflows/biojobs") == 2
    changed = copy.deepcopy(objs)
    changed[0]["spec"]["templates"][0]["activeDeadlineSeconds"] = 60
    with pytest.raises(
        ArgoError, match="already exists in biojobs with a different spec: bump the pipeline version"
    ):
        submit(conn(argo), changed)
    assert posts(argo).count("/api/v1/workflows/biojobs") == 2  # nothing more was submitted


def test_wrong_token_is_a_401_error_and_nothing_is_created(argo: FakeArgo) -> None:
    with pytest.raises(ArgoError, match=r"rejected the credentials .* \(401\)"):
        submit(conn(argo, token="wrong"), CASES["gcp"]())
    assert argo.templates == {} and argo.workflows == {}


def test_a_misspelt_field_is_refused_before_sending_not_silently_dropped(argo: FakeArgo) -> None:
    """Hera's models drop unknown keys; the client compares the model with the object first."""
    objs = CASES["aws"]()
    bad = copy.deepcopy(objs[1])
    bad["spec"]["arguments"]["parameters"][0]["valeu"] = "typo"
    with pytest.raises(
        ArgoError, match=r"Workflow not sent: unknown field spec.arguments.parameters.0.valeu"
    ):
        submit(conn(argo), [objs[0], bad])
    assert posts(argo) == ["/api/v1/workflow-templates/biojobs"]


def test_a_body_the_server_finds_invalid_is_a_400_error(argo: FakeArgo) -> None:
    objs = CASES["aws"]()
    bad = copy.deepcopy(objs[1])
    bad["metadata"]["generateName"] = "Seqstack-"  # fine for the model and schema, not for Kubernetes
    with pytest.raises(ArgoError, match=r"refused submitting workflow 1 .*\(400\).*generateName"):
        submit(conn(argo), [objs[0], bad])
    assert argo.workflows == {}


def test_a_value_the_model_cannot_hold_is_one_line_error(argo: FakeArgo) -> None:
    bad = copy.deepcopy(CASES["aws"]()[0])
    bad["spec"]["templates"][0]["retryStrategy"]["limit"] = [5]
    with pytest.raises(ArgoError, match=r"WorkflowTemplate not sent: spec.templates.0.retryStrategy.limit"):
        submit(conn(argo), [bad])
    assert argo.requests == [("GET", "/api/v1/workflow-templates/biojobs/seqstack-pipeline-v2-0-0")]


def test_a_workflow_whose_template_is_missing_is_a_400_error(argo: FakeArgo) -> None:
    with pytest.raises(ArgoError, match=r"\(400\).*seqstack-pipeline-v2-0-0.* not found"):
        submit(conn(argo), CASES["aws"]()[1:])


def test_unreachable_server_names_the_port_forward() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    with pytest.raises(ArgoError, match="port-forward"):
        submit(ArgoConnection(host=f"http://127.0.0.1:{port}", token="t"), CASES["aws"]())


def test_watch_does_not_return_while_pending(argo: FakeArgo) -> None:
    argo.phases = ["", "Pending", "Pending", "Pending", "Running", "Running", "Succeeded"]
    (name,) = submit(conn(argo), CASES["aws"]())
    seen: list[str] = []
    sleeps: list[float] = []

    def on_update(wfs: dict[str, dict[str, Any]]) -> None:
        seen.append((wfs[name].get("status") or {}).get("phase") or "")

    assert watch(conn(argo), [name], on_update, interval=3.0, sleep=sleeps.append) == {name: "Succeeded"}
    assert seen == ["", "Pending", "Pending", "Pending", "Running", "Running", "Succeeded"]
    assert sleeps == [3.0] * 6


def test_watch_follows_several_workflows_until_all_are_terminal(argo: FakeArgo) -> None:
    argo.phases = ["Pending", "Running", "Failed"]
    objs = CASES["aws"]()
    names = submit(conn(argo), [objs[0], objs[1], copy.deepcopy(objs[1])])
    assert len(names) == 2
    assert watch(conn(argo), names, sleep=lambda _: None) == {n: "Failed" for n in names}
    assert argo.polls == {n: 3 for n in names}  # a terminal workflow is not polled again


def test_sample_states_from_node_statuses(argo: FakeArgo) -> None:
    argo.phases = ["Pending", "Running", "Failed"]
    argo.outcomes = {"NA12878": "qc_failed", "HG00152": "failed"}
    (name,) = submit(conn(argo), CASES["aws"]())
    c = conn(argo)
    from workflows.argo_client import get_workflow

    assert [s.state for s in sample_states(get_workflow(c, name))] == ["pending", "pending"]
    assert [(s.sample, s.state, s.step) for s in sample_states(get_workflow(c, name))] == [
        ("NA12878", "running", "fastqc"),
        ("HG00152", "running", "fastqc"),
    ]
    assert sample_states(get_workflow(c, name)) == [
        SampleState("NA12878", "qc_failed", "qc-gate"),
        SampleState("HG00152", "failed", "align", "Error (exit code 1)"),
    ]
    argo.outcomes = {"NA12878": "merged", "SE1": "aligned"}
    (lanes,) = submit(conn(argo), CASES["aws-lanes"]())
    for _ in range(3):
        states = sample_states(get_workflow(c, lanes))
    # A sample of several lanes is aligned once its merge succeeded (its `align` was skipped).
    assert states == [SampleState("NA12878", "aligned", "merge"), SampleState("SE1", "aligned", "align")]


# --- the command line, end to end (local stack: inputs are files, checked with fsspec) ---------


@pytest.fixture
def local_run(tmp_path: Path) -> dict[str, Path]:
    stack_file = tmp_path / "local.outputs.json"
    stack_file.write_text(json.dumps(StackOutputs.local(tmp_path / "out").to_json()))
    reads = tmp_path / "reads"
    reads.mkdir()
    for name in ("A_R1.fq.gz", "A_R2.fq.gz", "B_R1.fq.gz", "B_R2.fq.gz"):
        (reads / name).write_bytes(b"\x1f\x8b")
    ref = tmp_path / "ref.fa"
    ref.write_text(">chrM\nACGT\n")
    for suffix in (".0123", ".amb", ".bwt.2bit.64", ".pac"):
        Path(f"{ref}{suffix}").write_text("x")
    Path(f"{ref}.ann").write_text("4 1 11\n0 chrM (null)\n0 4 0\n")  # bwa's, for this FASTA
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(
        "sample,fastq_1,fastq_2\nA,reads/A_R1.fq.gz,reads/A_R2.fq.gz\nB,reads/B_R1.fq.gz,reads/B_R2.fq.gz\n"
    )
    return {"stack": stack_file, "sheet": sheet, "ref": ref, "out": tmp_path / "out", "reads": reads}


def cli(*args: str, env: dict[str, str] | None = None) -> Any:
    from seqstack.cli import app

    return CliRunner().invoke(app, list(args), env=env)


def submit_args(run: dict[str, Path], argo: FakeArgo) -> list[str]:
    return [
        "submit",
        "--stack-outputs",
        str(run["stack"]),
        "--samples",
        str(run["sheet"]),
        "--reference",
        str(run["ref"]),
        "--output",
        str(run["out"]),
        "--argo-server",
        argo.url,
    ]


def test_cli_submit_watch_prints_names_and_waits_for_the_end(
    argo: FakeArgo, local_run: dict[str, Path]
) -> None:
    argo.phases = ["Pending", "Pending", "Running", "Succeeded"]
    argo.outcomes = {"B": "qc_failed"}
    result = cli(*submit_args(local_run, argo), "--watch", "--interval", "0", env={"ARGO_TOKEN": argo.token})
    assert result.exit_code == 0, result.output
    (name,) = argo.workflows
    assert result.output.splitlines()[0] == name
    assert argo.polls[name] == 4
    assert "qc_failed" in result.output and "aligned" in result.output


def test_cli_submit_watch_exits_1_when_a_sample_failed_though_the_workflow_succeeded(
    argo: FakeArgo, local_run: dict[str, Path]
) -> None:
    # The report is the DAG's leaf and runs whatever the samples did, so Argo ends such a
    # Workflow Succeeded; the failed sample must still fail the command.
    argo.phases = ["Running", "Succeeded"]
    argo.outcomes = {"B": "failed"}
    result = cli(*submit_args(local_run, argo), "--watch", "--interval", "0", env={"ARGO_TOKEN": argo.token})
    assert result.exit_code == 1, result.output
    assert "1 sample(s) failed: B" in result.output


def test_cli_submit_with_a_missing_input_submits_nothing(argo: FakeArgo, local_run: dict[str, Path]) -> None:
    (local_run["reads"] / "B_R2.fq.gz").unlink()
    result = cli(*submit_args(local_run, argo), "--argo-token", argo.token)
    assert result.exit_code == 2
    assert "input not found:" in result.output and "B_R2.fq.gz (sample B, row 3)" in result.output
    assert "Traceback" not in result.output
    assert argo.requests == []


def test_cli_submit_without_an_index_submits_nothing(argo: FakeArgo, local_run: dict[str, Path]) -> None:
    Path(f"{local_run['ref']}.0123").unlink()
    result = cli(*submit_args(local_run, argo), "--argo-token", argo.token)
    assert result.exit_code == 2
    assert "no aligner index beside" in result.output and "seqstack index" in result.output
    assert argo.requests == []


def test_cli_submit_with_the_index_of_another_fasta_submits_nothing(
    argo: FakeArgo, local_run: dict[str, Path]
) -> None:
    ref = local_run["ref"]
    Path(f"{ref}.ann").write_text("16569 1 11\n0 NC_012920.1 (null)\n0 16569 1\n")  # mtDNA's index
    result = cli(*submit_args(local_run, argo), "--argo-token", argo.token)
    assert result.exit_code == 2
    message = " ".join(result.output.split())  # undo the terminal's wrapping
    assert (
        f"reference {ref}: its index {ref}.ann does not match it (the FASTA's first contig is chrM, "
        f"the index's is NC_012920.1); run `seqstack index --reference {ref}`"
    ) in message
    assert argo.requests == []


def test_cli_submit_with_a_bad_token_exits_1(argo: FakeArgo, local_run: dict[str, Path]) -> None:
    result = cli(*submit_args(local_run, argo), "--argo-token", "nope")
    assert result.exit_code == 1
    assert "401" in result.output and "Traceback" not in result.output


def test_cli_status_shows_each_sample(argo: FakeArgo) -> None:
    argo.phases = ["Failed"]
    argo.outcomes = {"HG00152": "failed"}
    (name,) = submit(conn(argo), CASES["aws"]())
    result = cli("status", name, "--argo-server", argo.url, "--argo-token", argo.token)
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") >= 4}
    assert "aligned" in lines["NA12878"]
    assert "failed" in lines["HG00152"] and "align" in lines["HG00152"]


def test_cli_status_of_an_unknown_workflow(argo: FakeArgo) -> None:
    result = cli("status", "nope-123", "--argo-server", argo.url, "--argo-token", argo.token)
    assert result.exit_code == 1
    assert "workflow nope-123 not found in namespace biojobs" in result.output
