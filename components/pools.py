"""Node-pool vocabulary both clouds' pool components share: pure Python, no Pulumi import."""

from __future__ import annotations

from enum import StrEnum


class Capacity(StrEnum):
    """What kind of VMs back a pool."""

    ON_DEMAND = "onDemand"
    """Regular VMs: never preempted (controllers, Argo)."""
    SPOT = "spot"
    """Spot VMs: 60-91% cheaper, may be reclaimed at any time (retried pipeline steps)."""
