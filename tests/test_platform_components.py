"""The in-cluster platform (stacks/platform.py) on both clouds, run under the mock runtime.

Each test reads what :func:`stacks.platform.build_platform` declares for the committed dev stacks,
with stand-ins for what the cloud stacks pass in (a node resource, the Pod Identity agent, a
bucket name, images), so these tests do not depend on the cloud stacks being wired.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp
import pytest

from components.biojobs_namespace import BiojobsNamespaceArgs
from stacks.config import ConfigError, parse_config
from stacks.harness import Inventory, run_function
from stacks.loader import read_stack_file
from stacks.platform import AwsPlatformIdentity, GcpPlatformIdentity, PlatformArgs, build_platform
from stacks.versions import DEFAULT_MINOR
from tests import argo_schema, k8s_schema

#: The dev stacks run the default minor (tests/test_versions.py checks it).
CLUSTER_MINOR = DEFAULT_MINOR

RELEASE = "kubernetes:helm.sh/v3:Release"
WORKFLOW_TEMPLATE = "kubernetes:argoproj.io/v1alpha1:WorkflowTemplate"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
IMAGES = {
    "fastqc": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/seqstack-dev/fastqc@sha256:" + "a" * 64,
    "align": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/seqstack-dev/align@sha256:" + "b" * 64,
    "report": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/seqstack-dev/report@sha256:" + "c" * 64,
}
KUBECONFIG = '{"apiVersion": "v1", "kind": "Config", "current-context": "test"}'
GSA = "seqstack-dev-workload@seqstack-dev.iam.gserviceaccount.com"


def run_platform(stack: str, overrides: dict[str, Any] | None = None) -> Inventory:
    """build_platform for a committed stack's config, with stand-in cloud resources."""
    raw = {**read_stack_file(stack), **(overrides or {})}
    cfg = parse_config(raw, stack)

    def program() -> dict[str, Any]:
        nodes: pulumi.Resource
        if stack.endswith("aws"):
            agent = aws.eks.Addon("pod-identity-agent", cluster_name=cfg.cluster_name, addon_name="x")
            nodes = aws.eks.NodeGroup(
                "nodes",
                cluster_name=cfg.cluster_name,
                node_role_arn="r",
                subnet_ids=["s"],
                scaling_config={"desired_size": 1, "max_size": 1, "min_size": 1},
            )
            identity: AwsPlatformIdentity | GcpPlatformIdentity = AwsPlatformIdentity(
                cluster_name=cfg.cluster_name, pod_identity_agent=agent
            )
        else:
            nodes = gcp.container.NodePool("nodes", cluster="c", location=cfg.region)
            identity = GcpPlatformIdentity(workflow_account_email=GSA)
        out = build_platform(
            cfg,
            PlatformArgs(
                kubeconfig=KUBECONFIG,
                identity=identity,
                data_bucket="seqstack-dev-data-1234",
                nodes=[nodes],
                images=IMAGES,
                registry="registry.example",
            ),
        )
        return {"argo": out.argo}

    return run_function(cfg, program, raw)


@pytest.fixture(scope="module")
def aws_platform() -> Inventory:
    return run_platform("dev-aws")


@pytest.fixture(scope="module")
def gcp_platform() -> Inventory:
    return run_platform("dev-gcp")


@pytest.fixture(scope="module", params=["aws", "gcp"])
def platform(request, aws_platform, gcp_platform) -> Inventory:
    return aws_platform if request.param == "aws" else gcp_platform


def argo_values(inv: Inventory) -> dict[str, Any]:
    return inv.one(RELEASE, "argo-release").inputs["values"]


# --- the provider -------------------------------------------------------------------------------


def test_one_provider_from_the_kubeconfig_with_server_side_apply_after_the_nodes(platform):
    (provider,) = platform.of_type("pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == KUBECONFIG
    assert provider.inputs["enableServerSideApply"] == "true"
    assert "nodes" in provider.dependencies


def test_every_kubernetes_object_uses_the_cluster_provider(platform):
    in_cluster = [r for r in platform.resources if r.custom and r.type.startswith("kubernetes:")]
    assert len(in_cluster) >= 14
    assert {r.name: r.provider for r in in_cluster} == {r.name: "k8s" for r in in_cluster}


# --- Argo Workflows -----------------------------------------------------------------------------


def test_argo_chart_is_the_official_one_pinned_exactly(platform):
    release = platform.one(RELEASE, "argo-release").inputs
    assert release["chart"] == "argo-workflows"
    assert release["repositoryOpts"] == {"repo": "https://argoproj.github.io/argo-helm"}
    assert release["version"] == "1.0.18"
    assert release["namespace"] == "argo"
    assert release["name"] == "argo-workflows"


def test_argo_chart_version_comes_from_config_and_must_be_exact():
    inv = run_platform("dev-aws", {"seqstack:argoChartVersion": "1.0.17"})
    assert inv.one(RELEASE, "argo-release").inputs["version"] == "1.0.17"
    for floating in ("^1.0", "1.0", "latest", ">=1.0.18"):
        with pytest.raises(ConfigError, match="argoChartVersion"):
            run_platform("dev-aws", {"seqstack:argoChartVersion": floating})


def test_controller_and_server_manage_only_biojobs(platform):
    values = argo_values(platform)
    assert values["controller"]["workflowNamespaces"] == ["biojobs"]
    for part in ("controller", "server"):
        assert values[part]["extraArgs"] == ["--namespaced", "--managed-namespace=biojobs"]
    # The chart's own workflow ServiceAccount and RBAC are off: BiojobsNamespace owns them.
    assert values["workflow"] == {"serviceAccount": {"create": False}, "rbac": {"create": False}}


def test_server_needs_a_client_token_and_stays_inside_the_cluster(platform):
    server = argo_values(platform)["server"]
    assert server["authModes"] == ["client"]
    assert server["serviceType"] == "ClusterIP"
    assert server["secure"] is True
    assert "ingress" not in server


def test_controller_and_server_run_on_the_system_pool(platform):
    values = argo_values(platform)
    for part in ("controller", "server"):
        assert values[part]["nodeSelector"] == {"seqstack.io/pool": "system"}
        assert values[part]["tolerations"] == []


def test_system_pool_on_spot_gets_its_toleration():
    values = argo_values(run_platform("dev-aws", {"seqstack:systemSpot": True}))
    assert values["controller"]["tolerations"] == [
        {"key": "seqstack.io/pool", "operator": "Equal", "value": "system", "effect": "NoSchedule"}
    ]


def test_s3_artifacts_and_logs_use_the_pod_identity_not_keys(aws_platform):
    values = argo_values(aws_platform)
    assert values["useStaticCredentials"] is False
    assert values["artifactRepository"] == {
        "archiveLogs": True,
        "s3": {
            "bucket": "seqstack-dev-data-1234",
            "region": "eu-west-1",
            "endpoint": "s3.amazonaws.com",
            "insecure": False,
            "useSDKCreds": True,
            "keyFormat": "argo/{{workflow.name}}/{{pod.name}}",
        },
    }


def test_gcs_artifacts_and_logs_use_workload_identity_not_a_key(gcp_platform):
    repo = argo_values(gcp_platform)["artifactRepository"]
    assert repo["archiveLogs"] is True
    assert set(repo) == {"archiveLogs", "gcs"}
    assert "serviceAccountKeySecret" not in repo["gcs"]
    assert repo["gcs"]["bucket"] == "seqstack-dev-data-1234"


def helm_tpl(text: str) -> str:
    """Helm's ``tpl`` for the only action this chart's values may contain: a string literal.

    Any other ``{{ ... }}`` (e.g. Argo's ``{{workflow.name}}``) is an error in Helm ("function
    workflow not defined"), and is one here.
    """
    out, i = [], 0
    while (start := text.find("{{", i)) >= 0:
        out.append(text[i:start])
        m = re.compile(r'\{\{-?\s*"((?:[^"\\]|\\.)*)"\s*-?\}\}').match(text, start)
        if not m:
            raise ValueError(f"Helm cannot render the action at {text[start : start + 30]!r}")
        out.append(m.group(1))
        i = m.end()
    return "".join(out) + text[i:]


def rendered_artifact_repository(values: dict[str, Any]) -> dict[str, Any]:
    """The controller config's artifactRepository as the chart (1.0.18) renders it.

    workflow-controller-config-map.yaml runs the gcs block through ``tpl``; the s3 block's
    bucket/endpoint/region go through ``tpl`` and keyFormat is only quoted.
    """
    repo = values["artifactRepository"]
    out: dict[str, Any] = {"archiveLogs": repo["archiveLogs"]}
    if "gcs" in repo:
        out["gcs"] = {k: helm_tpl(v) for k, v in repo["gcs"].items()}
    if "s3" in repo:
        s3 = dict(repo["s3"])
        for key in ("bucket", "endpoint", "region"):
            s3[key] = helm_tpl(s3[key])
        out["s3"] = s3
    return out


def test_key_format_reaches_argo_intact_through_helm(platform):
    rendered = rendered_artifact_repository(argo_values(platform))
    (store,) = (v for k, v in rendered.items() if k in ("s3", "gcs"))
    assert store["keyFormat"] == "argo/{{workflow.name}}/{{pod.name}}"


def test_helm_tpl_emulation_rejects_unescaped_argo_variables():
    with pytest.raises(ValueError, match="Helm cannot render"):
        helm_tpl("argo/{{workflow.name}}")
    assert helm_tpl('{{ "a/{{b}}" }}') == "a/{{b}}"


def test_artifact_repository_is_valid_argo_config(platform):
    validator = argo_schema.validator("io.argoproj.workflow.v1alpha1.ArtifactRepository")
    rendered = rendered_artifact_repository(argo_values(platform))
    assert [e.message for e in validator.iter_errors(rendered)] == []


def test_workflows_default_to_a_ttl_pod_gc_and_the_workflow_service_account(platform):
    spec = argo_values(platform)["controller"]["workflowDefaults"]["spec"]
    assert spec["ttlStrategy"] == {"secondsAfterSuccess": 86400, "secondsAfterFailure": 604800}
    assert spec["podGC"] == {"strategy": "OnWorkflowSuccess", "deleteDelayDuration": "10m"}
    assert spec["serviceAccountName"] == "argo-workflow"
    assert spec["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


def test_workflow_defaults_are_a_valid_workflow_spec(platform):
    spec = argo_values(platform)["controller"]["workflowDefaults"]["spec"]
    workflow = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "d"},
        "spec": spec,
    }
    assert argo_schema.errors(workflow) == []


def test_pods_lost_before_they_started_are_restarted(platform):
    assert argo_values(platform)["controller"]["failedPodRestart"] == {"enabled": True, "maxRestarts": 3}


def test_crds_are_installed_by_the_chart_without_a_download(platform):
    assert argo_values(platform)["crds"] == {"install": True, "keep": True, "full": False}


def test_argo_pod_settings_are_valid_kubernetes(platform):
    values = argo_values(platform)
    for part in ("controller", "server"):
        spec = {
            "nodeSelector": values[part]["nodeSelector"],
            "tolerations": values[part]["tolerations"],
            "securityContext": values[part]["podSecurityContext"],
            "containers": [
                {
                    "name": part,
                    "image": "x",
                    "resources": values[part]["resources"],
                    "securityContext": values[part]["securityContext"],
                }
            ],
        }
        k8s_schema.validate(k8s_schema.pod(spec), CLUSTER_MINOR)
    # The executor's init/wait containers and the default for main containers.
    k8s_schema.validate(
        k8s_schema.pod(
            {
                "containers": [
                    {"name": "wait", "image": "x", **values["executor"]},
                    {"name": "main", "image": "y", **values["mainContainer"]},
                ]
            }
        ),
        CLUSTER_MINOR,
    )


# --- the biojobs namespace ----------------------------------------------------------------------


def by_name(inv: Inventory, type_token: str, name: str) -> dict[str, Any]:
    return inv.one(type_token, name).inputs


def test_biojobs_enforces_pod_security_restricted_pinned_to_the_cluster_version(platform):
    labels = by_name(platform, "kubernetes:core/v1:Namespace", "biojobs-namespace")["metadata"]["labels"]
    for mode in ("enforce", "warn", "audit"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
        assert labels[f"pod-security.kubernetes.io/{mode}-version"] == f"v{CLUSTER_MINOR}"


def test_executor_role_has_exactly_what_emissary_needs(platform):
    role = by_name(platform, ROLE, "biojobs-executor-role")
    assert role["metadata"] == {"name": "argo-workflow-executor", "namespace": "biojobs"}
    assert role["rules"] == [
        {"apiGroups": ["argoproj.io"], "resources": ["workflowtaskresults"], "verbs": ["create", "patch"]}
    ]
    binding = by_name(platform, ROLE_BINDING, "biojobs-executor-binding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "argo-workflow-executor",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "argo-workflow", "namespace": "biojobs"}
    ]


def test_workflow_service_account_carries_the_gke_identity_only_on_gcp(aws_platform, gcp_platform):
    aws_sa = by_name(aws_platform, "kubernetes:core/v1:ServiceAccount", "biojobs-workflow-sa")["metadata"]
    assert aws_sa == {"name": "argo-workflow", "namespace": "biojobs"}
    gcp_sa = by_name(gcp_platform, "kubernetes:core/v1:ServiceAccount", "biojobs-workflow-sa")["metadata"]
    assert gcp_sa["annotations"] == {"iam.gke.io/gcp-service-account": GSA}


def test_quota_comes_from_config(platform):
    hard = by_name(platform, "kubernetes:core/v1:ResourceQuota", "biojobs-quota")["spec"]["hard"]
    assert hard == {
        "requests.cpu": "256",
        "requests.memory": "1Ti",
        "requests.ephemeral-storage": "10Ti",
        "pods": "300",
    }


def test_quota_follows_a_config_change():
    inv = run_platform("dev-aws", {"seqstack:quotaCpu": "96", "seqstack:quotaPods": 40})
    hard = by_name(inv, "kubernetes:core/v1:ResourceQuota", "biojobs-quota")["spec"]["hard"]
    assert (hard["requests.cpu"], hard["pods"]) == ("96", "40")


def test_namespace_args_refuse_a_quota_of_no_pods():
    base = {"quota_cpu": "8", "quota_memory": "32Gi", "quota_ephemeral_storage": "100Gi"}
    assert BiojobsNamespaceArgs(**base, quota_pods=1).quota_pods == 1
    with pytest.raises(ValueError, match=r"BiojobsNamespaceArgs\.quota_pods: 0 must be at least 1"):
        BiojobsNamespaceArgs(**base, quota_pods=0)


def test_limit_range_gives_helper_containers_requests(platform):
    (item,) = by_name(platform, "kubernetes:core/v1:LimitRange", "biojobs-limits")["spec"]["limits"]
    assert item["type"] == "Container"
    assert set(item["defaultRequest"]) == {"cpu", "memory", "ephemeral-storage"}


def test_ingress_is_denied_by_default(platform):
    policy = by_name(platform, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "biojobs-deny-ingress")
    assert policy["metadata"]["namespace"] == "biojobs"
    assert policy["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}


# --- the submitter ------------------------------------------------------------------------------


def test_submitter_can_submit_and_read_but_not_change_or_delete(platform):
    role = by_name(platform, ROLE, "submitter-role")
    assert role["metadata"] == {"name": "seqstack-submitter", "namespace": "biojobs"}
    assert role["rules"] == [
        {
            "apiGroups": ["argoproj.io"],
            "resources": ["workflows"],
            "verbs": ["create", "get", "list", "watch"],
        },
        {
            "apiGroups": ["argoproj.io"],
            "resources": ["workflowtemplates"],
            "verbs": ["create", "get", "list", "watch"],
        },
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    ]
    binding = by_name(platform, ROLE_BINDING, "submitter-binding")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "seqstack-submitter", "namespace": "biojobs"}
    ]


def test_submitter_token_secret_and_the_argo_output(platform):
    secret = by_name(platform, "kubernetes:core/v1:Secret", "submitter-token")
    assert secret["type"] == "kubernetes.io/service-account-token"
    assert secret["metadata"]["annotations"] == {"kubernetes.io/service-account.name": "seqstack-submitter"}
    assert platform.outputs["argo"] == {
        "namespace": "argo",
        "serverService": "argo-workflows-server",
        "serverPort": 2746,
        "tokenSecret": secret["metadata"]["name"],
    }


# --- the WorkflowTemplate -----------------------------------------------------------------------


def test_workflow_template_is_installed_with_this_stacks_images_and_pools(platform):
    wt = platform.one(WORKFLOW_TEMPLATE)
    assert wt.inputs["apiVersion"] == "argoproj.io/v1alpha1"
    assert wt.inputs["metadata"]["namespace"] == "biojobs"
    assert {"argo-release", "biojobs-namespace"} <= set(wt.dependencies)
    containers = {
        t["name"]: (t.get("container") or t.get("script"), t.get("nodeSelector"))
        for t in wt.inputs["spec"]["templates"]
        if t.get("container") or t.get("script")
    }
    assert containers["fastqc"][0]["image"] == IMAGES["fastqc"]
    assert containers["align"][0]["image"] == IMAGES["align"]
    assert containers["align"][1] == {"seqstack.io/pool": "large"}
    assert containers["fastqc"][1] == {"seqstack.io/pool": "small"}


def test_installed_workflow_template_is_valid_argo(platform):
    wt = dict(platform.one(WORKFLOW_TEMPLATE).inputs)
    assert argo_schema.errors(json.loads(json.dumps(wt))) == []


RESTRICTED_VOLUMES = {
    "emptyDir",
    "configMap",
    "secret",
    "persistentVolumeClaim",
    "projected",
    "downwardAPI",
    "csi",
    "ephemeral",
}


def restricted_violations(
    pod_security: dict[str, Any], containers: list[dict[str, Any]], volumes: list[dict[str, Any]]
) -> list[str]:
    """What Pod Security "restricted" (of the cluster's minor) would refuse in a pod made of these parts."""
    found = []
    for c in containers:
        sc = c.get("securityContext") or {}
        name = c.get("name", "?")
        if sc.get("allowPrivilegeEscalation") is not False:
            found.append(f"{name}: allowPrivilegeEscalation must be false")
        if "ALL" not in (sc.get("capabilities") or {}).get("drop", []):
            found.append(f"{name}: capabilities must drop ALL")
        if set((sc.get("capabilities") or {}).get("add", [])) - {"NET_BIND_SERVICE"}:
            found.append(f"{name}: adds capabilities")
        if not (sc.get("runAsNonRoot") or pod_security.get("runAsNonRoot")):
            found.append(f"{name}: runAsNonRoot unset")
        if sc.get("runAsUser") == 0 or (sc.get("runAsUser") is None and pod_security.get("runAsUser") == 0):
            found.append(f"{name}: runs as uid 0")
        seccomp = (sc.get("seccompProfile") or pod_security.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            found.append(f"{name}: seccompProfile must be RuntimeDefault")
        if sc.get("privileged"):
            found.append(f"{name}: privileged")
    for v in volumes:
        kinds = set(v) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            found.append(f"volume {v.get('name')}: {sorted(kinds)} not allowed")
    return found


def test_every_workflow_pod_is_admitted_by_pod_security_restricted(platform):
    """Why biojobs can enforce "restricted": the rendered template's pods plus Argo's executor
    containers (securityContext from the chart values) meet every rule."""
    spec = platform.one(WORKFLOW_TEMPLATE).inputs["spec"]
    executor = argo_values(platform)["executor"]
    pod_security = spec.get("securityContext") or {}
    leaves = [t for t in spec["templates"] if t.get("container") or t.get("script")]
    assert len(leaves) >= 4
    for t in leaves:
        main = dict(t.get("container") or t.get("script"), name="main")
        init, wait = ({"name": n, "securityContext": executor["securityContext"]} for n in ("init", "wait"))
        assert restricted_violations(pod_security, [main, init, wait], t.get("volumes") or []) == [], t[
            "name"
        ]


def test_argo_namespace_enforces_restricted_and_argos_own_pods_meet_it(platform):
    labels = by_name(platform, "kubernetes:core/v1:Namespace", "argo-namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    values = argo_values(platform)
    for part in ("controller", "server"):
        container = {"name": part, "securityContext": values[part]["securityContext"]}
        assert restricted_violations(values[part]["podSecurityContext"], [container], []) == [], part


def test_restricted_check_catches_a_root_container():
    assert restricted_violations(
        {}, [{"name": "c", "securityContext": {"runAsUser": 0}}], [{"name": "h", "hostPath": {}}]
    )


# --- every plain manifest is valid Kubernetes of the cluster's minor --------------------------------


def test_kubernetes_validate_ships_the_clusters_minor_schemas_offline():
    assert k8s_schema.version_schemas_present(CLUSTER_MINOR)


def test_every_manifest_validates_against_the_clusters_kubernetes_minor(platform):
    manifests = list(k8s_schema.k8s_manifests(platform))
    kinds = {m.inputs["kind"] for m in manifests}
    assert {
        "Namespace",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ResourceQuota",
        "LimitRange",
        "NetworkPolicy",
        "Secret",
    } <= kinds
    for m in manifests:
        k8s_schema.validate(k8s_schema.manifest(m), CLUSTER_MINOR)


def test_the_validator_rejects_a_misspelt_field():
    bad = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "lables": {}}}
    with pytest.raises(Exception, match="lables"):
        k8s_schema.validate(bad, CLUSTER_MINOR)


def test_platform_passes_the_policy_pack(platform):
    from policies.offline import check_inventory

    # "nodes" is this test's stand-in node group, not part of the platform.
    assert [v for v in check_inventory(platform) if v.resource_name != "nodes"] == []
