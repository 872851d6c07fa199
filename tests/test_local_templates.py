"""Template resolution: workflow scopes, workflowTemplateRef/templateRef and input binding."""

from __future__ import annotations

import pytest

from workflows.local.nodes import TemplateError, UnsupportedWorkflowError
from workflows.local.templates import Templates, bind_inputs

LEAF = {"name": "leaf", "inputs": {"parameters": [{"name": "x", "default": "d"}]}}
WFT = {
    "kind": "WorkflowTemplate",
    "metadata": {"name": "lib"},
    "spec": {
        "entrypoint": "leaf",
        "arguments": {"parameters": [{"name": "a", "value": "base"}, {"name": "b", "value": "kept"}]},
        "volumes": [{"name": "work", "emptyDir": {}}],
        "templates": [LEAF],
    },
}


def test_a_workflow_ref_merges_arguments_over_the_template() -> None:
    wf = {
        "kind": "Workflow",
        "metadata": {"generateName": "run-"},
        "spec": {
            "workflowTemplateRef": {"name": "lib"},
            "arguments": {"parameters": [{"name": "a", "value": 1}]},
        },
    }
    scope = Templates([WFT, wf]).workflow_scope(wf, 2)
    assert scope.workflow_name == "run-3" and scope.entrypoint == "leaf"
    assert scope.values() == {
        "workflow.name": "run-3",
        "workflow.namespace": "default",
        "workflow.parameters.a": "1",
        "workflow.parameters.b": "kept",
    }
    with pytest.raises(UnsupportedWorkflowError, match="WorkflowTemplate 'nope' not rendered"):
        Templates([wf]).workflow_scope({"spec": {"workflowTemplateRef": {"name": "nope"}}}, 0)


def test_template_ref_resolves_into_the_referenced_templates_with_their_volumes() -> None:
    wf = {"kind": "Workflow", "metadata": {"name": "w"}, "spec": {"templates": [{"name": "main", "dag": {}}]}}
    templates = Templates([WFT, wf])
    scope = templates.workflow_scope(wf, 0)
    sub, tmpl = templates.resolve(scope, {"name": "t", "templateRef": {"name": "lib", "template": "leaf"}})
    assert tmpl is LEAF and "work" in sub.volumes and sub.workflow_name == "w"
    assert templates.resolve(scope, {"name": "t", "template": "main"})[0] is scope
    with pytest.raises(TemplateError, match="template 'gone' not found"):
        templates.resolve(scope, {"name": "t", "template": "gone"})


def test_inputs_bind_from_arguments_then_value_then_default_and_respect_enum() -> None:
    tmpl = {
        "name": "t",
        "inputs": {
            "parameters": [
                {"name": "given"},
                {"name": "fixed", "value": True},
                {"name": "mode", "default": "fast", "enum": ["fast", "slow"]},
            ]
        },
    }
    assert bind_inputs(tmpl, {"given": "g"}) == {"given": "g", "fixed": "true", "mode": "fast"}
    with pytest.raises(TemplateError, match="input parameter 'given' not supplied"):
        bind_inputs(tmpl, {})
    with pytest.raises(TemplateError, match="mode='odd' not in"):
        bind_inputs(tmpl, {"given": "g", "mode": "odd"})
