"""A skipped test fails the run in CI (``CI=true``) and only there; exit 5 (no test) stays a failure."""

from __future__ import annotations

import pytest

INNER = """
import pytest

def test_runs():
    pass

@pytest.mark.skipif(True, reason="data absent")
def test_skipped_by_marker():
    pass

def test_skipped_inside():
    pytest.skip("tool absent")

@pytest.mark.xfail(reason="known")
def test_expected_failure():
    assert False
"""


def test_skips_fail_in_ci(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    pytester.makepyfile(INNER)
    result = pytester.runpytest("-p", "tests.ci_skips", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1, errors=1, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*skipped in CI, where every test must run*tool absent*"])


def test_skips_are_allowed_outside_ci(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    pytester.makepyfile(INNER)
    result = pytester.runpytest("-p", "tests.ci_skips", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=2, xfailed=1)
    assert result.ret == pytest.ExitCode.OK


def test_no_test_collected_is_still_exit_5(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    pytester.makepyfile("x = 1\n")
    assert pytester.runpytest("-p", "tests.ci_skips").ret == pytest.ExitCode.NO_TESTS_COLLECTED
