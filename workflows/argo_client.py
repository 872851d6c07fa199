"""Submit rendered objects to an Argo server, follow them, and read per-sample progress.

Uses Hera's ``WorkflowsService`` (the Argo server's REST API). Reach an in-cluster server with
``kubectl -n argo port-forward svc/<argo server service> 2746:2746`` and ``--argo-server
https://localhost:2746`` (the server's certificate is self-signed: ``--insecure``).

Hera's own ``Workflow.wait()`` returns as soon as a poll sees anything but Running, so a
Pending workflow would "finish" at once; :func:`watch` polls until a terminal phase itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import pydantic
import requests
from hera.exceptions import HeraException, NotFound, Unauthorized
from hera.workflows import WorkflowsService
from hera.workflows.models import (
    Workflow as ModelWorkflow,
)
from hera.workflows.models import (
    WorkflowCreateRequest,
    WorkflowTemplateCreateRequest,
)
from hera.workflows.models import (
    WorkflowTemplate as ModelWorkflowTemplate,
)

from workflows.errors import UserError
from workflows.steps import SAMPLE_TASKS, align, merge, qc_gate

#: Workflow phases after which nothing changes any more.
TERMINAL_PHASES = frozenset({"Succeeded", "Failed", "Error"})

#: The per-sample steps, in order, as their DAG task names.
STEPS = SAMPLE_TASKS


class ArgoError(UserError, RuntimeError):
    """A failure talking to the Argo server, as one line a user can act on."""

    exit_code = 1


@dataclass(frozen=True)
class ArgoConnection:
    """Where the Argo server is and how to authenticate."""

    host: str
    """``https://localhost:2746`` (port-forward) or the server's URL."""
    token: str | None = None
    """Bearer token (client auth mode), e.g. ``kubectl create token <sa> -n biojobs``."""
    namespace: str = "biojobs"
    """Namespace the workflows run in."""
    verify_ssl: bool = True
    """Verify the server's TLS certificate (Argo's default certificate is self-signed)."""

    def service(self) -> WorkflowsService:
        """A Hera service bound to this server."""
        if not self.host.startswith(("http://", "https://")):
            raise ArgoError(f"Argo server URL must start with http:// or https://, got {self.host!r}")
        try:
            host = urlsplit(self.host).hostname
        except ValueError as exc:  # e.g. an unclosed IPv6 bracket
            raise ArgoError(f"Argo server URL {self.host!r} cannot be read ({exc})") from None
        if not host:
            raise ArgoError(f"Argo server URL {self.host!r} has no host name")
        return WorkflowsService(
            host=self.host, token=self.token, namespace=self.namespace, verify_ssl=self.verify_ssl
        )


def _dump(model: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(model.model_dump_json(by_alias=True, exclude_none=True))
    return data


def _call(conn: ArgoConnection, what: str, fn: Callable[[], Any]) -> Any:
    """Run one API call; turn transport and HTTP errors into an :class:`ArgoError` line."""
    try:
        return fn()
    except Unauthorized as exc:
        raise ArgoError(
            f"Argo server {conn.host} rejected the credentials while {what} (401): pass a valid --argo-token"
        ) from exc
    except NotFound:
        raise
    except HeraException as exc:
        raise ArgoError(f"Argo server {conn.host} refused {what} ({exc.status_code}): {_short(exc)}") from exc
    except requests.exceptions.SSLError as exc:
        raise ArgoError(
            f"TLS error talking to {conn.host} while {what}: the Argo server's certificate is self-signed by "
            "default; use --insecure"
        ) from exc
    except requests.exceptions.RequestException as exc:
        raise ArgoError(
            f"cannot reach the Argo server at {conn.host} while {what}: is "
            "'kubectl -n argo port-forward svc/<argo-server> 2746:2746' running?"
        ) from exc


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _model(cls: Any, obj: Mapping[str, Any]) -> Any:
    """``obj`` as a Hera model, refusing anything the model would silently drop or change.

    Hera's generated models ignore unknown keys, so a misspelt field would vanish on the way to
    the server; here it is an error naming the field instead.
    """
    try:
        model = cls(**obj)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ArgoError(f"{obj.get('kind', 'object')} not sent: {where}: {first['msg']}") from None
    back = _dump(model)
    if back != obj:
        raise ArgoError(f"{obj.get('kind', 'object')} not sent: {_first_difference(obj, back)}")
    return model


def _first_difference(sent: Any, kept: Any, path: str = "") -> str:
    if isinstance(sent, Mapping) and isinstance(kept, Mapping):
        for key in sent:
            if key not in kept:
                return f"unknown field {path}{key} (would be dropped)"
            if sent[key] != kept[key]:
                return _first_difference(sent[key], kept[key], f"{path}{key}.")
    if isinstance(sent, list) and isinstance(kept, list) and len(sent) == len(kept):
        for i, (a, b) in enumerate(zip(sent, kept, strict=True)):
            if a != b:
                return _first_difference(a, b, f"{path}{i}.")
    return f"field {path.rstrip('.') or '<root>'} would change from {sent!r} to {kept!r}"[:300]


def ensure_template(conn: ArgoConnection, template: Mapping[str, Any]) -> str:
    """Create the WorkflowTemplate, or leave an identical one alone. Returns what happened.

    A template of the same name with a different spec is an error: versions are immutable, so a
    changed pipeline needs a new version (or a deliberate delete), never a silent overwrite.
    """
    svc = conn.service()
    name = template["metadata"]["name"]
    try:
        existing = _call(
            conn, f"reading WorkflowTemplate {name}", lambda: svc.get_workflow_template(name, conn.namespace)
        )
    except NotFound:
        existing = None
    if existing is not None:
        if _dump(existing).get("spec") == template["spec"]:
            return "unchanged"
        raise ArgoError(
            f"WorkflowTemplate {name} already exists in {conn.namespace} with a different spec: "
            "bump the pipeline version, or delete the old template deliberately"
        )
    request = WorkflowTemplateCreateRequest(
        namespace=conn.namespace, template=_model(ModelWorkflowTemplate, template)
    )
    _call(
        conn,
        f"creating WorkflowTemplate {name}",
        lambda: svc.create_workflow_template(request, conn.namespace),
    )
    return "created"


def submit(conn: ArgoConnection, objs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Submit rendered objects: WorkflowTemplates first (create or keep), then each Workflow.

    Returns the names the server gave the Workflows, in order.
    """
    names: list[str] = []
    for obj in objs:
        if obj["kind"] == "WorkflowTemplate":
            ensure_template(conn, obj)
    svc = conn.service()
    for i, obj in enumerate(o for o in objs if o["kind"] == "Workflow"):
        request = WorkflowCreateRequest(namespace=conn.namespace, workflow=_model(ModelWorkflow, obj))
        what = f"submitting workflow {i + 1} (already submitted: {', '.join(names) or 'none'})"
        created = _call(conn, what, partial(svc.create_workflow, request, conn.namespace))
        names.append(str(created.metadata.name))
    return names


def get_workflow(conn: ArgoConnection, name: str) -> dict[str, Any]:
    """A workflow with its status, as plain data."""
    svc = conn.service()
    try:
        return _dump(_call(conn, f"reading workflow {name}", lambda: svc.get_workflow(name, conn.namespace)))
    except NotFound:
        raise ArgoError(f"workflow {name} not found in namespace {conn.namespace}") from None


@dataclass(frozen=True)
class SampleState:
    """Where one sample is, from the workflow's node statuses."""

    sample: str
    state: str
    """pending, running, qc_failed, aligned, failed."""
    step: str
    """The step the state refers to (e.g. ``align``), or ``""``."""
    detail: str = ""
    """The failing node's message, or the QC verdict reasons."""


def sample_states(workflow: Mapping[str, Any]) -> list[SampleState]:
    """Per-sample state from ``status.nodes`` (each sample is one ``sample`` DAG node).

    Samples not started yet (no node) come from the ``samples`` argument and are ``pending``.
    """
    nodes: Mapping[str, Any] = (workflow.get("status") or {}).get("nodes") or {}
    by_boundary: dict[str, dict[str, Mapping[str, Any]]] = {}
    for node in nodes.values():
        if node.get("displayName") in STEPS and node.get("boundaryID"):
            by_boundary.setdefault(node["boundaryID"], {})[node["displayName"]] = node
    found: dict[str, SampleState] = {}
    for node_id, node in nodes.items():
        if node.get("templateName") != "sample" or node.get("type") != "DAG":
            continue
        params = {p["name"]: p.get("value", "") for p in (node.get("inputs") or {}).get("parameters", [])}
        sample = params.get("sample", node.get("displayName", node_id))
        found[sample] = _state(sample, node, by_boundary.get(node_id, {}))
    listed = []
    for p in (workflow.get("spec") or {}).get("arguments", {}).get("parameters", []):
        if p.get("name") == "samples":
            try:
                listed = [item["sample"] for item in json.loads(p.get("value") or "[]")]
            except (ValueError, KeyError, TypeError):
                listed = []
    ordered = [found.pop(s) if s in found else SampleState(s, "pending", "") for s in listed]
    return ordered + sorted(found.values(), key=lambda s: s.sample)


def _state(sample: str, dag: Mapping[str, Any], steps: Mapping[str, Mapping[str, Any]]) -> SampleState:
    for name in STEPS:
        node = steps.get(name)
        if node and node.get("phase") in ("Failed", "Error"):
            return SampleState(sample, "failed", name, str(node.get("message", "")))
    gate = steps.get(qc_gate.TASK)
    if gate and gate.get("phase") == "Succeeded":
        outputs = {p["name"]: p.get("value") for p in (gate.get("outputs") or {}).get("parameters", [])}
        if outputs.get(qc_gate.VERDICT) == "fail":
            return SampleState(sample, "qc_failed", qc_gate.TASK)
    # One lane to align: `align` writes the sample's BAM; several: `merge` does.
    for final in (align.TASK, merge.TASK):
        node = steps.get(final)
        if node and node.get("phase") == "Succeeded":
            return SampleState(sample, "aligned", final)
    for name in reversed(STEPS):
        node = steps.get(name)
        if node and node.get("phase") in ("Running", "Pending"):
            return SampleState(sample, "running", name)
    if dag.get("phase") in ("Failed", "Error"):
        return SampleState(sample, "failed", "", str(dag.get("message", "")))
    return SampleState(sample, "running" if steps else "pending", "")


def watch(
    conn: ArgoConnection,
    names: Sequence[str],
    on_update: Callable[[dict[str, dict[str, Any]]], None] = lambda _: None,
    interval: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    max_polls: int | None = None,
) -> dict[str, str]:
    """Poll the workflows until each reaches a terminal phase; return name -> phase.

    Pending (or no phase yet) is NOT terminal: a workflow waiting for nodes to scale up keeps
    being polled. ``on_update`` gets the latest workflows after every round.
    """
    latest: dict[str, dict[str, Any]] = {}
    polls = 0
    while True:
        for name in names:
            if (latest.get(name, {}).get("status") or {}).get("phase") not in TERMINAL_PHASES:
                latest[name] = get_workflow(conn, name)
        on_update(latest)
        phases = {n: str((latest[n].get("status") or {}).get("phase") or "Pending") for n in names}
        if all(p in TERMINAL_PHASES for p in phases.values()):
            return phases
        polls += 1
        if max_polls is not None and polls >= max_polls:
            raise ArgoError(f"gave up watching after {polls} polls: {phases}")
        sleep(interval)
