"""Template resolution: a Workflow's scope (its own templates or its ``workflowTemplateRef``'s,
merged arguments, volumes, retry default, deadline), ``templateRef`` lookup and the binding of a
template's input parameters, as Argo's ``workflow/templateresolution`` does.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workflows.local.nodes import Node, TemplateError, UnsupportedWorkflowError
from workflows.local.values import string_value, workflow_values


@dataclass
class Scope:
    """Where a template was found (its WorkflowTemplate or Workflow) and the workflow's globals."""

    templates: Mapping[str, Mapping[str, Any]]
    workflow_name: str
    namespace: str
    parameters: Mapping[str, str]
    volumes: Mapping[str, Mapping[str, Any]]
    retry: Mapping[str, Any] | None
    deadline: float | None
    """The workflow's ``activeDeadlineSeconds`` as a ``time.monotonic()`` instant."""
    entrypoint: str | None = None
    pod_security: Mapping[str, Any] = field(default_factory=dict)
    """The workflow's pod securityContext (uids and fsGroup, for the pod emulation)."""

    def values(self) -> dict[str, str]:
        """The global variables of this workflow (``workflow.*``)."""
        return workflow_values(self.workflow_name, self.namespace, self.parameters)


@dataclass(frozen=True)
class Invocation:
    """One template invoked for one node: where it was found, its bound input parameters and
    the locations of its input artifacts."""

    scope: Scope
    template: Mapping[str, Any]
    inputs: Mapping[str, str]
    artifacts: Mapping[str, str]
    node: Node


class Templates:
    """The rendered objects' WorkflowTemplates by name: resolves scopes and ``templateRef``."""

    def __init__(self, objects: list[Mapping[str, Any]]) -> None:
        self.wftemplates = {o["metadata"]["name"]: o for o in objects if o.get("kind") == "WorkflowTemplate"}

    def workflow_scope(self, wf: Mapping[str, Any], index: int) -> Scope:
        """The scope of the ``index``-th Workflow; its deadline starts counting now."""
        meta = wf.get("metadata") or {}
        name = meta.get("name") or f"{str(meta.get('generateName') or 'workflow-').rstrip('-')}-{index + 1}"
        spec = dict(wf.get("spec") or {})
        ref = spec.get("workflowTemplateRef")
        templates_spec = spec
        if ref:
            wft = self.wftemplates.get(ref.get("name", ""))
            if wft is None:
                raise UnsupportedWorkflowError(
                    f"Workflow {name}: WorkflowTemplate {ref.get('name')!r} not rendered"
                )
            base = dict(wft.get("spec") or {})
            merged = {**base, **{k: v for k, v in spec.items() if k != "workflowTemplateRef"}}
            params = {p["name"]: p for p in (base.get("arguments") or {}).get("parameters", [])}
            for p in (spec.get("arguments") or {}).get("parameters", []):
                params[p["name"]] = p
            merged["arguments"] = {"parameters": list(params.values())}
            templates_spec = merged
        parameters: dict[str, str] = {}
        for p in (templates_spec.get("arguments") or {}).get("parameters", []):
            value = p.get("value", p.get("default"))
            if value is None:
                raise UnsupportedWorkflowError(f"Workflow {name}: parameter {p['name']!r} has no value")
            parameters[p["name"]] = string_value(value)
        deadline = templates_spec.get("activeDeadlineSeconds")
        return Scope(
            templates={t["name"]: t for t in templates_spec.get("templates", [])},
            workflow_name=name,
            namespace=str(meta.get("namespace") or "default"),
            parameters=parameters,
            volumes={v["name"]: v for v in templates_spec.get("volumes") or []},
            retry=templates_spec.get("retryStrategy"),
            deadline=None if deadline is None else time.monotonic() + float(deadline),
            entrypoint=templates_spec.get("entrypoint"),
            pod_security=templates_spec.get("securityContext") or {},
        )

    def resolve(self, scope: Scope, task: Mapping[str, Any]) -> tuple[Scope, Mapping[str, Any]]:
        """The template a DAG task names (``template`` or ``templateRef``) and the scope it runs in."""
        ref = task.get("templateRef")
        if ref:
            wft = self.wftemplates.get(ref.get("name", ""))
            if wft is None:
                raise TemplateError(f"templateRef {ref.get('name')!r}: WorkflowTemplate not rendered")
            templates = {t["name"]: t for t in (wft.get("spec") or {}).get("templates", [])}
            if ref.get("template") not in templates:
                raise TemplateError(f"templateRef {ref}: no such template")
            new = Scope(
                templates=templates,
                workflow_name=scope.workflow_name,
                namespace=scope.namespace,
                parameters=scope.parameters,
                volumes={
                    **{v["name"]: v for v in (wft.get("spec") or {}).get("volumes") or []},
                    **scope.volumes,
                },
                retry=scope.retry,
                deadline=scope.deadline,
                pod_security=scope.pod_security,
            )
            return new, templates[ref["template"]]
        name = str(task.get("template"))
        if name not in scope.templates:
            raise TemplateError(f"task {task.get('name')!r}: template {name!r} not found")
        return scope, scope.templates[name]


def bind_inputs(tmpl: Mapping[str, Any], params: Mapping[str, str]) -> dict[str, str]:
    """A template's input parameters from the arguments given, else its value or default;
    ``enum`` is enforced."""
    inputs: dict[str, str] = {}
    for p in (tmpl.get("inputs") or {}).get("parameters", []):
        if p["name"] in params:
            inputs[p["name"]] = params[p["name"]]
        elif "value" in p:
            inputs[p["name"]] = string_value(p["value"])
        elif "default" in p:
            inputs[p["name"]] = string_value(p["default"])
        else:
            raise TemplateError(f"template {tmpl['name']}: input parameter {p['name']!r} not supplied")
        enum = p.get("enum")
        if enum and inputs[p["name"]] not in [string_value(e) for e in enum]:
            raise TemplateError(f"template {tmpl['name']}: {p['name']}={inputs[p['name']]!r} not in {enum}")
    return inputs
