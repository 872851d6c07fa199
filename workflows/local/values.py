"""Values and substitution: what ``{{...}}`` tags resolve to in each scope, as Argo's
``workflow/controller/scope.go`` and ``util/template`` do for the controller.

Every value is a string (Argo's parameters are); :func:`string_value` is how a YAML value
becomes one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from workflows.local.nodes import ERROR, FAILED, OMITTED, SKIPPED, Node, TemplateError

_TAG = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


def string_value(value: Any) -> str:
    """A parameter value as Argo passes it: strings as they are, booleans ``true``/``false``,
    numbers as written, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def substitute(value: Any, values: Mapping[str, str], *, strict: bool, where: str) -> Any:
    """Replace ``{{name}}`` tags in every string of ``value``.

    ``strict``: an unknown tag is a :class:`TemplateError` (leaf templates, task fields);
    otherwise it is left for a later, narrower scope (a DAG template's task fields).
    Expression tags (``{{=...}}``) are not supported locally.
    """
    if isinstance(value, str):
        if "{{" not in value:
            return value

        def repl(m: re.Match[str]) -> str:
            name = m.group(1)
            if name.startswith("="):
                raise TemplateError(f"{where}: expression tag {{{{{name}}}}} is not supported locally")
            if name in values:
                return values[name]
            wildcard = re.sub(r"^(tasks\.[^.]+\.outputs\.parameters)\..+$", r"\1.*", name)
            if wildcard != name and wildcard in values:
                return values[wildcard]
            if strict:
                raise TemplateError(f"{where}: unresolved {{{{{name}}}}}")
            return m.group(0)

        return _TAG.sub(repl, value)
    if isinstance(value, Mapping):
        return {k: substitute(v, values, strict=strict, where=where) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, values, strict=strict, where=where) for v in value]
    return value


def workflow_values(name: str, namespace: str, parameters: Mapping[str, str]) -> dict[str, str]:
    """The global scope: ``workflow.name``, ``workflow.namespace``, ``workflow.parameters.*``."""
    values = {"workflow.name": name, "workflow.namespace": namespace}
    for k, v in parameters.items():
        values[f"workflow.parameters.{k}"] = v
    return values


def input_values(inputs: Mapping[str, str]) -> dict[str, str]:
    """``inputs.parameters.*`` of a template's scope."""
    return {f"inputs.parameters.{k}": v for k, v in inputs.items()}


def item_label(item: Any) -> str:
    """How a fan-out child is named in its key: ``samples(0:s1)``, ``fastqc(1:s1_2)`` (a lane
    item is named by its unit)."""
    if isinstance(item, Mapping):
        for k in ("sample", "id", "name", "unit"):
            if isinstance(item.get(k), str):
                return item[k]
    return string_value(item)


def item_values(item: Any) -> dict[str, str]:
    """``item`` and ``item.<key>`` of one ``withItems``/``withParam`` element.

    A map item's string values pass as they are, so a field holding JSON text (a sample's
    ``lanes``) reaches the inner DAG verbatim, as in Argo (argo-workflows v4.1.2
    ``workflow/controller/operator.go``, ``processItem``: ``item.<key>`` is
    ``fmt.Sprintf("%v", itemVal)``), where a ``withParam`` over it fans out again."""
    values = {"item": string_value(item)}
    if isinstance(item, Mapping):
        for k, v in item.items():
            values[f"item.{k}"] = string_value(v)
    return values


def task_values(states: Mapping[str, Node]) -> dict[str, str]:
    """``tasks.<name>.status`` and ``tasks.<name>.outputs.parameters.*`` of finished tasks."""
    values: dict[str, str] = {}
    for name, node in states.items():
        values[f"tasks.{name}.status"] = node.phase
        for k, v in node.parameters.items():
            values[f"tasks.{name}.outputs.parameters.{k}"] = v
        if node.phase in (SKIPPED, OMITTED, FAILED, ERROR):
            # A task that did not succeed has empty outputs (Argo substitutes "").
            values[f"tasks.{name}.outputs.parameters.*"] = ""
    return values
