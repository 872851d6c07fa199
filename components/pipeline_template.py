"""The pipeline's versioned WorkflowTemplate, installed in the workflow namespace by ``pulumi up``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from workflows.k8s_names import subdomain_problem

API_VERSION = "argoproj.io/v1alpha1"
KIND = "WorkflowTemplate"


def check_template(obj: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    """The template's metadata, in ``namespace``; refuses anything but a named WorkflowTemplate.

    The object is what ``seqstack render`` prints (same builder), so a mismatch here is a bug in
    the wiring, not in user input.
    """
    if obj.get("apiVersion") != API_VERSION or obj.get("kind") != KIND:
        raise ValueError(
            f"PipelineTemplate: expected {API_VERSION} {KIND}, got {obj.get('apiVersion')} {obj.get('kind')}"
        )
    metadata = dict(obj.get("metadata") or {})
    name = metadata.get("name")
    if not isinstance(name, str) or subdomain_problem(name):
        raise ValueError(f"PipelineTemplate: metadata.name {name!r} is not a Kubernetes name")
    if not isinstance(obj.get("spec"), Mapping) or not obj["spec"].get("templates"):
        raise ValueError(f"PipelineTemplate: {name} has no spec.templates")
    other = metadata.get("namespace")
    if other not in (None, namespace):
        raise ValueError(f"PipelineTemplate: {name} is rendered for namespace {other!r}, not {namespace!r}")
    metadata["namespace"] = namespace
    # Server-side fields a rendered object may carry must not be applied.
    for key in ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"):
        metadata.pop(key, None)
    return metadata


@dataclass(frozen=True)
class PipelineTemplateArgs:
    """The template object and where it goes."""

    template: pulumi.Input[Mapping[str, Any]]
    """The WorkflowTemplate as a plain object (apiVersion, kind, metadata, spec), built for this
    stack's images, bucket and pools (an Output, since those are)."""
    namespace: str = "biojobs"
    """Namespace the workflows run in."""
    depends_on: Sequence[pulumi.Resource] = ()
    """What must exist first: the Argo release (its CRDs) and the namespace."""


class PipelineTemplate(pulumi.ComponentResource):
    """The WorkflowTemplate as a custom resource; ``seqstack submit`` creates Workflows that use it.

    Install it with the Kubernetes provider of the cluster (``providers=[...]`` in ``opts``) and
    after Argo's CRDs exist (``depends_on`` in the args: the Argo release).
    """

    resource: k8s.apiextensions.CustomResource
    """The WorkflowTemplate object."""
    template_name: pulumi.Output[str]
    """Its name (versioned by the builder)."""

    def __init__(
        self, name: str, args: PipelineTemplateArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("seqstack:k8s:PipelineTemplate", name, None, opts)
        template = pulumi.Output.from_input(args.template)
        metadata = template.apply(lambda obj: check_template(obj, args.namespace))
        self.resource = k8s.apiextensions.CustomResource(
            f"{name}-workflowtemplate",
            api_version=API_VERSION,
            kind=KIND,
            metadata=metadata,
            spec=template.apply(lambda obj: obj["spec"]),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        self.template_name = metadata.apply(lambda m: str(m["name"]))
        self.register_outputs({"templateName": self.template_name})
