"""The AWS stack (dev-aws): network, EKS, node groups, identity, registries, data bucket."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi_aws as aws

from components.aws_data_bucket import AwsDataBucket, AwsDataBucketArgs
from components.aws_eks_cluster import AwsEksCluster, AwsEksClusterArgs
from components.aws_network import AwsNetwork, AwsNetworkArgs, eks_zones
from components.aws_node_group import AwsNodeGroup, AwsNodeGroupArgs
from components.aws_pod_identity import AwsPodIdentity, AwsPodIdentityArgs
from components.aws_registry import AwsRegistry, AwsRegistryArgs
from components.cluster_autoscaler import CHART_BY_MINOR
from components.naming import s3_bucket_name
from components.pools import Capacity
from components.tool_images import ToolImages, ToolImagesArgs, ecr_credentials
from stacks.config import ConfigError, NatMode, StackConfig
from stacks.platform import (
    WORKFLOW_SERVICE_ACCOUNT,
    AwsPlatformIdentity,
    PlatformArgs,
    build_platform,
    contract_outputs,
)
from workflows.contract import IMAGE_NAMES, PIPELINE_NAMESPACE, pool_placement


@dataclass(frozen=True)
class AwsFoundation:
    """The AWS resources, for the steps that build on them (in-cluster platform, images)."""

    network: AwsNetwork
    """VPC, subnets, NAT, endpoints."""
    cluster: AwsEksCluster
    """Control plane, kubeconfig, node role, Pod Identity agent."""
    node_groups: dict[str, AwsNodeGroup]
    """Node groups by pool name (``system`` must be up before in-cluster controllers)."""
    workflow_identity: AwsPodIdentity
    """Pod Identity role of the pipeline ServiceAccount."""
    data: AwsDataBucket
    """The data bucket."""
    registry: AwsRegistry
    """ECR repositories of the tool images."""


def build_aws(cfg: StackConfig) -> dict[str, Any]:
    """Declare the AWS stack and return its outputs by contract name."""
    found = declare_foundation(cfg)
    # Tool images built from containers/ and pushed to ECR with a token the program requests;
    # the pipeline template and the output get digest-pinned references.
    images = ToolImages(
        "images",
        ToolImagesArgs(
            repositories=found.registry.repository_urls,
            credentials=ecr_credentials(
                registry_id=found.registry.repositories[IMAGE_NAMES[0]].registry_id,
                server=found.registry.registry,
            ),
        ),
    ).images
    # Argo, the biojobs namespace, the pipeline template, the autoscaler and CloudWatch.
    platform = build_platform(
        cfg,
        PlatformArgs(
            kubeconfig=found.cluster.kubeconfig_json,
            identity=AwsPlatformIdentity(
                cluster_name=found.cluster.cluster_name,
                pod_identity_agent=found.cluster.pod_identity_agent,
                partition=aws.get_partition().partition,
            ),
            data_bucket=found.data.bucket_name,
            nodes=list(found.node_groups.values()),
            images=images,
            registry=found.registry.registry,
        ),
    )
    return contract_outputs(
        cfg,
        cluster_name=cfg.cluster_name,
        kubeconfig=found.cluster.kubeconfig_json,
        data_bucket=found.data.bucket_name,
        registry=found.registry.registry,
        images=images,
        argo=platform.argo,
    )


def declare_foundation(cfg: StackConfig) -> AwsFoundation:
    """Declare network, cluster, node groups, identities, bucket and registry, in that order."""
    # The autoscaler is pinned per Kubernetes minor; checked before the first resource, since its
    # own check runs only after the VPC, cluster and node groups are already being created.
    if cfg.kubernetes_version not in CHART_BY_MINOR:
        raise ConfigError(
            f"seqstack:kubernetesVersion: {cfg.kubernetes_version} has no pinned Cluster Autoscaler "
            f"on AWS (supported: {', '.join(CHART_BY_MINOR)})"
        )
    # 1. Network: zones from the region (Local/Wavelength Zones and those EKS refuses, by zone
    #    ID, excluded), VPC, NAT, endpoints.
    offered = aws.get_availability_zones(
        state="available",
        filters=[aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])],
    )
    zones = eks_zones(offered.names, offered.zone_ids, cfg.zone_count)
    if len(zones) < cfg.zone_count:
        raise ConfigError(
            f"seqstack:zoneCount: {cfg.zone_count} zones asked for, {cfg.region} offers {len(zones)} "
            f"that EKS supports: {zones}"
        )
    network = AwsNetwork(
        "network",
        AwsNetworkArgs(
            cidr=cfg.vpc_cidr,
            zones=zones,
            region=cfg.region,
            cluster_name=cfg.cluster_name,
            nat_per_zone=cfg.nat_mode is NatMode.PER_ZONE,
        ),
    )

    # 2. Control plane, Pod Identity agent and the shared node role.
    partition = aws.get_partition().partition
    cluster = AwsEksCluster(
        "cluster",
        AwsEksClusterArgs(
            cluster_name=cfg.cluster_name,
            version=cfg.kubernetes_version,
            vpc_id=network.vpc_id,
            private_subnet_ids=network.private_subnet_ids,
            public_subnet_ids=network.public_subnet_ids,
            partition=partition,
            api_allowed_cidrs=cfg.api_allowed_cidrs,
            admin_principal_arns=cfg.admin_principals,
            view_principal_arns=(cfg.preview_principal,) if cfg.preview_principal else (),
        ),
    )

    # 3. The VPC CNI (aws-node) gets its AWS permissions from Pod Identity, not the node role,
    #    so no pod on the node inherits them.
    cni_identity = AwsPodIdentity(
        "cni-identity",
        AwsPodIdentityArgs(
            cluster_name=cluster.cluster_name,
            namespace="kube-system",
            service_account="aws-node",
            managed_policy_arns=(f"arn:{partition}:iam::aws:policy/AmazonEKS_CNI_Policy",),
            depends_on=(cluster.pod_identity_agent,),
        ),
    )

    # 4. Node groups: on-demand system pool, spot small and large pools that scale to zero.
    node_groups = {
        pool.name: AwsNodeGroup(
            f"pool-{pool.name}",
            AwsNodeGroupArgs(
                cluster_name=cluster.cluster_name,
                autoscaler_cluster_name=cfg.cluster_name,
                node_role_arn=cluster.node_role.arn,
                subnet_ids=network.private_subnet_ids,
                pool_name=pool.name,
                machine_types=pool.machine_types,
                min_nodes=pool.min_nodes,
                max_nodes=pool.max_nodes,
                disk_gib=pool.disk_gib,
                capacity=Capacity.SPOT if pool.spot else Capacity.ON_DEMAND,
                placement=pool_placement(pool.name, tainted=pool.spot),
                depends_on=(
                    *cluster.node_policy_attachments,
                    cluster.pod_identity_agent,
                    cni_identity,
                    *network.egress,
                ),
            ),
        )
        for pool in cfg.pools
    }

    # 5. Data bucket and the pipeline's identity, scoped to that bucket alone.
    data = AwsDataBucket(
        "data",
        AwsDataBucketArgs(
            # Fixed per account, region and stack, so a redeploy finds the bucket a destroy kept.
            bucket_name=s3_bucket_name(
                cfg.data_bucket_prefix, aws.get_caller_identity().account_id, cfg.region, cfg.stack
            ),
            adopt=cfg.adopt_data_bucket,
            scratch_expiration_days=cfg.scratch_expiration_days,
            retain=cfg.retain_data,
        ),
    )
    workflow_identity = AwsPodIdentity(
        "workflow-identity",
        AwsPodIdentityArgs(
            cluster_name=cluster.cluster_name,
            namespace=PIPELINE_NAMESPACE,
            service_account=WORKFLOW_SERVICE_ACCOUNT,
            policy=data.read_write_policy(),
            depends_on=(cluster.pod_identity_agent,),
        ),
    )

    # 6. Image repositories (the images themselves are built and pushed elsewhere).
    registry = AwsRegistry("registry", AwsRegistryArgs(namespace=cfg.cluster_name, images=IMAGE_NAMES))

    return AwsFoundation(
        network=network,
        cluster=cluster,
        node_groups=node_groups,
        workflow_identity=workflow_identity,
        data=data,
        registry=registry,
    )
