"""Two Google service accounts: one for the nodes, one for the pipeline pods."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp

from components.naming import service_account_id

#: What a GKE node needs and nothing more: write logs and metrics, let GKE read metadata, pull
#: images from Artifact Registry. (Google's "least privilege node service account" set.)
NODE_ROLES: tuple[str, ...] = (
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/artifactregistry.reader",
)

#: The OAuth scope nodes get: all of Google Cloud, so that IAM roles alone decide what a node
#: may do (narrower legacy scopes would silently cut roles short).
NODE_OAUTH_SCOPES: tuple[str, ...] = ("https://www.googleapis.com/auth/cloud-platform",)


def node_lockdown(shielded_args: Any, metadata_args: Any) -> dict[str, Any]:
    """The node settings every GKE node gets, the cluster's short-lived default pool included:
    the nodes' scope, Shielded VM (secure boot, integrity monitoring), and ``GKE_METADATA`` so that
    pods see their own Workload Identity, never the node's account. Keyword arguments of a node
    config; ``shielded_args`` and ``metadata_args`` are that config's own input classes (the
    cluster's and a node pool's are distinct types with the same fields)."""
    return {
        "oauth_scopes": list(NODE_OAUTH_SCOPES),
        "shielded_instance_config": shielded_args(enable_secure_boot=True, enable_integrity_monitoring=True),
        "workload_metadata_config": metadata_args(mode="GKE_METADATA"),
    }


#: Read, write, list and delete objects; no bucket settings, no IAM changes.
WORKLOAD_BUCKET_ROLE = "roles/storage.objectUser"


def account_id(prefix: str, suffix: str) -> str:
    """A service account id (6-30 chars, ``[a-z][a-z0-9-]*[a-z0-9]``) from a prefix and a suffix;
    a prefix too long to fit is cut and tagged with a hash of it
    (:func:`components.naming.service_account_id`), so two long cluster names in one project never
    share an id."""
    return service_account_id(prefix, suffix)


@dataclass(frozen=True)
class GcpIdentitiesArgs:
    """The project, a name prefix, and the bucket the pipeline pods may use."""

    project: str
    """GCP project id."""
    name_prefix: str
    """Start of both account ids (the cluster name; cut to fit 30 characters)."""
    data_bucket: pulumi.Input[str]
    """Name of the data bucket the workload account may read and write."""


class GcpIdentities(pulumi.ComponentResource):
    """A node service account and a separate workload service account.

    The seed ran nodes and pods as one account with project-wide roles, so every pod could do
    what the node could, in every bucket. Here the node account only ships logs and metrics and
    pulls images, and the workload account gets object access on the data bucket alone. The
    cluster binds the workload account to the pipeline's Kubernetes ServiceAccount through
    Workload Identity (:class:`components.gcp_gke_cluster.GkeCluster`), because that binding
    needs the cluster's identity pool to exist.
    """

    node_account: gcp.serviceaccount.Account
    """The nodes' account (set as each node pool's service account)."""
    workload_account: gcp.serviceaccount.Account
    """The pipeline pods' account (reached through Workload Identity)."""

    def __init__(
        self, name: str, args: GcpIdentitiesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9-]{3,}", args.name_prefix):
            raise ValueError(
                f"GcpIdentities {name}: name_prefix {args.name_prefix!r} must start with a letter and "
                "be at least 4 lowercase letters, digits or -"
            )
        super().__init__("seqstack:gcp:Identities", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.node_account = gcp.serviceaccount.Account(
            f"{name}-nodes",
            project=args.project,
            account_id=account_id(args.name_prefix, "nodes"),
            display_name=f"{args.name_prefix} GKE nodes (logs, metrics, image pulls)",
            opts=child,
        )
        for role in NODE_ROLES:
            gcp.projects.IAMMember(
                f"{name}-nodes-{role.split('/')[1].replace('.', '-')}",
                project=args.project,
                role=role,
                member=self.node_account.member,
                opts=child,
            )
        self.workload_account = gcp.serviceaccount.Account(
            f"{name}-workflows",
            project=args.project,
            account_id=account_id(args.name_prefix, "workflows"),
            display_name=f"{args.name_prefix} pipeline pods (data bucket objects only)",
            opts=child,
        )
        # On the bucket, not the project: the pods can touch no other bucket in the project.
        gcp.storage.BucketIAMMember(
            f"{name}-workflows-data",
            bucket=args.data_bucket,
            role=WORKLOAD_BUCKET_ROLE,
            member=self.workload_account.member,
            opts=child,
        )
        self.register_outputs(
            {"nodeAccount": self.node_account.email, "workloadAccount": self.workload_account.email}
        )
