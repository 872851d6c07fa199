"""The expression subsets Argo's fields use: retry expressions, when, depends."""

from __future__ import annotations

import pytest

from workflows.local.expr import (
    ExprError,
    depends_operands,
    eval_depends,
    eval_retry,
    eval_when,
    parse_depends,
)

PREEMPTION = (
    "(lastRetry.status == 'Error' && lastRetry.message contains 'pod deleted') || "
    "(lastRetry.status == 'Failed' && lastRetry.message matches '(?i)evicted|imminent node shutdown')"
)


def test_expression_subsets() -> None:
    v = {
        "lastRetry.status": "Failed",
        "lastRetry.message": "Pod was terminated in response to imminent node shutdown",
        "lastRetry.exitCode": "137",
        "lastRetry.duration": "12",
    }
    assert eval_retry(PREEMPTION, v)
    assert not eval_retry(PREEMPTION, {**v, "lastRetry.message": "Error (exit code 1)"})
    assert eval_retry("asInt(lastRetry.exitCode) >= 137 && !(lastRetry.status == 'Error')", v)
    assert eval_when("'pass' == 'pass' && ('a' != 'b' || false)")
    with pytest.raises(ExprError):
        eval_when("pass == 'pass'")  # unquoted substitution is an error, as in Argo
    with pytest.raises(ExprError):
        eval_retry("lastRetry.status in ['Error']", v)
    with pytest.raises(ExprError):
        parse_depends("a.Finished")


def test_depends_trees_name_their_operands_and_evaluate_results() -> None:
    tree = parse_depends("(a.Succeeded || b.Failed) && c")
    assert depends_operands(tree) == ["a.Succeeded", "b.Failed", "c"]
    results = {("a", "Succeeded"): False, ("b", "Failed"): True, ("c", "Succeeded"): True}
    assert eval_depends(tree, lambda task, result: results.get((task, result), False))
    assert not eval_depends(tree, lambda task, result: False)
