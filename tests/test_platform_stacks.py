"""The platform inside the real stacks: wired to each cloud's cluster, node pools and identity."""

from __future__ import annotations

import pytest

from stacks.harness import Inventory, run_stack
from tests import k8s_schema
from workflows.contract import ArgoEndpoint, StackOutputs


@pytest.fixture(scope="module")
def gcp_inv() -> Inventory:
    return run_stack("dev-gcp")


@pytest.fixture(scope="module", params=["dev-aws", "dev-gcp"])
def inv(request, aws_inv, gcp_inv) -> Inventory:
    return aws_inv if request.param == "dev-aws" else gcp_inv


def test_gke_autoscaler_is_built_in_and_tuned_for_bursty_batch(gcp_inv):
    """GKE needs no Cluster Autoscaler deployment: the cluster's profile makes it remove idle
    nodes quickly (the AWS stack gets the same from its autoscaler's scale-down flags)."""
    cluster = gcp_inv.one("gcp:container/cluster:Cluster").inputs
    assert cluster["clusterAutoscaling"]["autoscalingProfile"] == "OPTIMIZE_UTILIZATION"
    pools = gcp_inv.of_type("gcp:container/nodePool:NodePool")
    spot = [p.inputs for p in pools if p.inputs["nodeConfig"].get("spot")]
    assert spot and all(p["autoscaling"]["totalMinNodeCount"] == 0 for p in spot)


def test_gke_ships_workload_logs_and_enforces_network_policy(gcp_inv):
    cluster = gcp_inv.one("gcp:container/cluster:Cluster").inputs
    assert "WORKLOADS" in cluster["loggingConfig"]["enableComponents"]
    assert "SYSTEM_COMPONENTS" in cluster["monitoringConfig"]["enableComponents"]
    # Dataplane V2 enforces NetworkPolicy, so biojobs' default-deny ingress is real.
    assert cluster["datapathProvider"] == "ADVANCED_DATAPATH"


def test_every_manifest_of_the_stack_validates_against_its_kubernetes_version(inv):
    version = inv.config.kubernetes_version
    assert k8s_schema.version_schemas_present(version)
    for m in k8s_schema.k8s_manifests(inv):
        k8s_schema.validate(k8s_schema.manifest(m), version)


# --- wired into the stacks ----------------------------------------------------------------------

NODE_TYPES = ("aws:eks/nodeGroup:NodeGroup", "gcp:container/nodePool:NodePool")


def test_provider_uses_the_stacks_kubeconfig_and_waits_for_every_node_pool(inv):
    (provider,) = inv.of_type("pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == inv.outputs["kubeconfig"]
    assert provider.inputs["enableServerSideApply"] == "true"
    nodes = [r.name for r in inv.resources if r.type in NODE_TYPES]
    assert len(nodes) == 3
    assert set(nodes) <= set(provider.dependencies)


def test_every_in_cluster_object_uses_the_clusters_provider(inv):
    in_cluster = [r for r in inv.resources if r.custom and r.type.startswith("kubernetes:")]
    assert {r.type for r in in_cluster} >= {
        "kubernetes:helm.sh/v3:Release",
        "kubernetes:argoproj.io/v1alpha1:WorkflowTemplate",
        "kubernetes:core/v1:Namespace",
    }
    assert {r.name: r.provider for r in in_cluster} == {r.name: "k8s" for r in in_cluster}


def test_argo_output_names_the_server_and_the_token_secret(inv):
    stack = StackOutputs.from_json(inv.outputs)
    assert stack.argo == ArgoEndpoint(
        namespace="argo",
        server_service="argo-workflows-server",
        server_port=2746,
        token_secret="seqstack-submitter.service-account-token",
    )


def test_argo_artifacts_go_to_the_stacks_data_bucket(inv):
    repo = inv.one("kubernetes:helm.sh/v3:Release", "argo-release").inputs["values"]["artifactRepository"]
    (store,) = (v for k, v in repo.items() if k in ("s3", "gcs"))
    assert f"{'s3' if 's3' in repo else 'gs'}://{store['bucket']}" == inv.outputs["dataBucket"]


def test_workflow_template_uses_the_stacks_images_and_pools(inv):
    spec = inv.one("kubernetes:argoproj.io/v1alpha1:WorkflowTemplate").inputs["spec"]
    leaves = {t["name"]: t for t in spec["templates"] if t.get("container") or t.get("script")}
    images = inv.outputs["images"]
    assert leaves["fastqc"]["container"]["image"] == images["fastqc"]
    assert leaves["align"]["container"]["image"] == images["align"]
    pools = inv.outputs["nodePools"]
    assert leaves["align"]["nodeSelector"] == pools["large"]["nodeSelector"]
    assert leaves["align"]["tolerations"] == pools["large"]["tolerations"]
    assert leaves["fastqc"]["nodeSelector"] == pools["small"]["nodeSelector"]


def test_workflow_service_account_is_bound_to_the_clouds_data_identity(aws_inv, gcp_inv):
    aws_assoc = [
        r.inputs
        for r in aws_inv.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
        if (r.inputs["namespace"], r.inputs["serviceAccount"]) == ("biojobs", "argo-workflow")
    ]
    assert len(aws_assoc) == 1
    aws_sa = aws_inv.one("kubernetes:core/v1:ServiceAccount", "biojobs-workflow-sa").inputs["metadata"]
    assert "annotations" not in aws_sa
    gcp_sa = gcp_inv.one("kubernetes:core/v1:ServiceAccount", "biojobs-workflow-sa").inputs["metadata"]
    email = gcp_sa["annotations"]["iam.gke.io/gcp-service-account"]
    account_ids = {r.inputs["accountId"] for r in gcp_inv.of_type("gcp:serviceaccount/account:Account")}
    assert email.split("@")[0] in account_ids
    assert email.endswith("@seqstack-dev.iam.gserviceaccount.com")


def test_aws_stack_runs_the_autoscaler_and_cloudwatch_gcp_does_not(aws_inv, gcp_inv):
    assert aws_inv.one("kubernetes:helm.sh/v3:Release", "autoscaler-release").inputs["values"][
        "autoDiscovery"
    ] == {"clusterName": "seqstack-dev"}
    assert aws_inv.one("aws:eks/addon:Addon", "observability-addon").inputs["clusterName"] == "seqstack-dev"
    charts = sorted(r.inputs["chart"] for r in gcp_inv.of_type("kubernetes:helm.sh/v3:Release"))
    assert charts == ["argo-workflows"]
