"""Two identities: nodes with five narrow roles, pipeline pods with objects in one bucket only."""

from __future__ import annotations

import pytest

from stacks.harness import Inventory, run_stack

PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
SA_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
BUCKET_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"
NODE = "serviceAccount:seqstack-dev-nodes@seqstack-dev.iam.gserviceaccount.com"
WORKLOAD_EMAIL = "seqstack-dev-workflows@seqstack-dev.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return run_stack("dev-gcp")


def test_two_distinct_service_accounts(inv):
    accounts = {r.name: r.inputs["accountId"] for r in inv.of_type("gcp:serviceaccount/account:Account")}
    assert accounts == {
        "identities-nodes": "seqstack-dev-nodes",
        "identities-workflows": "seqstack-dev-workflows",
    }


def test_node_account_has_exactly_the_five_node_roles(inv):
    members = inv.of_type(PROJECT_MEMBER)
    assert {m.inputs["member"] for m in members} == {NODE}
    assert sorted(m.inputs["role"] for m in members) == [
        "roles/artifactregistry.reader",
        "roles/logging.logWriter",
        "roles/monitoring.metricWriter",
        "roles/monitoring.viewer",
        "roles/stackdriver.resourceMetadata.writer",
    ]


def test_workload_account_is_bound_to_the_pipeline_service_account(inv):
    [binding] = inv.of_type(SA_MEMBER)
    assert binding.inputs["role"] == "roles/iam.workloadIdentityUser"
    assert binding.inputs["member"] == "serviceAccount:seqstack-dev.svc.id.goog[biojobs/argo-workflow]"
    assert binding.inputs["serviceAccountId"] == f"projects/seqstack-dev/serviceAccounts/{WORKLOAD_EMAIL}"
    # The identity pool exists only once the cluster does.
    assert "gke-cluster" in binding.dependencies
    assert inv.outputs["workflowServiceAccount"] == "argo-workflow"


def test_workload_account_gets_objects_on_the_data_bucket_only(inv):
    [grant] = inv.of_type(BUCKET_MEMBER)
    assert grant.inputs == {
        "bucket": inv.one("gcp:storage/bucket:Bucket").inputs["name"],
        "role": "roles/storage.objectUser",
        "member": f"serviceAccount:{WORKLOAD_EMAIL}",
    }


def test_no_project_wide_storage_role_for_anyone(inv):
    project_roles = [r.inputs["role"] for r in inv.resources if r.type.startswith("gcp:projects/iAM")]
    assert project_roles  # the node roles are there, so the filter matched something
    assert not [role for role in project_roles if role.startswith("roles/storage.")]
