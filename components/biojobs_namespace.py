"""The namespace the pipelines run in: Pod Security, workflow identity and RBAC, quota, network."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import pulumi
import pulumi_kubernetes as k8s

from workflows.k8s_names import name_problem


class PodSecurityLevel(StrEnum):
    """Pod Security Standards level enforced on a namespace."""

    RESTRICTED = "restricted"
    BASELINE = "baseline"


#: The only rule the emissary executor needs since Argo 3.4: its wait container reports a step's
#: outputs as a WorkflowTaskResult. The older executors' pods get/watch/patch and pods/log are
#: not needed any more (argo-workflows docs/workflow-rbac.md and the v4 quick-start
#: manifests/quick-start/base/executor/emissary/executor-role.yaml list just this).
EXECUTOR_RULES: tuple[k8s.rbac.v1.PolicyRuleArgs, ...] = (
    k8s.rbac.v1.PolicyRuleArgs(
        api_groups=["argoproj.io"], resources=["workflowtaskresults"], verbs=["create", "patch"]
    ),
)


@dataclass(frozen=True)
class LimitDefaults:
    """Requests and limits a container gets when it declares none (Argo's init/wait containers).

    The quota counts requests, so every container must have them or the pod is rejected.
    """

    cpu_request: str = "100m"
    """Default CPU request."""
    memory_request: str = "256Mi"
    """Default memory request."""
    memory_limit: str = "1Gi"
    """Default memory limit (a runaway helper container cannot starve the tool)."""
    ephemeral_storage_request: str = "1Gi"
    """Default ephemeral-storage request."""


@dataclass(frozen=True)
class BiojobsNamespaceArgs:
    """What the pipeline namespace holds."""

    quota_cpu: str
    """ResourceQuota: total CPU requests of the namespace (a Kubernetes quantity, e.g. ``96``)."""
    quota_memory: str
    """ResourceQuota: total memory requests (e.g. ``384Gi``)."""
    quota_ephemeral_storage: str
    """ResourceQuota: total ephemeral-storage requests (e.g. ``2Ti``)."""
    quota_pods: int
    """ResourceQuota: number of pods, at least 1."""
    kubernetes_version: str = "1.33"
    """The cluster's minor version: the Pod Security rules are pinned to it ("latest" would
    change the rules under running pipelines on a control-plane upgrade)."""
    namespace: str = "biojobs"
    """Namespace name."""
    workflow_service_account: str = "argo-workflow"
    """ServiceAccount every workflow pod runs as; the stacks bind it to the cloud identity."""
    service_account_annotations: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Annotations of that ServiceAccount (GKE: ``iam.gke.io/gcp-service-account``; EKS Pod
    Identity needs none)."""
    pod_security: PodSecurityLevel = PodSecurityLevel.RESTRICTED
    """Pod Security Standards level enforced on the namespace."""
    limit_defaults: LimitDefaults = field(default_factory=LimitDefaults)
    """Defaults for containers without resources."""

    def __post_init__(self) -> None:
        if self.quota_pods < 1:
            raise ValueError(f"BiojobsNamespaceArgs.quota_pods: {self.quota_pods} must be at least 1")
        if not re.match(r"^1\.\d{2}$", self.kubernetes_version):
            raise ValueError(
                f"BiojobsNamespaceArgs.kubernetes_version: {self.kubernetes_version!r} is not 1.NN"
            )
        for label, value in (
            ("namespace", self.namespace),
            ("workflow_service_account", self.workflow_service_account),
        ):
            if name_problem(value):
                raise ValueError(f"BiojobsNamespaceArgs.{label}: {value!r} is not a Kubernetes name")


class BiojobsNamespace(pulumi.ComponentResource):
    """The ``biojobs`` namespace, ready for workflow pods.

    - Pod Security Standards enforced (restricted by default): the tool images run as uid 1000,
      the DAG sets runAsNonRoot, seccomp RuntimeDefault, no privilege escalation and drops ALL
      capabilities, and the Argo controller adds the same to its own init/wait containers, so the
      strictest level admits the pipeline and rejects anything that asks for more.
    - The workflow ServiceAccount and a Role with exactly what the emissary executor needs.
    - A ResourceQuota from the stack config and a LimitRange that gives helper containers
      requests (the quota rejects pods whose containers have none).
    - A default-deny ingress NetworkPolicy: nothing needs to connect to a pipeline pod.
    """

    namespace: k8s.core.v1.Namespace
    """The namespace."""
    service_account: k8s.core.v1.ServiceAccount
    """The workflow ServiceAccount."""
    namespace_name: str
    """The namespace's name (known before it exists)."""
    service_account_name: str
    """The workflow ServiceAccount's name."""

    def __init__(
        self, name: str, args: BiojobsNamespaceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("seqstack:k8s:BiojobsNamespace", name, None, opts)
        ns = args.namespace
        self.namespace_name = ns
        self.service_account_name = args.workflow_service_account
        level = args.pod_security.value
        pss_version = f"v{args.kubernetes_version}"
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=ns,
                labels={
                    "pod-security.kubernetes.io/enforce": level,
                    "pod-security.kubernetes.io/enforce-version": pss_version,
                    # warn and audit at the same level: kubectl shows why a pod would be refused.
                    "pod-security.kubernetes.io/warn": level,
                    "pod-security.kubernetes.io/warn-version": pss_version,
                    "pod-security.kubernetes.io/audit": level,
                    "pod-security.kubernetes.io/audit-version": pss_version,
                },
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Everything else lives in the namespace, so it waits for it (and is deleted first).
        inside = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])

        def meta(object_name: str) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=ns)

        sa_name = args.workflow_service_account
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-workflow-sa",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=sa_name, namespace=ns, annotations=dict(args.service_account_annotations) or None
            ),
            opts=inside,
        )
        role = k8s.rbac.v1.Role(
            f"{name}-executor-role",
            metadata=meta(f"{sa_name}-executor"),
            rules=list(EXECUTOR_RULES),
            opts=inside,
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-executor-binding",
            metadata=meta(f"{sa_name}-executor"),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="Role", name=sa_name + "-executor"
            ),
            subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=sa_name, namespace=ns)],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.namespace, role, self.service_account]),
        )
        k8s.core.v1.ResourceQuota(
            f"{name}-quota",
            metadata=meta("biojobs-quota"),
            spec=k8s.core.v1.ResourceQuotaSpecArgs(
                hard={
                    "requests.cpu": args.quota_cpu,
                    "requests.memory": args.quota_memory,
                    "requests.ephemeral-storage": args.quota_ephemeral_storage,
                    "pods": str(args.quota_pods),
                }
            ),
            opts=inside,
        )
        d = args.limit_defaults
        k8s.core.v1.LimitRange(
            f"{name}-limits",
            metadata=meta("container-defaults"),
            spec=k8s.core.v1.LimitRangeSpecArgs(
                limits=[
                    k8s.core.v1.LimitRangeItemArgs(
                        type="Container",
                        default_request={
                            "cpu": d.cpu_request,
                            "memory": d.memory_request,
                            "ephemeral-storage": d.ephemeral_storage_request,
                        },
                        default={"memory": d.memory_limit},
                    )
                ]
            ),
            opts=inside,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-deny-ingress",
            metadata=meta("default-deny-ingress"),
            # An empty selector picks every pod; Ingress with no rules admits nothing. Egress
            # stays open: pods fetch inputs from the bucket and report to the API server.
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(), policy_types=["Ingress"]
            ),
            opts=inside,
        )
        self.register_outputs({"namespace": ns, "workflowServiceAccount": sa_name, "podSecurity": level})
