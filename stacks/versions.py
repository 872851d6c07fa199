"""Kubernetes minors a stack may run, with each cloud's standard-support window.

One table per cloud, written down on :data:`CHECKED` from the providers' published calendars.
Config validation refuses a minor the table does not list, and a minor whose standard support
had already ended on :data:`CHECKED` (it would run on paid extended support on EKS, and GKE's
REGULAR channel no longer offers it for new clusters). A listed minor whose end has passed
since then is *not* refused (that would break an unchanged stack on a date, with no code
change): :func:`support_note` says so, and ``pulumi up`` and ``seqstack cost`` print it.

The Cluster Autoscaler pin for each minor (AWS only; GKE runs its own) lives beside its use,
in :data:`components.cluster_autoscaler.CHART_BY_MINOR`; a test keeps the two tables in step.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

#: When the tables below were checked against the sources named in them.
CHECKED = dt.date(2026, 11, 30)

#: The default minor: in standard support on both clouds on CHECKED, with an autoscaler release.
DEFAULT_MINOR = "1.35"


@dataclass(frozen=True)
class Support:
    """One minor's standard-support window on one cloud."""

    released: dt.date
    """When the cloud made the minor available (EKS release; GKE REGULAR-channel availability)."""
    standard_until: dt.date
    """Last day of standard support; afterwards EKS bills extended support, GKE upgrades it."""
    source: str
    """Where the dates come from."""


_EKS_CALENDAR = "EKS release calendar (docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html)"
_EKS_135 = (
    "endoflife.date/amazon-eks (EKS 1.35 released 2026-01-28, 14 months of standard support); "
    "the EKS calendar page stored here predates 1.35"
)
_GKE = (
    "endoflife.date/google-kubernetes-engine, copying GKE's estimated release schedule "
    "(cloud.google.com/kubernetes-engine/docs/release-schedule, dates are GKE's estimates)"
)

#: Standard support per cloud and minor. 1.36 is left out: no Cluster Autoscaler chart carried
#: appVersion 1.36 when this was checked, and neither cloud's 1.36 dates could be confirmed.
SUPPORT: dict[str, dict[str, Support]] = {
    "aws": {
        "1.33": Support(dt.date(2025, 5, 29), dt.date(2026, 7, 29), _EKS_CALENDAR),
        "1.34": Support(dt.date(2025, 10, 2), dt.date(2026, 12, 2), _EKS_CALENDAR),
        "1.35": Support(dt.date(2026, 1, 28), dt.date(2027, 3, 27), _EKS_135),
    },
    "gcp": {
        "1.33": Support(dt.date(2025, 6, 3), dt.date(2026, 8, 3), _GKE),
        # GKE's schedule gave 1.34 an earlier end than its 14-month rule would (2026-11-30).
        "1.34": Support(dt.date(2025, 9, 30), dt.date(2026, 10, 1), _GKE),
        "1.35": Support(dt.date(2026, 2, 11), dt.date(2027, 4, 11), _GKE),
    },
}


class VersionError(ValueError):
    """A Kubernetes minor the stack cannot use; the message names the key and the reason."""


def support(cloud: str, minor: str) -> Support:
    """The support window of ``minor`` on ``cloud``, or a :class:`VersionError` naming the choices."""
    table = SUPPORT[cloud]
    if minor not in table:
        usable = [m for m, s in table.items() if s.standard_until >= CHECKED]
        raise VersionError(
            f"seqstack:kubernetesVersion: {minor} is not a Kubernetes minor seqstack knows on {cloud} "
            f"(use one of {', '.join(usable)}; see stacks/versions.py)"
        )
    return table[minor]


def check_minor(cloud: str, minor: str) -> Support:
    """Refuse a minor unknown on ``cloud`` or already out of standard support when checked."""
    window = support(cloud, minor)
    if window.standard_until < CHECKED:
        usable = [m for m, s in SUPPORT[cloud].items() if s.standard_until >= CHECKED]
        raise VersionError(
            f"seqstack:kubernetesVersion: {minor} left standard support on {cloud} on "
            f"{window.standard_until.isoformat()} (use one of {', '.join(usable)})"
        )
    return window


def support_note(cloud: str, minor: str, today: dt.date) -> str:
    """One sentence: when ``minor``'s standard support ends on ``cloud``, or that it has ended."""
    window = support(cloud, minor)
    end = window.standard_until.isoformat()
    if today > window.standard_until:
        consequence = (
            "EKS now bills extended support for the control plane"
            if cloud == "aws"
            else "GKE upgrades the cluster to a newer minor on its own"
        )
        return (
            f"Kubernetes {minor} left standard support on {cloud} on {end}: {consequence}; "
            "move seqstack:kubernetesVersion to a newer minor"
        )
    days = (window.standard_until - today).days
    return f"Kubernetes {minor} is in standard support on {cloud} until {end} ({days} days left)"
