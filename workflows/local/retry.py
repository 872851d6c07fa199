"""Retry plans: a template's ``retryStrategy`` (or the workflow's) read once, then asked after
each attempt whether to retry, how long to wait, and what deadline the next attempt gets, as
Argo's ``workflow/controller/operator.go`` retry handling and ``retry_tweak.go`` do."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workflows import quantities
from workflows.local import expr
from workflows.local.nodes import ERROR, FAILED, Attempt, TemplateError
from workflows.local.values import string_value

POLICIES = ("Always", "OnFailure", "OnError")


def duration(value: Any, what: str) -> float:
    """An Argo duration in seconds; one that cannot be read fails the template, naming ``what``."""
    try:
        return quantities.parse_duration(value)
    except quantities.QuantityError as exc:
        raise TemplateError(f"{what}: {exc}") from None


@dataclass(frozen=True)
class RetryPlan:
    """How one template's attempts are retried."""

    strategy: Mapping[str, Any] | None
    """The ``retryStrategy`` in force (the template's, else the workflow's); None: no retries."""
    limit: int
    policy: str
    where: str

    @classmethod
    def of(cls, strategy: Mapping[str, Any] | None, where: str) -> RetryPlan:
        """Read ``strategy``; an unsupported retryPolicy fails the template."""
        limit = int(string_value(strategy.get("limit", 0))) if strategy else 0
        policy = (strategy or {}).get("retryPolicy") or (
            "Always" if (strategy or {}).get("expression") else "OnFailure"
        )
        if policy not in POLICIES:
            raise TemplateError(f"{where}: retryPolicy {policy!r} is not supported locally")
        return cls(strategy, limit, policy, where)

    @property
    def attempts(self) -> int:
        """At most this many attempts."""
        return self.limit + 1

    def _backoff_field(self, name: str) -> Any:
        return ((self.strategy or {}).get("backoff") or {}).get(name)

    def backoff(self, number: int, first_start: float) -> float | None:
        """Seconds to wait before attempt ``number`` (2, 3, ...); None: backoff.maxDuration is
        exceeded, no more attempts."""
        backoff = (self.strategy or {}).get("backoff") or {}
        if not backoff:
            return 0.0
        base = duration(backoff.get("duration", 0), f"{self.where} backoff.duration")
        factor = float(string_value(backoff.get("factor", 1)))
        delay = base * factor ** (number - 2)
        if backoff.get("cap") is not None:
            delay = min(delay, duration(backoff["cap"], f"{self.where} backoff.cap"))
        max_d = self._backoff_field("maxDuration")
        if max_d is not None and time.time() + delay - first_start > self.max_duration(max_d):
            return None
        return delay

    def max_duration(self, value: Any) -> float:
        return duration(value, f"{self.where} backoff.maxDuration")

    def attempt_deadline(self, deadline_s: float | None, first_start: float | None) -> float | None:
        """A retry may only use what is left of backoff.maxDuration (counted from the first
        attempt's start), as Argo shortens retries' deadlines."""
        max_d = self._backoff_field("maxDuration")
        if first_start is None or max_d is None:
            return deadline_s
        left = max(0.0, self.max_duration(max_d) - (time.time() - first_start))
        return left if deadline_s is None else min(float(deadline_s), left)

    def should_retry(self, attempt: Attempt, number: int) -> bool:
        """After attempt ``number`` ended as ``attempt`` did: is another one due?"""
        retry = self.strategy
        if retry is None or number > self.limit:
            return False
        if self.policy == "OnFailure" and attempt.status != FAILED:
            return False
        if self.policy == "OnError" and attempt.status != ERROR:
            return False
        expression = retry.get("expression")
        if not expression:
            return True
        variables: dict[str, expr.Value] = {
            "lastRetry.status": attempt.status,
            "lastRetry.message": attempt.message,
            # Argo hands the exit code to the expression as a string ("-1" when there is none).
            "lastRetry.exitCode": str(attempt.exit_code if attempt.exit_code is not None else -1),
            "lastRetry.duration": str(int((attempt.finished or attempt.started) - attempt.started)),
        }
        try:
            return expr.eval_retry(expression, variables)
        except expr.ExprError as exc:
            raise TemplateError(f"{self.where}: retryStrategy.expression: {exc}") from None
