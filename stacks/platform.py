"""The in-cluster platform, the same on both clouds: Argo, the pipeline namespace, the template.

``stacks/aws.py`` and ``stacks/gcp.py`` call :func:`build_platform` once their cluster and node
pools exist. Everything here goes through one Kubernetes provider built from the new cluster's
kubeconfig, so ``pulumi up`` leaves a cluster that runs the DAG with no manual step, and
``pulumi destroy`` removes the in-cluster objects before the nodes and the cluster. What differs
per cloud is only how pods get cloud credentials (:class:`AwsPlatformIdentity`,
:class:`GcpPlatformIdentity`) and, on AWS, the Cluster Autoscaler and CloudWatch add-on (GKE
has both built in; the GCP stack sets their cluster options).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.argo_submitter import ArgoSubmitter, ArgoSubmitterArgs
from components.argo_workflows import ArgoWorkflows, ArgoWorkflowsArgs, GcsRepository, S3Repository
from components.biojobs_namespace import BiojobsNamespace, BiojobsNamespaceArgs
from components.k8s_provider import cluster_provider
from components.pipeline_template import PipelineTemplate, PipelineTemplateArgs
from stacks.config import Cloud, StackConfig
from workflows.contract import (
    CLOUD_SCHEMES,
    IMAGE_NAMES,
    PIPELINE_NAMESPACE,
    ArgoEndpoint,
    PoolPlacement,
    StackOutputs,
    pool_placement,
)

#: The ServiceAccount pipeline pods run as (both clouds bind their data identity to it).
WORKFLOW_SERVICE_ACCOUNT = "argo-workflow"

#: Annotation that maps a Kubernetes ServiceAccount to a Google service account.
GKE_WORKLOAD_IDENTITY_ANNOTATION = "iam.gke.io/gcp-service-account"


@dataclass(frozen=True)
class AwsPlatformIdentity:
    """AWS: pods get credentials from EKS Pod Identity (the stack associates the workflow SA)."""

    cluster_name: pulumi.Input[str]
    """EKS cluster name, as the cluster's output (roles and add-ons wait for the cluster)."""
    pod_identity_agent: pulumi.Resource
    """The Pod Identity agent add-on; associations only work once it runs."""
    partition: str = "aws"
    """AWS partition (managed policy ARNs)."""


@dataclass(frozen=True)
class GcpPlatformIdentity:
    """GCP: Workload Identity maps the workflow ServiceAccount to a Google service account."""

    workflow_account_email: pulumi.Input[str]
    """Email of the Google service account with access to the data bucket."""


@dataclass(frozen=True)
class PlatformArgs:
    """What the in-cluster platform needs from the cloud stack."""

    kubeconfig: pulumi.Input[str]
    """Kubeconfig of the new cluster."""
    identity: AwsPlatformIdentity | GcpPlatformIdentity
    """How workflow pods get cloud credentials."""
    data_bucket: pulumi.Input[str]
    """Name of the data bucket (artifacts, archived logs)."""
    nodes: Sequence[pulumi.Resource]
    """Node groups / node pools: nothing is applied in the cluster before they exist."""
    images: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    """Tool image references by name, for the WorkflowTemplate."""
    registry: pulumi.Input[str] = ""
    """Container registry (part of the StackOutputs the template is built from)."""


@dataclass(frozen=True)
class PlatformOutputs:
    """What the stacks export or build on."""

    provider: k8s.Provider
    """The cluster's Kubernetes provider."""
    namespace: str
    """The pipeline namespace."""
    workflow_service_account: str
    """ServiceAccount of workflow pods."""
    argo_endpoint: ArgoEndpoint
    """Where the Argo server is and which Secret holds the submitter's token."""
    argo: dict[str, Any]
    """``argo_endpoint`` as the ``argo`` stack output."""
    template: PipelineTemplate
    """The installed WorkflowTemplate."""


def default_template(stack: StackOutputs) -> Mapping[str, Any]:
    """The WorkflowTemplate ``seqstack render`` produces for this stack (same builder)."""
    from workflows.render import workflow_template

    return workflow_template(stack)


def pool_placements(cfg: StackConfig) -> dict[str, PoolPlacement]:
    """Where a pod must go for each pool: the same labels and taints the node pools were given."""
    return {pool.name: pool_placement(pool.name, tainted=pool.spot) for pool in cfg.pools}


def contract_outputs(
    cfg: StackConfig,
    *,
    cluster_name: pulumi.Input[str],
    kubeconfig: pulumi.Input[str],
    data_bucket: pulumi.Input[str],
    registry: pulumi.Input[str],
    images: pulumi.Input[Mapping[str, str]],
    argo: dict[str, Any],
) -> dict[str, Any]:
    """Both clouds' stack outputs, by contract name and in contract order, from the cloud's values."""
    return {
        "cloud": cfg.cloud.value,
        "region": cfg.region,
        "clusterName": cluster_name,
        "kubeconfig": pulumi.Output.secret(kubeconfig),
        "dataBucket": pulumi.Output.concat(f"{CLOUD_SCHEMES[cfg.cloud.value]}://", data_bucket),
        "namespace": PIPELINE_NAMESPACE,
        "workflowServiceAccount": WORKFLOW_SERVICE_ACCOUNT,
        "registry": registry,
        "images": images,
        "nodePools": {name: placement.to_json() for name, placement in pool_placements(cfg).items()},
        "argo": argo,
    }


def template_stack(
    cfg: StackConfig, data_bucket: str, images: Mapping[str, str], registry: str
) -> StackOutputs:
    """The stack's outputs as the template builder sees them (no kubeconfig: it needs none)."""
    missing = [name for name in IMAGE_NAMES if name not in images]
    if missing:
        raise ValueError(f"build_platform: images lack {', '.join(missing)} (have {sorted(images)})")
    scheme = CLOUD_SCHEMES[cfg.cloud.value]
    return StackOutputs(
        cloud=cfg.cloud.value,
        region=cfg.region,
        cluster_name=cfg.cluster_name,
        kubeconfig="",
        data_bucket=f"{scheme}://{data_bucket}",
        namespace=PIPELINE_NAMESPACE,
        workflow_service_account=WORKFLOW_SERVICE_ACCOUNT,
        registry=registry,
        images=dict(images),
        node_pools=pool_placements(cfg),
    )


def build_platform(
    cfg: StackConfig,
    args: PlatformArgs,
    template_builder: Callable[[StackOutputs], Mapping[str, Any]] = default_template,
) -> PlatformOutputs:
    """Declare every in-cluster object (and, on AWS, the autoscaler and observability add-on)."""
    provider = cluster_provider("k8s", args.kubeconfig, depends_on=args.nodes)
    in_cluster = pulumi.ResourceOptions(providers=[provider])
    system = pool_placement("system", tainted=cfg.system.spot)

    annotations: dict[str, pulumi.Input[str]] = {}
    if isinstance(args.identity, GcpPlatformIdentity):
        annotations[GKE_WORKLOAD_IDENTITY_ANNOTATION] = args.identity.workflow_account_email
    namespace = BiojobsNamespace(
        "biojobs",
        BiojobsNamespaceArgs(
            quota_cpu=cfg.quotas.cpu,
            quota_memory=cfg.quotas.memory,
            quota_ephemeral_storage=cfg.quotas.ephemeral_storage,
            quota_pods=cfg.quotas.pods,
            kubernetes_version=cfg.kubernetes_version,
            namespace=PIPELINE_NAMESPACE,
            workflow_service_account=WORKFLOW_SERVICE_ACCOUNT,
            service_account_annotations=annotations,
        ),
        in_cluster,
    )
    repository: S3Repository | GcsRepository = (
        S3Repository(bucket=args.data_bucket, region=cfg.region)
        if cfg.cloud is Cloud.AWS
        else GcsRepository(bucket=args.data_bucket)
    )
    argo = ArgoWorkflows(
        "argo",
        ArgoWorkflowsArgs(
            artifact_repository=repository,
            system_placement=system,
            chart_version=cfg.argo_chart_version,
            workflow_namespace=PIPELINE_NAMESPACE,
            workflow_service_account=WORKFLOW_SERVICE_ACCOUNT,
        ),
        in_cluster,
    )
    submitter = ArgoSubmitter(
        "submitter",
        ArgoSubmitterArgs(namespace=PIPELINE_NAMESPACE, depends_on=(namespace.namespace,)),
        in_cluster,
    )
    stack = pulumi.Output.all(
        pulumi.Output.from_input(args.data_bucket),
        pulumi.Output.from_input(args.images),
        pulumi.Output.from_input(args.registry),
    ).apply(lambda v: template_stack(cfg, v[0], v[1], v[2]))
    template = PipelineTemplate(
        "pipeline",
        PipelineTemplateArgs(
            template=stack.apply(lambda s: dict(template_builder(s))),
            namespace=PIPELINE_NAMESPACE,
            # Argo's CRDs come with the release; the namespace must exist.
            depends_on=(argo.release, namespace.namespace),
        ),
        in_cluster,
    )

    if isinstance(args.identity, AwsPlatformIdentity):
        _aws_addons(cfg, args.identity, provider, args.nodes)

    endpoint = ArgoEndpoint(
        namespace=argo.namespace_name,
        server_service=argo.server_service,
        server_port=argo.server_port,
        token_secret=submitter.token_secret_name,
    )
    return PlatformOutputs(
        provider=provider,
        namespace=namespace.namespace_name,
        workflow_service_account=namespace.service_account_name,
        argo_endpoint=endpoint,
        argo=endpoint.to_json(),
        template=template,
    )


def _aws_addons(
    cfg: StackConfig, identity: AwsPlatformIdentity, provider: k8s.Provider, nodes: Sequence[pulumi.Resource]
) -> None:
    """EKS has no built-in autoscaler and no log shipping: add both, each with its own role."""
    from components.aws_observability import AwsObservability, AwsObservabilityArgs
    from components.cluster_autoscaler import ClusterAutoscaler, ClusterAutoscalerArgs

    ClusterAutoscaler(
        "autoscaler",
        ClusterAutoscalerArgs(
            cluster_name=identity.cluster_name,
            region=cfg.region,
            kubernetes_version=cfg.kubernetes_version,
            system_placement=pool_placement("system", tainted=cfg.system.spot),
            pod_identity_depends_on=(identity.pod_identity_agent,),
        ),
        pulumi.ResourceOptions(providers=[provider]),
    )
    AwsObservability(
        "observability",
        AwsObservabilityArgs(
            cluster_name=identity.cluster_name,
            partition=identity.partition,
            depends_on=(identity.pod_identity_agent, *nodes),
        ),
    )
