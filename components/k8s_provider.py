"""The Kubernetes provider of a cluster created in the same program."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s


def cluster_provider(
    name: str,
    kubeconfig: pulumi.Input[str],
    depends_on: Sequence[pulumi.Resource] = (),
    opts: pulumi.ResourceOptions | None = None,
) -> k8s.Provider:
    """A Kubernetes provider that talks to the new cluster, for every in-cluster object.

    The seed needed a second ``terraform apply`` for in-cluster objects because Terraform's
    Kubernetes provider cannot be configured from a cluster created in the same run; Pulumi's can,
    since ``kubeconfig`` is an Output. ``depends_on`` names what pods need before any object is
    applied (the node groups / node pools): every resource created with this provider waits for
    them, and ``pulumi destroy`` removes the in-cluster objects before the nodes and the cluster.

    Server-side apply lets Kubernetes merge fields owned by others (the Argo controller, Helm)
    instead of Pulumi overwriting them.
    """
    if not name:
        raise ValueError("cluster_provider: name must not be empty")
    base = pulumi.ResourceOptions(depends_on=list(depends_on))
    return k8s.Provider(
        name,
        kubeconfig=kubeconfig,
        enable_server_side_apply=True,
        opts=pulumi.ResourceOptions.merge(base, opts) if opts is not None else base,
    )
