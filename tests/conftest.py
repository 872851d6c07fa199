"""Shared fixtures: one mock run of each stack per test session (a run takes well under a second,
but most tests only read the same inventory)."""

from __future__ import annotations

import pytest

from stacks.harness import Inventory, run_stack

# In CI a skipped test fails (tests/ci_skips.py); pytester runs inner sessions in tests of it.
pytest_plugins = ["tests.ci_skips", "pytester"]


@pytest.fixture(scope="session")
def aws_inv() -> Inventory:
    """The dev-aws stack as committed, run under mocks."""
    return run_stack("dev-aws")
