"""dev-aws storage: ECR repositories for the tool images and the retained data bucket."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.aws_data_bucket import AwsDataBucketArgs
from components.aws_registry import AwsRegistryArgs
from components.naming import s3_bucket_name
from stacks.harness import FAKE_ACCOUNT, Inventory, run_stack
from workflows.contract import IMAGE_NAMES

REPOSITORY = "aws:ecr/repository:Repository"
BUCKET = "aws:s3/bucket:Bucket"


def test_one_scanned_immutable_encrypted_repository_per_image(aws_inv: Inventory) -> None:
    repos = {r.inputs["name"]: r for r in aws_inv.of_type(REPOSITORY)}
    assert sorted(repos) == sorted(f"seqstack-dev/{image}" for image in IMAGE_NAMES)
    for repo in repos.values():
        assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
        assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repo.inputs["encryptionConfigurations"] == [{"encryptionType": "AES256"}]
        # Images are rebuildable: teardown must not stop at a non-empty repository.
        assert repo.inputs["forceDelete"] is True
        assert not repo.protect and not repo.retain_on_delete


def test_every_repository_has_a_lifecycle_policy(aws_inv: Inventory) -> None:
    policies = aws_inv.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")
    assert sorted(p.inputs["repository"] for p in policies) == sorted(
        f"seqstack-dev/{i}" for i in IMAGE_NAMES
    )
    for p in policies:
        rules = json.loads(p.inputs["policy"])["rules"]
        # Only untagged images expire: every pushed image is tagged, and a template version
        # pins a tagged image by digest, so no rule may ever select a tagged one.
        assert [r["selection"]["tagStatus"] for r in rules] == ["untagged"]
        untagged = rules[0]["selection"]
        assert (untagged["countType"], untagged["countUnit"], untagged["countNumber"]) == (
            "sinceImagePushed",
            "days",
            7,
        )


def _bucket_settings(inv: Inventory) -> dict[str, dict[str, Any]]:
    bucket = inv.one(BUCKET)
    return {r.type.split(":")[-1]: r.inputs for r in inv.resources if r.inputs.get("bucket") == bucket.id}


def test_data_bucket_is_private_encrypted_versioned_and_tls_only(aws_inv: Inventory) -> None:
    bucket = aws_inv.one(BUCKET)
    # A fixed name per account, region and stack (not bucket_prefix's random one), so a
    # redeploy after destroy can adopt it; see tests/test_redeploy.py.
    assert bucket.inputs["bucket"] == s3_bucket_name(
        "seqstack-dev-data", FAKE_ACCOUNT, "eu-west-1", "dev-aws"
    )
    assert "bucketPrefix" not in bucket.inputs
    assert aws_inv.outputs["dataBucket"] == f"s3://{bucket.id}"
    settings = _bucket_settings(aws_inv)
    assert settings["BucketPublicAccessBlock"] == {
        "bucket": bucket.id,
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }
    assert settings["BucketOwnershipControls"]["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    [sse] = settings["BucketServerSideEncryptionConfiguration"]["rules"]
    assert sse["applyServerSideEncryptionByDefault"]["sseAlgorithm"] in ("AES256", "aws:kms")
    assert settings["BucketVersioning"]["versioningConfiguration"] == {"status": "Enabled"}

    policy = json.loads(str(settings["BucketPolicy"]["policy"]))
    [deny] = policy["Statement"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Action"] == "s3:*"
    assert sorted(deny["Resource"]) == [f"arn:aws:s3:::{bucket.id}", f"arn:aws:s3:::{bucket.id}/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_lifecycle_expires_scratch_old_versions_and_stale_uploads() -> None:
    inv = run_stack("dev-aws", overrides={"seqstack:scratchExpirationDays": 3})
    rules = {r["id"]: r for r in _bucket_settings(inv)["BucketLifecycleConfiguration"]["rules"]}
    scratch = rules["expire-scratch"]
    assert scratch["status"] == "Enabled"
    assert scratch["filter"] == {"prefix": "scratch/"}
    assert scratch["expiration"] == {"days": 3}
    everything = rules["expire-old-versions-and-uploads"]
    assert everything["status"] == "Enabled" and everything["filter"] == {"prefix": ""}
    assert everything["noncurrentVersionExpiration"]["noncurrentDays"] >= 1
    assert everything["abortIncompleteMultipartUpload"]["daysAfterInitiation"] >= 1
    assert "expiration" not in everything  # results are never expired, only their old versions


@pytest.mark.parametrize("retain", [True, False])
def test_bucket_survives_destroy_only_when_retain_data_is_on(retain: bool) -> None:
    inv = run_stack("dev-aws", overrides={"seqstack:retainData": retain})
    bucket = inv.one(BUCKET)
    family = [bucket, *(r for r in inv.resources if r.inputs.get("bucket") == bucket.id and r is not bucket)]
    # bucket, public access block, ownership, encryption, versioning, lifecycle, policy
    assert len(family) == 7
    # retain_on_delete (not protect): `pulumi destroy` succeeds in one step and leaves the bucket
    # together with its settings; protect would make destroy fail instead.
    assert all(r.retain_on_delete is retain for r in family), [r.name for r in family]
    assert not any(r.protect for r in family)
    assert bucket.inputs["forceDestroy"] is (not retain)
    # Nothing else in the stack is retained: teardown removes everything but the data.
    assert not [r.name for r in inv.resources if r.retain_on_delete and r not in family]


def test_storage_args_are_validated() -> None:
    with pytest.raises(ValueError, match="bucket_name"):
        AwsDataBucketArgs(bucket_name="Data_Bucket", scratch_expiration_days=14)
    with pytest.raises(ValueError, match="scratch_expiration_days"):
        AwsDataBucketArgs(bucket_name="data", scratch_expiration_days=0)
    with pytest.raises(ValueError, match="adopt"):
        AwsDataBucketArgs(bucket_name="data", scratch_expiration_days=1, retain=False, adopt=True)
    with pytest.raises(ValueError, match="'Fastqc'"):
        AwsRegistryArgs(namespace="seqstack", images=("Fastqc",))
