"""Pod identities: the uid, gid and groups each container of a pod runs as, from the pod's and
the container's securityContext by Kubernetes' rules (:mod:`workflows.local.pod` uses them)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Umask of a container's processes (the runtime's default).
CONTAINER_UMASK = 0o022


class PodError(RuntimeError):
    """A pod cannot be emulated as written (a missing uid, a root uid under runAsNonRoot)."""


@dataclass(frozen=True)
class Identity:
    """A container's uid, primary gid and supplementary groups."""

    uid: int
    """runAsUser."""
    gid: int
    """runAsGroup (0 when neither the container nor the pod sets it, as the runtime does for a
    uid without a passwd entry)."""
    groups: tuple[int, ...] = ()
    """Supplementary groups: the pod's fsGroup and supplementalGroups."""

    def popen(self) -> dict[str, Any]:
        """Keyword arguments for :class:`subprocess.Popen` that start a process as this identity."""
        return {
            "user": self.uid,
            "group": self.gid,
            "extra_groups": list(self.groups),
            "umask": CONTAINER_UMASK,
        }


def identity(
    container: Mapping[str, Any] | None, pod: Mapping[str, Any] | None, what: str
) -> Identity | None:
    """The identity of a container from its securityContext over the pod's (Kubernetes' rule:
    the container's field wins). ``None`` when neither sets ``runAsUser`` (the image decides)."""
    c, p = dict(container or {}), dict(pod or {})
    uid = c.get("runAsUser", p.get("runAsUser"))
    if uid is None:
        return None
    gid = c.get("runAsGroup", p.get("runAsGroup", 0))
    non_root = c.get("runAsNonRoot", p.get("runAsNonRoot", False))
    if int(uid) == 0 and non_root:
        raise PodError(f"{what}: runAsUser 0 with runAsNonRoot (the kubelet would not start it)")
    groups = {int(g) for g in p.get("supplementalGroups") or []}
    if p.get("fsGroup") is not None:
        groups.add(int(p["fsGroup"]))
    return Identity(int(uid), int(gid), tuple(sorted(groups - {int(gid)})))


def emulating_identities() -> bool:
    """Identities can be emulated only by root (setuid/setgid for the child processes)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0
