"""A regional GKE Standard cluster: private nodes, VPC-native, Workload Identity, no default pool."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp

from components.gcp_identities import node_lockdown

#: Logs shipped to Cloud Logging: control-plane components and every container's stdout/stderr.
LOGGING_COMPONENTS: tuple[str, ...] = ("SYSTEM_COMPONENTS", "WORKLOADS")
#: Metrics shipped to Cloud Monitoring. System metrics already carry each container's CPU and
#: memory; the old ``WORKLOADS`` monitoring component was removed in GKE 1.24 and the
#: per-object ones (POD, DEPLOYMENT...) need paid Managed Prometheus.
MONITORING_COMPONENTS: tuple[str, ...] = ("SYSTEM_COMPONENTS",)
#: How ``kubectl`` gets a token for GKE (the built-in gcloud auth provider is gone since 1.26).
AUTH_PLUGIN = "gke-gcloud-auth-plugin"


@dataclass(frozen=True)
class WorkloadIdentityBinding:
    """Lets one Kubernetes ServiceAccount act as one Google service account."""

    service_account_id: pulumi.Input[str]
    """The Google service account's resource name (``projects/p/serviceAccounts/email``)."""
    namespace: str
    """Namespace of the Kubernetes ServiceAccount."""
    kubernetes_service_account: str
    """Name of the Kubernetes ServiceAccount."""


@dataclass(frozen=True)
class GkeClusterArgs:
    """The cluster's location, version, network and identities."""

    project: str
    """GCP project id."""
    region: str
    """Region: the cluster is regional (control plane replicated across zones)."""
    cluster_name: str
    """Cluster name."""
    kubernetes_version: str
    """Minimum control-plane version, ``1.NN``; the release channel upgrades from there."""
    zones: pulumi.Input[Sequence[str]]
    """Zones the nodes run in (2 or 3 of the region's)."""
    network: pulumi.Input[str]
    """The VPC's id."""
    subnetwork: pulumi.Input[str]
    """The nodes' subnetwork id."""
    pods_range_name: str
    """Secondary range of the subnetwork for pod IPs."""
    services_range_name: str
    """Secondary range of the subnetwork for Service IPs."""
    master_cidr: str
    """/28 for the control plane's private endpoint."""
    max_pods_per_node: int
    """Pods per node the pod range is sized for."""
    node_service_account: pulumi.Input[str]
    """Email of the nodes' service account (used by the short-lived default pool too)."""
    deletion_protection: bool
    """Refuse to delete the cluster (``pulumi destroy`` fails until this is turned off)."""
    workload_bindings: Sequence[WorkloadIdentityBinding] = ()
    """Kubernetes ServiceAccounts allowed to act as Google service accounts."""
    api_allowed_cidrs: Sequence[str] = ("0.0.0.0/0",)
    """Networks that may reach the control plane's public endpoint (IAM still authenticates)."""


class GkeCluster(pulumi.ComponentResource):
    """The GKE control plane, with Workload Identity and the bindings of pipeline identities.

    Node pools are separate resources (:class:`components.gcp_node_pool.GkeNodePool`); GKE
    insists on creating a default pool, which is removed as soon as the cluster exists. The
    Workload Identity bindings live here because the identity pool ``<project>.svc.id.goog``
    only exists once a cluster has Workload Identity on: binding before that fails.
    """

    cluster: gcp.container.Cluster
    """The cluster."""
    name: pulumi.Output[str]
    """Cluster name."""
    workload_pool: pulumi.Output[str]
    """The Workload Identity pool, ``<project>.svc.id.goog``."""
    kubeconfig: pulumi.Output[str]
    """A kubeconfig (secret) that authenticates with ``gke-gcloud-auth-plugin``."""

    def __init__(self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not re.fullmatch(r"1\.\d{2}", args.kubernetes_version):
            raise ValueError(f"GkeCluster {name}: kubernetes_version {args.kubernetes_version!r} is not 1.NN")
        if not args.master_cidr.endswith("/28"):
            raise ValueError(f"GkeCluster {name}: master_cidr {args.master_cidr!r} must be a /28")
        super().__init__("seqstack:gcp:GkeCluster", name, None, opts)
        workload_pool = f"{args.project}.svc.id.goog"
        self.cluster = gcp.container.Cluster(
            f"{name}-cluster",
            name=args.cluster_name,
            project=args.project,
            location=args.region,
            node_locations=args.zones,
            min_master_version=args.kubernetes_version,
            release_channel=gcp.container.ClusterReleaseChannelArgs(channel="REGULAR"),
            network=args.network,
            subnetwork=args.subnetwork,
            networking_mode="VPC_NATIVE",
            ip_allocation_policy=gcp.container.ClusterIpAllocationPolicyArgs(
                cluster_secondary_range_name=args.pods_range_name,
                services_secondary_range_name=args.services_range_name,
            ),
            default_max_pods_per_node=args.max_pods_per_node,
            # Nodes get no public IP; the control plane keeps a public endpoint so `pulumi up`
            # and kubectl work from a laptop (authenticated by Google IAM).
            private_cluster_config=gcp.container.ClusterPrivateClusterConfigArgs(
                enable_private_nodes=True,
                enable_private_endpoint=False,
                master_ipv4_cidr_block=args.master_cidr,
            ),
            # Narrow the public endpoint to where `pulumi up` and kubectl run (seqstack:apiAllowedCidrs).
            master_authorized_networks_config=gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(
                cidr_blocks=[
                    gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(
                        cidr_block=cidr, display_name=f"seqstack-api-{i}"
                    )
                    for i, cidr in enumerate(args.api_allowed_cidrs)
                ]
            ),
            # Dataplane V2 enforces NetworkPolicies without an extra add-on.
            datapath_provider="ADVANCED_DATAPATH",
            workload_identity_config=gcp.container.ClusterWorkloadIdentityConfigArgs(
                workload_pool=workload_pool
            ),
            enable_shielded_nodes=True,
            logging_config=gcp.container.ClusterLoggingConfigArgs(enable_components=list(LOGGING_COMPONENTS)),
            monitoring_config=gcp.container.ClusterMonitoringConfigArgs(
                enable_components=list(MONITORING_COMPONENTS)
            ),
            # Per-pool autoscalers are built in; this profile removes empty (spot) nodes sooner.
            cluster_autoscaling=gcp.container.ClusterClusterAutoscalingArgs(
                autoscaling_profile="OPTIMIZE_UTILIZATION"
            ),
            remove_default_node_pool=True,
            initial_node_count=1,
            # The default pool lives minutes, but it must not run as the Compute Engine default
            # account (often disabled by policy). Its node_config is gone once the pool is
            # removed, so changes to it are ignored rather than forcing a new cluster.
            node_config=gcp.container.ClusterNodeConfigArgs(
                service_account=args.node_service_account,
                **node_lockdown(
                    gcp.container.ClusterNodeConfigShieldedInstanceConfigArgs,
                    gcp.container.ClusterNodeConfigWorkloadMetadataConfigArgs,
                ),
            ),
            deletion_protection=args.deletion_protection,
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["nodeConfig"]),
        )
        self.name = self.cluster.name
        self.workload_pool = self.cluster.workload_identity_config.apply(
            lambda c: (c.workload_pool if c else None) or workload_pool
        )
        for binding in args.workload_bindings:
            ns, ksa = binding.namespace, binding.kubernetes_service_account
            gcp.serviceaccount.IAMMember(
                f"{name}-wi-{ns}-{ksa}",
                service_account_id=binding.service_account_id,
                role="roles/iam.workloadIdentityUser",
                # Reading the pool from the cluster orders this after the cluster exists.
                member=pulumi.Output.concat("serviceAccount:", self.workload_pool, f"[{ns}/{ksa}]"),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(
                self.cluster.name, self.cluster.endpoint, self.cluster.master_auth.cluster_ca_certificate
            ).apply(lambda v: json.dumps(kubeconfig(args.project, args.region, v[0], v[1], v[2]), indent=2))
        )
        self.register_outputs({"name": self.name, "endpoint": self.cluster.endpoint})


def kubeconfig(project: str, region: str, cluster: str, endpoint: str, ca_data: str | None) -> dict[str, Any]:
    """A kubeconfig for a GKE cluster; credentials come from ``gke-gcloud-auth-plugin`` at use.

    The context is named as ``gcloud container clusters get-credentials`` names it, so the two
    do not create duplicate entries in a merged ~/.kube/config.
    """
    context = f"gke_{project}_{region}_{cluster}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": context,
                "cluster": {"server": f"https://{endpoint}", "certificate-authority-data": ca_data or ""},
            }
        ],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
        "users": [
            {
                "name": context,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": AUTH_PLUGIN,
                        "installHint": "Install gke-gcloud-auth-plugin: "
                        "gcloud components install gke-gcloud-auth-plugin",
                        "provideClusterInfo": True,
                        "interactiveMode": "IfAvailable",
                    }
                },
            }
        ],
    }
