"""Values and substitution: what ``{{...}}`` tags become in each scope."""

from __future__ import annotations

import pytest

from workflows.local.nodes import FAILED, SUCCEEDED, Node, TemplateError
from workflows.local.values import item_label, item_values, string_value, substitute, task_values


def test_values_are_strings_as_argo_passes_them() -> None:
    assert [string_value(v) for v in ("x", True, False, 3, 1.5)] == ["x", "true", "false", "3", "1.5"]
    assert string_value({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}'


def test_substitution_strict_and_deferred() -> None:
    values = {"inputs.parameters.x": "1", "tasks.a.outputs.parameters.*": ""}
    doc = {"k": ["{{inputs.parameters.x}}-{{ later }}"], "n": 5}
    assert substitute(doc, values, strict=False, where="w") == {"k": ["1-{{ later }}"], "n": 5}
    with pytest.raises(TemplateError, match=r"^w: unresolved \{\{later\}\}$"):
        substitute(doc, values, strict=True, where="w")
    # A task that did not succeed has empty outputs, whatever their name.
    assert substitute("[{{tasks.a.outputs.parameters.verdict}}]", values, strict=True, where="w") == "[]"
    with pytest.raises(TemplateError, match="expression tag"):
        substitute("{{=1+1}}", values, strict=False, where="w")


def test_items_and_task_values() -> None:
    assert item_label({"sample": "s1", "id": "x"}) == "s1" and item_label(7) == "7"
    assert item_values({"sample": "s1", "n": 2}) == {
        "item": '{"n":2,"sample":"s1"}',
        "item.sample": "s1",
        "item.n": "2",
    }
    ok = Node("k/a", "a", "t", "Pod", phase=SUCCEEDED, parameters={"v": "pass"})
    bad = Node("k/b", "b", "t", "Pod", phase=FAILED)
    assert task_values({"a": ok, "b": bad}) == {
        "tasks.a.status": SUCCEEDED,
        "tasks.a.outputs.parameters.v": "pass",
        "tasks.b.status": FAILED,
        "tasks.b.outputs.parameters.*": "",
    }
