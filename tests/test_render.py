"""Rendered Argo objects: strictly valid against Argo v4.1.2, shaped as the design says, spot-proof."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests import argo_schema
from tests.regenerate_golden import CASES, FIXTURES
from workflows.contract import POOL_LABEL, StackOutputs
from workflows.local.expr import eval_retry, eval_when, parse_depends
from workflows.pipeline import RETRY_EXPRESSION
from workflows.render import render, to_yaml
from workflows.settings import PipelineSettings
from workflows.sheet import Lane, Sample

POD_TEMPLATES = {
    "fastqc": "small",
    "qc-gate": "small",
    "align": "large",
    "align-lane": "large",
    "merge": "large",
    "report": "small",
}


def templates(wt: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in wt["spec"]["templates"]}


def aws() -> StackOutputs:
    return StackOutputs.load(FIXTURES / "dev-aws.outputs.json")


def many_samples(n: int) -> list[Sample]:
    return [
        Sample(
            f"S{i:05d}",
            (Lane("1", f"s3://in/reads/S{i:05d}_R1.fastq.gz", f"s3://in/reads/S{i:05d}_R2.fastq.gz", i + 2),),
            i + 2,
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_rendered_object_validates_strictly(case: str) -> None:
    for obj in CASES[case]():
        argo_schema.assert_valid(obj)


@pytest.mark.parametrize(
    ("where", "misspelt"),
    [
        (("spec", "templates", 0, "retryStrategy"), "retryPolcy"),
        (("spec", "templates", 0, "container", "resources"), "limts"),
        (("spec",), "entryPoint"),
    ],
)
def test_strict_validator_catches_a_misspelt_field(where: tuple[Any, ...], misspelt: str) -> None:
    wt = copy.deepcopy(CASES["aws"]()[0])
    node = wt
    for key in where:
        node = node[key]
    node[misspelt] = "x"
    problems = argo_schema.errors(wt)
    assert any(misspelt in p and "Additional properties" in p for p in problems), problems


def test_strict_validator_accepts_integer_retry_limit_but_not_a_list() -> None:
    wt = copy.deepcopy(CASES["aws"]()[0])
    retry = wt["spec"]["templates"][0]["retryStrategy"]
    assert isinstance(retry["limit"], int)
    assert argo_schema.errors(wt) == []
    retry["limit"] = [5]
    assert argo_schema.errors(wt)


def test_render_returns_the_template_first_and_workflows_reference_it() -> None:
    objs = CASES["aws"]()
    assert [o["kind"] for o in objs] == ["WorkflowTemplate", "Workflow"]
    wt, wf = objs
    assert wt["metadata"]["name"] == "seqstack-pipeline-v2-0-0"
    assert wf["spec"]["workflowTemplateRef"] == {"name": "seqstack-pipeline-v2-0-0"}
    assert wt["metadata"]["namespace"] == wf["metadata"]["namespace"] == "biojobs"
    assert wt["spec"]["serviceAccountName"] == "seqstack-workflows"
    declared = {p["name"] for p in wt["spec"]["arguments"]["parameters"]}
    given = {p["name"] for p in wf["spec"]["arguments"]["parameters"]}
    assert given == declared


@pytest.mark.parametrize("case", ["aws", "gcp", "local"])
def test_every_pod_template_is_sized_placed_retried_and_locked_down(case: str) -> None:
    wt = CASES[case]()[0]
    stack_pools = {"small": "small", "large": "large"}
    for name, pool in POD_TEMPLATES.items():
        t = templates(wt)[name]
        body = t.get("container") or t["script"]
        for kind in ("requests", "limits"):
            assert set(body["resources"][kind]) == {"cpu", "memory", "ephemeral-storage"}, name
        assert body["resources"]["requests"] == body["resources"]["limits"]
        assert t["nodeSelector"] == {POOL_LABEL: stack_pools[pool]}
        assert t["tolerations"] == [
            {"key": POOL_LABEL, "operator": "Equal", "value": pool, "effect": "NoSchedule"}
        ]
        assert t["retryStrategy"]["retryPolicy"] == "Always"
        assert t["retryStrategy"]["expression"] == RETRY_EXPRESSION
        assert set(t["retryStrategy"]["backoff"]) == {"duration", "factor", "cap", "maxDuration"}
        # maxDuration counts from the first attempt: it must leave every attempt its full deadline.
        max_duration = int(t["retryStrategy"]["backoff"]["maxDuration"].removesuffix("s"))
        assert max_duration >= (t["retryStrategy"]["limit"] + 1) * t["activeDeadlineSeconds"]
        assert t["activeDeadlineSeconds"] > 0
        sc = body["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["readOnlyRootFilesystem"] is True and sc["runAsNonRoot"] is True
        assert {"name": "WORK", "value": "/work"} in body["env"]
        assert body["volumeMounts"] == [{"mountPath": "/work", "name": "work"}]
    assert wt["spec"]["securityContext"]["runAsNonRoot"] is True


def test_the_dag_shape() -> None:
    t = templates(CASES["aws"]()[0])
    main = {task["name"]: task for task in t["main"]["dag"]["tasks"]}
    assert t["main"]["dag"]["failFast"] is False
    assert main["samples"]["withParam"] == "{{workflow.parameters.samples}}"
    assert main["report"]["depends"] == "samples.Succeeded || samples.Failed || samples.Errored"
    sample = {task["name"]: task for task in t["sample"]["dag"]["tasks"]}
    assert [p["name"] for p in t["sample"]["inputs"]["parameters"]] == ["sample", "lanes"]
    assert main["samples"]["arguments"]["parameters"] == [
        {"name": "sample", "value": "{{item.sample}}"},
        {"name": "lanes", "value": "{{item.lanes}}"},
    ]
    # One FastQC per lane, in parallel; the gate after all of them.
    assert (
        sample["fastqc"]["withParam"] == "{{inputs.parameters.lanes}}" and "depends" not in sample["fastqc"]
    )
    assert sample["qc-gate"]["depends"] == "fastqc"
    gate_lanes = "{{tasks.qc-gate.outputs.parameters.align-lanes}}"
    assert sample["align"]["withParam"] == sample["align-lane"]["withParam"] == gate_lanes
    assert sample["align"]["depends"] == sample["align-lane"]["depends"] == "qc-gate"
    assert sample["merge"]["depends"] == "align-lane"
    merge_lanes = {p["name"]: p["value"] for p in sample["merge"]["arguments"]["parameters"]}["lanes"]
    assert merge_lanes == gate_lanes

    def runs(task: str, verdict: str, layout: str) -> bool:
        # The executor's govaluate subset agrees with what Argo does after substitution.
        when = sample[task]["when"]
        when = when.replace("{{tasks.qc-gate.outputs.parameters.verdict}}", verdict)
        return eval_when(when.replace("{{tasks.qc-gate.outputs.parameters.layout}}", layout))

    assert [runs(task, "pass", "one") for task in ("align", "align-lane", "merge")] == [True, False, False]
    assert [runs(task, "pass", "many") for task in ("align", "align-lane", "merge")] == [False, True, True]
    assert not any(runs(task, "fail", layout) for task in ("align", "merge") for layout in ("one", "many"))
    for expr in ("samples.Succeeded || samples.Failed || samples.Errored", "fastqc", "align-lane"):
        parse_depends(expr)


def test_single_end_lanes_leave_r2_optional_with_an_empty_key() -> None:
    t = templates(CASES["aws-lanes"]()[0])
    for name in ("fastqc", "align", "align-lane"):
        r2 = next(a for a in t[name]["inputs"]["artifacts"] if a["name"] == "r2")
        assert r2["optional"] is True and r2["s3"]["key"] == "{{inputs.parameters.r2_key}}"
        r1 = next(a for a in t[name]["inputs"]["artifacts"] if a["name"] == "r1")
        assert "optional" not in r1
    assert all(a.get("optional") for a in t["fastqc"]["outputs"]["artifacts"] if a["name"].startswith("r2-"))


def test_lanes_travel_as_json_text_inside_each_sample_item() -> None:
    wf = CASES["aws-lanes"]()[1]
    params = {p["name"]: p["value"] for p in wf["spec"]["arguments"]["parameters"]}
    items = json.loads(params["samples"])
    assert [i["sample"] for i in items] == ["NA12878", "SE1"]
    assert all(isinstance(i["lanes"], str) for i in items)  # a parameter is a string: Argo's withParam
    na, se = (json.loads(i["lanes"]) for i in items)
    bucket = "seqstack-dev-aws-data"
    assert na == [
        {
            "lane": lane,
            "unit": f"NA12878_{lane}",
            "r1_bucket": bucket,
            "r1_key": f"reads/NA12878_{lane}_R1.fastq.gz",
            "r2_bucket": bucket,
            "r2_key": f"reads/NA12878_{lane}_R2.fastq.gz",
        }
        for lane in ("L001", "L002")
    ]
    assert se == [
        {
            "lane": "1",
            "unit": "SE1",
            "r1_bucket": bucket,
            "r1_key": "reads/SE1.fastq.gz",
            "r2_bucket": "",
            "r2_key": "",
        }
    ]
    assert params["failed-lane"] == "fail-sample"


@pytest.mark.parametrize(
    ("status", "message", "exit_code", "retried"),
    [
        ("Error", "pod deleted", "", True),  # spot reclaim, as Argo reports it most often
        ("Failed", "Pod was terminated in response to imminent node shutdown.", "", True),
        ("Failed", "The node was low on resource: memory. Pod was evicted.", "", True),
        ("Failed", "Pod The node had condition: [DiskPressure]. Evicted", "137", True),
        ("Failed", "Error (exit code 1)", "1", False),  # a genuine tool failure
        ("Failed", "OOMKilled (exit code 137)", "137", False),  # more of the same memory will not help
        ("Succeeded", "", "0", False),
    ],
)
def test_retry_expression_retries_preemption_only(
    status: str, message: str, exit_code: str, retried: bool
) -> None:
    """Evaluated with the local executor's expr-lang subset (workflows/local/expr.py)."""
    variables = {
        "lastRetry.status": status,
        "lastRetry.message": message,
        "lastRetry.exitCode": exit_code,
        "lastRetry.duration": "42",
    }
    assert eval_retry(RETRY_EXPRESSION, variables) is retried


def test_artifacts_per_cloud_are_keyless_and_unarchived() -> None:
    for case, kind in (("aws", "s3"), ("gcp", "gcs"), ("local", "plugin")):
        wt = CASES[case]()[0]
        for t in wt["spec"]["templates"]:
            for io in ("inputs", "outputs"):
                for art in t.get(io, {}).get("artifacts", []):
                    if "raw" in art:  # data written into the pod: no storage, no credentials
                        assert set(art) == {"name", "path", "raw"}, art
                        continue
                    assert art["archive"] == {"none": {}}
                    assert kind in art, (case, t["name"], art["name"])
                    loc = art[kind]
                    assert not any(k.endswith("Secret") for k in loc), (
                        "keyless: no credentials in the workflow"
                    )
                    if kind == "s3":
                        assert loc["useSDKCreds"] is True
                        assert loc["endpoint"] == "s3.eu-west-1.amazonaws.com"
                    if kind == "plugin":
                        assert loc["name"] == "seqstack-local"


def _resolve(key: str, sample: str, unit: str = "") -> str:
    return (
        key.replace("{{workflow.parameters.output-prefix}}", "runs/r1")
        .replace("{{workflow.parameters.run-id}}", "RUN")
        .replace("{{inputs.parameters.sample}}", sample)
        .replace("{{inputs.parameters.unit}}", unit or sample)
    )


def test_outputs_land_where_the_issue_says() -> None:
    t = templates(CASES["aws"]()[0])
    keys = set()
    for name in ("fastqc", "qc-gate", "align", "merge", "report"):
        for art in t[name]["outputs"]["artifacts"]:
            assert art["s3"]["bucket"] == "{{workflow.parameters.output-bucket}}"
            keys.add(_resolve(art["s3"]["key"], "S1"))
    # A one-lane sample's files keep today's names (its unit is the sample ID).
    assert keys == {
        "runs/r1/samples/S1/fastqc/S1_R1_fastqc.html",
        "runs/r1/samples/S1/fastqc/S1_R1_fastqc.zip",
        "runs/r1/.metrics/RUN/S1_R1_fastqc.zip",
        "runs/r1/samples/S1/fastqc/S1_R2_fastqc.html",
        "runs/r1/samples/S1/fastqc/S1_R2_fastqc.zip",
        "runs/r1/.metrics/RUN/S1_R2_fastqc.zip",
        "runs/r1/samples/S1/S1.qc.json",
        "runs/r1/.metrics/RUN/S1.qc.json",
        "runs/r1/samples/S1/S1.bam",
        "runs/r1/samples/S1/S1.bam.bai",
        "runs/r1/samples/S1/S1.flagstat.txt",
        "runs/r1/samples/S1/S1.stats.txt",
        "runs/r1/.metrics/RUN/S1.flagstat.txt",
        "runs/r1/.metrics/RUN/S1.stats.txt",
        # optional: which exist depends on the run's output-format and markdup parameters
        "runs/r1/samples/S1/S1.cram",
        "runs/r1/samples/S1/S1.cram.crai",
        "runs/r1/samples/S1/S1.markdup.txt",
        "runs/r1/.metrics/RUN/S1.markdup.txt",
        "runs/r1/multiqc_report.html",
        "runs/r1/multiqc_data",
        "runs/r1/.metrics/RUN/seqstack.samples.{{workflow.name}}.json",
    }
    (lane_bam,) = t["align-lane"]["outputs"]["artifacts"]
    assert _resolve(lane_bam["s3"]["key"], "S1", "S1_L002") == "runs/r1/samples/S1/lanes/S1_L002.bam"
    lanes_in, fasta_in = t["merge"]["inputs"]["artifacts"]
    assert _resolve(lanes_in["s3"]["key"], "S1") == "runs/r1/samples/S1/lanes"
    assert fasta_in["s3"]["key"] == "{{workflow.parameters.reference-key}}"  # the FASTA alone, no index
    (fastqc_in,) = t["qc-gate"]["inputs"]["artifacts"]
    assert _resolve(fastqc_in["s3"]["key"], "S1") == "runs/r1/samples/S1/fastqc"
    report_in = t["report"]["inputs"]["artifacts"]
    stored = [_resolve(a["s3"]["key"], "") for a in report_in if "s3" in a]
    assert stored == ["runs/r1/.metrics/RUN"]  # never the BAMs
    raw = [a["raw"]["data"] for a in report_in if "raw" in a]
    assert raw == ["{{workflow.parameters.samples}}"]  # every sample, even those with no metrics


def test_results_are_written_aside_and_moved_to_the_outputs_only_when_all_are_complete() -> None:
    # Argo uploads output artifacts even after a failed step: only complete files may be in out/.
    t = templates(CASES["aws"]()[0])
    script = t["align"]["container"]["args"][0]
    assert script.startswith("set -euo pipefail\n")
    assert 'part="$WORK/tmp/$s"' in script and 'out="$part.$format"' in script
    assert script.count('| tee "${readers[@]}" > "$out"') == 2  # under tmp/
    assert 'readers=("$part.flagstat.fifo" "$part.stats.fifo")' in script
    assert 'then readers+=("$part.index.fifo"); fi' in script
    assert 'samtools index -@ 30 -o "$out.$index_ext" - < "$part.index.fifo"' in script  # under tmp/
    assert 'results=("$part.$format" "$part.$format.$index_ext" "$part.flagstat.txt" "$part.stats.txt")' in (
        script
    )
    assert 'results+=("$part.markdup.txt")' in script
    assert script.rstrip().endswith('mv "${results[@]}" "$WORK/out/"')
    assert script.count('"$WORK/out/') == 1, "nothing else writes into out/"
    # SAM streams from the aligner into sort, which yields the cores to the readers (bam.YIELDING).
    assert "| nice -n 5 samtools sort" in script
    assert not any(w.endswith(('.sam"', ".sam")) for w in script.split()), "no SAM file on disk"
    bam = next(a for a in t["align"]["outputs"]["artifacts"] if a["name"] == "bam")
    assert bam["path"] == "/work/out/{{inputs.parameters.sample}}.bam"


def test_samples_travel_as_plain_items() -> None:
    wf = CASES["gcp"]()[1]
    params = {p["name"]: p["value"] for p in wf["spec"]["arguments"]["parameters"]}
    assert [{**i, "lanes": json.loads(i["lanes"])} for i in json.loads(params["samples"])] == [
        {
            "sample": sample,
            "lanes": [
                {
                    "lane": "1",
                    "unit": sample,
                    "r1_bucket": "seqstack-dev-gcp-data",
                    "r1_key": f"reads/{sample}_R1.fastq.gz",
                    "r2_bucket": "seqstack-dev-gcp-data",
                    "r2_key": f"reads/{sample}_R2.fastq.gz",
                }
            ],
        }
        for sample in ("NA12878", "HG00152")
    ]
    assert params["output-bucket"] == "seqstack-dev-gcp-data" and params["output-prefix"] == "runs/r1"
    assert json.loads(params["qc-rules"])["fail_on_fail"] == ["Basic Statistics", "Per base sequence quality"]


def test_large_sheets_split_into_small_objects_with_every_sample_once() -> None:
    samples = many_samples(1234)
    settings = PipelineSettings.cloud_defaults()
    objs = render(samples, "s3://refs/hg38.fa", "s3://out/run", aws(), settings)
    workflows = [o for o in objs if o["kind"] == "Workflow"]
    assert len(workflows) == 13  # 100 per chunk
    seen: list[str] = []
    for wf in workflows:
        assert len(to_yaml([wf]).encode()) < 1_000_000
        assert len(json.dumps(wf).encode()) < 1_000_000
        params = {p["name"]: p["value"] for p in wf["spec"]["arguments"]["parameters"]}
        seen.extend(item["sample"] for item in json.loads(params["samples"]))
    assert seen == [s.id for s in samples]
    names = [wf["metadata"]["generateName"] for wf in workflows]
    assert len(set(names)) == len(names)
    assert all(len(n) <= 63 for n in names)


def test_chunk_size_is_configurable() -> None:
    from dataclasses import replace

    objs = render(
        many_samples(1001),
        "s3://refs/hg38.fa",
        "s3://out/run",
        aws(),
        replace(PipelineSettings.cloud_defaults(), chunk_size=500),
    )
    assert [len(json.loads(o["spec"]["arguments"]["parameters"][0]["value"])) for o in objs[1:]] == [
        500,
        500,
        1,
    ]


def test_a_samples_lanes_stay_in_one_workflow_whatever_the_chunk_size() -> None:
    from dataclasses import replace

    samples = [
        Sample(
            f"S{i}",
            tuple(
                Lane(str(n), f"s3://in/S{i}_L{n}_R1.fq.gz", f"s3://in/S{i}_L{n}_R2.fq.gz", 2)
                for n in range(1, i + 2)
            ),
            2,
        )
        for i in range(5)
    ]
    objs = render(
        samples,
        "s3://refs/hg38.fa",
        "s3://out/run",
        aws(),
        replace(PipelineSettings.cloud_defaults(), chunk_size=2),
    )
    per_workflow = [json.loads(o["spec"]["arguments"]["parameters"][0]["value"]) for o in objs[1:]]
    assert [[item["sample"] for item in items] for items in per_workflow] == [
        ["S0", "S1"],
        ["S2", "S3"],
        ["S4"],
    ]
    for items in per_workflow:  # every lane of a sample travels with it (the merge runs there)
        for item in items:
            i = int(item["sample"][1:])
            assert [lane["lane"] for lane in json.loads(item["lanes"])] == [str(n) for n in range(1, i + 2)]


def test_chunked_objects_validate_too() -> None:
    for obj in render(
        many_samples(250), "s3://refs/hg38.fa", "s3://out/run", aws(), PipelineSettings.cloud_defaults()
    ):
        argo_schema.assert_valid(obj)


def test_local_render_uses_absolute_paths() -> None:
    wf = CASES["local"]()[1]
    params = {p["name"]: p["value"] for p in wf["spec"]["arguments"]["parameters"]}
    assert params["output-prefix"] == "/data/out" and params["reference-key"] == "/data/ref/rCRS.fa"
    for item in json.loads(params["samples"]):
        for lane in json.loads(item["lanes"]):
            assert lane["r1_bucket"] == "" and Path(lane["r1_key"]).is_absolute()


def test_index_workflow_stores_the_index_beside_the_fasta() -> None:
    (wf,) = CASES["index-aws"]()
    (t,) = wf["spec"]["templates"]
    assert t["nodeSelector"] == {POOL_LABEL: "large"}
    params = {p["name"]: p["value"] for p in wf["spec"]["arguments"]["parameters"]}
    assert params == {"reference-bucket": "seqstack-dev-aws-data", "reference-key": "refs/hg38.fa"}
    keys = {
        a["s3"]["key"].replace("{{workflow.parameters.reference-key}}", "refs/hg38.fa")
        for a in t["outputs"]["artifacts"]
    }
    assert {
        "refs/hg38.fa.0123",
        "refs/hg38.fa.bwt.2bit.64",
        "refs/hg38.fa.amb",
        "refs/hg38.fa.ann",
        "refs/hg38.fa.pac",
    } <= keys
    assert t["retryStrategy"]["expression"] == RETRY_EXPRESSION


def test_the_local_render_uses_only_what_the_local_executor_runs() -> None:
    """The executor rejects unknown fields; the objects seqstack run executes must pass its check."""
    from workflows.local.schema import check_supported

    for obj in CASES["local"]():
        assert check_supported(obj) == []
    local_index = render_index_local()
    assert check_supported(local_index) == []


def render_index_local() -> dict[str, Any]:
    from workflows.render import render_index

    (wf,) = render_index(
        "/data/ref/rCRS.fa", StackOutputs.local(Path("/data/out")), PipelineSettings.local(2, 4)
    )
    return wf


def test_a_later_run_into_the_same_prefix_reports_only_its_own_samples() -> None:
    """Metrics are scoped by run: the report of sheet B never reads what sheet A left behind."""
    settings = PipelineSettings.cloud_defaults()

    def run(samples: list[Sample]) -> tuple[str, set[str], list[str]]:
        wt, *wfs = render(samples, "s3://refs/hg38.fa", "s3://out/runs/r1", aws(), settings)
        (run_id,) = {
            p["value"] for wf in wfs for p in wf["spec"]["arguments"]["parameters"] if p["name"] == "run-id"
        }
        t = templates(wt)
        written = {
            _resolve(a["s3"]["key"], s.id).replace("RUN", run_id)
            for s in samples
            for name in ("fastqc", "align")
            for a in t[name]["outputs"]["artifacts"]
            if "/.metrics/" in _resolve(a["s3"]["key"], s.id)
        }
        read = [
            _resolve(a["s3"]["key"], "").replace("RUN", run_id)
            for a in t["report"]["inputs"]["artifacts"]
            if "s3" in a
        ]
        return run_id, written, read

    a_id, a_written, _ = run(many_samples(2)[:1])
    b_id, _, b_read = run(many_samples(2)[1:])
    assert a_id != b_id
    assert b_read == [f"runs/r1/.metrics/{b_id}"]
    assert not any(key.startswith(b_read[0] + "/") for key in a_written)
