"""The AWS stack (dev-aws): network, EKS, node groups, identity, registries, data bucket."""

from __future__ import annotations

from typing import Any

from stacks.config import StackConfig


def build_aws(cfg: StackConfig) -> dict[str, Any]:
    """Declare the AWS stack and return its outputs by contract name."""
    raise NotImplementedError("AWS stack: in progress")
