"""Who runs in a workflow pod: one uid/gid for every container (init, wait, main), as plain data.

Read by the Helm values of Argo (``components/argo_workflows.py``: ``executor.securityContext``,
the identity of the init and wait containers), by the pipeline (``workflows/pipeline.py``: the
pod and container securityContext of every step) and by the local executor's pod emulation
(:mod:`workflows.local.pod`), so the three cannot drift apart. Nothing here imports pulumi.

Why one identity: Argo's executor (v4.0.6, ``workflow/executor/executor.go``) creates the parent
directory of every input artifact with ``os.MkdirAll(dir, 0o700)`` (the GCS driver does the same
for the objects it lists), as the init container's uid. A main container running as another uid
cannot enter ``/work/in`` or ``/work/ref`` ("Permission denied"). The default ``argoexec`` image
runs as root; only ``argoexec-nonroot`` uses uid 8737 (argo-workflows ``Dockerfile``), so with
Pod Security "restricted" (``runAsNonRoot``) the executor's uid must be set explicitly anyway.
"""

from __future__ import annotations

from typing import Any

#: uid of every container of a workflow pod (tool images and Argo's executor alike).
POD_UID = 1000
#: Primary gid of every container of a workflow pod.
POD_GID = 1000
#: The pod's fsGroup: group owner of its emptyDir volumes, a supplementary group of every container.
POD_FS_GROUP = 1000

#: A container that asks for nothing: no root, no privilege escalation, no capabilities, the
#: runtime's seccomp profile (what Pod Security "restricted" demands).
RESTRICTED_CONTAINER: dict[str, Any] = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def executor_security_context(uid: int = POD_UID, gid: int = POD_GID) -> dict[str, Any]:
    """``executor.securityContext`` of the argo-workflows chart: the init and wait containers of
    every workflow pod (the chart copies it into the controller's config, and the controller puts
    it on both containers). The same uid/gid as the tool containers, Pod Security "restricted"."""
    if uid <= 0 or gid <= 0:
        raise ValueError(f"executor_security_context: uid {uid} and gid {gid} must be non-root (> 0)")
    return {**RESTRICTED_CONTAINER, "runAsUser": uid, "runAsGroup": gid, "readOnlyRootFilesystem": True}


#: What the stack installs (and what ``seqstack run`` emulates as root).
EXECUTOR_SECURITY_CONTEXT: dict[str, Any] = executor_security_context()
