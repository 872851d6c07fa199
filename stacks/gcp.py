"""The GCP stack (dev-gcp): VPC, GKE, node pools, identities, Artifact Registry, data bucket."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp

from components.gcp_apis import GcpApis, GcpApisArgs
from components.gcp_cluster_access import GcpClusterAccess, GcpClusterAccessArgs
from components.gcp_data_bucket import GcpDataBucket, GcpDataBucketArgs
from components.gcp_gke_cluster import GkeCluster, GkeClusterArgs, WorkloadIdentityBinding
from components.gcp_identities import GcpIdentities, GcpIdentitiesArgs
from components.gcp_network import MAX_PODS_PER_NODE, GcpNetwork, GcpNetworkArgs, plan_addresses
from components.gcp_node_pool import DiskType, GkeNodePool, GkeNodePoolArgs
from components.gcp_registry import GcpRegistry, GcpRegistryArgs
from components.pools import Capacity
from components.tool_images import ToolImages, ToolImagesArgs, artifact_registry_credentials
from stacks.config import ConfigError, NodePoolConfig, StackConfig
from stacks.platform import (
    WORKFLOW_SERVICE_ACCOUNT,
    GcpPlatformIdentity,
    PlatformArgs,
    build_platform,
    contract_outputs,
)
from workflows.contract import IMAGE_NAMES, PIPELINE_NAMESPACE, pool_placement

#: Boot disks per pool: the large pool's disk holds samtools sort spills and the reference
#: index, where pd-ssd's higher IOPS pay off; the others are fine on pd-balanced.
DISK_TYPES = {"system": DiskType.BALANCED, "small": DiskType.BALANCED, "large": DiskType.SSD}


@dataclass(frozen=True)
class GcpFoundation:
    """The GCP resources, for the steps that build on them (in-cluster platform, images)."""

    apis: GcpApis
    """Enabled project APIs."""
    network: GcpNetwork
    """VPC, subnetwork, Cloud NAT."""
    cluster: GkeCluster
    """Control plane, kubeconfig, Workload Identity bindings."""
    node_pools: dict[str, GkeNodePool]
    """Node pools by pool name."""
    identities: GcpIdentities
    """Node and workload service accounts (``identities.workload_account.email``)."""
    data: GcpDataBucket
    """The data bucket."""
    registry: GcpRegistry
    """The Artifact Registry repository (``registry.url``)."""


def build_gcp(cfg: StackConfig) -> dict[str, Any]:
    """Declare the GCP stack and return its outputs by contract name."""
    found = declare_foundation(cfg)
    registry = found.registry.url
    # Tool images built from containers/ and pushed to Artifact Registry with the access token
    # of whoever runs Pulumi; the pipeline template and the output get digest-pinned references.
    images = ToolImages(
        "images",
        ToolImagesArgs(
            repositories={name: pulumi.Output.concat(registry, "/", name) for name in IMAGE_NAMES},
            credentials=artifact_registry_credentials(
                server=registry.apply(lambda url: url.split("/", 1)[0])
            ),
        ),
    ).images
    # Argo, the biojobs namespace (its ServiceAccount mapped to the workload account) and the
    # pipeline template; GKE's own autoscaler and logging are cluster settings.
    platform = build_platform(
        cfg,
        PlatformArgs(
            kubeconfig=found.cluster.kubeconfig,
            identity=GcpPlatformIdentity(workflow_account_email=found.identities.workload_account.email),
            data_bucket=found.data.bucket_name,
            nodes=list(found.node_pools.values()),
            images=images,
            registry=registry,
        ),
    )
    return contract_outputs(
        cfg,
        cluster_name=found.cluster.name,
        kubeconfig=found.cluster.kubeconfig,
        data_bucket=found.data.bucket_name,
        registry=registry,
        images=images,
        argo=platform.argo,
    )


def declare_foundation(cfg: StackConfig) -> GcpFoundation:
    """Declare APIs, network, bucket, registry, identities, cluster and pools, in that order."""
    check_gcp_config(cfg)
    project = str(cfg.project)
    apis = GcpApis("apis", GcpApisArgs(project=project))
    # Every component waits for the APIs (its children register after it, and it after them).
    after_apis = pulumi.ResourceOptions(depends_on=[apis])
    network = GcpNetwork(
        "network", GcpNetworkArgs(project=project, region=cfg.region, cidr=cfg.vpc_cidr), after_apis
    )
    data = GcpDataBucket(
        "data",
        GcpDataBucketArgs(
            project=project,
            location=cfg.region,
            bucket_prefix=cfg.data_bucket_prefix,
            stack=cfg.stack,
            scratch_expiration_days=cfg.scratch_expiration_days,
            retain=cfg.retain_data,
            adopt=cfg.adopt_data_bucket,
        ),
        after_apis,
    )
    registry = GcpRegistry(
        "registry",
        GcpRegistryArgs(
            project=project, region=cfg.region, repository_id=cfg.cluster_name, images=IMAGE_NAMES
        ),
        after_apis,
    )
    identities = GcpIdentities(
        "identities",
        GcpIdentitiesArgs(project=project, name_prefix=cfg.cluster_name, data_bucket=data.bucket_name),
        after_apis,
    )
    # Zones that are up in this region (not every region has an "-a"), once Compute is on.
    zones = gcp.compute.get_zones_output(
        project=project, region=cfg.region, status="UP", opts=pulumi.InvokeOutputOptions(depends_on=[apis])
    ).names.apply(lambda names: sorted(names)[: cfg.zone_count])
    cluster = GkeCluster(
        "gke",
        GkeClusterArgs(
            project=project,
            region=cfg.region,
            cluster_name=cfg.cluster_name,
            kubernetes_version=cfg.kubernetes_version,
            zones=zones,
            network=network.network.id,
            subnetwork=network.subnetwork.id,
            pods_range_name=network.pods_range_name,
            services_range_name=network.services_range_name,
            master_cidr=network.plan.master,
            max_pods_per_node=MAX_PODS_PER_NODE,
            node_service_account=identities.node_account.email,
            deletion_protection=cfg.deletion_protection,
            api_allowed_cidrs=cfg.api_allowed_cidrs,
            workload_bindings=[
                WorkloadIdentityBinding(
                    service_account_id=identities.workload_account.name,
                    namespace=PIPELINE_NAMESPACE,
                    kubernetes_service_account=WORKFLOW_SERVICE_ACCOUNT,
                )
            ],
        ),
        after_apis,
    )
    # Who besides the creator may reach the cluster (seqstack:adminPrincipals/previewPrincipal).
    GcpClusterAccess(
        "access",
        GcpClusterAccessArgs(
            project=project,
            admin_members=cfg.admin_principals,
            view_members=(cfg.preview_principal,) if cfg.preview_principal else (),
        ),
        after_apis,
    )
    node_pools = {
        pool.name: GkeNodePool(f"pool-{pool.name}", node_pool_args(cfg, pool, cluster, identities, zones))
        for pool in cfg.pools
    }
    return GcpFoundation(apis, network, cluster, node_pools, identities, data, registry)


def node_pool_args(
    cfg: StackConfig,
    pool: NodePoolConfig,
    cluster: GkeCluster,
    identities: GcpIdentities,
    zones: pulumi.Input[Sequence[str]] | None = None,
) -> GkeNodePoolArgs:
    """One pool's settings: its first (only) machine type, sizes as totals, spot pools tainted."""
    return GkeNodePoolArgs(
        pool_name=pool.name,
        project=str(cfg.project),
        location=cfg.region,
        cluster=cluster.name,
        machine_type=pool.machine_types[0],
        min_nodes=pool.min_nodes,
        max_nodes=pool.max_nodes,
        disk_gib=pool.disk_gib,
        disk_type=DISK_TYPES[pool.name],
        capacity=Capacity.SPOT if pool.spot else Capacity.ON_DEMAND,
        placement=pool_placement(pool.name, tainted=pool.spot),
        service_account=identities.node_account.email,
        zone_count=cfg.zone_count,
        zones=zones,
    )


def check_gcp_config(cfg: StackConfig) -> None:
    """What only GCP cannot do: several machine types per pool, more nodes than pod addresses."""
    for pool in cfg.pools:
        if len(pool.machine_types) > 1:
            raise ConfigError(
                f"seqstack:{pool.name}MachineTypes: a GKE node pool has one machine type, "
                f"got {list(pool.machine_types)} (list exactly one on GCP)"
            )
    capacity = plan_addresses(cfg.vpc_cidr).max_nodes
    total = sum(pool.max_nodes for pool in cfg.pools)
    if total > capacity:
        raise ConfigError(
            f"seqstack:vpcCidr: {cfg.vpc_cidr} leaves pod addresses for {capacity} nodes, but the pools "
            f"may grow to {total} (use a larger network or lower the *MaxNodes)"
        )
