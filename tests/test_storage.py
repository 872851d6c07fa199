"""Input existence checks (fsspec + s3fs) against moto's S3 server on 127.0.0.1, and URI rules."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from seqstack.cmd_pipeline import check_inputs_exist
from tests.regenerate_golden import FIXTURES
from tests.sheets import paired
from workflows.fasta import bwa_file_sizes
from workflows.storage import StorageError, missing_objects, normalise_uri, output_prefix, split_uri

#: A 100-base reference (60 per line) and the .ann bwa writes for it.
REF = b">chr1 test\n" + b"ACGT" * 15 + b"\n" + b"ACGT" * 10 + b"\n"
REF_ANN = b"100 1 11\n0 chr1 test\n0 100 0\n"
FAKE_KEY = "testing-key"
FAKE_SECRET = "testing-secret"


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, Any]]:
    """A moto S3 server with bucket ``data`` holding two reads, a FASTA and its bwa-mem2 index."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=FAKE_KEY,
        aws_secret_access_key=FAKE_SECRET,
        region_name="eu-west-1",
    )
    client.create_bucket(Bucket="data", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    index = [f"refs/hg38.fa{s}" for s in (".0123", ".amb", ".bwt.2bit.64", ".pac")]
    for key in ["reads/A_R1.fq.gz", "reads/A_R2.fq.gz", *index]:
        client.put_object(Bucket="data", Key=key, Body=b"x")
    client.put_object(Bucket="data", Key="refs/hg38.fa", Body=REF)
    client.put_object(Bucket="data", Key="refs/hg38.fa.ann", Body=REF_ANN)
    options = {
        "s3": {
            "key": FAKE_KEY,
            "secret": FAKE_SECRET,
            "client_kwargs": {"endpoint_url": endpoint, "region_name": "eu-west-1"},
            "skip_instance_cache": True,
        }
    }
    yield {"endpoint": endpoint, "options": options, "client": client}
    server.stop()


def test_missing_objects_lists_only_what_is_absent(s3: dict[str, Any]) -> None:
    uris = ["s3://data/reads/A_R1.fq.gz", "s3://data/reads/typo_R1.fq.gz", "s3://data/reads/A_R2.fq.gz"]
    assert missing_objects(uris, s3["options"]) == ["s3://data/reads/typo_R1.fq.gz"]


def test_missing_bucket_counts_as_missing(s3: dict[str, Any]) -> None:
    assert missing_objects(["s3://nobucket/x.fq"], s3["options"]) == ["s3://nobucket/x.fq"]


def test_inputs_present_pass_the_check(s3: dict[str, Any]) -> None:
    samples = [paired("A", "s3://data/reads/A_R1.fq.gz", "s3://data/reads/A_R2.fq.gz", 2)]
    check_inputs_exist(samples, "s3://data/refs/hg38.fa", s3["options"], "aws")


def test_a_missing_read_names_sample_and_row(s3: dict[str, Any]) -> None:
    samples = [
        paired("A", "s3://data/reads/A_R1.fq.gz", "s3://data/reads/A_R2.fq.gz", 2),
        paired("B", "s3://data/reads/B_R1.fq.gz", "s3://data/reads/A_R2.fq.gz", 3),
    ]
    with pytest.raises(
        StorageError, match=r"input not found: s3://data/reads/B_R1.fq.gz \(sample B, row 3\)"
    ):
        check_inputs_exist(samples, "s3://data/refs/hg38.fa", s3["options"], "aws")


def test_a_missing_reference_or_index_is_an_error(s3: dict[str, Any]) -> None:
    samples = [paired("A", "s3://data/reads/A_R1.fq.gz", "s3://data/reads/A_R2.fq.gz", 2)]
    with pytest.raises(StorageError, match=re.escape("input not found: s3://data/refs/hg19.fa")):
        check_inputs_exist(samples, "s3://data/refs/hg19.fa", s3["options"], "aws")
    s3["client"].put_object(Bucket="data", Key="refs/noindex.fa", Body=b">x\nA\n")
    with pytest.raises(StorageError, match=re.escape("no aligner index beside s3://data/refs/noindex.fa")):
        check_inputs_exist(samples, "s3://data/refs/noindex.fa", s3["options"], "aws")


def test_a_classic_bwa_index_is_enough_locally_but_not_on_a_cloud(s3: dict[str, Any]) -> None:
    """The cloud template reads only bwa-mem2's index (GCS fetches absent keys by prefix), so a
    reference with only a classic bwa index is refused before submit, not failed in every pod."""
    samples = [paired("A", "s3://data/reads/A_R1.fq.gz", "s3://data/reads/A_R2.fq.gz", 2)]
    s3["client"].put_object(Bucket="data", Key="refs/classic.fa", Body=REF)
    s3["client"].put_object(Bucket="data", Key="refs/classic.fa.ann", Body=REF_ANN)
    s3["client"].put_object(Bucket="data", Key="refs/classic.fa.amb", Body=b"x")
    # bwa's own files with the sizes bwa writes for these 100 bases (the index must be the FASTA's).
    for suffix, size in bwa_file_sizes(100).items():
        s3["client"].put_object(Bucket="data", Key=f"refs/classic.fa{suffix}", Body=b"x" * size)
    check_inputs_exist(samples, "s3://data/refs/classic.fa", s3["options"], "local")
    with pytest.raises(StorageError, match=re.escape("no aligner index beside s3://data/refs/classic.fa")):
        check_inputs_exist(samples, "s3://data/refs/classic.fa", s3["options"], "aws")


def test_cli_index_skips_an_existing_index(
    s3: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`seqstack index` checks with fsspec first: the index is there, so nothing is submitted."""
    from seqstack.cli import app

    # The stack's data bucket is the fake S3's bucket (anything else is refused up front).
    outputs = json.loads((FIXTURES / "dev-aws.outputs.json").read_text())
    stack = tmp_path / "outputs.json"
    stack.write_text(json.dumps({**outputs, "dataBucket": "s3://data"}))

    # The command line takes only the endpoint; s3fs reads these fake credentials from the env.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    args = [
        "index",
        "--stack-outputs",
        str(stack),
        "--s3-endpoint-url",
        s3["endpoint"],
    ]
    args += ["--argo-server", "http://127.0.0.1:9"]  # never contacted
    result = CliRunner().invoke(app, [*args, "--reference", "s3://data/refs/hg38.fa"])
    assert result.exit_code == 0, result.output
    assert "index already present beside s3://data/refs/hg38.fa" in result.output
    result = CliRunner().invoke(app, [*args, "--reference", "s3://data/refs/absent.fa"])
    assert result.exit_code == 2
    assert "reference not found: s3://data/refs/absent.fa" in result.output


def test_an_index_of_another_fasta_stops_submit_and_is_rebuilt_by_index(
    s3: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from seqstack.cli import app

    client = s3["client"]
    for suffix in (".0123", ".amb", ".bwt.2bit.64", ".pac"):
        client.put_object(Bucket="data", Key=f"refs/other.fa{suffix}", Body=b"x")
    client.put_object(Bucket="data", Key="refs/other.fa.ann", Body=REF_ANN)
    longer = REF + b">chr2\nACGT\n"  # the index lacks chr2: same first contig, another size
    client.put_object(Bucket="data", Key="refs/other.fa", Body=longer)
    samples = [paired("A", "s3://data/reads/A_R1.fq.gz", "s3://data/reads/A_R2.fq.gz", 2)]
    expected = (
        f"reference s3://data/refs/other.fa: its index s3://data/refs/other.fa.ann does not match it "
        f"(the FASTA is {len(longer)} bytes, {len(REF)} for the contigs in the index"
    )
    with pytest.raises(StorageError, match=re.escape(expected)):
        check_inputs_exist(samples, "s3://data/refs/other.fa", s3["options"], "aws")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    # The stack's data bucket is the fake S3's bucket (anything else is refused up front).
    outputs = json.loads((FIXTURES / "dev-aws.outputs.json").read_text())
    stack = tmp_path / "outputs.json"
    stack.write_text(json.dumps({**outputs, "dataBucket": "s3://data"}))
    args = ["index", "--stack-outputs", str(stack)]
    args += ["--s3-endpoint-url", s3["endpoint"], "--argo-server", "http://127.0.0.1:9"]
    result = CliRunner().invoke(app, [*args, "--reference", "s3://data/refs/other.fa"])
    # Not "nothing to do": it goes on to submit the index workflow (no Argo server here).
    assert "does not match it" in result.output and "building it again" in result.output
    assert "already present" not in result.output


def test_cli_index_dry_run_prints_the_workflow() -> None:
    from seqstack.cli import app

    result = CliRunner().invoke(
        app,
        [
            "index",
            "--dry-run",
            "--stack-outputs",
            str(FIXTURES / "dev-gcp.outputs.json"),
            "--reference",
            "gs://seqstack-dev-gcp-data/r.fa",
        ],
    )
    assert result.exit_code == 0, result.output
    import yaml

    (wf,) = yaml.safe_load_all(result.output)
    assert wf["kind"] == "Workflow" and wf["spec"]["entrypoint"] == "index"
    assert json.dumps(wf).count('"gcs"') >= 7


def test_local_paths_exist_check(tmp_path: Path) -> None:
    (tmp_path / "a.fq").write_text("@r\nA\n+\nI\n")
    assert missing_objects([str(tmp_path / "a.fq"), str(tmp_path / "b.fq")]) == [str(tmp_path / "b.fq")]


@pytest.mark.parametrize(
    ("value", "scheme", "expected"),
    [
        ("s3://b/k/x.fq", "s3", "s3://b/k/x.fq"),
        ("gs://b/x.fq", "gs", "gs://b/x.fq"),
        ("/abs/x.fq", "file", "/abs/x.fq"),
        ("file:///abs/x.fq", "file", "/abs/x.fq"),
    ],
)
def test_normalise_uri(value: str, scheme: str, expected: str) -> None:
    assert normalise_uri(value, scheme) == expected


@pytest.mark.parametrize(
    ("value", "scheme", "message"),
    [
        ("s3://b", "s3", "needs a bucket and an object key"),
        ("gs://b/x", "s3", "is gs:// but this stack stores data at s3://"),
        ("x.fq", "gs", "is a local path but this stack stores data at gs://"),
        ("s3://b/{{x}}", "s3", "control characters or"),
        ("https://b/x", "file", "this is a local run"),
    ],
)
def test_normalise_uri_rejects(value: str, scheme: str, message: str) -> None:
    with pytest.raises(StorageError, match=message):
        normalise_uri(value, scheme)


def test_output_prefix_and_split() -> None:
    assert output_prefix("s3://b/runs/r1/", "s3") == "s3://b/runs/r1"
    with pytest.raises(StorageError, match="--output: 's3://b' needs a bucket and an object key"):
        output_prefix("s3://b/", "s3")
    assert output_prefix("/data/out/", "file") == "/data/out"
    for root in ("/", "file:///"):
        with pytest.raises(StorageError, match="is the file-system root"):
            output_prefix(root, "file")
    assert split_uri("s3://b/runs/r1") == ("b", "runs/r1")
    assert split_uri("gs://b/x/y.fa") == ("b", "x/y.fa")
    assert split_uri("/data/out") == ("", "/data/out")
