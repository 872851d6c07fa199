"""Pod identities: the uid, gid and groups each container of a pod runs as, from the pod's and
the container's securityContext by Kubernetes' rules (:mod:`workflows.local.pod` uses them)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
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


#: The :class:`subprocess.Popen` keywords of :meth:`Identity.popen` that make CPython fork.
IDENTITY_KEYWORDS = ("user", "group", "extra_groups")


@cache
def setpriv() -> str | None:
    """util-linux's ``setpriv`` (Debian's essential util-linux ships it), or None."""
    return shutil.which("setpriv", path=os.defpath)


def exec_as(command: Sequence[str], popen: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """``command`` and Popen keywords that start it as the identity in ``popen`` (see
    :meth:`Identity.popen`) through ``setpriv``, which sets the groups, gid and uid and then
    execs ``command`` in the same process.

    Given ``user``, ``group`` or ``extra_groups``, CPython forks the whole executor for each
    process (it uses vfork only when the child changes no ids), and a fork of an executor that
    has Hera loaded and a thread per running task costs it milliseconds of CPU, with the GIL
    held, per task: on a sheet of 32 small samples (97 tasks) the executor's own CPU was 3.9-4.3 s
    with those forks and 3.2-3.7 s without. The same system calls made by ``setpriv`` after the
    exec leave the executor's side a vfork. What the command sees is the same: uid, gid, groups,
    umask, cwd, session and environment, and the same pid. A command that cannot be executed
    ends the process with setpriv's line on its log and exit code 127 (not found) or 126, as a
    shell says it. Without ``setpriv``, or with no identity to take, the keywords are returned as
    they are.
    """
    tool = setpriv()
    if tool is None or "user" not in popen or "group" not in popen:  # not an Identity's
        return list(command), dict(popen)
    rest = {k: v for k, v in popen.items() if k not in IDENTITY_KEYWORDS}
    groups = [str(g) for g in popen.get("extra_groups") or []]
    ids = [f"--reuid={popen['user']}", f"--regid={popen['group']}"]
    ids.append(f"--groups={','.join(groups)}" if groups else "--clear-groups")
    return [tool, *ids, "--", *command], rest


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
