"""Argo durations and Kubernetes quantities, read and written in one module for every caller."""

from __future__ import annotations

import pytest

from workflows.quantities import (
    QuantityError,
    cpu_cores,
    format_cpu,
    format_gib,
    format_mib,
    memory_mib,
    parse_duration,
    quantity_bytes,
    whole_duration_seconds,
)


def test_durations_in_argo_forms() -> None:
    assert parse_duration("250ms") == 0.25
    assert parse_duration("30s") == 30
    assert parse_duration("5m") == 300
    assert parse_duration("2h") == 7200
    assert parse_duration("1.5") == 1.5
    assert parse_duration(12) == 12.0
    with pytest.raises(QuantityError, match="'1d'"):
        parse_duration("1d")
    with pytest.raises(QuantityError):
        parse_duration(True)


def test_settings_accept_only_whole_durations_with_a_unit() -> None:
    assert whole_duration_seconds("15m") == 900
    for bad in ("30", "1.5m", "250ms", "30 seconds", "1d"):
        with pytest.raises(QuantityError, match="must look like 30s"):
            whole_duration_seconds(bad)


def test_quantities_follow_kubernetes_suffixes() -> None:
    assert quantity_bytes("1Mi") == 2**20
    assert quantity_bytes("20Gi") == 20 * 2**30
    assert quantity_bytes("5G") == 5 * 10**9
    assert memory_mib("2048Mi") == 2048
    assert memory_mib("96Gi") == 96 * 1024
    assert memory_mib("1048576") == 1
    assert memory_mib("512Ki") == 0.5
    assert cpu_cores("500m") == 0.5
    assert cpu_cores("2") == 2
    with pytest.raises(QuantityError, match="'2 cores'"):
        cpu_cores("2 cores")


@pytest.mark.parametrize("cores", [0.25, 0.5, 1, 1.5, 4, 96])
def test_formatted_quantities_read_back(cores: float) -> None:
    assert cpu_cores(format_cpu(cores)) == cores
    assert format_cpu(2.0) == "2" and format_cpu(0.5) == "500m"
    assert memory_mib(format_mib(3072)) == 3072
    assert quantity_bytes(format_gib(20)) == 20 * 2**30
