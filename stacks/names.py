"""Physical names derived from stack config, and the cloud's rules for each, checked at config load.

Every name here must be unique within an account/region (AWS) or project (GCP), or globally
(buckets), and each cloud has its own length and character rules. They are derived from
``seqstack:clusterName`` (default ``seqstack-<stack>``, so two stacks on defaults in one account
never share a name) and ``seqstack:dataBucketPrefix`` plus a hash that includes the stack.
:func:`check_names` derives every one of them from the validated config and raises a
:class:`stacks.config.ConfigError` naming the key and the derived name that a cloud would refuse,
before any resource is declared. Pure Python: no Pulumi import, no cloud call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from components.naming import gcs_bucket_name, s3_bucket_name, service_account_id

if TYPE_CHECKING:
    from stacks.config import StackConfig

#: The default cluster name is this, ``-`` and the stack name.
CLUSTER_NAME_PREFIX = "seqstack"

_EKS_CLUSTER = re.compile(r"^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$")
_LOG_GROUP = re.compile(r"^[\.\-_/#A-Za-z0-9]{1,512}$")
_ECR_REPOSITORY = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_GKE_CLUSTER = re.compile(r"^[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?$")
_SERVICE_ACCOUNT_ID = re.compile(r"^[a-z](?:[-a-z0-9]{4,28}[a-z0-9])$")
_ARTIFACT_REPOSITORY = re.compile(r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


def default_cluster_name(stack: str) -> str:
    """``seqstack-<stack>``, the stack name lowercased with anything but letters and digits as ``-``.

    Names that must be unique per account/region or project start from the cluster name, so a
    second stack left on defaults gets names of its own instead of "already exists".
    """
    slug = re.sub(r"[^a-z0-9]+", "-", stack.lower()).strip("-")
    return f"{CLUSTER_NAME_PREFIX}-{slug}" if slug else CLUSTER_NAME_PREFIX


@dataclass(frozen=True)
class DerivedName:
    """One physical name, where it comes from, and whether the cloud accepts it."""

    key: str
    """The config key it is derived from (``seqstack:clusterName``)."""
    what: str
    """What it names, e.g. ``EKS cluster``."""
    name: str
    """The name itself."""
    rule: str
    """The cloud's rule, in words."""
    valid: bool
    """Whether the name follows the rule."""


def derived_names(cfg: StackConfig, images: tuple[str, ...]) -> list[DerivedName]:
    """Every account-, project- or globally-unique name the stack creates, with its rule checked."""
    from stacks.config import Cloud

    cluster = cfg.cluster_name
    cluster_key = "seqstack:clusterName"
    bucket_key = "seqstack:dataBucketPrefix"
    names: list[DerivedName] = []

    def add(key: str, what: str, name: str, rule: str, valid: bool) -> None:
        names.append(DerivedName(key=key, what=what, name=name, rule=rule, valid=valid))

    if cfg.cloud is Cloud.AWS:
        add(
            cluster_key,
            "EKS cluster",
            cluster,
            "1-100 letters, digits, - or _, starting with a letter or digit",
            bool(_EKS_CLUSTER.match(cluster)),
        )
        log_group = f"/aws/eks/{cluster}/cluster"
        add(
            cluster_key,
            "CloudWatch log group",
            log_group,
            "1-512 of letters, digits, . - _ / #",
            bool(_LOG_GROUP.match(log_group)),
        )
        for image in images:
            repo = f"{cluster}/{image}"
            add(
                cluster_key,
                "ECR repository",
                repo,
                "2-256 lowercase letters and digits, single . _ - or / between them",
                2 <= len(repo) <= 256 and bool(_ECR_REPOSITORY.match(repo)),
            )
        # The account is known only at run time; the suffix has a fixed length, so the shape
        # (and the length) is checked with a placeholder of the same size.
        bucket = s3_bucket_name(cfg.data_bucket_prefix, "0" * 12, cfg.region, cfg.stack)
        add(bucket_key, "S3 bucket", bucket, _S3_RULE, _s3_ok(bucket))
    else:
        add(
            cluster_key,
            "GKE cluster",
            cluster,
            "1-40 lowercase letters, digits or -, starting with a letter, not ending with -",
            bool(_GKE_CLUSTER.match(cluster)),
        )
        for suffix in ("nodes", "workflows"):
            account = service_account_id(cluster, suffix)
            add(
                cluster_key,
                "service account id",
                account,
                "6-30 lowercase letters, digits or -, starting with a letter, not ending with -",
                bool(_SERVICE_ACCOUNT_ID.match(account)),
            )
        add(
            cluster_key,
            "Artifact Registry repository",
            cluster,
            "1-63 lowercase letters, digits or -, starting with a letter, not ending with -",
            bool(_ARTIFACT_REPOSITORY.match(cluster)),
        )
        bucket = gcs_bucket_name(cfg.data_bucket_prefix, str(cfg.project), cfg.stack)
        add(
            bucket_key,
            "GCS bucket",
            bucket,
            "3-63 lowercase letters, digits or -, no 'goog' prefix, no 'google' in it",
            bool(_BUCKET.match(bucket)) and not bucket.startswith("goog") and "google" not in bucket,
        )
    return names


_S3_RULE = (
    "3-63 lowercase letters, digits or -, starting and ending with a letter or digit, no "
    "'xn--', 'sthree-' or 'amzn-s3-demo-' prefix"
)


def _s3_ok(name: str) -> bool:
    return (
        bool(_BUCKET.match(name))
        and not name.startswith(("xn--", "sthree-", "amzn-s3-demo-"))
        and not name.endswith(("-s3alias", "--ol-s3", "--x-s3", "--table-s3"))
    )


def check_names(cfg: StackConfig) -> None:
    """Raise a ConfigError naming the key and the derived name the cloud would refuse."""
    from stacks.config import ConfigError
    from workflows.contract import IMAGE_NAMES

    for derived in derived_names(cfg, tuple(IMAGE_NAMES)):
        if not derived.valid:
            raise ConfigError(
                f"{derived.key}: gives the {derived.what} name {derived.name!r} "
                f"({len(derived.name)} characters), which {cfg.cloud.value.upper()} refuses: {derived.rule}"
            )
