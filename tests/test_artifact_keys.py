"""Every input artifact key of a cloud run fetches exactly the object it names.

Argo's GCS driver (argo-workflows v4.0.6, ``workflow/artifacts/gcs/gcs.go``: ``Load`` ->
``downloadObjects`` -> ``listByPrefix``) lists the bucket by the key as a plain prefix. When an
object has exactly that key it comes first (GCS lists in lexicographic order) and is fetched
alone; otherwise every object *starting with* the key is fetched, as a folder. So an optional
input that is absent (``ref.fa.bwt`` beside a bwa-mem2-only index) would pull whatever shares its
prefix (``ref.fa.bwt.2bit.64``, the largest index file). The S3 driver asks for the exact key,
then for ``key + "/"``, so it is safe either way; the rule is checked for both clouds.

The rule checked here, on the rendered objects with their parameters filled in: no input key is
a plain prefix of another object the run reads or writes (the reads, the FASTA with both the
bwa-mem2 and the classic bwa index beside it, every output), except objects under ``key/`` (a
folder input) and except the FASTA: it is required and ``seqstack submit`` checks it exists, so
its own object is always the one fetched (the index files beside it are named ``<fasta>.<suffix>``
by bwa and bwa-mem2, so its key is necessarily their prefix).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.regenerate_golden import CASES
from workflows.pipeline import BWA_INDEX, BWA_MEM2_INDEX

PARAM = re.compile(r"\{\{(workflow|inputs)\.parameters\.([a-z0-9_-]+)\}\}")


def _fill(text: str, workflow: dict[str, str], inputs: dict[str, str]) -> str:
    def value(m: re.Match[str]) -> str:
        scope = workflow if m.group(1) == "workflow" else inputs
        assert m.group(2) in scope, f"no value for {m.group(0)} in {text}"
        return scope[m.group(2)]

    return PARAM.sub(value, text)


def _store(artifact: dict[str, Any]) -> dict[str, str]:
    (store,) = (artifact[k] for k in ("s3", "gcs") if k in artifact)
    return {"bucket": store["bucket"], "key": store["key"]}


def run_objects(case: str) -> tuple[list[tuple[str, bool, str]], set[str], str]:
    """(input name, optional, bucket/key) of every input fetched in the run; every object the run
    uses; the FASTA's bucket/key."""
    template, *workflows = CASES[case]()
    inputs: list[tuple[str, bool, str]] = []
    used: set[str] = set()
    fasta = ""
    for wf in workflows:
        params = {p["name"]: p["value"] for p in wf["spec"]["arguments"]["parameters"]}
        fasta = f"{params['reference-bucket']}/{params['reference-key']}"
        for suffix in (*BWA_MEM2_INDEX, *BWA_INDEX):
            used.add(fasta + suffix)
        for item in json.loads(params["samples"]):
            for lane in json.loads(item["lanes"]):
                values = {"sample": item["sample"], "lanes": item["lanes"], **lane}
                for t in template["spec"]["templates"]:
                    for io in ("inputs", "outputs"):
                        for a in (t.get(io) or {}).get("artifacts", []):
                            if "raw" in a:
                                continue  # written into the pod, never fetched from storage
                            store = {k: _fill(v, params, values) for k, v in _store(a).items()}
                            if not store["key"]:
                                # Argo skips an optional input with an empty key (a single-end
                                # lane's R2) before any driver lists anything.
                                assert a.get("optional"), (t["name"], a["name"])
                                continue
                            where = f"{store['bucket']}/{store['key']}"
                            used.add(where)
                            if io == "inputs":
                                inputs.append((f"{t['name']}.{a['name']}", bool(a.get("optional")), where))
    return inputs, used, fasta


@pytest.mark.parametrize("case", ["aws", "aws-lanes", "gcp"])
def test_no_input_key_is_a_plain_prefix_of_another_object_of_the_run(case: str) -> None:
    inputs, used, fasta = run_objects(case)
    assert any(name == "align.ref-bwt-2bit-64" for name, _, _ in inputs)  # the index is read at all
    clashes = sorted(
        f"{name}: {key} also matches {other}"
        for name, _, key in inputs
        if key != fasta
        for other in used
        if other != key and other.startswith(key) and not other.startswith(key + "/")
    )
    assert not clashes, "\n".join(clashes)
    # The FASTA is the one exception, and it is required (never an absent optional key).
    fasta_inputs = {(name, optional) for name, optional, key in inputs if key == fasta}
    assert fasta_inputs == {("align.ref-fa", False), ("align-lane.ref-fa", False), ("merge.ref-fa", False)}


@pytest.mark.parametrize("case", ["aws", "aws-lanes", "gcp"])
def test_only_the_designated_folders_are_read_as_folders(case: str) -> None:
    """A file input with objects under ``key/`` would be fetched as a folder on both clouds: only
    the report's metrics, the gate's FastQC folder and merge's lane BAMs are meant to be."""
    inputs, used, _ = run_objects(case)
    folders = {name for name, _, key in inputs if any(o.startswith(key + "/") for o in used)}
    assert folders == {"report.metrics", "qc-gate.fastqc", "merge.lanes-dir"}


def test_a_classic_bwa_key_would_be_caught() -> None:
    """The check above fails for the layout this replaced: optional classic-bwa keys beside a
    bwa-mem2 index (``.bwt`` is a plain prefix of ``.bwt.2bit.64``)."""
    keys = [f"refs/hg38.fa{s}" for s in dict.fromkeys(BWA_MEM2_INDEX + BWA_INDEX)]
    assert [k for k in keys if any(o != k and o.startswith(k) for o in keys)] == ["refs/hg38.fa.bwt"]
