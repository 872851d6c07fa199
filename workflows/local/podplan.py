"""The pod plan: everything a container or script template's node needs before any process
starts (its pod and volumes, paths mapped into the task's own directory, the resolved template,
where its inputs come from, environment, command, the cores and memory it books, its retry
plan and deadline, its resume fingerprint), as Argo's ``workflowpod.go`` builds a pod spec."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workflows import quantities
from workflows.local.artifacts import InputSource
from workflows.local.nodes import TemplateError, safe_name
from workflows.local.pod import Pod, PodEmulation, PodError, Volume
from workflows.local.resume import fingerprint
from workflows.local.retry import RetryPlan, duration
from workflows.local.templates import Invocation
from workflows.local.values import input_values, string_value, substitute


@dataclass(frozen=True)
class Machine:
    """What the plans are made for: this machine's budget, state folder and environment."""

    cpus: float
    memory_mib: float
    state_dir: Path
    env: Mapping[str, str]
    pods: PodEmulation


@dataclass
class PodPlan:
    """One pod node's plan (see the module docstring)."""

    pod: Pod
    where: str
    mounts: dict[str, Path]
    """Mount path in the pod -> the local directory it stands for."""
    resolved: Mapping[str, Any]
    """The template with every tag substituted and paths made local."""
    inputs: list[InputSource]
    env: dict[str, str]
    command: list[str]
    cwd: Path
    cpu: float
    memory_mib: float
    retry: RetryPlan
    deadline_seconds: float | None
    synchronization: Mapping[str, Any] | None
    fingerprint: str

    @property
    def workdir(self) -> Path:
        """The task's own directory (its volumes live under it)."""
        return self.pod.workdir

    def local_path(self, path: str, what: str) -> Path:
        """A path inside the pod as a local one; it must be under a volume mount."""
        return _local_path(self.mounts, self.where, path, what)


def _local_path(mounts: Mapping[str, Path], where: str, path: str, what: str) -> Path:
    for mount, target in mounts.items():
        if path == mount or path.startswith(mount + "/"):
            return target / path[len(mount) :].lstrip("/")
    raise TemplateError(f"{where}: {what} path {path!r} is not under an emptyDir volume mount")


def plan_pod(machine: Machine, call: Invocation) -> PodPlan:
    """Plan the pod of ``call``'s node from its template and input values; a problem is a
    TemplateError."""
    scope, tmpl, node = call.scope, call.template, call.node
    body_key = "container" if "container" in tmpl else "script"
    where = f"{node.display} (template {tmpl['name']})"
    volumes = {**scope.volumes, **{v["name"]: v for v in tmpl.get("volumes") or []}}
    body = tmpl[body_key]
    try:
        # A template's securityContext is the pod's (it replaces the workflow's).
        pod = machine.pods.pod(
            node.key,
            safe_name(node.key),
            machine.state_dir,
            tmpl.get("securityContext") or scope.pod_security,
            body.get("securityContext"),
            where,
        )
    except PodError as exc:
        raise TemplateError(str(exc)) from None
    workdir = pod.workdir
    mounts = body.get("volumeMounts") or []
    for m in mounts:
        if m["name"] not in volumes:
            raise TemplateError(f"{where}: volume {m['name']!r} is not declared")
    mount_map = {
        _mount_path(m): workdir if len(mounts) == 1 else workdir / safe_name(m["name"]) for m in mounts
    }
    pod.attach(Volume(m["name"], mount_map[_mount_path(m)], _size_limit(volumes[m["name"]])) for m in mounts)

    # The script must name the work dir through $WORK: checked on the template as written,
    # before substitution brings in local paths (which may well live under a /work too).
    _refuse_literal_mounts(body, mount_map, where)
    # Environment values that point into a mount are mapped as written, for the same reason.
    raw_env = []
    for e in body.get("env") or []:
        value = string_value(e.get("value", ""))
        for mount, target in mount_map.items():
            if value == mount or value.startswith(mount + "/"):
                value = str(target) + value[len(mount) :]
        raw_env.append((e["name"], value))

    def local_path(path: str, what: str) -> Path:
        return _local_path(mount_map, where, path, what)

    values = scope.values()
    values.update(input_values(call.inputs))
    values["pod.name"] = safe_name(node.key)
    values["retries"] = "0"
    stage1 = substitute({k: v for k, v in tmpl.items() if k != "dag"}, values, strict=False, where=where)
    for a in (stage1.get("inputs") or {}).get("artifacts", []):
        values[f"inputs.artifacts.{a['name']}.path"] = str(
            local_path(a["path"], f"input artifact {a['name']}")
        )
    for a in (stage1.get("outputs") or {}).get("artifacts", []):
        values[f"outputs.artifacts.{a['name']}.path"] = str(
            local_path(a["path"], f"output artifact {a['name']}")
        )
    for p in (stage1.get("outputs") or {}).get("parameters", []):
        if "path" in (p.get("valueFrom") or {}):
            values[f"outputs.parameters.{p['name']}.path"] = str(
                local_path(p["valueFrom"]["path"], f"output parameter {p['name']}")
            )
    resolved = substitute(stage1, values, strict=True, where=where)
    body = resolved[body_key]

    # Where inputs come from: the task's arguments, else a location written in the template.
    in_sources: list[InputSource] = []
    for a in resolved.get("inputs", {}).get("artifacts", []):
        src = call.artifacts.get(a["name"])
        if src is None and "plugin" in a:
            src = a["plugin"]["key"]
        if src is None and "raw" not in a:
            if a.get("optional"):
                in_sources.append((a, None))
                continue
            raise TemplateError(f"{where}: input artifact {a['name']!r} has no location")
        in_sources.append((a, src))

    env = {**machine.env, **pod.environment(machine.env)}
    for name, value in raw_env:
        env[name] = substitute(value, values, strict=True, where=f"{where} env {name}")
    command = [*(body.get("command") or []), *(body.get("args") or [])]
    if not command:
        raise TemplateError(f"{where}: no command (local runs need an explicit command)")
    script_path = pod.script_path
    if body_key == "script":
        script_path.parent.mkdir(parents=True, exist_ok=True)
        script_path.write_text(body.get("source", ""))
        command = [*(body.get("command") or []), str(script_path), *(body.get("args") or [])]
    cwd = Path(local_path(body["workingDir"], "workingDir")) if body.get("workingDir") else workdir

    cpu, mib = _booking(tmpl[body_key], machine, where)
    deadline_s = tmpl.get("activeDeadlineSeconds")
    if deadline_s is None and tmpl.get("timeout") is not None:
        deadline_s = duration(tmpl["timeout"], f"{where} timeout")
    return PodPlan(
        pod=pod,
        where=where,
        mounts=mount_map,
        resolved=resolved,
        inputs=in_sources,
        env=env,
        command=command,
        cwd=cwd,
        cpu=cpu,
        memory_mib=mib,
        retry=RetryPlan.of(tmpl.get("retryStrategy") or scope.retry, where),
        deadline_seconds=None if deadline_s is None else float(deadline_s),
        synchronization=tmpl.get("synchronization"),
        fingerprint=fingerprint(command, body, body_key == "script", in_sources, resolved.get("outputs")),
    )


def _booking(body: Mapping[str, Any], machine: Machine, where: str) -> tuple[float, float]:
    """The cores and MiB a task books: its requests (cpu 1 when unset), each capped at the
    budget. Memory is booked like cpu (requests = limits here): two aligns each sized for most
    of the memory budget must not run side by side just because the cores would allow it."""
    requests = (body.get("resources") or {}).get("requests") or {}
    try:
        cpu = quantities.cpu_cores(requests["cpu"]) if "cpu" in requests else 1.0
        mib = quantities.memory_mib(requests["memory"]) if "memory" in requests else 0.0
    except quantities.QuantityError as exc:
        raise TemplateError(f"{where}: resources.requests: {exc}") from None
    return max(0.0, min(cpu, machine.cpus)), max(0.0, min(mib, machine.memory_mib))


def _mount_path(mount: Mapping[str, Any]) -> str:
    return str(mount["mountPath"]).rstrip("/") or "/"


def _size_limit(volume: Mapping[str, Any]) -> str | None:
    limit = (volume.get("emptyDir") or {}).get("sizeLimit")
    return None if limit is None else str(limit)


def _refuse_literal_mounts(body: Mapping[str, Any], mounts: Mapping[str, Path], where: str) -> None:
    text = "\n".join(
        [
            *map(string_value, body.get("command") or []),
            *map(string_value, body.get("args") or []),
            string_value(body.get("source", "")),
        ]
    )
    for mount in mounts:
        if re.search(rf"(?<![\w/.:$-]){re.escape(mount)}(?=/|\s|$|[\"'])", text):
            raise TemplateError(
                f'{where}: the script names the volume mount {mount} literally; use "$WORK" '
                "(the local executor maps the mount to the task's own directory)"
            )
