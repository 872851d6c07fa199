"""How components derive the physical names they create: pure Python, no Pulumi import.

The components own these formulas (a data bucket's suffix, a service account's id, a resource
name keyed by a hash); :mod:`stacks.names` checks the results against each cloud's rules when
the config is loaded, before any resource is declared.
"""

from __future__ import annotations

import hashlib

#: GCP service-account ids: 6-30 characters (IAM's rule).
SERVICE_ACCOUNT_ID_LIMIT = 30


def stable_suffix(*parts: str) -> str:
    """8 hex digits from ``parts``: the same on every run, different for another stack or account."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:8]


def s3_bucket_name(prefix: str, account: str, region: str, stack: str) -> str:
    """The AWS data bucket: ``<prefix>-<8 hex>`` from account, region and stack.

    Deterministic, so after ``pulumi destroy`` (the bucket is retained) the next ``pulumi up`` can
    find and adopt the same bucket; unique per stack and account, as S3 names are global.
    """
    return f"{prefix}-{stable_suffix(account, region, stack)}"


def gcs_bucket_name(prefix: str, project: str, stack: str) -> str:
    """The GCP data bucket: ``<prefix>-<8 hex>`` from project and stack (deterministic, unique)."""
    return f"{prefix}-{stable_suffix(project, stack)}"


def service_account_id(prefix: str, suffix: str) -> str:
    """A GCP service-account id ``<prefix>-<suffix>`` of at most 30 characters.

    A prefix too long to fit is cut and followed by 4 hex digits of the whole prefix, so two
    long cluster names that share their first characters still get different ids.
    """
    whole = f"{prefix}-{suffix}"
    if len(whole) <= SERVICE_ACCOUNT_ID_LIMIT:
        return whole
    tag = stable_suffix(prefix)[:4]
    head = prefix[: SERVICE_ACCOUNT_ID_LIMIT - len(suffix) - len(tag) - 2].rstrip("-")
    return f"{head}-{tag}-{suffix}"
