"""How long pods and finished Workflows stay is decided in one place: the controller's
``workflowDefaults`` that the stack installs (``components.argo_workflows.WorkflowRetention``).

Argo merges a Workflow's spec over its WorkflowTemplate's over the controller's defaults, field
by field (argo-workflows v4.0.6 ``workflow/util/merge.go``, ``JoinWorkflowSpec``/``MergeTo``), so
a ``podGC`` or ``ttlStrategy`` in a rendered object would silently override (or half-merge with)
what the README and the stack say. Rendered objects therefore carry none.
"""

from __future__ import annotations

from typing import Any

import pytest

from components.argo_workflows import ArgoWorkflowsArgs, S3Repository, WorkflowRetention, argo_values
from tests.regenerate_golden import CASES
from workflows.contract import pool_placement

RETENTION_FIELDS = ("podGC", "ttlStrategy")


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendered_objects_leave_pod_gc_and_ttl_to_the_controller(case: str) -> None:
    objs: list[dict[str, Any]] = CASES[case]()
    assert objs
    for obj in objs:
        set_here = [f for f in RETENTION_FIELDS if f in obj["spec"]]
        assert not set_here, f"{obj['kind']} {obj['metadata']} sets {set_here}"


def test_the_controller_defaults_are_the_retention_settings() -> None:
    retention = WorkflowRetention(success_ttl_seconds=3600, failure_ttl_seconds=7200, pod_delete_delay="5m")
    args = ArgoWorkflowsArgs(
        artifact_repository=S3Repository(bucket="b", region="eu-west-1"),
        system_placement=pool_placement("system", tainted=False),
        retention=retention,
    )
    spec = argo_values(args, "b")["controller"]["workflowDefaults"]["spec"]
    assert spec["ttlStrategy"] == {"secondsAfterSuccess": 3600, "secondsAfterFailure": 7200}
    assert spec["podGC"] == {"strategy": "OnWorkflowSuccess", "deleteDelayDuration": "5m"}
