"""Artifact Registry (immutable tags, cleanup) and the data bucket (private, versioned, kept)."""

from __future__ import annotations

import pytest

from components.gcp_data_bucket import bucket_name
from stacks.harness import Inventory, run_stack

BUCKET = "gcp:storage/bucket:Bucket"
REPO = "gcp:artifactregistry/repository:Repository"
DAY = 86400


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return run_stack("dev-gcp")


def test_one_docker_repository_with_immutable_tags_in_the_region(inv):
    repo = inv.one(REPO).inputs
    assert repo["format"] == "DOCKER"
    assert repo["location"] == "europe-west4"
    assert repo["dockerConfig"] == {"immutableTags": True}
    assert inv.outputs["registry"] == "europe-west4-docker.pkg.dev/seqstack-dev/seqstack-dev"


def test_registry_cleanup_deletes_only_untagged_images_and_keeps_the_newest(inv):
    repo = inv.one(REPO).inputs
    policies = {p["id"]: p for p in repo["cleanupPolicies"]}
    assert sorted(policies) == ["delete-untagged", "keep-recent"]
    assert policies["delete-untagged"]["action"] == "DELETE"
    assert policies["delete-untagged"]["condition"] == {"tagState": "UNTAGGED", "olderThan": f"{7 * DAY}s"}
    # Tagged images are pinned by template versions: no DELETE may reach them (was: ANY after 30 days).
    deletes = [p for p in repo["cleanupPolicies"] if p["action"] == "DELETE"]
    assert all(p["condition"]["tagState"] == "UNTAGGED" for p in deletes)
    assert policies["keep-recent"] == {
        "id": "keep-recent",
        "action": "KEEP",
        "mostRecentVersions": {"keepCount": 20},
    }
    assert repo["cleanupPolicyDryRun"] is False


def test_bucket_is_iam_only_and_never_public(inv):
    bucket = inv.one(BUCKET).inputs
    assert bucket["uniformBucketLevelAccess"] is True
    assert bucket["publicAccessPrevention"] == "enforced"


def test_bucket_name_is_the_prefix_plus_a_stable_suffix(inv):
    name = inv.one(BUCKET).inputs["name"]
    assert name == bucket_name("seqstack-dev-data", "seqstack-dev", "dev-gcp")
    assert name.startswith("seqstack-dev-data-") and len(name) == len("seqstack-dev-data-") + 8
    assert bucket_name("seqstack-dev-data", "other-project", "dev-gcp") != name
    assert inv.outputs["dataBucket"] == f"gs://{name}"


def test_bucket_is_versioned_and_scratch_expires(inv):
    bucket = inv.one(BUCKET).inputs
    assert bucket["versioning"] == {"enabled": True}
    rules = [(r["action"]["type"], r["condition"]) for r in bucket["lifecycleRules"]]
    assert ("Delete", {"age": 14, "matchesPrefixes": ["scratch/"]}) in rules
    assert (
        "Delete",
        {"withState": "ARCHIVED", "daysSinceNoncurrentTime": 1, "matchesPrefixes": ["scratch/"]},
    ) in rules
    assert ("Delete", {"withState": "ARCHIVED", "daysSinceNoncurrentTime": 30}) in rules


def test_scratch_expiry_follows_config():
    inv = run_stack("dev-gcp", overrides={"seqstack:scratchExpirationDays": 3})
    conditions = [r["condition"] for r in inv.one(BUCKET).inputs["lifecycleRules"]]
    assert {"age": 3, "matchesPrefixes": ["scratch/"]} in conditions


@pytest.mark.parametrize("retain", [True, False])
def test_bucket_survives_destroy_when_retain_data(retain):
    bucket = run_stack("dev-gcp", overrides={"seqstack:retainData": retain}).one(BUCKET)
    assert bucket.retain_on_delete is retain
    assert bucket.protect is False  # destroy must succeed, not stop at the bucket
    assert bucket.inputs["forceDestroy"] is (not retain)  # deliberate teardown is one step, as on AWS
