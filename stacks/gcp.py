"""The GCP stack (dev-gcp): VPC, GKE, node pools, identities, Artifact Registry, data bucket."""

from __future__ import annotations

from typing import Any

from stacks.config import StackConfig


def build_gcp(cfg: StackConfig) -> dict[str, Any]:
    """Declare the GCP stack and return its outputs by contract name."""
    raise NotImplementedError("GCP stack: in progress")
