"""The pull-request workflow (.github/workflows/preview.yml) is valid and does what it promises.

Validity: check-jsonschema's vendored copy of the GitHub workflow schema (SchemaStore), offline.
Structure: pinned action versions, least permissions, OIDC for both clouds, the policy pack on
every preview, and a fork guard on the job that needs credentials.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOW = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "preview.yml"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$")


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    loaded = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
    )


def test_workflow_matches_the_github_workflow_schema() -> None:
    result = _schema_check(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = WORKFLOW.read_text().replace("id-token: write", "id-token: admin")
    (tmp_path / "broken.yml").write_text(broken)
    assert _schema_check(tmp_path / "broken.yml").returncode != 0


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    steps = job["steps"]
    assert isinstance(steps, list)
    return steps


def _uses(job: dict[str, Any], action: str) -> dict[str, Any]:
    found = [s for s in _steps(job) if str(s.get("uses", "")).split("@")[0] == action]
    assert len(found) == 1, f"expected one {action} step"
    return found[0]


def test_runs_on_pull_requests_with_read_only_default_permissions(workflow: dict[Any, Any]) -> None:
    # PyYAML reads the key `on` as True (YAML 1.1).
    triggers = workflow.get("on", workflow.get(True))
    assert "pull_request" in triggers
    assert "pull_request_target" not in triggers, "would run fork code with secrets"
    assert workflow["permissions"] == {"contents": "read"}


def test_every_action_is_pinned_to_a_version(workflow: dict[Any, Any]) -> None:
    for name, job in workflow["jobs"].items():
        for step in _steps(job):
            if "uses" in step:
                assert PINNED.match(step["uses"]), f"{name}: {step['uses']} is not pinned to a version"


def test_offline_job_installs_tests_and_runs_the_policy_pack_without_secrets(
    workflow: dict[Any, Any],
) -> None:
    job = workflow["jobs"]["offline"]
    assert "if" not in job, "the offline job must run on forks too"
    assert job["permissions"] == {"contents": "read"}
    runs = [s["run"] for s in _steps(job) if "run" in s]
    assert "make setup" in runs and "make test" in runs
    for stack in ("dev-aws", "dev-gcp"):
        assert any(f"seqstack inventory --stack {stack} --policy" in r for r in runs), stack
    assert "secrets." not in yaml.safe_dump(job)


def test_preview_job_per_stack_with_policy_pack_and_pr_comment(workflow: dict[Any, Any]) -> None:
    job = workflow["jobs"]["preview"]
    stacks = {entry["stack"]: entry["cloud"] for entry in job["strategy"]["matrix"]["include"]}
    assert stacks == {"dev-aws": "aws", "dev-gcp": "gcp"}
    assert job["permissions"] == {"id-token": "write", "pull-requests": "write", "contents": "read"}
    pulumi = _uses(job, "pulumi/actions")
    assert pulumi["uses"] == "pulumi/actions@v6"
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["stack-name"] == "${{ matrix.stack }}"
    assert pulumi["with"]["comment-on-pr"] is True
    assert pulumi["with"]["policyPacks"] == "policies"
    assert (Path(WORKFLOW).parents[2] / pulumi["with"]["policyPacks"] / "PulumiPolicy.yaml").exists()


def test_preview_job_is_skipped_on_forks(workflow: dict[Any, Any]) -> None:
    job = workflow["jobs"]["preview"]
    assert job["if"].replace(" ", "") == "github.event.pull_request.head.repo.full_name==github.repository"


def test_cloud_credentials_come_from_oidc_not_stored_keys(workflow: dict[Any, Any]) -> None:
    job = workflow["jobs"]["preview"]
    aws = _uses(job, "aws-actions/configure-aws-credentials")
    assert aws["if"] == "matrix.cloud == 'aws'"
    assert set(aws["with"]) >= {"role-to-assume", "aws-region"}
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(aws["with"])
    gcp = _uses(job, "google-github-actions/auth")
    assert gcp["if"] == "matrix.cloud == 'gcp'"
    assert set(gcp["with"]) >= {"workload_identity_provider", "service_account"}
    assert "credentials_json" not in gcp["with"]
