"""The Google Cloud APIs a seqstack project needs, enabled before anything that calls them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

#: Every API the GCP stack calls: VPC/NAT, GKE, service accounts and Workload Identity tokens,
#: Artifact Registry, node logs and metrics, the data bucket; Cloud Resource Manager, through
#: which the node account's project-level roles (projects IAMMember) are read and set, and which
#: projects created by API or Terraform do not have on; and Container Scanning, which makes
#: Artifact Registry scan every pushed image for vulnerabilities (as ECR's scan on push does).
REQUIRED_SERVICES: tuple[str, ...] = (
    "cloudresourcemanager.googleapis.com",
    "compute.googleapis.com",
    "container.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "artifactregistry.googleapis.com",
    "containerscanning.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "storage.googleapis.com",
)

_SERVICE = re.compile(r"^[a-z0-9-]+\.googleapis\.com$")


@dataclass(frozen=True)
class GcpApisArgs:
    """Which project, and which APIs to enable in it."""

    project: str
    """GCP project id."""
    services: Sequence[str] = REQUIRED_SERVICES
    """Service names, e.g. ``container.googleapis.com``."""


class GcpApis(pulumi.ComponentResource):
    """Enables the project's APIs and leaves them enabled on ``pulumi destroy``.

    Other components take this one in ``depends_on``: Pulumi registers a component's children
    only after the component itself, which waits for every API here, so nothing calls an API
    before it is on. APIs stay on after destroy because other things in the project may use
    them, and disabling ``compute`` would tear those down too.
    """

    services: list[gcp.projects.Service]
    """One resource per enabled API."""

    def __init__(self, name: str, args: GcpApisArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        bad = [s for s in args.services if not _SERVICE.match(s)]
        if bad or not args.services:
            raise ValueError(f"GcpApis {name}: expected service names like compute.googleapis.com, got {bad}")
        super().__init__("seqstack:gcp:Apis", name, None, opts)
        self.services = [
            gcp.projects.Service(
                f"{name}-{service.split('.')[0]}",
                project=args.project,
                service=service,
                disable_on_destroy=False,
                disable_dependent_services=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for service in args.services
        ]
        self.register_outputs({"services": [s.service for s in self.services]})
