"""ECR repositories for the pipeline's tool images."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

_REPO_PART = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")


@dataclass(frozen=True)
class AwsRegistryArgs:
    """Which repositories to create and how long to keep images."""

    namespace: str
    """Repository name prefix (the cluster name), so two stacks in one account do not collide."""
    images: Sequence[str]
    """Image names; one repository ``<namespace>/<image>`` each."""
    untagged_expiry_days: int = 7
    """Days after which untagged images (left over from interrupted pushes) are deleted."""

    def __post_init__(self) -> None:
        for part in (self.namespace, *self.images):
            if not _REPO_PART.match(part):
                raise ValueError(f"AwsRegistryArgs: {part!r} is not a valid ECR repository name part")
        if not self.images:
            raise ValueError("AwsRegistryArgs.images: at least one image is needed")
        if self.untagged_expiry_days < 1:
            raise ValueError(
                f"AwsRegistryArgs: untagged_expiry_days ({self.untagged_expiry_days}) must be at least 1"
            )


def lifecycle_policy(untagged_expiry_days: int) -> str:
    """ECR lifecycle policy: expire untagged images after N days; never a tagged one.

    Every image the stack pushes has an immutable content tag, and each WorkflowTemplate
    version pins one of them by digest; a rule that expires old tagged images ("keep the last
    20") would delete what an older template version, or a resubmitted workflow, still pulls.
    Tagged images are only added when a Dockerfile changes, so keeping them all costs little.
    ECR ties the untagged child manifests of a tagged image index to their parent, so the
    untagged rule does not remove them (DefangLabs/pulumi-defang#466 measured it).
    """
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"expire untagged images after {untagged_expiry_days} days",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": untagged_expiry_days,
                    },
                    "action": {"type": "expire"},
                },
            ]
        }
    )


class AwsRegistry(pulumi.ComponentResource):
    """One private ECR repository per tool image: scanned on push, immutable tags, encrypted.

    Immutable tags mean a tag always names the same image, so a workflow pinned to it is
    reproducible. ``force_delete`` lets ``pulumi destroy`` remove repositories that still hold
    images (the 2021 seed's ``prevent_destroy`` blocked teardown): images are rebuilt from
    ``containers/`` in minutes, unlike the data in the bucket.
    """

    repositories: dict[str, aws.ecr.Repository]
    """Repositories by image name."""
    repository_urls: dict[str, pulumi.Output[str]]
    """``<account>.dkr.ecr.<region>.amazonaws.com/<namespace>/<image>`` by image name."""
    registry: pulumi.Output[str]
    """The registry host, ``<account>.dkr.ecr.<region>.amazonaws.com``."""

    def __init__(self, name: str, args: AwsRegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("seqstack:aws:Registry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        policy = lifecycle_policy(args.untagged_expiry_days)

        self.repositories = {}
        for image in args.images:
            repo = aws.ecr.Repository(
                f"{name}-{image}",
                name=f"{args.namespace}/{image}",
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                    scan_on_push=True
                ),
                encryption_configurations=[
                    aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="AES256")
                ],
                force_delete=True,
                opts=child,
            )
            aws.ecr.LifecyclePolicy(
                f"{name}-{image}-lifecycle", repository=repo.name, policy=policy, opts=child
            )
            self.repositories[image] = repo

        self.repository_urls = {image: repo.repository_url for image, repo in self.repositories.items()}
        first = self.repository_urls[args.images[0]]
        self.registry = first.apply(lambda url: url.split("/", 1)[0])
        self.register_outputs({"registry": self.registry, "repositoryUrls": self.repository_urls})
