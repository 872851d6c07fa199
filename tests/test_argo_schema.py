"""The Argo schema the tests validate against is the installed Argo's, and it is strict.

It comes from hera's generated models (pinned in pyproject.toml), so a fresh clone has it; this
file checks which Argo release that is against the chart the stack installs, and that the
strictness changes in :mod:`tests.argo_schema` are what catch a misspelt field.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hera.workflows.models import WorkflowTemplate
from jsonschema import Draft202012Validator

from components.argo_workflows import DEFAULT_ARGO_CHART_VERSION
from tests import argo_schema
from tests.regenerate_golden import CASES

ROOT = Path(__file__).resolve().parents[1]

#: argo-workflows chart version -> the Argo release it installs (argoproj/argo-helm,
#: charts/argo-workflows/Chart.yaml ``appVersion``).
CHART_APP_VERSION = {"1.0.18": "4.0.6"}

#: Argo releases whose API (``api/jsonschema/schema.json`` and ``api/openapi-spec/swagger.json``)
#: is the same. v4.0.5 -> v4.0.6 changes descriptions only (``git diff v4.0.5 v4.0.6 -- api/`` in
#: argoproj/argo-workflows: eight description strings, no property, type or required field).
SAME_API = {"4.0.6": {"4.0.5", "4.0.6"}}


def _chart_versions() -> set[str]:
    """The chart versions the stacks install: the default and any set in a committed stack file."""
    versions = {DEFAULT_ARGO_CHART_VERSION}
    for stack_file in ROOT.glob("Pulumi.*.yaml"):
        config = (yaml.safe_load(stack_file.read_text()) or {}).get("config") or {}
        if "seqstack:argoChartVersion" in config:
            versions.add(str(config["seqstack:argoChartVersion"]))
    return versions


def test_the_schema_is_that_of_the_argo_the_stack_installs() -> None:
    for chart in _chart_versions():
        assert chart in CHART_APP_VERSION, f"chart {chart}: which Argo does it install? (then recheck hera)"
        installed = CHART_APP_VERSION[chart]
        assert argo_schema.ARGO_API_VERSION in SAME_API[installed], (
            f"hera's models describe Argo {argo_schema.ARGO_API_VERSION}, chart {chart} installs {installed}"
        )


def test_hera_is_pinned_exactly() -> None:
    """The schema moves with hera: a range would let a new hera (a new Argo API) in unnoticed."""
    text = (ROOT / "pyproject.toml").read_text()
    assert '"hera==7.1.0"' in text


def _misspelt_template() -> dict[str, Any]:
    wt = copy.deepcopy(CASES["aws"]()[0])
    wt["spec"]["templates"][0]["retryStrategy"]["retryPolcy"] = "Always"
    return wt


def test_the_strict_schema_catches_a_misspelt_field_that_heras_own_schema_lets_through() -> None:
    wt = _misspelt_template()
    loose = Draft202012Validator(WorkflowTemplate.model_json_schema())
    assert list(loose.iter_errors(wt)) == []
    problems = argo_schema.errors(wt)
    assert problems == [
        "spec/templates/0/retryStrategy: Additional properties are not allowed ('retryPolcy' was unexpected)"
    ]


def test_nulls_are_refused_and_int_or_string_takes_both() -> None:
    wt = copy.deepcopy(CASES["aws"]()[0])
    retry = wt["spec"]["templates"][0]["retryStrategy"]
    retry["limit"] = "5"
    assert argo_schema.errors(wt) == []
    retry["limit"] = None
    assert argo_schema.errors(wt)


def test_fields_hera_relaxes_are_required_again() -> None:
    wt = copy.deepcopy(CASES["aws"]()[0])
    container = next(t for t in wt["spec"]["templates"] if "container" in t)
    del container["container"]["image"]
    assert "'image' is a required property" in "\n".join(argo_schema.errors(wt))


def test_request_bodies_are_checked_strictly() -> None:
    wf = CASES["aws"]()[1]
    assert argo_schema.request_body_errors("/api/v1/workflows/{namespace}", "post", {"workflow": wf}) == []
    problems = argo_schema.request_body_errors(
        "/api/v1/workflows/{namespace}", "post", {"workflow": wf, "namspace": "biojobs"}
    )
    assert problems == ["<root>: Additional properties are not allowed ('namspace' was unexpected)"]
