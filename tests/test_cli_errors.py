"""Every user-facing failure is one line on stderr naming what is at fault (issue 13).

Each test feeds a real bad input to the real command line (``seqstack.cli.app`` through Typer's
runner, so the root group's one place of error handling is what runs) and checks the exit code
and that stderr is exactly one ``error: ...`` line naming the file, key, option or value.
Classes: the traceback family (stack outputs, cloud credentials, stack values a component
refuses, price tables), Rich markup in user text, impossible stack outputs, impossible options,
and the parser's own usage errors.
"""

from __future__ import annotations

import ast
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from seqstack.cli import EXIT_INTERNAL, app
from seqstack.run_options import machine_cpus
from tests.regenerate_golden import FIXTURES

ROOT = Path(__file__).resolve().parents[1]
AWS = FIXTURES / "dev-aws.outputs.json"
GCP = FIXTURES / "dev-gcp.outputs.json"
S3_ARGS = [
    "--samples",
    str(FIXTURES / "sheet-s3.csv"),
    "--reference",
    "s3://seqstack-dev-aws-data/refs/hg38.fa",
    "--output",
    "s3://seqstack-dev-aws-data/runs/r1",
]
GS_ARGS = [
    "--samples",
    str(FIXTURES / "sheet-gs.csv"),
    "--reference",
    "gs://seqstack-dev-gcp-data/refs/hg38.fa",
    "--output",
    "gs://seqstack-dev-gcp-data/runs/r1",
]


def invoke(args: list[str], env: dict[str, str | None] | None = None) -> Any:
    return CliRunner().invoke(app, args, env=env)


def one_line(result: Any, code: int = 2) -> str:
    """The single stderr line of a failed command (asserting there is exactly one, and the code)."""
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return str(lines[0])


# ------------------------------------------------------------------------------------------
# Traceback family and impossible values: stack outputs


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation of the outputs document: set (or with ``...`` delete) the dotted ``path``."""

    def apply(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is ...:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return apply


#: (mutation of dev-aws outputs, text the error line must contain)
BAD_OUTPUTS: list[tuple[Callable[[dict[str, Any]], None], str]] = [
    (_set("images.align", ...), "images has no reference for align"),  # was a KeyError
    (_set("images.fastqc", ""), "images.fastqc ''"),
    (_set("images.fastqc", "not an image!"), "images.fastqc 'not an image!'"),
    (_set("images.report", "Registry/UPPER/tool:1"), "images.report"),
    (_set("images.align", "tool:tag with space"), "images.align"),
    (_set("images.align", 42), "images.align 42"),
    (_set("images", ["fastqc"]), "images must map image names"),
    (_set("argo.serverPort", "2746"), "argo.serverPort must be a port number"),  # was int() ValueError
    (_set("argo.serverPort", "http"), "argo.serverPort must be a port number"),
    (_set("argo.serverPort", 70000), "argo.serverPort must be a port number from 1 to 65535, got 70000"),
    (_set("argo.serverPort", 0), "argo.serverPort must be a port number"),
    (_set("argo.serverPort", True), "argo.serverPort must be a port number"),
    (_set("namespace", "Bio_Jobs"), "namespace 'Bio_Jobs' is not a Kubernetes name"),
    (_set("namespace", "b" * 64), "namespace"),
    (_set("namespace", "-biojobs"), "namespace '-biojobs'"),
    (_set("argo.namespace", "argo ns"), "argo.namespace 'argo ns'"),
    (_set("argo.serverService", "1server"), "argo.serverService '1server'"),
    (_set("argo.tokenSecret", 5), "argo.tokenSecret"),
    (_set("workflowServiceAccount", "SA!"), "workflowServiceAccount 'SA!'"),
    (_set("dataBucket", "s3://"), "dataBucket 's3://' has no bucket name"),
    (_set("dataBucket", "s3:///runs"), "dataBucket 's3:///runs' has no bucket name"),
    (_set("dataBucket", "s3://My_Bucket"), "dataBucket 's3://My_Bucket'"),
    (_set("nodePools.small.nodeSelector", {"seqstack.io/pool": 5}), "nodePools.small.nodeSelector"),
    (_set("nodePools.large.nodeSelector", {"seqstack.io/pool": ["large"]}), "nodePools.large.nodeSelector"),
    (_set("nodePools.small.nodeSelector", {"bad key!": "small"}), "nodePools.small.nodeSelector 'bad key!'"),
    (_set("nodePools.large.tolerations.0.effect", "Never"), "nodePools.large.tolerations[0].effect"),
    (_set("nodePools.large.tolerations.0.value", 3), "nodePools.large.tolerations[0]"),
    (_set("nodePools.large.tolerations", "large"), "nodePools.large.tolerations must be a list"),
    (_set("kubeconfig", 7), "kubeconfig must be a string"),
    (_set("cloud", "[/x]:cloud:"), "got '[/x]:cloud:'"),  # also markup: printed as typed
]


@pytest.mark.parametrize(("mutate", "expected"), BAD_OUTPUTS, ids=[e for _, e in BAD_OUTPUTS])
def test_impossible_stack_outputs_are_one_line_naming_file_and_key(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], None], expected: str
) -> None:
    doc = json.loads(AWS.read_text())
    mutate(doc)
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(doc))
    line = one_line(invoke(["render", "--stack-outputs", str(outputs), *S3_ARGS]))
    assert str(outputs) in line
    assert expected in line


def test_gs_data_bucket_without_a_name_is_refused(tmp_path: Path) -> None:
    doc = json.loads(GCP.read_text())
    doc["dataBucket"] = "gs://"
    outputs = tmp_path / "gcp.json"
    outputs.write_text(json.dumps(doc))
    assert "dataBucket 'gs://' has no bucket name" in one_line(
        invoke(["render", "--stack-outputs", str(outputs), *GS_ARGS])
    )


def test_outputs_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    outputs = tmp_path / "latin1.json"
    outputs.write_bytes(AWS.read_text().replace('"eu-west-1"', '"eu-w\u00e9st-1"', 1).encode("latin-1"))
    line = one_line(invoke(["render-index", "--stack-outputs", str(outputs), "--reference", "s3://b/r.fa"]))
    assert str(outputs) in line and "not UTF-8" in line


def test_the_real_outputs_still_pass_every_check() -> None:
    for outputs, args in ((AWS, S3_ARGS), (GCP, GS_ARGS)):
        result = invoke(["render", "--stack-outputs", str(outputs), *args])
        assert result.exit_code == 0, result.output
        assert result.stderr == ""


# ------------------------------------------------------------------------------------------
# Traceback family: cloud storage without credentials


def _no_credentials(tmp_path: Path) -> dict[str, str | None]:
    """An environment with no AWS or Google credentials and no metadata server to ask."""
    return {
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": None,
        "AWS_SECRET_ACCESS_KEY": None,
        "AWS_SESSION_TOKEN": None,
        "AWS_PROFILE": None,
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": None,
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": None,
        "GOOGLE_APPLICATION_CREDENTIALS": None,
        "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"),
        "NO_GCE_CHECK": "true",
    }


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["submit", "--stack-outputs", str(AWS), *S3_ARGS], "no usable AWS credentials"),
        (["index", "--stack-outputs", str(AWS), "--reference", S3_ARGS[3]], "no usable AWS credentials"),
        (["submit", "--stack-outputs", str(GCP), *GS_ARGS], "no usable Google Cloud credentials"),
        (
            ["index", "--stack-outputs", str(GCP), "--reference", GS_ARGS[3]],
            "no usable Google Cloud credentials",
        ),
    ],
    ids=["submit-aws", "index-aws", "submit-gcp", "index-gcp"],
)
def test_cloud_commands_without_credentials_fail_fast_in_one_line(
    tmp_path: Path, command: list[str], expected: str
) -> None:
    started = time.monotonic()
    result = invoke([*command, "--argo-server", "https://127.0.0.1:9"], env=_no_credentials(tmp_path))
    elapsed = time.monotonic() - started
    line = one_line(result)
    assert expected in line
    assert ("s3://" if "AWS" in expected else "gs://") in line
    # gcsfs left to itself fell back to anonymous access and retried for ~51 s.
    assert elapsed < 20, f"took {elapsed:.0f} s"


@pytest.mark.parametrize("endpoint", ["notaurl", "http://[::1", "http://"])
def test_an_s3_endpoint_that_is_not_a_url_is_one_line(endpoint: str) -> None:
    args = ["submit", "--stack-outputs", str(AWS), *S3_ARGS, "--argo-server", "https://127.0.0.1:9"]
    assert f"--s3-endpoint-url {endpoint!r}" in one_line(invoke([*args, "--s3-endpoint-url", endpoint]))


def test_an_s3_endpoint_that_cannot_be_reached_is_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**_no_credentials(tmp_path), "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
    args = [
        "index",
        "--stack-outputs",
        str(AWS),
        "--reference",
        S3_ARGS[3],
        "--argo-server",
        "https://127.0.0.1:9",
    ]
    line = one_line(invoke([*args, "--s3-endpoint-url", f"http://127.0.0.1:{port}"], env=env))
    assert S3_ARGS[3] in line and "cannot check it exists" in line


# ------------------------------------------------------------------------------------------
# Traceback family: values the stack program refuses, price tables


def test_a_component_refusing_a_stack_value_is_one_line_naming_the_stack(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    config = (ROOT / "Pulumi.dev-aws.yaml").read_text()
    assert "seqstack:largeDiskGiB: 500" in config
    (tmp_path / "Pulumi.dev-aws.yaml").write_text(
        config.replace("seqstack:largeDiskGiB: 500", "seqstack:largeDiskGiB: 10")
    )
    line = one_line(invoke(["inventory", "--stack", "dev-aws", "--project-dir", str(tmp_path)]))
    # Config validation refuses it now, naming the key, before any component sees it.
    assert "seqstack:largeDiskGiB" in line and "10 GiB" in line


def test_a_component_value_error_is_one_line_naming_the_stack_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What config validation does not foresee and a component still refuses is a user error too."""
    from components.aws_node_group import AwsNodeGroup

    def refuse(*args: object, **kwargs: object) -> None:
        raise ValueError("AwsNodeGroup: a value no check foresaw")

    monkeypatch.setattr(AwsNodeGroup, "__init__", refuse)
    line = one_line(invoke(["inventory", "--stack", "dev-aws"]))
    assert "stack dev-aws" in line and "a value no check foresaw" in line and "Pulumi.dev-aws.yaml" in line


@pytest.mark.parametrize("content", [b"[1, 2]", b'"prices"', b"\xff\xfe{"], ids=["list", "string", "binary"])
def test_a_price_table_that_is_not_an_object_is_one_line(tmp_path: Path, content: bytes) -> None:
    prices = tmp_path / "prices.json"
    prices.write_bytes(content)
    line = one_line(invoke(["cost", "--stack", "dev-aws", "--prices", str(prices)]))
    assert f"--prices {prices}" in line


# ------------------------------------------------------------------------------------------
# Rich markup: user text is never markup or emoji codes

HOSTILE = "[/x]run[red]:cloud:"


def test_hostile_text_in_a_sheet_path_prints_as_typed(tmp_path: Path) -> None:
    sheet = tmp_path / f"{HOSTILE}.csv"
    line = one_line(
        invoke(["run", "-s", str(sheet), "-r", str(tmp_path / "r.fa"), "-o", str(tmp_path / "o")])
    )
    assert f"{HOSTILE}.csv" in line and "☁" not in line


def test_hostile_sample_id_in_render_prints_as_typed(tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(f"sample,fastq_1,fastq_2\n{HOSTILE},s3://b/r1.fq,s3://b/r2.fq\n")
    line = one_line(invoke(["render", "--stack-outputs", str(AWS), *S3_ARGS[2:], "--samples", str(sheet)]))
    assert HOSTILE in line


def test_hostile_qc_module_prints_as_typed() -> None:
    line = one_line(invoke(["render", "--stack-outputs", str(AWS), *S3_ARGS, "--qc-fail-on", HOSTILE]))
    assert f"unknown FastQC module '{HOSTILE}'" in line


def test_hostile_workflow_name_in_status_prints_as_typed() -> None:
    line = one_line(invoke(["status", HOSTILE, "--argo-server", "http://127.0.0.1:9"]))
    assert f"workflow name '{HOSTILE}'" in line


def test_hostile_stack_name_prints_as_typed(tmp_path: Path) -> None:
    line = one_line(
        invoke(["inventory", "--stack", f"seqstack:cloud{HOSTILE}", "--project-dir", str(tmp_path)])
    )
    assert f"seqstack:cloud{HOSTILE}" in line


def test_hostile_stack_name_in_a_table_title_prints_as_typed(tmp_path: Path) -> None:
    name = "dev[red]:cloud:"
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / f"Pulumi.{name}.yaml").write_text((ROOT / "Pulumi.dev-aws.yaml").read_text())
    result = invoke(["inventory", "--stack", name, "--project-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"seqstack {name}:" in result.stdout


def test_hostile_text_in_the_run_summary_table_prints_as_typed(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    sheet = tmp_path / "s.csv"
    sheet.write_text("sample,fastq_1,fastq_2\ns1,a.fq,b.fq\n")
    result = invoke(["run", "-s", "s.csv", "-r", "r[red].fa", "-o", "o", "--cpus", "1"])
    assert result.exit_code == 1, result.output
    assert "reference r[red].fa" in result.stderr  # the per-sample line
    assert "r[red].fa" in result.stdout  # the summary table's "why" cell


def test_no_module_builds_its_own_rich_console() -> None:
    """Every console comes from workflows.console.console() (markup and emoji off)."""
    offenders = []
    for folder in ("seqstack", "workflows", "policies", "stacks", "components"):
        for path in (ROOT / folder).rglob("*.py"):
            if path == ROOT / "workflows" / "console.py":
                continue
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.ImportFrom)
                    and node.module == "rich"
                    and any(a.name == "print" for a in node.names)
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} rich.print")
                if isinstance(node, ast.Call):
                    func = node.func
                    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                    if name == "Console":
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} Console()")
    assert offenders == []


# ------------------------------------------------------------------------------------------
# Options that cannot work


def _sheet(tmp_path: Path) -> Path:
    sheet = tmp_path / "s.csv"
    sheet.write_text("sample,fastq_1,fastq_2\ns1,a.fq,b.fq\ns2,c.fq,d.fq\n")
    return sheet


BAD_RUN_OPTIONS: list[tuple[list[str], str]] = [
    (["--outdir", "/"], "--outdir /: that is the file-system root"),
    (["--outdir", "/tmp/.."], "--outdir /tmp/..: that is the file-system root"),
    (["--outdir", ""], "--outdir is empty"),
    (["--outdir", "  "], "--outdir is empty"),
    (["--memory", "nan"], "--memory nan"),
    (["--memory", "inf"], "--memory inf"),
    (["--memory", "-inf"], "--memory -inf"),
    (["--memory", "-2"], "--memory -2.0"),
    (["--cpus", "-1"], "--cpus -1: must be at least 1"),
    (["--inject-fault", "kill:algn@1"], "kill:algn@1: 'algn' matches no task of this run"),
    (["--inject-fault", "kill:s9/align@1"], "kill:s9/align@1: 's9/align' matches no task"),
    (["--inject-fault", "kill:align@0"], "attempt 0 never happens"),
    (["--inject-fault", "kill:align@4"], "attempt 4 never happens: attempts are numbered 1 to 3"),
    (["--inject-fault", "kill:s1/report@1"], "'s1/report' matches no task"),
    (["--inject-fault", "kill:align"], "bad fault 'kill:align'"),
]


@pytest.mark.parametrize(
    ("extra", "expected"), BAD_RUN_OPTIONS, ids=[" ".join(e) for e, _ in BAD_RUN_OPTIONS]
)
def test_run_options_that_cannot_work_are_refused_before_anything_is_created(
    tmp_path: Path, monkeypatch: Any, extra: list[str], expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    sheet = _sheet(tmp_path)
    args = ["run", "-s", str(sheet), "-r", str(tmp_path / "r.fa")]
    if "--outdir" not in extra:
        args += ["-o", str(tmp_path / "out")]
    line = one_line(invoke([*args, *extra]))
    assert expected in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csv"]  # no outdir, no results/


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--outdir", ""], "--outdir is empty"),
        (["--outdir", "/"], "file-system root"),
        (["--cpus", "-3"], "--cpus -3"),
    ],
)
def test_demo_options_that_cannot_work_are_refused(
    tmp_path: Path, monkeypatch: Any, extra: list[str], expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    assert expected in one_line(invoke(["demo", *extra]))
    assert list(tmp_path.iterdir()) == []


def test_cpus_above_the_machine_are_capped_and_good_faults_accepted(tmp_path: Path, monkeypatch: Any) -> None:
    import workflows.local.run as run_module

    seen: list[Any] = []
    monkeypatch.setattr(run_module, "run_pipeline", lambda opts, *a, **k: seen.append(opts) or 0)
    sheet = _sheet(tmp_path)
    result = invoke(
        [
            "run", "-s", str(sheet), "-r", str(tmp_path / "r.fa"), "-o", str(tmp_path / "o"),
            "--cpus", "100000",
            "--inject-fault", "kill:align@3",
            "--inject-fault", "kill:s2/fastqc*@1:after=2",
            "--inject-fault", "kill:samples(*:s1)/qc-gate@2",
            "--inject-fault", "kill:report@1",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [opts.cpus for opts in seen] == [machine_cpus()]
    assert len(seen[0].faults) == 4
    assert result.stderr == ""  # stderr carries failures only
    assert (
        f"note: --cpus 100000 is more than this machine's {machine_cpus()} CPUs; using {machine_cpus()}"
        in result.stdout.splitlines()
    )


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_a_poll_interval_that_cannot_work_is_refused_before_contacting_anything(value: str) -> None:
    args = ["submit", "--stack-outputs", str(AWS), *S3_ARGS, "--argo-server", "https://127.0.0.1:9"]
    assert f"--interval {float(value)}" in one_line(invoke([*args, "--watch", "--interval", value]))


@pytest.mark.parametrize(
    ("value", "expected"), [("inf", "--reads-per-sample inf"), ("-inf", "'--reads-per-sample'")]
)
def test_cost_of_an_infinite_sample_is_refused(value: str, expected: str) -> None:
    assert expected in one_line(invoke(["cost", "--stack", "dev-aws", "--reads-per-sample", value]))


@pytest.mark.parametrize("url", ["http://[::1", "http://", "ftp://argo"])
def test_an_argo_server_url_that_cannot_work_is_one_line(url: str) -> None:
    line = one_line(invoke(["status", "wf", "--argo-server", url]), code=1)
    assert repr(url) in line


def test_a_run_record_whose_tasks_are_not_objects_is_one_line(tmp_path: Path) -> None:
    record = tmp_path / "run.json"
    record.write_text(json.dumps({"sheet": "s.csv", "cpus": 2, "tasks": [1, 2]}))
    line = one_line(invoke(["cost", "--stack", "dev-aws", "--run-json", str(record)]))
    assert f"--run-json {record}" in line and "tasks" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["status", "wf", "--namespace", "Bad NS"], "--namespace 'Bad NS' is not a Kubernetes name"),
        (["status", "", "--namespace", "biojobs"], "workflow name ''"),
        (["status", "Wf_1"], "workflow name 'Wf_1'"),
        (["submit", "--stack-outputs", str(AWS), *S3_ARGS, "--namespace", "bad/ns"], "--namespace 'bad/ns'"),
        (
            ["index", "--stack-outputs", str(AWS), "--reference", S3_ARGS[3], "--namespace", "-x"],
            "--namespace '-x'",
        ),
    ],
)
def test_names_sent_to_argo_must_be_kubernetes_names(args: list[str], expected: str) -> None:
    assert expected in one_line(invoke([*args, "--argo-server", "https://127.0.0.1:9"]))


# ------------------------------------------------------------------------------------------
# The parser's own errors, and the last-resort handlers


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "--cpus", "abc"], "Invalid value for '--cpus'"),
        (["run", "-s", "x.csv"], "Missing option '--reference'"),
        (["rnu"], "No such command 'rnu'"),
        (["render", "--bogus"], "No such option: --bogus"),
        (["inventory", "--stack", "dev-aws", "--format", "xml"], "Invalid value for '--format'"),
    ],
)
def test_usage_errors_are_one_line_with_where_to_look(args: list[str], expected: str) -> None:
    line = one_line(invoke(args))
    assert expected in line and "--help'" in line


def test_an_unexpected_os_error_is_one_line_naming_the_file(monkeypatch: Any) -> None:
    import seqstack.cmd_pipeline as cmd

    def boom(*_: Any) -> None:
        raise IsADirectoryError(21, "Is a directory", "/data/outputs.json")

    monkeypatch.setattr(cmd, "load_stack_outputs", boom)
    line = one_line(invoke(["render-index", "--stack", "x", "--reference", "s3://b/r.fa"]), code=1)
    assert line == "error: /data/outputs.json: Is a directory"


def test_a_bug_is_one_line_with_its_traceback_saved(monkeypatch: Any) -> None:
    import seqstack.cmd_pipeline as cmd

    def boom(*_: Any) -> None:
        raise KeyError("surprise")

    monkeypatch.setattr(cmd, "load_stack_outputs", boom)
    line = one_line(
        invoke(["render-index", "--stack", "x", "--reference", "s3://b/r.fa"]), code=EXIT_INTERNAL
    )
    assert "internal error" in line and "KeyError" in line
    saved = Path(line.split("traceback in ", 1)[1].rstrip(")"))
    try:
        assert "Traceback" in saved.read_text() and "surprise" in saved.read_text()
    finally:
        saved.unlink()


# ------------------------------------------------------------------------------------------
# Issue 14: commands are registered in one place


def test_commands_are_registered_only_in_cli_and_modules_never_import_it() -> None:
    for path in sorted((ROOT / "seqstack").glob("cmd_*.py")):
        tree = ast.parse(path.read_text())
        imports = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert "seqstack.cli" not in imports, path.name
        decorators = [
            ast.unparse(d) for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) for d in n.decorator_list
        ]
        assert not [d for d in decorators if "command" in d], (path.name, decorators)
    names = [c.name for c in app.registered_commands]
    assert names == [
        "run",
        "demo",
        "render",
        "render-index",
        "submit",
        "index",
        "status",
        "inventory",
        "cost",
    ]


def test_a_message_with_line_breaks_still_prints_as_one_line(monkeypatch: Any) -> None:
    import seqstack.cmd_pipeline as cmd
    from workflows.errors import UserError

    def boom(*_: Any) -> None:
        raise UserError("outputs.json: first problem\n  second problem\n")

    monkeypatch.setattr(cmd, "load_stack_outputs", boom)
    line = one_line(invoke(["render-index", "--stack", "x", "--reference", "s3://b/r.fa"]))
    assert line == "error: outputs.json: first problem; second problem"
