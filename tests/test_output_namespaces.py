"""Sample outputs and run-level outputs cannot collide, whatever the sample IDs (issue 13: a
sample named ``multiqc_data`` had its folder replaced by the report's data folder), in every
rendered workflow (AWS, GCP, local)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.regenerate_golden import CASES
from workflows.pipeline import SAMPLES_PREFIX
from workflows.report_table import SAMPLES_PREFIX as SAMPLES_LIST
from workflows.sheet import SAMPLE_ID_RE

OUT = "{{workflow.parameters.output-prefix}}/"
SAMPLE = "{{inputs.parameters.sample}}"
#: A lane's file-name stem: the sample ID, or ``<sample>_<lane>`` (``Sample.unit``), so it starts
#: with the sample ID too; the sheet refuses two lanes with the same unit (tests/test_sheet.py).
UNIT = "{{inputs.parameters.unit}}"
METRICS = ".metrics/{{workflow.parameters.run-id}}/"


def _key(artifact: dict[str, Any]) -> str:
    for kind in ("s3", "gcs", "plugin"):
        if kind in artifact:
            return str(artifact[kind]["key"])
    raise AssertionError(f"artifact without a location: {artifact}")


@pytest.mark.parametrize("case", sorted(c for c in CASES if not c.startswith("index")))
def test_sample_and_run_outputs_live_in_separate_namespaces(case: str) -> None:
    wft = CASES[case]()[0]
    per_sample, run_level = [], []
    for t in wft["spec"]["templates"]:
        takes_sample = any(p["name"] == "sample" for p in (t.get("inputs") or {}).get("parameters", []))
        for a in (t.get("outputs") or {}).get("artifacts", []):
            key = _key(a)
            assert key.startswith(OUT), key
            (per_sample if takes_sample else run_level).append(key[len(OUT) :])
    assert per_sample and run_level
    for key in per_sample:
        # Under samples/<sample>/, or a metrics file whose name starts with the sample (flat: MultiQC
        # skips folders named like its outputs, and multiqc_data is a valid sample ID).
        assert key.startswith(f"{SAMPLES_PREFIX}/{SAMPLE}/") or (
            key.startswith(METRICS)
            and key[len(METRICS) :].startswith((SAMPLE, UNIT))
            and "/" not in key[len(METRICS) :]
        ), key
    for key in run_level:
        top = key.split("/")[0]
        if key.startswith(METRICS):
            # The report's list of its chunk's samples, for the reports of later chunks: a dot
            # right after a fixed word, where every sample's metrics file has its ID then `.` or
            # `_R`: no ID (no dots) and no step's file name can make it.
            name = key[len(METRICS) :]
            assert name == f"{SAMPLES_LIST}{{{{workflow.name}}}}.json", key
            word, rest = SAMPLES_LIST.split(".", 1)
            endings = [k[len(METRICS) + len(SAMPLE) :] for k in per_sample if k.startswith(METRICS)]
            assert endings and not any(e.startswith("." + rest) for e in endings), endings
            assert "." not in word and not any(c in word for c in "/{}")
            continue
        assert top != SAMPLES_PREFIX and not top.startswith(".metrics") and SAMPLE not in key, key
    # The run-level names may be valid sample IDs (multiqc_data is): the namespaces keep them apart.
    assert any(SAMPLE_ID_RE.match(key.split("/")[0]) for key in run_level)
