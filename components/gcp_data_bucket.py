"""The GCS bucket holding reads, references and results, locked down and kept across teardowns."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.naming import gcs_bucket_name

_PREFIX = re.compile(r"^[a-z0-9][a-z0-9-]{1,40}$")

#: Object name prefix of intermediate files; everything under it expires.
SCRATCH_PREFIX = "scratch/"


def bucket_name(prefix: str, project: str, stack: str) -> str:
    """``<prefix>-<8 hex digits>``: GCS names are global, so a suffix derived from the project and
    stack makes the name unique to this stack yet stable across runs (no random state to keep).
    """
    return gcs_bucket_name(prefix, project, stack)


@dataclass(frozen=True)
class GcpDataBucketArgs:
    """Naming, location, expiry and retention of the data bucket."""

    project: str
    """GCP project id."""
    location: str
    """Region of the bucket (the cluster's: no cross-region transfer charges)."""
    bucket_prefix: str
    """Bucket name prefix; see :func:`bucket_name` for the suffix."""
    stack: str
    """Stack name, part of the name suffix."""
    scratch_expiration_days: int
    """Days after which objects under ``scratch/`` are deleted."""
    retain: bool = True
    """Leave the bucket in place when the stack is destroyed."""
    adopt: bool = False
    """Import the existing bucket of this name (left by an earlier destroy) instead of creating it."""
    noncurrent_version_days: int = 30
    """Days an overwritten or deleted object version is kept (undo window)."""
    abort_multipart_days: int = 7
    """Days after which unfinished multipart uploads are cleaned up."""

    def __post_init__(self) -> None:
        if not _PREFIX.match(self.bucket_prefix) or "google" in self.bucket_prefix:
            raise ValueError(
                f"GcpDataBucketArgs.bucket_prefix: {self.bucket_prefix!r} must be 2-41 lowercase letters, "
                "digits or - (and GCS forbids 'google' in names)"
            )
        for label in ("scratch_expiration_days", "noncurrent_version_days", "abort_multipart_days"):
            if getattr(self, label) < 1:
                raise ValueError(f"GcpDataBucketArgs.{label}: {getattr(self, label)} must be at least 1")
        if self.adopt and not self.retain:
            raise ValueError("GcpDataBucketArgs.adopt: only a retained bucket can be adopted (retain=True)")


def lifecycle_rules(args: GcpDataBucketArgs) -> list[gcp.storage.BucketLifecycleRuleArgs]:
    """Expire scratch (and its old versions at once), old versions elsewhere, stale uploads."""
    Rule = gcp.storage.BucketLifecycleRuleArgs  # noqa: N806 (type aliases)
    Action = gcp.storage.BucketLifecycleRuleActionArgs  # noqa: N806
    Condition = gcp.storage.BucketLifecycleRuleConditionArgs  # noqa: N806
    return [
        Rule(
            action=Action(type="Delete"),
            condition=Condition(age=args.scratch_expiration_days, matches_prefixes=[SCRATCH_PREFIX]),
        ),
        # Scratch needs no undo window: drop its old versions the day after.
        Rule(
            action=Action(type="Delete"),
            condition=Condition(
                with_state="ARCHIVED", days_since_noncurrent_time=1, matches_prefixes=[SCRATCH_PREFIX]
            ),
        ),
        Rule(
            action=Action(type="Delete"),
            condition=Condition(
                with_state="ARCHIVED", days_since_noncurrent_time=args.noncurrent_version_days
            ),
        ),
        Rule(
            action=Action(type="AbortIncompleteMultipartUpload"),
            condition=Condition(age=args.abort_multipart_days),
        ),
    ]


class GcpDataBucket(pulumi.ComponentResource):
    """A private, versioned bucket with IAM-only access and expiring scratch space.

    Uniform bucket-level access turns object ACLs off (IAM alone decides), public access
    prevention makes a public grant impossible even by mistake. Data outlives the cluster: with
    ``retain`` the bucket is declared with ``retain_on_delete``, so ``pulumi destroy`` succeeds
    in one step and leaves the bucket behind (``protect`` would instead make destroy fail).
    Without ``retain`` (the user chose ``seqstack:retainData false``) ``force_destroy`` is on, so
    the deliberate teardown is one ``pulumi destroy`` on both clouds, as on AWS. The name is fixed
    per project and stack, so after a destroy ``adopt`` imports the retained bucket.
    """

    bucket: gcp.storage.Bucket
    """The bucket."""
    bucket_name: pulumi.Output[str]
    """Bucket name."""

    def __init__(
        self, name: str, args: GcpDataBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("seqstack:gcp:DataBucket", name, None, opts)
        physical = bucket_name(args.bucket_prefix, args.project, args.stack)
        self.bucket = gcp.storage.Bucket(
            f"{name}-bucket",
            name=physical,
            project=args.project,
            location=args.location.upper(),
            storage_class="STANDARD",
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            # An overwritten result or a mistaken `rm` can be undone for noncurrent_version_days.
            versioning=gcp.storage.BucketVersioningArgs(enabled=True),
            lifecycle_rules=lifecycle_rules(args),
            # Only when the user chose not to keep the data may destroy delete a non-empty bucket.
            force_destroy=not args.retain,
            # Redeploy after destroy: the name is fixed, so without import the create would get
            # 409 "already exists". Importing needs the settings above to match the bucket's.
            opts=pulumi.ResourceOptions(
                parent=self,
                retain_on_delete=args.retain,
                import_=f"{args.project}/{physical}" if args.adopt else None,
            ),
        )
        self.bucket_name = self.bucket.name
        self.register_outputs({"bucketName": self.bucket_name})
