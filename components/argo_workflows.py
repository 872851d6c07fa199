"""Argo Workflows (controller and server) from its official Helm chart, pinned and locked down."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from workflows.contract import PoolPlacement
from workflows.identity import RESTRICTED_CONTAINER, executor_security_context
from workflows.k8s_names import name_problem

#: The official chart repository (argoproj/argo-helm, published to GitHub Pages).
ARGO_HELM_REPO = "https://argoproj.github.io/argo-helm"
ARGO_CHART = "argo-workflows"

#: Chart 1.0.18 ships Argo Workflows v4.0.6 (argoproj/argo-helm at commit
#: 4f4cc4f9605668855e2303c9805f09ac4360f35e, charts/argo-workflows/Chart.yaml:
#: ``version: 1.0.18``, ``appVersion: v4.0.6``): a v4 controller as
#: Hera 7 expects. It is also the first chart that does not render static S3 key selectors when
#: ``useSDKCreds`` is true, and its values/templates are the ones the values below were checked
#: against (``failedPodRestart`` exists since chart 1.0.7).
DEFAULT_ARGO_CHART_VERSION = "1.0.18"

#: Release name and ``fullnameOverride``: object names stay fixed whatever Pulumi calls the release.
RELEASE_NAME = "argo-workflows"
#: The chart names the server's Service ``<fullname>-server``.
SERVER_SERVICE = f"{RELEASE_NAME}-server"
SERVER_PORT = 2746

#: Where archived logs and default artifacts go inside the data bucket (Argo expands the variables
#: per pod at run time).
KEY_FORMAT = "argo/{{workflow.name}}/{{pod.name}}"

_EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_DURATION = re.compile(r"^(\d+(s|m|h))+$")


@dataclass(frozen=True)
class S3Repository:
    """Artifacts and archived logs in an S3 bucket, with the pod's own AWS identity."""

    bucket: pulumi.Input[str]
    """Bucket name (not a URI)."""
    region: str
    """Bucket region."""


@dataclass(frozen=True)
class GcsRepository:
    """Artifacts and archived logs in a GCS bucket, with the pod's Workload Identity."""

    bucket: pulumi.Input[str]
    """Bucket name (not a URI)."""


@dataclass(frozen=True)
class WorkflowRetention:
    """How long finished workflows and their pods stay in the cluster."""

    success_ttl_seconds: int = 24 * 3600
    """A succeeded workflow is deleted this long after it finished (its outputs are in the bucket)."""
    failure_ttl_seconds: int = 7 * 24 * 3600
    """A failed workflow (and, with OnWorkflowSuccess GC, its pods) stays this long for debugging."""
    pod_delete_delay: str = "10m"
    """Delay before pods of a succeeded workflow are deleted (time to read logs live)."""

    def __post_init__(self) -> None:
        if self.success_ttl_seconds < 60 or self.failure_ttl_seconds < 60:
            raise ValueError("WorkflowRetention: TTLs must be at least 60 seconds")
        if not _DURATION.match(self.pod_delete_delay):
            raise ValueError(f"WorkflowRetention.pod_delete_delay: {self.pod_delete_delay!r} is not like 10m")


@dataclass(frozen=True)
class ArgoWorkflowsArgs:
    """How Argo Workflows is installed."""

    artifact_repository: S3Repository | GcsRepository
    """The data bucket, used keyless as the default artifact repository and log archive."""
    system_placement: PoolPlacement
    """Node selector and tolerations of the system pool (controller and server run there)."""
    chart_version: str = DEFAULT_ARGO_CHART_VERSION
    """Exact chart version (no range: the same ``pulumi up`` installs the same Argo)."""
    namespace: str = "argo"
    """Namespace of the controller and server."""
    workflow_namespace: str = "biojobs"
    """The one namespace the controller and server manage."""
    workflow_service_account: str = "argo-workflow"
    """Default ServiceAccount of workflows (created by the pipeline namespace, not the chart)."""
    retention: WorkflowRetention = field(default_factory=WorkflowRetention)
    """Workflow TTL and pod garbage collection."""
    max_pod_restarts: int = 3
    """Times the controller recreates a pod that failed before its main container started."""

    def __post_init__(self) -> None:
        if not _EXACT_VERSION.match(self.chart_version):
            raise ValueError(
                f"ArgoWorkflowsArgs.chart_version: {self.chart_version!r} must be an exact version "
                "like 1.0.18 (no range, no 'latest')"
            )
        for label, value in (
            ("namespace", self.namespace),
            ("workflow_namespace", self.workflow_namespace),
            ("workflow_service_account", self.workflow_service_account),
        ):
            if name_problem(value):
                raise ValueError(f"ArgoWorkflowsArgs.{label}: {value!r} is not a Kubernetes name")
        if self.namespace == self.workflow_namespace:
            raise ValueError("ArgoWorkflowsArgs: Argo must not run in the workflow namespace it manages")
        if not 0 <= self.max_pod_restarts <= 10:
            raise ValueError(f"ArgoWorkflowsArgs.max_pod_restarts: {self.max_pod_restarts} not in 0..10")


def _artifact_repository(repo: S3Repository | GcsRepository, bucket: str) -> dict[str, Any]:
    if isinstance(repo, S3Repository):
        # useSDKCreds: the AWS SDK's default chain, i.e. the EKS Pod Identity of the workflow's
        # ServiceAccount (Argo >= 3.6.2). No access key exists anywhere.
        s3 = {
            "bucket": bucket,
            "region": repo.region,
            "endpoint": "s3.amazonaws.com",
            "insecure": False,
            "useSDKCreds": True,
            # The chart quotes keyFormat without running it through Helm's tpl: Argo's
            # {{...}} variables pass as they are.
            "keyFormat": KEY_FORMAT,
        }
        return {"archiveLogs": True, "s3": s3}
    # No serviceAccountKeySecret: the GCS client falls back to the pod's Workload Identity. The
    # chart runs the gcs block through Helm's tpl, so Argo's {{...}} are escaped as a Go template
    # string literal that renders to the plain key format.
    return {"archiveLogs": True, "gcs": {"bucket": bucket, "keyFormat": '{{ "' + KEY_FORMAT + '" }}'}}


def argo_values(args: ArgoWorkflowsArgs, bucket: str) -> dict[str, Any]:
    """The chart values (a pure function of the args and the bucket name)."""
    placement = {
        "nodeSelector": dict(args.system_placement.node_selector),
        "tolerations": [t.to_json() for t in args.system_placement.tolerations],
    }
    pod_security = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    # The controller's informers and the server's API see only the workflow namespace.
    namespaced = ["--namespaced", f"--managed-namespace={args.workflow_namespace}"]
    r = args.retention
    return {
        "fullnameOverride": RELEASE_NAME,
        # Minified CRDs rendered by the chart itself: the "full" CRDs come from a pre-install hook
        # Job that downloads them from GitHub, which ties `pulumi up` to egress and one more image.
        # Workflows are validated against Argo's JSON schema when they are rendered instead.
        "crds": {"install": True, "keep": True, "full": False},
        # Tool images are pinned (by digest on the clouds): no need to re-pull every pod.
        "images": {"pullPolicy": "IfNotPresent"},
        # The pipeline namespace creates the workflow ServiceAccount and its exact RBAC.
        "workflow": {"serviceAccount": {"create": False}, "rbac": {"create": False}},
        "useStaticCredentials": False,
        "artifactRepository": _artifact_repository(args.artifact_repository, bucket),
        "controller": {
            "workflowNamespaces": [args.workflow_namespace],
            "extraArgs": namespaced,
            **placement,
            "podSecurityContext": pod_security,
            "securityContext": {**RESTRICTED_CONTAINER, "readOnlyRootFilesystem": True},
            "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
            # Pods lost before their main container ran (eviction, spot node gone while pulling)
            # are recreated without spending one of the template's retries.
            "failedPodRestart": {"enabled": True, "maxRestarts": args.max_pod_restarts},
            "workflowDefaults": {
                "spec": {
                    "serviceAccountName": args.workflow_service_account,
                    "ttlStrategy": {
                        "secondsAfterSuccess": r.success_ttl_seconds,
                        "secondsAfterFailure": r.failure_ttl_seconds,
                    },
                    # Pods of a succeeded workflow go after a short delay; a failed workflow
                    # keeps its pods (and their logs) until its TTL.
                    "podGC": {"strategy": "OnWorkflowSuccess", "deleteDelayDuration": r.pod_delete_delay},
                    # Pod-level half of Pod Security "restricted" for every workflow pod.
                    "securityContext": pod_security,
                }
            },
        },
        # The executor's init and wait containers in every workflow pod (the chart puts this in
        # the controller's config; the controller sets it on both containers). They run as the
        # pod's uid/gid, like the tool containers: the executor creates every input artifact's
        # parent directory with mode 0700 as its own uid, so any other uid could not enter it.
        # (The default argoexec image runs as root; an explicit non-root uid is required anyway.)
        "executor": {
            "securityContext": executor_security_context(),
            "resources": {
                "requests": {"cpu": "100m", "memory": "128Mi", "ephemeral-storage": "1Gi"},
                "limits": {"memory": "512Mi"},
            },
        },
        # Default for main containers whose template sets no securityContext.
        "mainContainer": {"securityContext": dict(RESTRICTED_CONTAINER)},
        "server": {
            # Every request carries a Kubernetes bearer token; the server acts with its rights.
            "authModes": ["client"],
            "serviceType": "ClusterIP",
            "servicePort": SERVER_PORT,
            # TLS with the server's self-signed certificate, also through port-forward.
            "secure": True,
            "extraArgs": namespaced,
            **placement,
            "podSecurityContext": pod_security,
            # The chart's default too: the server writes its self-signed certificate to disk.
            "securityContext": {**RESTRICTED_CONTAINER, "readOnlyRootFilesystem": False},
            "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        },
    }


class ArgoWorkflows(pulumi.ComponentResource):
    """Argo Workflows v4 in its own namespace, managing exactly one workflow namespace.

    The server accepts only client tokens (no anonymous access) and is not exposed outside the
    cluster (ClusterIP; reach it with ``kubectl port-forward``). Artifacts and archived logs go to
    the data bucket under ``argo/`` with no static key: the workflow pod's ServiceAccount carries
    the cloud identity. Neither the controller nor the server gets bucket access: with log
    archiving the wait container uploads (as the workflow's identity), the controller never
    reads artifacts, and the UI shows logs of live or kept pods; archived logs are read from the
    bucket with one's own cloud credentials.
    """

    release: k8s.helm.v3.Release
    """The Helm release (its CRDs must exist before any WorkflowTemplate)."""
    namespace_name: str
    """Namespace of the controller and server."""
    server_service: str
    """In-cluster Service name of the server."""
    server_port: int
    """The server Service's port."""

    def __init__(
        self, name: str, args: ArgoWorkflowsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("seqstack:k8s:ArgoWorkflows", name, None, opts)
        self.namespace_name = args.namespace
        self.server_service = SERVER_SERVICE
        self.server_port = SERVER_PORT
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.namespace,
                # The values give the controller and server pods every "restricted" setting
                # (minified CRDs: no hook Job), so the strictest level applies here too.
                labels={
                    f"pod-security.kubernetes.io/{mode}": "restricted"
                    for mode in ("enforce", "warn", "audit")
                },
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        values = pulumi.Output.from_input(args.artifact_repository.bucket).apply(
            lambda bucket: argo_values(args, bucket)
        )
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name=RELEASE_NAME,
            chart=ARGO_CHART,
            version=args.chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=ARGO_HELM_REPO),
            namespace=args.namespace,
            values=values,
            # Wait until the controller and server are ready, and roll back a failed install.
            atomic=True,
            timeout=600,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]),
        )
        self.register_outputs(
            {
                "namespace": args.namespace,
                "serverService": SERVER_SERVICE,
                "serverPort": SERVER_PORT,
                "chartVersion": args.chart_version,
            }
        )
