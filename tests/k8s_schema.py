"""Validate Kubernetes objects against the OpenAPI schema of the cluster's version, offline.

Uses the ``kubernetes-validate`` package, which ships the JSON schemas of each Kubernetes release
(1.33 included) inside the wheel: nothing is downloaded. Strict mode rejects unknown fields, so a
misspelt key is an error instead of being dropped by the API server.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import kubernetes_validate

from stacks.harness import Inventory, Recorded

#: Pulumi type tokens of in-cluster objects that are not plain Kubernetes manifests.
NOT_MANIFESTS = ("kubernetes:helm.sh/", "pulumi:providers:", "kubernetes:argoproj.io/")

#: Manifest fields Pulumi's SDK adds or the schema does not describe.
_DROP = ("urn", "id")


def version_schemas_present(version: str) -> bool:
    """Whether kubernetes-validate ships a schema for this minor version (not a newer fallback)."""
    return any(v.startswith(f"{version}.") for v in kubernetes_validate.utils.all_versions())


def manifest(resource: Recorded) -> dict[str, Any]:
    """A recorded Kubernetes resource's inputs as the manifest the provider applies."""
    return {k: v for k, v in resource.inputs.items() if k not in _DROP}


def k8s_manifests(inventory: Inventory) -> Iterator[Recorded]:
    """Every plain Kubernetes object the program declares (no Helm releases, providers or CRs)."""
    for r in inventory.resources:
        if r.custom and r.type.startswith("kubernetes:") and not r.type.startswith(NOT_MANIFESTS):
            yield r


def validate(obj: Mapping[str, Any], version: str) -> None:
    """Raise ``kubernetes_validate.ValidationError`` (or SchemaNotFoundError) if ``obj`` is invalid."""
    kubernetes_validate.validate(dict(obj), version, strict=True)


def pod(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A Pod wrapping a pod spec fragment (Helm values that end up in a chart's pod template)."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "values-check"}, "spec": dict(spec)}
