"""The seqstack program: load config -> build the cloud's stack -> the outputs contract."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pulumi

from stacks.config import Cloud
from stacks.loader import load_running_config
from stacks.versions import SUPPORT, support_note
from workflows.contract import OUTPUT_NAMES


def build_outputs() -> dict[str, Any]:
    """Declare every resource for the current stack and return its outputs by contract name.

    Config is read and validated first, so a bad value stops the run before any resource is
    declared.
    """
    cfg = load_running_config()
    # A minor accepted when the table was written may have left standard support since.
    today = dt.date.today()
    note = support_note(cfg.cloud.value, cfg.kubernetes_version, today)
    ended = today > SUPPORT[cfg.cloud.value][cfg.kubernetes_version].standard_until
    (pulumi.log.warn if ended else pulumi.log.info)(note)
    if cfg.cloud is Cloud.AWS:
        from stacks.aws import build_aws

        outputs = build_aws(cfg)
    else:
        from stacks.gcp import build_gcp

        outputs = build_gcp(cfg)
    if tuple(outputs) != OUTPUT_NAMES:
        raise AssertionError(f"{cfg.cloud.value} stack exports {tuple(outputs)}, contract is {OUTPUT_NAMES}")
    return outputs


def main() -> None:
    """Entry point of ``pulumi up``: export the outputs contract."""
    for name, value in build_outputs().items():
        pulumi.export(name, value)
