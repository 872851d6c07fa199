"""Shared fixtures: one mock run of each stack per test session (a run takes well under a second,
but most tests only read the same inventory)."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from stacks.harness import Inventory, run_stack

# In CI a skipped test fails (tests/ci_skips.py); pytester runs inner sessions in tests of it.
pytest_plugins = ["tests.ci_skips", "pytester"]


@pytest.fixture(scope="session")
def aws_inv() -> Inventory:
    """The dev-aws stack as committed, run under mocks."""
    return run_stack("dev-aws")


@pytest.fixture
def set_mocks_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Stacks whose run reached ``set_mocks`` (the start of the mock runtime) during the test."""
    calls: list[str] = []
    real = pulumi.runtime.set_mocks

    def spy(*args: Any, **kwargs: Any) -> None:
        calls.append(kwargs.get("stack", "?"))
        real(*args, **kwargs)

    monkeypatch.setattr(pulumi.runtime, "set_mocks", spy)
    return calls
