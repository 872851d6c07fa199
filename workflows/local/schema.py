"""Which parts of an Argo Workflow the local executor runs, accepts as not applicable, or rejects.

The executor interprets the rendered Workflow objects themselves, so every field of them must be
accounted for: a field it does not know is an ERROR (never silently ignored), and fields that only
steer Kubernetes scheduling or cluster housekeeping are accepted explicitly as not applicable on
one machine. :func:`check_supported` walks an object and returns every problem with its path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Fields that only steer Kubernetes scheduling, pod security or cluster housekeeping. On one
#: machine they have no meaning: the process runs as the current user with the tools on PATH, and
#: concurrency is bounded by the CPU budget. Accepted, not applicable locally.
NOT_APPLICABLE: frozenset[str] = frozenset(
    {
        "nodeSelector",
        "tolerations",
        "affinity",
        "resources",  # except cpu requests, read as the task's share of the CPU budget
        "securityContext",  # its uids and fsGroup are emulated as root (workflows.local.pod)
        "serviceAccountName",
        "automountServiceAccountToken",
        "podGC",
        "ttlStrategy",
        "priorityClassName",
        "podPriorityClassName",
        "schedulerName",
        "imagePullSecrets",
        "imagePullPolicy",
        "image",  # tools come from PATH locally
        "metadata",  # pod labels and annotations
        "podMetadata",
        "workflowMetadata",
        "podDisruptionBudget",
        "archiveLogs",
        "archiveLocation",
        "artifactRepositoryRef",
        "artifactGC",
        "parallelism",  # the CPU budget bounds concurrency locally
        "hostNetwork",
        "dnsPolicy",
        "dnsConfig",
        "executor",
    }
)

_CONTAINER: dict[str, str | None] = {
    "name": None,
    "command": None,
    "args": None,
    "env": "env[]",
    "workingDir": None,
    "volumeMounts": "mount[]",
}

# Fields the executor implements, per object kind. A value is either None (leaf, any value) or
# the name of the kind to recurse into (a "[]" suffix means a list of that kind).
_KINDS: dict[str, dict[str, str | None]] = {
    "object": {"apiVersion": None, "kind": None, "metadata": "objectmeta", "spec": "spec"},
    "objectmeta": {
        "name": None,
        "generateName": None,
        "namespace": None,
        "labels": None,
        "annotations": None,
    },
    "spec": {
        "entrypoint": None,
        "arguments": "arguments",
        "templates": "template[]",
        "workflowTemplateRef": "wftref",
        "volumes": "volume[]",
        "retryStrategy": "retry",
        "activeDeadlineSeconds": None,
    },
    "wftref": {"name": None},
    "volume": {"name": None, "emptyDir": None},
    "arguments": {"parameters": "param[]", "artifacts": "artifact[]"},
    "param": {"name": None, "value": None, "default": None, "enum": None, "description": None},
    "outparam": {"name": None, "value": None, "valueFrom": "valuefrom", "description": None},
    "valuefrom": {"path": None, "default": None, "parameter": None},
    "artifact": {
        "name": None,
        "path": None,
        "optional": None,
        "mode": None,
        "archive": "archive",
        "plugin": "plugin",
        "from": None,
        "raw": "raw",
        "recurseMode": None,
    },
    "archive": {"none": None},
    "plugin": {"name": None, "key": None, "configuration": None},
    "raw": {"data": None},
    "template": {
        "name": None,
        "inputs": "inputs",
        "outputs": "outputs",
        "container": "container",
        "script": "script",
        "dag": "dag",
        "retryStrategy": "retry",
        "activeDeadlineSeconds": None,
        "timeout": None,
        "volumes": "volume[]",
        "synchronization": "sync",
        "failFast": None,  # only false is accepted (see check_supported)
    },
    # Named mutexes serialise templates across the rendered workflows (e.g. the report), as Argo does.
    "sync": {"mutexes": "mutex[]", "mutex": "mutex"},
    "mutex": {"name": None},
    "inputs": {"parameters": "param[]", "artifacts": "artifact[]"},
    "outputs": {"parameters": "outparam[]", "artifacts": "artifact[]"},
    "container": _CONTAINER,
    "script": {**_CONTAINER, "source": None},
    "env": {"name": None, "value": None},
    "mount": {"name": None, "mountPath": None, "readOnly": None},
    "dag": {"tasks": "task[]", "failFast": None},
    "task": {
        "name": None,
        "template": None,
        "templateRef": "tref",
        "arguments": "arguments",
        "depends": None,
        "dependencies": None,
        "when": None,
        "withItems": None,
        "withParam": None,
        "continueOn": "continueon",
    },
    "tref": {"name": None, "template": None},
    "continueon": {"failed": None, "error": None},
    "retry": {"limit": None, "retryPolicy": None, "backoff": "backoff", "expression": None},
    "backoff": {"duration": None, "factor": None, "maxDuration": None, "cap": None},
}

#: Artifact plugin name whose keys are local paths: the local executor is that driver.
LOCAL_PLUGIN = "seqstack-local"


def check_supported(obj: Mapping[str, Any]) -> list[str]:
    """Every field of a Workflow/WorkflowTemplate the executor cannot run, as ``path: reason``."""
    problems: list[str] = []
    kind = obj.get("kind")
    if kind not in ("Workflow", "WorkflowTemplate"):
        return [f"kind: {kind!r} is not a Workflow or WorkflowTemplate"]
    name = (obj.get("metadata") or {}).get("name") or (obj.get("metadata") or {}).get("generateName") or "?"
    _walk(obj, "object", f"{kind}/{name}", problems)
    return problems


def _walk(value: Any, kind: str, path: str, problems: list[str]) -> None:
    fields = _KINDS[kind]
    if not isinstance(value, Mapping):
        problems.append(f"{path}: expected an object")
        return
    for key, sub in value.items():
        where = f"{path}.{key}"
        if key in fields:
            target = fields[key]
            if target is None:
                continue
            if target.endswith("[]"):
                if not isinstance(sub, list):
                    problems.append(f"{where}: expected a list")
                    continue
                for i, item in enumerate(sub):
                    _walk(item, target[:-2], f"{where}[{i}]", problems)
            else:
                _walk(sub, target, where, problems)
            continue
        if key in NOT_APPLICABLE and kind in ("spec", "template", "container", "script", "artifact"):
            continue
        problems.append(f"{where}: not supported by the local executor")
    if kind == "volume" and "emptyDir" not in value:
        problems.append(f"{path}: only emptyDir volumes are supported locally")
    if kind == "archive" and set(value) != {"none"}:
        problems.append(f"{path}: only archive {{none: {{}}}} is supported locally")
    if kind == "plugin" and value.get("name") != LOCAL_PLUGIN:
        problems.append(f"{path}.name: artifact plugin {value.get('name')!r} is not {LOCAL_PLUGIN!r}")
    if kind == "valuefrom" and "path" in value and "parameter" in value:
        problems.append(f"{path}: give either path or parameter")
    if kind == "template" and value.get("failFast") is True:
        problems.append(f"{path}.failFast: true is not supported locally (fan-outs always run every item)")
    if kind == "template":
        bodies = [k for k in ("container", "script", "dag") if k in value]
        if len(bodies) != 1:
            problems.append(f"{path}: a template needs exactly one of container, script, dag")
