"""The stack outputs contract: what a seqstack cloud stack exports, as plain data.

Both cloud stacks export exactly these names with these shapes (``stacks/`` builds them, a test
compares AWS and GCP), so nothing downstream cares which cloud it runs on. This module is the
one definition of that contract. It never imports pulumi: ``workflows/`` and the ``seqstack``
command line load it from ``pulumi stack output --json --show-secrets`` or a saved copy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workflows.errors import UserError

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
        bucket = _string(data, "dataBucket", source)
        scheme = CLOUD_SCHEMES[cloud]
        if not bucket.startswith(f"{scheme}://"):
            raise ContractError(f"{source}: dataBucket {bucket!r} must start with {scheme}:// on {cloud}")
        images = data["images"] or {}
        if not isinstance(images, Mapping) or not all(isinstance(v, str) for v in images.values()):
            raise ContractError(f"{source}: images must map image names to references")
        pools_raw = data["nodePools"]
        if not isinstance(pools_raw, Mapping):
            raise ContractError(f"{source}: nodePools must be an object keyed by pool name")
        pools = {name: _placement(pools_raw, name, source) for name in POOL_NAMES}
        argo_raw = data["argo"]
        argo = None
        if argo_raw:
            if not isinstance(argo_raw, Mapping):
                raise ContractError(f"{source}: argo must be an object")
            argo = ArgoEndpoint(
                namespace=_string(argo_raw, "namespace", f"{source}: argo"),
                server_service=_string(argo_raw, "serverService", f"{source}: argo"),
                server_port=int(argo_raw.get("serverPort") or 2746),
                token_secret=argo_raw.get("tokenSecret") or None,
            )
        return cls(
            cloud=cloud,
            region=_string(data, "region", source),
            cluster_name=_string(data, "clusterName", source),
            kubeconfig=str(data["kubeconfig"] or ""),
            data_bucket=bucket,
            namespace=_string(data, "namespace", source),
            workflow_service_account=_string(data, "workflowServiceAccount", source),
            registry=str(data["registry"] or ""),
            images=dict(images),
            node_pools=pools,
            argo=argo,
        )

    @classmethod
    def load(cls, path: Path) -> StackOutputs:
        """Read outputs saved from ``pulumi stack output --json --show-secrets > FILE``."""
        try:
            text = path.read_text()
        except OSError as exc:
            raise ContractError(f"{path}: cannot read stack outputs ({exc.strerror})") from exc
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


def _placement(pools: Mapping[str, Any], name: str, source: str) -> PoolPlacement:
    raw = pools.get(name)
    if not isinstance(raw, Mapping) or not isinstance(raw.get("nodeSelector"), Mapping):
        raise ContractError(f"{source}: nodePools.{name}.nodeSelector is missing")
    tolerations = []
    for i, t in enumerate(raw.get("tolerations") or []):
        if not isinstance(t, Mapping) or "key" not in t:
            raise ContractError(f"{source}: nodePools.{name}.tolerations[{i}] needs a key")
        tolerations.append(
            Toleration(
                key=str(t["key"]),
                value=str(t.get("value", "")),
                effect=str(t.get("effect", "NoSchedule")),
                operator=str(t.get("operator", "Equal")),
            )
        )
    return PoolPlacement(node_selector=dict(raw["nodeSelector"]), tolerations=tuple(tolerations))
