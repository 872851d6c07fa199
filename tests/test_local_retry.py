"""Retry plans: policy, backoff with cap and maxDuration, the retry expression."""

from __future__ import annotations

import time

import pytest

from workflows.local.nodes import ERROR, FAILED, Attempt, TemplateError
from workflows.local.retry import RetryPlan


def _attempt(status: str, code: int | None = 1) -> Attempt:
    return Attempt(number=1, started=time.time() - 2, finished=time.time(), status=status, exit_code=code)


def test_policy_limit_and_defaults() -> None:
    plan = RetryPlan.of({"limit": "2"}, "w")
    assert plan.attempts == 3 and plan.policy == "OnFailure"
    assert plan.should_retry(_attempt(FAILED), 1) and plan.should_retry(_attempt(FAILED), 2)
    assert not plan.should_retry(_attempt(FAILED), 3)  # limit reached
    assert not plan.should_retry(_attempt(ERROR), 1)  # OnFailure does not retry an Error
    assert RetryPlan.of({"limit": 1, "expression": "true"}, "w").policy == "Always"
    assert RetryPlan.of(None, "w").attempts == 1 and not RetryPlan.of(None, "w").should_retry(
        _attempt(FAILED), 1
    )
    with pytest.raises(TemplateError, match="retryPolicy 'OnTransientError'"):
        RetryPlan.of({"retryPolicy": "OnTransientError"}, "w")


def test_backoff_grows_by_factor_up_to_cap_and_stops_at_max_duration() -> None:
    plan = RetryPlan.of({"limit": 5, "backoff": {"duration": "1s", "factor": 2, "cap": "3s"}}, "w")
    now = time.time()
    assert [plan.backoff(n, now) for n in (2, 3, 4, 5)] == [1, 2, 3, 3]
    capped = RetryPlan.of({"limit": 5, "backoff": {"duration": "10s", "maxDuration": "5s"}}, "w")
    assert capped.backoff(2, now) is None  # the wait alone would pass maxDuration
    assert capped.attempt_deadline(60, None) == 60  # the first attempt has its full deadline
    assert capped.attempt_deadline(60, now - 2) == pytest.approx(3, abs=0.5)
    with pytest.raises(TemplateError, match=r"w backoff\.duration: cannot read duration '1 day'"):
        RetryPlan.of({"limit": 1, "backoff": {"duration": "1 day"}}, "w").backoff(2, now)


def test_expression_sees_last_retry_as_argo_passes_it() -> None:
    plan = RetryPlan.of({"limit": 3, "expression": "lastRetry.exitCode == '137'"}, "w")
    assert plan.should_retry(_attempt(ERROR, 137), 1)
    assert not plan.should_retry(_attempt(FAILED, 1), 1)
    assert not RetryPlan.of({"limit": 1, "expression": "lastRetry.exitCode == '-1'"}, "w").should_retry(
        _attempt(FAILED, 0), 1
    )
    assert RetryPlan.of({"limit": 1, "expression": "lastRetry.exitCode == '-1'"}, "w").should_retry(
        _attempt(ERROR, None), 1
    )
