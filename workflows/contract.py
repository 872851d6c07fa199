"""The stack outputs contract: what a seqstack cloud stack exports, as plain data.

Both cloud stacks export exactly these names with these shapes (``stacks/`` builds them, a test
compares AWS and GCP), so nothing downstream cares which cloud it runs on. This module is the
one definition of that contract. It never imports pulumi: ``workflows/`` and the ``seqstack``
command line load it from ``pulumi stack output --json --show-secrets`` or a saved copy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workflows.errors import UserError
from workflows.k8s_names import (
    image_problem,
    label_key_problem,
    label_value_problem,
    name_problem,
    service_problem,
    subdomain_problem,
)

#: Stack output names, in the order they are exported. camelCase, as Pulumi users expect.
OUTPUT_NAMES: tuple[str, ...] = (
    "cloud",
    "region",
    "clusterName",
    "kubeconfig",
    "dataBucket",
    "namespace",
    "workflowServiceAccount",
    "registry",
    "images",
    "nodePools",
    "argo",
)

#: Outputs that carry credentials and must be exported as secrets.
SECRET_OUTPUTS: frozenset[str] = frozenset({"kubeconfig"})

#: The node pools every stack provides, and what runs on them.
POOL_NAMES: tuple[str, ...] = ("system", "small", "large")

#: The tool images the pipeline needs (keys of the ``images`` output).
IMAGE_NAMES: tuple[str, ...] = ("fastqc", "align", "report")

#: Node label (and taint key) that says which seqstack pool a node belongs to.
POOL_LABEL = "seqstack.io/pool"

#: The namespace pipelines run in.
PIPELINE_NAMESPACE = "biojobs"

#: Storage schemes per cloud; ``local`` is the single-machine target of ``seqstack run``.
CLOUD_SCHEMES: dict[str, str] = {"aws": "s3", "gcp": "gs", "local": "file"}


class ContractError(UserError, ValueError):
    """Stack outputs that do not match the contract; the message names the key at fault."""


@dataclass(frozen=True)
class Toleration:
    """A Kubernetes toleration a pod needs to be scheduled onto a tainted pool."""

    key: str
    """Taint key, e.g. ``seqstack.io/pool``."""
    value: str
    """Taint value, e.g. ``large``."""
    effect: str = "NoSchedule"
    """Taint effect the toleration matches."""
    operator: str = "Equal"
    """``Equal`` (key and value match) or ``Exists``."""

    def to_json(self) -> dict[str, str]:
        """The toleration as a Kubernetes object fragment."""
        return {"key": self.key, "operator": self.operator, "value": self.value, "effect": self.effect}


@dataclass(frozen=True)
class PoolPlacement:
    """What a pod needs to land on one node pool: node selector labels and tolerations."""

    node_selector: Mapping[str, str]
    """Labels the pool's nodes carry; used as the pod's ``nodeSelector``."""
    tolerations: tuple[Toleration, ...] = ()
    """Tolerations for the pool's taints (empty for an untainted pool)."""

    def to_json(self) -> dict[str, Any]:
        """The placement as exported in the ``nodePools`` output."""
        return {
            "nodeSelector": dict(self.node_selector),
            "tolerations": [t.to_json() for t in self.tolerations],
        }


def pool_placement(pool: str, tainted: bool) -> PoolPlacement:
    """The placement of a seqstack pool: every pool is labelled, spot pools are also tainted.

    The node groups (labels, taints) and the ``nodePools`` output both come from here, so a pod
    built from the output always matches the nodes that were built.
    """
    tolerations = (Toleration(key=POOL_LABEL, value=pool),) if tainted else ()
    return PoolPlacement(node_selector={POOL_LABEL: pool}, tolerations=tolerations)


@dataclass(frozen=True)
class ArgoEndpoint:
    """Where the in-cluster Argo Workflows server is."""

    namespace: str
    """Namespace Argo's controller and server run in."""
    server_service: str
    """In-cluster Service name of the Argo server (reach it with ``kubectl port-forward``)."""
    server_port: int = 2746
    """The Service's port."""
    token_secret: str | None = None
    """Name of the Secret in ``biojobs`` holding the submitter's bearer token, if any."""

    def to_json(self) -> dict[str, Any]:
        """The endpoint as exported in the ``argo`` output."""
        return {
            "namespace": self.namespace,
            "serverService": self.server_service,
            "serverPort": self.server_port,
            "tokenSecret": self.token_secret,
        }


@dataclass(frozen=True)
class StackOutputs:
    """A cloud stack's outputs as plain data (see :data:`OUTPUT_NAMES`)."""

    cloud: str
    """``aws``, ``gcp``, or ``local`` for the single-machine target."""
    region: str
    """Cloud region, e.g. ``eu-west-1`` or ``europe-west4``."""
    cluster_name: str
    """Kubernetes cluster name."""
    kubeconfig: str
    """Kubeconfig for the cluster (a secret output; empty for ``local``)."""
    data_bucket: str
    """URI of the data bucket: ``s3://name``, ``gs://name``, or ``file:///dir`` for local runs."""
    namespace: str
    """Namespace the pipelines run in (``biojobs``)."""
    workflow_service_account: str
    """Kubernetes ServiceAccount the pipeline pods run as (bound to the cloud identity)."""
    registry: str
    """Container registry the tool images are pushed to."""
    images: Mapping[str, str]
    """Tool image references by name (:data:`IMAGE_NAMES`), pinned by digest on clouds."""
    node_pools: Mapping[str, PoolPlacement]
    """Placement for each pool in :data:`POOL_NAMES`."""
    argo: ArgoEndpoint | None = field(default=None)
    """The Argo server, once the in-cluster platform is installed."""

    @property
    def scheme(self) -> str:
        """The storage URI scheme of this stack's cloud (``s3``, ``gs`` or ``file``)."""
        return CLOUD_SCHEMES[self.cloud]

    def to_json(self) -> dict[str, Any]:
        """The outputs as ``pulumi stack output --json`` prints them."""
        return {
            "cloud": self.cloud,
            "region": self.region,
            "clusterName": self.cluster_name,
            "kubeconfig": self.kubeconfig,
            "dataBucket": self.data_bucket,
            "namespace": self.namespace,
            "workflowServiceAccount": self.workflow_service_account,
            "registry": self.registry,
            "images": dict(self.images),
            "nodePools": {name: p.to_json() for name, p in self.node_pools.items()},
            "argo": self.argo.to_json() if self.argo else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str = "stack outputs") -> StackOutputs:
        """Load and check outputs; a :class:`ContractError` names ``source`` and the key at fault."""
        if not isinstance(data, Mapping):
            raise ContractError(f"{source}: expected a JSON object of stack outputs")
        missing = [name for name in OUTPUT_NAMES if name not in data]
        if missing:
            raise ContractError(f"{source}: missing stack output(s) {', '.join(missing)}")
        cloud = _string(data, "cloud", source)
        if cloud not in CLOUD_SCHEMES:
            raise ContractError(f"{source}: cloud must be one of aws, gcp, local, got {cloud!r}")
        bucket = _bucket(_string(data, "dataBucket", source), CLOUD_SCHEMES[cloud], cloud, source)
        images = _images(data["images"], source)
        pools_raw = data["nodePools"]
        if not isinstance(pools_raw, Mapping):
            raise ContractError(f"{source}: nodePools must be an object keyed by pool name")
        pools = {name: _placement(pools_raw, name, source) for name in POOL_NAMES}
        argo_raw = data["argo"]
        argo = None
        if argo_raw:
            if not isinstance(argo_raw, Mapping):
                raise ContractError(f"{source}: argo must be an object")
            token = argo_raw.get("tokenSecret") or None
            argo = ArgoEndpoint(
                namespace=_named(argo_raw, "namespace", source, name_problem, "argo."),
                server_service=_named(argo_raw, "serverService", source, service_problem, "argo."),
                server_port=_port(argo_raw.get("serverPort"), f"{source}: argo.serverPort"),
                token_secret=None
                if token is None
                else _named(argo_raw, "tokenSecret", source, subdomain_problem, "argo."),
            )
        return cls(
            cloud=cloud,
            region=_string(data, "region", source),
            cluster_name=_string(data, "clusterName", source),
            kubeconfig=_optional_string(data, "kubeconfig", source),
            data_bucket=bucket,
            namespace=_named(data, "namespace", source, name_problem),
            workflow_service_account=_named(data, "workflowServiceAccount", source, subdomain_problem),
            registry=_optional_string(data, "registry", source),
            images=images,
            node_pools=pools,
            argo=argo,
        )

    @classmethod
    def load(cls, path: Path) -> StackOutputs:
        """Read outputs saved from ``pulumi stack output --json --show-secrets > FILE``."""
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ContractError(f"{path}: cannot read stack outputs ({exc.strerror})") from exc
        except UnicodeDecodeError as exc:
            raise ContractError(
                f"{path}: not UTF-8 text (byte {exc.start}); save it with `pulumi stack output --json`"
            ) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ContractError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from exc
        return cls.from_json(data, source=str(path))

    @classmethod
    def local(cls, outdir: Path, images: Mapping[str, str] | None = None) -> StackOutputs:
        """The single-machine target used by ``seqstack run``: tools on PATH, files under outdir."""
        return cls(
            cloud="local",
            region="local",
            cluster_name="local",
            kubeconfig="",
            data_bucket=outdir.resolve().as_uri(),
            namespace=PIPELINE_NAMESPACE,
            workflow_service_account="default",
            registry="",
            images=dict(images or {name: f"seqstack/{name}:local" for name in IMAGE_NAMES}),
            node_pools={p: pool_placement(p, tainted=p != "system") for p in POOL_NAMES},
            argo=None,
        )


def _string(data: Mapping[str, Any], key: str, source: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ContractError(f"{source}: {key} must be a non-empty string, got {value!r}")
    return value


def _optional_string(data: Mapping[str, Any], key: str, source: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ContractError(f"{source}: {key} must be a string, got {type(value).__name__}")
    return value


def _named(
    data: Mapping[str, Any], key: str, source: str, problem: Callable[[object], str | None], prefix: str = ""
) -> str:
    """``data[key]``, which must be a Kubernetes name; ``prefix`` is the key's path (``argo.``)."""
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ContractError(f"{source}: {prefix}{key} must be a non-empty string, got {value!r}")
    why = problem(value)
    if why:
        raise ContractError(f"{source}: {prefix}{key} {value!r} {why}")
    return value


def _port(value: Any, where: str) -> int:
    if value is None:
        return 2746
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ContractError(f"{where} must be a port number from 1 to 65535, got {value!r}")
    return value


#: Bucket names: S3 (3-63 characters) and GCS (up to 222 with dots) share this shape.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")


def _bucket(value: str, scheme: str, cloud: str, source: str) -> str:
    if not value.startswith(f"{scheme}://"):
        raise ContractError(f"{source}: dataBucket {value!r} must start with {scheme}:// on {cloud}")
    rest = value[len(scheme) + 3 :]
    if scheme == "file":
        if not rest.startswith("/"):
            raise ContractError(f"{source}: dataBucket {value!r} must be file:///<absolute path>")
        return value
    name = rest.split("/", 1)[0]
    if not _BUCKET.fullmatch(name):
        what = "has no bucket name" if not name else f"has {name!r}, which is not a bucket name"
        raise ContractError(f"{source}: dataBucket {value!r} {what} ({scheme}://<bucket>)")
    return value


def _images(raw: Any, source: str) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        raise ContractError(f"{source}: images must map image names ({', '.join(IMAGE_NAMES)}) to references")
    missing = [name for name in IMAGE_NAMES if name not in raw]
    if missing:
        raise ContractError(f"{source}: images has no reference for {', '.join(missing)}")
    for name, ref in raw.items():
        why = image_problem(ref)
        if why:
            raise ContractError(f"{source}: images.{name} {ref!r} {why}")
    return dict(raw)


_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _placement(pools: Mapping[str, Any], name: str, source: str) -> PoolPlacement:
    raw = pools.get(name)
    where = f"{source}: nodePools.{name}"
    if not isinstance(raw, Mapping) or not isinstance(raw.get("nodeSelector"), Mapping):
        raise ContractError(f"{where}.nodeSelector is missing")
    selector: dict[str, str] = {}
    for key, value in raw["nodeSelector"].items():
        why = label_key_problem(key) or label_value_problem(value)
        if why:
            raise ContractError(f"{where}.nodeSelector {key!r}: {value!r} {why}")
        selector[key] = value
    tolerations = []
    listed = raw.get("tolerations") or []
    if not isinstance(listed, list):
        raise ContractError(f"{where}.tolerations must be a list")
    for i, t in enumerate(listed):
        at = f"{where}.tolerations[{i}]"
        if not isinstance(t, Mapping) or "key" not in t:
            raise ContractError(f"{at} needs a key")
        key, value = t["key"], t.get("value", "")
        effect, operator = t.get("effect", "NoSchedule"), t.get("operator", "Equal")
        why = label_key_problem(key) or label_value_problem(value)
        if why:
            raise ContractError(f"{at} {key!r}: {value!r} {why}")
        if effect not in _EFFECTS:
            raise ContractError(f"{at}.effect must be one of {', '.join(_EFFECTS)}, got {effect!r}")
        if operator not in ("Equal", "Exists"):
            raise ContractError(f"{at}.operator must be Equal or Exists, got {operator!r}")
        tolerations.append(Toleration(key=key, value=value, effect=effect, operator=operator))
    return PoolPlacement(node_selector=selector, tolerations=tuple(tolerations))
