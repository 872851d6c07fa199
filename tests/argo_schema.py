"""Argo Workflows' JSON schema, made strict, for validating rendered objects and API requests in tests.

The schema comes from what the project installs and pins: hera's generated models
(``hera.workflows.models``) are generated from one Argo release's OpenAPI spec and emit its JSON
schema (pydantic's ``model_json_schema``). :data:`ARGO_API_VERSION` reads which release from the
generated module's header; ``tests/test_argo_schema.py`` checks it describes the Argo the stack
installs. Three changes make the schema strict, as Argo's published schema needs too
(``argo-workflows/api/jsonschema/schema.json`` has the same gaps):

- every object definition with ``properties`` gets ``additionalProperties: false``, so a misspelt
  field is an error instead of silently ignored (hera's models drop unknown fields);
- ``anyOf [X, null]`` (pydantic's rendering of an optional field) becomes ``X``: Argo's schema has
  no nulls, an optional field is left out;
- ``IntOrString`` accepts integers and strings (hera already renders it so; checked here).

Measured against Argo v4.0.6's published ``api/jsonschema/schema.json``: every definition a
Workflow or WorkflowTemplate reaches has the same properties in hera's schema, and the same
required fields except three that hera's generator relaxes; :data:`RESTORED_REQUIRED` puts them
back so the check is as strict as Argo's own schema.
"""

from __future__ import annotations

import copy
import re
from functools import cache
from importlib import import_module
from pathlib import Path
from typing import Any

#: Argo definition prefix; the hera model of ``io.argoproj.workflow.v1alpha1.X`` is ``X``.
ARGO_PREFIX = "io.argoproj.workflow.v1alpha1."
_MODELS = "hera.workflows.models.io.argoproj.workflow.v1alpha1"

KINDS = {
    "Workflow": "io.argoproj.workflow.v1alpha1.Workflow",
    "WorkflowTemplate": "io.argoproj.workflow.v1alpha1.WorkflowTemplate",
}

#: Request bodies of the Argo server API calls seqstack makes (hera's WorkflowsService methods
#: ``create_workflow`` and ``create_workflow_template`` post these models to these paths).
REQUEST_BODIES = {
    ("/api/v1/workflows/{namespace}", "post"): "io.argoproj.workflow.v1alpha1.WorkflowCreateRequest",
    (
        "/api/v1/workflow-templates/{namespace}",
        "post",
    ): "io.argoproj.workflow.v1alpha1.WorkflowTemplateCreateRequest",
}


#: Required fields of Argo's published schema (v4.0.6) that hera's models leave optional.
RESTORED_REQUIRED = {
    "Container": ("image",),
    "ScriptTemplate": ("image", "source"),
    "Metrics": ("prometheus",),
}


def _argo_api_version() -> str:
    """The Argo release hera's models were generated from (their package header names its spec URL)."""
    module = import_module("hera.workflows.models")
    source = Path(module.__file__ or "").read_text(encoding="utf-8")
    match = re.search(r"argo-workflows/v(\d+\.\d+\.\d+)/api/openapi-spec/swagger\.json", source)
    if not match:
        raise RuntimeError(f"{module.__file__}: no Argo spec URL in the generated header")
    return match.group(1)


#: The Argo release whose API the installed hera describes (e.g. ``4.0.5``).
ARGO_API_VERSION = _argo_api_version()


def _strict(node: Any) -> Any:
    """Apply the strictness changes (see module docstring) to a schema, recursively."""
    if isinstance(node, list):
        return [_strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strict(v) for k, v in node.items()}
    any_of = out.get("anyOf")
    if isinstance(any_of, list) and {"type": "null"} in any_of:
        rest = [s for s in any_of if s != {"type": "null"}]
        del out["anyOf"]
        out.pop("default", None)  # always None for an optional field
        if len(rest) == 1:
            out.update(rest[0])
        else:
            out["anyOf"] = rest
    if "properties" in out and out.get("type", "object") == "object":
        out["additionalProperties"] = False
    return out


@cache
def strict_schema(definition: str) -> dict[str, Any]:
    """The strict JSON schema (draft 2020-12, with ``$defs``) of one Argo definition."""
    if not definition.startswith(ARGO_PREFIX):
        raise KeyError(f"{definition}: not an Argo workflow definition")
    model = getattr(import_module(_MODELS), definition[len(ARGO_PREFIX) :])
    schema: dict[str, Any] = _strict(copy.deepcopy(model.model_json_schema()))
    for name, fields in RESTORED_REQUIRED.items():
        found = schema.get("$defs", {}).get(name)
        if found is not None:
            assert set(fields) <= set(found["properties"]), f"{name}: hera's model changed, recheck"
            found["required"] = sorted({*found.get("required", ()), *fields})
    return schema


@cache
def validator(definition: str) -> Any:
    """A Draft 2020-12 validator for one definition (e.g. a Workflow) of the strict schema."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(strict_schema(definition))


def _lines(found: Any) -> list[str]:
    return sorted(f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in found)


def errors(obj: dict[str, Any]) -> list[str]:
    """Every schema violation of a rendered Argo object, as ``path: message`` lines."""
    kind = obj.get("kind")
    if kind not in KINDS:
        return [f"kind: unknown kind {kind!r}"]
    return _lines(validator(KINDS[kind]).iter_errors(obj))


def assert_valid(obj: dict[str, Any]) -> None:
    """Fail with every violation listed when ``obj`` does not validate strictly."""
    problems = errors(obj)
    assert not problems, "\n".join(problems)


def request_body_errors(path: str, method: str, body: Any) -> list[str]:
    """Violations of the Argo server API's request body schema for ``method path`` (strict).

    ``path`` is the API's templated path, e.g. ``/api/v1/workflows/{namespace}``.
    """
    return _lines(validator(REQUEST_BODIES[(path, method)]).iter_errors(body))
