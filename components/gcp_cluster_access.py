"""Project IAM grants that let listed people and CI identities reach the GKE cluster."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.naming import stable_suffix

#: Project roles by access level: ``container.admin`` reaches every cluster and Kubernetes object,
#: ``container.viewer`` reads them (not Secrets) and writes nothing.
GKE_ADMIN_ROLE = "roles/container.admin"
GKE_VIEW_ROLE = "roles/container.viewer"

_MEMBER = re.compile(r"^(user|group|serviceAccount|principal|principalSet)[:/]")


@dataclass(frozen=True)
class GcpClusterAccessArgs:
    """The project and who gets which access."""

    project: str
    """GCP project id of the cluster."""
    admin_members: Sequence[str] = ()
    """IAM members given ``roles/container.admin`` (every cluster and Kubernetes object)."""
    view_members: Sequence[str] = ()
    """IAM members given ``roles/container.viewer`` (read-only, no Secrets), e.g. the PR preview."""

    def __post_init__(self) -> None:
        for member in (*self.admin_members, *self.view_members):
            if not _MEMBER.match(member):
                raise ValueError(f"GcpClusterAccessArgs: {member!r} is not an IAM member")
        overlap = set(self.admin_members) & set(self.view_members)
        if overlap:
            raise ValueError(f"GcpClusterAccessArgs: {sorted(overlap)} are both admin and read-only")


class GcpClusterAccess(pulumi.ComponentResource):
    """One non-authoritative project IAM binding per member (other members of a role are untouched).

    GKE checks IAM before RBAC: ``container.clusters.get`` lets a member fetch credentials, and
    the ``container.*`` Kubernetes permissions of the role decide what it may do inside. Project
    scope is the only scope these roles have; they reach every GKE cluster in the project.
    """

    def __init__(
        self, name: str, args: GcpClusterAccessArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("seqstack:gcp:ClusterAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        grants = [(m, GKE_ADMIN_ROLE, "admin") for m in args.admin_members] + [
            (m, GKE_VIEW_ROLE, "view") for m in args.view_members
        ]
        # Keyed by a hash of the member, so reordering the config list replaces nothing.
        self.members = [
            gcp.projects.IAMMember(
                f"{name}-{level}-{stable_suffix(member)}",
                project=args.project,
                role=role,
                member=member,
                opts=child,
            )
            for member, role, level in grants
        ]
        self.register_outputs({})
