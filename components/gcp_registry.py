"""An Artifact Registry Docker repository for the pipeline's tool images."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

_DAY_SECONDS = 24 * 3600
_REPO_ID = re.compile(r"^[a-z][a-z0-9-]{0,61}[a-z0-9]$")


@dataclass(frozen=True)
class GcpRegistryArgs:
    """Where the repository lives and how long images are kept."""

    project: str
    """GCP project id."""
    region: str
    """Region of the repository (same as the cluster: free, fast pulls)."""
    repository_id: str
    """Repository name, e.g. the cluster name."""
    images: Sequence[str]
    """Image names the repository holds (documentation in its description)."""
    untagged_expiry_days: int = 7
    """Days after which untagged images (left over from interrupted pushes) are deleted."""
    keep_recent: int = 20
    """Versions per image always kept, however old (tagged ones are never deleted anyway)."""

    def __post_init__(self) -> None:
        if not _REPO_ID.match(self.repository_id):
            raise ValueError(f"GcpRegistryArgs: {self.repository_id!r} is not a valid repository id")
        if not self.images:
            raise ValueError("GcpRegistryArgs.images: at least one image is needed")
        if self.untagged_expiry_days < 1 or self.keep_recent < 1:
            raise ValueError(
                f"GcpRegistryArgs: untagged_expiry_days ({self.untagged_expiry_days}) and "
                f"keep_recent ({self.keep_recent}) must be at least 1"
            )


def cleanup_policies(
    untagged_expiry_days: int, keep_recent: int
) -> list[gcp.artifactregistry.RepositoryCleanupPolicyArgs]:
    """Delete untagged images after N days; never a tagged one; always keep the newest versions.

    Every image the stack pushes has an immutable content tag and each WorkflowTemplate version
    pins one of them by digest, so deleting tagged images by age would break an older template
    version still installed or resubmitted. In Artifact Registry a KEEP policy wins over every
    DELETE policy, so the newest ``keep_recent`` versions of each image survive as well.
    """

    def older_than(days: int) -> str:
        return f"{days * _DAY_SECONDS}s"

    Policy = gcp.artifactregistry.RepositoryCleanupPolicyArgs  # noqa: N806 (a type alias)
    Condition = gcp.artifactregistry.RepositoryCleanupPolicyConditionArgs  # noqa: N806
    return [
        Policy(
            id="delete-untagged",
            action="DELETE",
            condition=Condition(tag_state="UNTAGGED", older_than=older_than(untagged_expiry_days)),
        ),
        Policy(
            id="keep-recent",
            action="KEEP",
            most_recent_versions=gcp.artifactregistry.RepositoryCleanupPolicyMostRecentVersionsArgs(
                keep_count=keep_recent
            ),
        ),
    ]


class GcpRegistry(pulumi.ComponentResource):
    """One private Docker repository holding every tool image, with immutable tags.

    Container Registry (gcr.io) is shut down; Artifact Registry replaces it. Immutable tags mean
    a tag always names the same image, so a workflow pinned to it is reproducible. Deleting the
    repository on ``pulumi destroy`` is fine: images are rebuilt from ``containers/`` in minutes.
    """

    repository: gcp.artifactregistry.Repository
    """The repository."""
    url: pulumi.Output[str]
    """Push/pull prefix, ``<region>-docker.pkg.dev/<project>/<repository>``."""

    def __init__(self, name: str, args: GcpRegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("seqstack:gcp:Registry", name, None, opts)
        self.repository = gcp.artifactregistry.Repository(
            f"{name}-docker",
            project=args.project,
            location=args.region,
            repository_id=args.repository_id,
            format="DOCKER",
            description=f"seqstack tool images: {', '.join(args.images)}",
            docker_config=gcp.artifactregistry.RepositoryDockerConfigArgs(immutable_tags=True),
            cleanup_policies=cleanup_policies(args.untagged_expiry_days, args.keep_recent),
            cleanup_policy_dry_run=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Built from the repository's outputs, so pushes to it wait until it exists.
        self.url = pulumi.Output.concat(
            self.repository.location,
            "-docker.pkg.dev/",
            self.repository.project,
            "/",
            self.repository.repository_id,
        )
        self.register_outputs({"url": self.url})
