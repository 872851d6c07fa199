"""Who may reach the cluster besides its creator: admins, and the read-only PR-preview identity.

On AWS the cluster authenticates with EKS access entries only (``authentication_mode=API``) and
EKS gives an entry to the identity that created the cluster alone, so every other person, CI
deploy role or preview role needs an entry of its own, or every Helm release and Kubernetes
object fails with Unauthorized for them. ``seqstack:adminPrincipals`` lists IAM role/user ARNs
that get ``AmazonEKSClusterAdminPolicy`` on the whole cluster; ``seqstack:previewPrincipal`` gets
``AmazonEKSViewPolicy`` (reads most objects, not Secrets, writes nothing).

On GCP, reaching a GKE cluster takes the IAM permission ``container.clusters.get`` and, inside
the cluster, what IAM (``container.*`` permissions) or Kubernetes RBAC allow. The same keys hold
IAM members (``user:``, ``group:``, ``serviceAccount:``, ``principal://``, ``principalSet://``):
admins get ``roles/container.admin`` on the project, the preview identity
``roles/container.viewer`` (read-only, no Secrets).

This module is pure: it validates the keys (called from :func:`stacks.config.parse_config`) and
turns them into a list of grants. The policy and role names are the components' vocabulary
(:mod:`components.aws_eks_cluster`, :mod:`components.gcp_cluster_access`); the stacks hand them
the admin and read-only principals as flat lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stacks.config import StackConfig

_IAM_PRINCIPAL = re.compile(r"^arn:aws(-cn|-us-gov|-iso[a-z]?)?:iam::\d{12}:(role|user)/[\w+=,.@/-]{1,512}$")
_GCP_MEMBER = re.compile(
    r"^((user|group|serviceAccount):[^@\s:]+@[^@\s:]+\.[a-z]{2,}|principal(Set)?://iam\.googleapis\.com/\S+)$"
)


class AccessLevel(StrEnum):
    """What a principal may do in the cluster."""

    ADMIN = "admin"
    VIEW = "view"


@dataclass(frozen=True)
class AccessGrant:
    """One principal and the access it gets."""

    principal: str
    """IAM role/user ARN (AWS) or IAM member (GCP)."""
    level: AccessLevel
    """Admin or read-only."""
    key: str
    """The config key it came from, for messages."""


def grants(cfg: StackConfig) -> list[AccessGrant]:
    """Admins in config order, then the preview principal (if any)."""
    found = [AccessGrant(p, AccessLevel.ADMIN, "seqstack:adminPrincipals") for p in cfg.admin_principals]
    if cfg.preview_principal:
        found.append(AccessGrant(cfg.preview_principal, AccessLevel.VIEW, "seqstack:previewPrincipal"))
    return found


def check_access(cfg: StackConfig) -> None:
    """Every principal well-formed for its cloud, none listed twice, the preview one not an admin."""
    from stacks.config import Cloud, ConfigError

    seen: set[str] = set()
    for grant in grants(cfg):
        if cfg.cloud is Cloud.AWS:
            if ":sts::" in grant.principal:
                raise ConfigError(
                    f"{grant.key}: {grant.principal!r} is a session ARN; EKS access entries take the "
                    "role ARN (arn:aws:iam::<account>:role/<name>)"
                )
            if not _IAM_PRINCIPAL.match(grant.principal):
                raise ConfigError(
                    f"{grant.key}: {grant.principal!r} is not an IAM role or user ARN "
                    "(arn:aws:iam::<12-digit account>:role/<name> or :user/<name>)"
                )
        elif not _GCP_MEMBER.match(grant.principal):
            raise ConfigError(
                f"{grant.key}: {grant.principal!r} is not an IAM member (user:, group: or "
                "serviceAccount: and an email, or a principal:// / principalSet:// identifier)"
            )
        if grant.principal in seen:
            other = "seqstack:adminPrincipals" if grant.level is AccessLevel.VIEW else grant.key
            raise ConfigError(
                f"{grant.key}: {grant.principal!r} is already listed in {other} "
                "(one principal, one access level)"
            )
        seen.add(grant.principal)
