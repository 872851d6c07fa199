"""Kubernetes minors: each allowed one is in standard support, pinned to its autoscaler, dated."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pulumi
import pytest

from components.cluster_autoscaler import CHART_BY_MINOR
from stacks.config import KEYS_BY_NAME, ConfigError, parse_config
from stacks.harness import run_stack
from stacks.loader import read_stack_file
from stacks.versions import CHECKED, DEFAULT_MINOR, SUPPORT, check_minor, support_note


def _usable(cloud: str) -> list[str]:
    return [m for m, s in SUPPORT[cloud].items() if s.standard_until >= CHECKED]


def test_the_default_minor_is_in_standard_support_on_both_clouds() -> None:
    assert KEYS_BY_NAME["kubernetesVersion"].default == DEFAULT_MINOR
    for cloud in ("aws", "gcp"):
        assert SUPPORT[cloud][DEFAULT_MINOR].standard_until > CHECKED, cloud
        assert read_stack_file(f"dev-{cloud}")["seqstack:kubernetesVersion"] == DEFAULT_MINOR


def test_every_minor_eks_may_run_has_an_autoscaler_pinned_to_its_own_line() -> None:
    for minor in SUPPORT["aws"]:
        _, tag = CHART_BY_MINOR[minor]
        assert tag.startswith(f"v{minor}."), (minor, tag)
    assert set(CHART_BY_MINOR) == set(SUPPORT["aws"])


def test_pins_are_past_the_first_patch_of_each_line() -> None:
    """The issue: every pin was its line's first patch (v1.33.0); later patches exist."""
    for minor, (_, tag) in CHART_BY_MINOR.items():
        assert tag != f"v{minor}.0", minor


@pytest.mark.parametrize(
    ("stack", "minor", "message"),
    [
        ("dev-aws", "1.33", "seqstack:kubernetesVersion: 1.33 left standard support on aws on 2026-07-29"),
        ("dev-gcp", "1.34", "seqstack:kubernetesVersion: 1.34 left standard support on gcp on 2026-10-01"),
        ("dev-gcp", "1.99", "seqstack:kubernetesVersion: 1.99 is not a Kubernetes minor seqstack knows"),
        ("dev-aws", "1.36", "seqstack:kubernetesVersion: 1.36 is not a Kubernetes minor seqstack knows"),
    ],
)
def test_a_minor_out_of_standard_support_or_unknown_is_refused(stack: str, minor: str, message: str) -> None:
    raw: dict[str, Any] = {**read_stack_file(stack), "seqstack:kubernetesVersion": minor}
    with pytest.raises(ConfigError) as err:
        parse_config(raw, stack)
    assert str(err.value).startswith(message)
    assert _usable(stack.removeprefix("dev-"))[-1] in str(err.value)  # says what to use instead


def test_a_minor_still_in_support_on_one_cloud_is_accepted_there() -> None:
    raw: dict[str, Any] = {**read_stack_file("dev-aws"), "seqstack:kubernetesVersion": "1.34"}
    assert parse_config(raw, "dev-aws").kubernetes_version == "1.34"
    assert check_minor("aws", "1.34").standard_until == dt.date(2026, 12, 2)


def test_support_note_says_when_standard_support_ends_and_when_it_has_ended() -> None:
    assert support_note("aws", "1.35", dt.date(2026, 11, 30)) == (
        "Kubernetes 1.35 is in standard support on aws until 2027-03-27 (117 days left)"
    )
    after = support_note("aws", "1.35", dt.date(2027, 3, 28))
    assert after.startswith("Kubernetes 1.35 left standard support on aws on 2027-03-27")
    assert "extended support" in after
    assert "upgrades the cluster" in support_note("gcp", "1.35", dt.date(2027, 5, 1))


@pytest.mark.parametrize(("today", "level"), [(dt.date(2026, 11, 30), "info"), (dt.date(2027, 6, 1), "warn")])
def test_pulumi_up_warns_once_the_minor_has_left_standard_support(
    monkeypatch: pytest.MonkeyPatch, today: dt.date, level: str
) -> None:
    import stacks.program

    class _Date(dt.date):
        @classmethod
        def today(cls) -> _Date:
            return cls(today.year, today.month, today.day)

    class _Dt:
        date = _Date

    logged: list[tuple[str, str]] = []
    monkeypatch.setattr(stacks.program, "dt", _Dt)
    monkeypatch.setattr(pulumi.log, "warn", lambda msg, *a, **k: logged.append(("warn", msg)))
    monkeypatch.setattr(pulumi.log, "info", lambda msg, *a, **k: logged.append(("info", msg)))
    run_stack("dev-aws")
    notes = [(lvl, msg) for lvl, msg in logged if msg.startswith("Kubernetes 1.35")]
    assert [lvl for lvl, _ in notes] == [level]
    assert "2027-03-27" in notes[0][1]
