"""Argo Workflows v4.1.2's JSON schema, made strict, for validating rendered objects in tests.

The schema lives outside the repository (``<repo>/../shared/argo``, see its PROVENANCE.md); tests
that need it skip cleanly when it is absent. Two fixes make it useful (both from PROVENANCE.md):
``IntOrString`` accepts integers as Argo does, and every object definition with ``properties``
gets ``additionalProperties: false`` so a misspelt field is an error instead of silently ignored.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
ARGO_DIR = SHARED / "argo"
SCHEMA_FILE = ARGO_DIR / "argo-workflows-v4.1.2.schema.json"
SWAGGER_FILE = ARGO_DIR / "argo-workflows-v4.1.2.swagger.json"

KINDS = {
    "Workflow": "io.argoproj.workflow.v1alpha1.Workflow",
    "WorkflowTemplate": "io.argoproj.workflow.v1alpha1.WorkflowTemplate",
}

requires_schema = pytest.mark.skipif(
    not SCHEMA_FILE.exists(), reason=f"Argo schema not present at {SCHEMA_FILE}"
)


@cache
def strict_definitions() -> dict[str, Any]:
    """The schema's definitions with the two fixes applied."""
    definitions: dict[str, Any] = copy.deepcopy(json.loads(SCHEMA_FILE.read_text())["definitions"])
    definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = {"type": ["integer", "string"]}
    for definition in definitions.values():
        if isinstance(definition, dict) and "properties" in definition:
            definition["additionalProperties"] = False
    return definitions


@cache
def validator(definition: str) -> Any:
    """A Draft 2020-12 validator for one definition (e.g. a Workflow) of the strict schema."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator({"$ref": f"#/definitions/{definition}", "definitions": strict_definitions()})


def errors(obj: dict[str, Any]) -> list[str]:
    """Every schema violation of a rendered Argo object, as ``path: message`` lines."""
    kind = obj.get("kind")
    if kind not in KINDS:
        return [f"kind: unknown kind {kind!r}"]
    found = validator(KINDS[kind]).iter_errors(obj)
    return sorted(f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in found)


def assert_valid(obj: dict[str, Any]) -> None:
    """Fail with every violation listed when ``obj`` does not validate strictly."""
    problems = errors(obj)
    assert not problems, "\n".join(problems)


requires_swagger = pytest.mark.skipif(
    not SWAGGER_FILE.exists(), reason=f"Argo server swagger not present at {SWAGGER_FILE}"
)


@cache
def _swagger() -> dict[str, Any]:
    swagger: dict[str, Any] = json.loads(SWAGGER_FILE.read_text())
    definitions = swagger["definitions"]
    definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = {"type": ["integer", "string"]}
    for definition in definitions.values():
        if isinstance(definition, dict) and "properties" in definition:
            definition["additionalProperties"] = False
    return swagger


def request_body_errors(path: str, method: str, body: Any) -> list[str]:
    """Violations of the Argo server API's request body schema for ``method path`` (strict).

    ``path`` is the swagger's templated path, e.g. ``/api/v1/workflows/{namespace}``.
    """
    from jsonschema import Draft202012Validator

    swagger = _swagger()
    (param,) = [p for p in swagger["paths"][path][method]["parameters"] if p.get("in") == "body"]
    schema = {**param["schema"], "definitions": swagger["definitions"]}
    found = Draft202012Validator(schema).iter_errors(body)
    return sorted(f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in found)
