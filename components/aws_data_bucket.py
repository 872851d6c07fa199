"""The S3 bucket holding reads, references and results, locked down and kept across teardowns."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")

#: Key prefix of intermediate files; everything under it expires.
SCRATCH_PREFIX = "scratch/"


@dataclass(frozen=True)
class AwsDataBucketArgs:
    """Naming, expiry and retention of the data bucket."""

    bucket_name: str
    """The bucket's full name, deterministic per stack (:func:`components.naming.s3_bucket_name`), so
    a redeploy after ``pulumi destroy`` can adopt the bucket the destroy left behind."""
    scratch_expiration_days: int
    """Days after which objects under ``scratch/`` are deleted."""
    retain: bool = True
    """Leave the bucket (and its settings) in place when the stack is destroyed."""
    noncurrent_version_days: int = 30
    """Days an overwritten or deleted object version is kept (undo window)."""
    abort_multipart_days: int = 7
    """Days after which unfinished multipart uploads are cleaned up."""
    adopt: bool = False
    """Import the existing bucket of this name (left by an earlier destroy) instead of creating it."""

    def __post_init__(self) -> None:
        if not _NAME.match(self.bucket_name):
            raise ValueError(
                f"AwsDataBucketArgs.bucket_name: {self.bucket_name!r} must be 3-63 lowercase letters, "
                "digits or -"
            )
        if self.adopt and not self.retain:
            raise ValueError("AwsDataBucketArgs.adopt: only a retained bucket can be adopted (retain=True)")
        for label in ("scratch_expiration_days", "noncurrent_version_days", "abort_multipart_days"):
            if getattr(self, label) < 1:
                raise ValueError(f"AwsDataBucketArgs.{label}: {getattr(self, label)} must be at least 1")


def read_write_policy(bucket_arn: str) -> dict[str, object]:
    """IAM policy letting a pipeline read and write objects in this one bucket, and nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ListTheDataBucket",
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
                "Resource": bucket_arn,
            },
            {
                "Sid": "ReadWriteObjects",
                "Effect": "Allow",
                "Action": [
                    "s3:GetObject",
                    "s3:PutObject",
                    "s3:DeleteObject",
                    "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts",
                ],
                "Resource": f"{bucket_arn}/*",
            },
        ],
    }


class AwsDataBucket(pulumi.ComponentResource):
    """A private, encrypted, versioned bucket with expiring scratch space and TLS-only access.

    Data outlives the cluster: with ``retain`` every resource here is declared with
    ``retain_on_delete``, so ``pulumi destroy`` succeeds in one step and leaves the bucket and
    its settings behind (``protect`` would instead make destroy fail). To delete the data on
    purpose, set ``seqstack:retainData false`` and ``pulumi up`` before ``pulumi destroy``: that
    drops the retention and turns on ``force_destroy``, so the bucket goes with its contents.

    Redeploy: the name is fixed per stack, so after a destroy ``adopt`` imports the very bucket
    (``import_``: no create, no "already exists"). Its settings resources are declared as usual;
    creating each is a ``Put*`` of the whole configuration on the bucket, which overwrites what
    the retained copy holds with the same values, so they need no import.
    """

    bucket: aws.s3.Bucket
    """The bucket."""
    bucket_name: pulumi.Output[str]
    """Bucket name."""
    bucket_arn: pulumi.Output[str]
    """Bucket ARN."""

    def __init__(
        self, name: str, args: AwsDataBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("seqstack:aws:DataBucket", name, None, opts)
        # Settings are retained with the bucket: a retained bucket that lost its public access
        # block, encryption default or TLS policy on destroy would be worse than none.
        child = pulumi.ResourceOptions(parent=self, retain_on_delete=args.retain)

        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=args.bucket_name,
            # Only when the user chose not to keep the data may destroy delete a non-empty bucket.
            force_destroy=not args.retain,
            # Importing needs the declared inputs to match the bucket; these two are all there is.
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(import_=args.bucket_name if args.adopt else None)
            ),
        )
        bucket_id = self.bucket.id
        public_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket_id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket_id,
            # ACLs off: the bucket owner owns every object, access is decided by policies alone.
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket_id,
            # SSE-S3: encrypted at rest with no KMS key policy to keep in step with the pod role.
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    ),
                )
            ],
            opts=child,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket_id,
            # An overwritten result or a mistaken `rm` can be undone for noncurrent_version_days.
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket_id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-scratch",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=SCRATCH_PREFIX),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        days=args.scratch_expiration_days
                    ),
                    # Scratch needs no undo window: drop its old versions the day after.
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=1
                    ),
                ),
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-old-versions-and-uploads",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=args.noncurrent_version_days
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=args.abort_multipart_days
                    ),
                ),
            ],
            # Noncurrent-version rules only mean something once versioning is on; ordering them
            # also avoids S3's OperationAborted on concurrent changes to one bucket's config.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=args.retain, depends_on=[versioning]),
        )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket_id,
            policy=self.bucket.arn.apply(_tls_only_policy),
            # S3 answers concurrent configuration changes to one bucket with OperationAborted.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=args.retain, depends_on=[public_block]),
        )

        self.bucket_name = self.bucket.bucket
        self.bucket_arn = self.bucket.arn
        self.register_outputs({"bucketName": self.bucket_name, "bucketArn": self.bucket_arn})

    def read_write_policy(self) -> pulumi.Output[str]:
        """JSON of :func:`read_write_policy` for this bucket (for the pipeline's Pod Identity role)."""
        return self.bucket_arn.apply(lambda arn: json.dumps(read_write_policy(arn)))


def _tls_only_policy(bucket_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )
