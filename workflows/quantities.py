"""Argo durations and Kubernetes quantities: the one place they are read and written.

Read by the pipeline settings (retry backoff), the local executor (retry backoff, template
timeouts, the cpu and memory a task books) and the pod emulation (an emptyDir's ``sizeLimit``);
written by the settings' ``resources`` blocks. Errors are :class:`QuantityError` (a
``ValueError``) naming the value; callers add where it was found.
"""

from __future__ import annotations

import re
from typing import Any

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}

_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P|m)?$")
_QUANTITY_UNITS: dict[str | None, float] = {
    None: 1,
    "m": 1e-3,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
}

MIB = 2**20


class QuantityError(ValueError):
    """A duration or quantity that cannot be read; the message quotes it."""


def parse_duration(value: Any) -> float:
    """An Argo duration in seconds: a number (seconds) or ``250ms``, ``30s``, ``5m``, ``2h``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    m = _DURATION.match(str(value).strip())
    if not m:
        raise QuantityError(f"cannot read duration {value!r}")
    return float(m.group(1)) * _DURATION_UNITS[m.group(2)]


def whole_duration_seconds(text: str) -> int:
    """The strict form the pipeline settings accept (``30s``, ``5m``, ``2h``: a whole number and
    a unit), in seconds."""
    m = _DURATION.match(text)
    if not m or "." in m.group(1) or m.group(2) not in ("s", "m", "h"):
        raise QuantityError(f"must look like 30s, 5m or 2h, got {text!r}")
    return int(parse_duration(text))


def quantity(value: Any) -> float:
    """A Kubernetes quantity (``2``, ``500m``, ``512M``, ``20Gi``) as a plain number."""
    m = _QUANTITY.match(str(value).strip())
    if not m:
        raise QuantityError(f"cannot read quantity {value!r}")
    return float(m.group(1)) * _QUANTITY_UNITS[m.group(2)]


def quantity_bytes(value: Any) -> int:
    """A storage or memory quantity (``20Gi``, ``512M``, ``1048576``) in bytes."""
    return int(quantity(value))


def memory_mib(value: Any) -> float:
    """A memory quantity (``2048Mi``, ``96Gi``, ``512M``, ``1073741824``) in MiB."""
    return quantity(value) / MIB


def cpu_cores(value: Any) -> float:
    """A cpu quantity (``2``, ``500m``, ``1.5``) in cores."""
    return quantity(value)


def format_cpu(cores: float) -> str:
    """Cores as Kubernetes writes them: ``2`` for whole cores, else millicores (``500m``)."""
    return str(int(cores)) if cores == int(cores) else f"{round(cores * 1000)}m"


def format_mib(mib: int) -> str:
    """MiB as a quantity (``2048Mi``)."""
    return f"{mib}Mi"


def format_gib(gib: int) -> str:
    """GiB as a quantity (``20Gi``)."""
    return f"{gib}Gi"


def format_seconds(seconds: int) -> str:
    """Whole seconds as an Argo duration (``3600s``)."""
    return f"{seconds}s"
