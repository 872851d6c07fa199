"""The seqstack guardrails: Pulumi policies for the promises the platform makes.

Every policy here is MANDATORY: a violation fails ``pulumi preview --policy-pack policies`` (and
``pulumi up``), and fails ``seqstack inventory --policy`` offline, which runs these very objects
over the resources the program declares under Pulumi's mock runtime (see ``policies/offline.py``).

This module imports only the standard library and ``pulumi_policy``: the policy pack runs in its
own virtualenv from ``policies/`` (``PulumiPolicy.yaml``), where the seqstack packages are not
installed. That is why :data:`POOL_LABEL` is repeated here (a test keeps it equal to
``workflows.contract.POOL_LABEL``).

Policies read resource *inputs* as the provider receives them: camelCase keys, numbers possibly
as floats, nested values as mappings and sequences (under the engine they are read-only proxies
that raise ``UnknownValueError`` on values unknown during preview, so the code below only uses
the ``Mapping``/``Sequence`` protocols, never ``isinstance(x, dict)``).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidation,
    StackValidationArgs,
    StackValidationPolicy,
)

PACK_NAME = "seqstack-guardrails"

#: Node label that names a seqstack pool (same value as ``workflows.contract.POOL_LABEL``).
POOL_LABEL = "seqstack.io/pool"

#: Pools that run pipeline tasks: they must be spot and scale to zero.
WORKER_POOLS: frozenset[str] = frozenset({"small", "large"})

# Type tokens, in one place so a provider rename is a one-line change.
S3_BUCKETS = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
S3_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
S3_ENCRYPTION = frozenset(
    {
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    }
)
GCS_BUCKET = "gcp:storage/bucket:Bucket"
GCS_BUCKET_IAM = frozenset(
    {"gcp:storage/bucketIAMMember:BucketIAMMember", "gcp:storage/bucketIAMBinding:BucketIAMBinding"}
)
EKS_NODE_GROUPS = frozenset({"aws:eks/nodeGroup:NodeGroup", "eks:index:ManagedNodeGroup"})
EKS_CLUSTER = "eks:index:Cluster"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
GKE_NODE_POOL = "gcp:container/nodePool:NodePool"
GKE_CLUSTER = "gcp:container/cluster:Cluster"
ECR_REPOSITORY = "aws:ecr/repository:Repository"
AR_REPOSITORY = "gcp:artifactregistry/repository:Repository"
GCP_SERVICE = "gcp:projects/service:Service"
PROJECT_IAM_MEMBER = "gcp:projects/iAMMember:IAMMember"
PROJECT_IAM_BINDING = "gcp:projects/iAMBinding:IAMBinding"
PROJECT_IAM_POLICY = "gcp:projects/iAMPolicy:IAMPolicy"
HELM_RELEASES = frozenset(
    {"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v3:Chart", "kubernetes:helm.sh/v4:Chart"}
)
K8S_SERVICE = "kubernetes:core/v1:Service"
IAM_ROLE = "aws:iam/role:Role"
IAM_POLICY_ATTACHMENTS = frozenset(
    {
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/policyAttachment:PolicyAttachment",
        "aws:iam/userPolicyAttachment:UserPolicyAttachment",
        "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    }
)

#: AWS managed policies that grant ``*`` or ``<service>:*`` on every resource. Attaching one is
#: the same violation as writing the statement by hand (the seed gave every pod AmazonS3FullAccess).
WILDCARD_MANAGED_POLICIES: frozenset[str] = frozenset(
    {
        "AdministratorAccess",
        "PowerUserAccess",
        "IAMFullAccess",
        "AmazonS3FullAccess",
        "AmazonEC2FullAccess",
        "AmazonEC2ContainerRegistryFullAccess",
        "AmazonEKSFullAccess",
        "AmazonDynamoDBFullAccess",
        "CloudWatchFullAccess",
        "AWSKeyManagementServicePowerUser",
    }
)

#: The Container Scanning API: without it Artifact Registry scans nothing, whatever the repository says.
CONTAINER_SCANNING_API = "containerscanning.googleapis.com"

_SEMVER = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)
_SERVICE_WILDCARD = re.compile(r"^[A-Za-z0-9-]+:\*$")


# --------------------------------------------------------------------------------------------
# Small readers that work on plain dicts (offline) and on the engine's read-only proxies.


def _get(value: Any, *path: str) -> Any:
    """``value[path[0]][path[1]]...``, or None where a level is missing or not a mapping."""
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _items(value: Any) -> list[Any]:
    """A sequence as a list (a single value as a one-element list, None as empty); not strings."""
    if value is None:
        return []
    if isinstance(value, str | Mapping):
        return [value]
    if isinstance(value, Sequence):
        return list(value)
    return [value]


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _number(value: Any) -> float | None:
    """Numbers arrive as floats under the mock runtime and as ints from the engine."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _json(value: Any) -> Any:
    """A policy document given either as JSON text or as an object."""
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith("{"):
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return None
    return value


def _mandatory_resource_policy(
    name: str, description: str, validate: ResourceValidation, severity: Severity
) -> ResourceValidationPolicy:
    """A per-resource policy; every seqstack policy is mandatory (a violation stops preview and up)."""
    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=severity,
    )


def _mandatory_stack_policy(
    name: str, description: str, validate: StackValidation, severity: Severity
) -> StackValidationPolicy:
    """A policy over all resources at once (to pair a bucket with its settings); mandatory too."""
    return StackValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=severity,
    )


# --------------------------------------------------------------------------------------------
# Buckets: private, encrypted, protected.


def _linked(child: PolicyResource, bucket: PolicyResource) -> bool:
    """Does ``child`` (a public access block, an encryption config) configure ``bucket``?

    The ``bucket`` input's property dependencies name the bucket's URN even while its generated
    name is unknown in preview; failing those, the child's dependencies (the offline runner
    fills these from the mock run), then a literal name equal to the bucket's.
    """
    deps = child.property_dependencies.get("bucket") or []
    if deps:
        return any(d.urn == bucket.urn for d in deps)
    if any(d.urn == bucket.urn for d in child.dependencies):
        return True
    value = child.props.get("bucket")
    return value is not None and value == bucket.props.get("bucket")


def _children_of(bucket: PolicyResource, candidates: Iterable[PolicyResource]) -> list[PolicyResource]:
    return [c for c in candidates if _linked(c, bucket)]


_PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _validate_buckets_private(args: StackValidationArgs, report: ReportViolation) -> None:
    buckets = [r for r in args.resources if r.resource_type in S3_BUCKETS]
    blocks = [r for r in args.resources if r.resource_type == S3_PUBLIC_ACCESS_BLOCK]
    for bucket in buckets:
        mine = _children_of(bucket, blocks)
        if not mine:
            report(
                f"S3 bucket '{bucket.name}' has no BucketPublicAccessBlock: declare one with "
                f"{', '.join(_PAB_FLAGS)} all true.",
                bucket.urn,
            )
        for block in mine:
            off = [flag for flag in _PAB_FLAGS if not _is_true(block.props.get(flag))]
            if off:
                report(
                    f"S3 bucket '{bucket.name}': public access block '{block.name}' leaves "
                    f"{', '.join(off)} unset or false; all four must be true.",
                    block.urn,
                )
    for r in args.resources:
        if r.resource_type == GCS_BUCKET:
            if not _is_true(r.props.get("uniformBucketLevelAccess")):
                report(
                    f"GCS bucket '{r.name}': uniformBucketLevelAccess must be true (no per-object ACLs).",
                    r.urn,
                )
            if r.props.get("publicAccessPrevention") != "enforced":
                report(
                    f"GCS bucket '{r.name}': publicAccessPrevention must be 'enforced', "
                    f"got {r.props.get('publicAccessPrevention')!r}.",
                    r.urn,
                )
        if r.resource_type in GCS_BUCKET_IAM:
            public = [
                m
                for m in _items(r.props.get("member")) + _items(r.props.get("members"))
                if m
                in (
                    "allUsers",
                    "allAuthenticatedUsers",
                )
            ]
            if public:
                report(f"'{r.name}' grants {r.props.get('role')} on a bucket to {', '.join(public)}.", r.urn)


buckets_private = _mandatory_stack_policy(
    "buckets-private",
    "Buckets are private: S3 public access block all four true; GCS uniform access and "
    "public access prevention enforced; no bucket IAM binding to allUsers/allAuthenticatedUsers.",
    _validate_buckets_private,
    Severity.CRITICAL,
)

_SSE_ALGORITHMS = frozenset({"AES256", "aws:kms", "aws:kms:dsse"})


def _validate_buckets_encrypted(args: StackValidationArgs, report: ReportViolation) -> None:
    buckets = [r for r in args.resources if r.resource_type in S3_BUCKETS]
    configs = [r for r in args.resources if r.resource_type in S3_ENCRYPTION]
    for bucket in buckets:
        mine = _children_of(bucket, configs)
        algorithms = [
            _get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm")
            for config in mine
            for rule in _items(config.props.get("rules"))
        ]
        if not any(a in _SSE_ALGORITHMS for a in algorithms):
            report(
                f"S3 bucket '{bucket.name}' has no BucketServerSideEncryptionConfiguration with a default "
                f"sseAlgorithm ({', '.join(sorted(_SSE_ALGORITHMS))}); found {algorithms or 'none'}.",
                bucket.urn,
            )
    # GCS encrypts every object at rest with Google-managed keys; nothing can turn that off, so
    # GCS buckets need no check here (a customer-managed key would be an addition, not a fix).


buckets_encrypted = _mandatory_stack_policy(
    "buckets-encrypted",
    "S3 buckets declare default server-side encryption (SSE-S3 or SSE-KMS).",
    _validate_buckets_encrypted,
    Severity.HIGH,
)


def _validate_buckets_protected(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in S3_BUCKETS and args.resource_type != GCS_BUCKET:
        return
    if _is_true(args.props.get("forceDestroy")):
        report(
            f"Bucket '{args.name}' has forceDestroy: a destroy would delete it with every object in it. "
            "Keep seqstack:retainData true (a deliberate data deletion should fail this check in review).",
            None,
        )
    # `retain_on_delete` is not part of the analyzer protocol (pulumi-policy 1.21 passes only
    # protect, ignoreChanges, deleteBeforeReplace, aliases, customTimeouts,
    # additionalSecretOutputs and parent), so under the engine this part cannot run. The
    # offline runner, which sees the option, passes it as an extra `retain_on_delete` attribute.
    retained = getattr(args.opts, "retain_on_delete", None)
    if retained is not None and not (retained or args.opts.protect):
        report(
            f"Bucket '{args.name}' is neither retain_on_delete nor protect: "
            "`pulumi destroy` would delete the data.",
            None,
        )


buckets_protected = _mandatory_resource_policy(
    "buckets-protected",
    "Data buckets survive `pulumi destroy`: no forceDestroy, and retain_on_delete (or protect).",
    _validate_buckets_protected,
    Severity.HIGH,
)


# --------------------------------------------------------------------------------------------
# Worker pools: spot, minimum zero.


def _pool_of(labels: Any) -> str | None:
    value = _get(labels, POOL_LABEL)
    return value if isinstance(value, str) else None


def _validate_worker_pools(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = args.props
    if args.resource_type in EKS_NODE_GROUPS:
        pool = _pool_of(props.get("labels"))
        if pool not in WORKER_POOLS:
            return
        if props.get("capacityType") != "SPOT":
            report(
                f"Worker node group '{args.name}' (pool {pool}) has capacityType "
                f"{props.get('capacityType')!r}; worker pools run on SPOT.",
                None,
            )
        minimum = _number(_get(props, "scalingConfig", "minSize"))
        if minimum != 0:
            report(
                f"Worker node group '{args.name}' (pool {pool}) has scalingConfig.minSize {minimum}; "
                "worker pools scale to zero (minSize 0).",
                None,
            )
    elif args.resource_type == GKE_NODE_POOL:
        pool = _pool_of(_get(props, "nodeConfig", "labels"))
        if pool not in WORKER_POOLS:
            return
        if not _is_true(_get(props, "nodeConfig", "spot")):
            report(f"Worker node pool '{args.name}' (pool {pool}) is not spot (nodeConfig.spot).", None)
        autoscaling = props.get("autoscaling")
        if not isinstance(autoscaling, Mapping):
            report(
                f"Worker node pool '{args.name}' (pool {pool}) has no autoscaling: it cannot scale to zero.",
                None,
            )
            return
        key = "totalMinNodeCount" if autoscaling.get("totalMinNodeCount") is not None else "minNodeCount"
        minimum = _number(autoscaling.get(key))
        if minimum != 0:
            report(
                f"Worker node pool '{args.name}' (pool {pool}) has autoscaling.{key} {minimum}; "
                "worker pools scale to zero.",
                None,
            )


worker_pools_spot = _mandatory_resource_policy(
    "worker-pools-spot-scale-to-zero",
    f"Worker pools ({POOL_LABEL} = small or large) run on spot capacity and scale to zero.",
    _validate_worker_pools,
    Severity.MEDIUM,
)


# --------------------------------------------------------------------------------------------
# Node metadata locked: pods never borrow the node's cloud identity.


def _validate_node_metadata(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = args.props
    kind = args.resource_type
    if kind == LAUNCH_TEMPLATE:
        options = props.get("metadataOptions")
        tokens = _get(options, "httpTokens")
        hops = _number(_get(options, "httpPutResponseHopLimit"))
        if tokens != "required":
            report(
                f"Launch template '{args.name}': metadataOptions.httpTokens is {tokens!r}; "
                "'required' (IMDSv2 only).",
                None,
            )
        if _get(options, "httpEndpoint") != "disabled" and hops != 1:
            report(
                f"Launch template '{args.name}': metadataOptions.httpPutResponseHopLimit is {hops}; "
                "1 keeps pods from reaching the node's credentials.",
                None,
            )
    elif kind in EKS_NODE_GROUPS:
        template = props.get("launchTemplate")
        if not (_get(template, "id") or _get(template, "name")):
            report(
                f"Node group '{args.name}' has no launchTemplate: EKS's default one leaves the metadata "
                "hop limit at 2, so pods can read the node role's credentials.",
                None,
            )
    elif kind == EKS_CLUSTER:
        if not _is_true(props.get("skipDefaultNodeGroup")):
            report(
                f"EKS cluster '{args.name}' keeps pulumi-eks' default node group, whose metadata options "
                "this program does not set; set skipDefaultNodeGroup.",
                None,
            )
    elif kind == GKE_NODE_POOL:
        mode = _get(props, "nodeConfig", "workloadMetadataConfig", "mode")
        if mode != "GKE_METADATA":
            report(
                f"Node pool '{args.name}': nodeConfig.workloadMetadataConfig.mode is {mode!r}; "
                "GKE_METADATA hides the node's service account from pods.",
                None,
            )
    elif kind == GKE_CLUSTER and not _is_true(props.get("enableAutopilot")):
        if not _get(props, "workloadIdentityConfig", "workloadPool"):
            report(f"GKE cluster '{args.name}' has no workloadIdentityConfig.workloadPool.", None)
        if not _is_true(props.get("removeDefaultNodePool")):
            mode = _get(props, "nodeConfig", "workloadMetadataConfig", "mode")
            if mode != "GKE_METADATA":
                report(
                    f"GKE cluster '{args.name}' keeps its default node pool with workloadMetadataConfig "
                    f"mode {mode!r}; GKE_METADATA (or removeDefaultNodePool).",
                    None,
                )


node_metadata_locked = _mandatory_resource_policy(
    "node-metadata-locked",
    "Node metadata is locked: IMDSv2 with hop limit 1 on AWS, GKE_METADATA on GKE.",
    _validate_node_metadata,
    Severity.HIGH,
)


# --------------------------------------------------------------------------------------------
# IAM: no wildcard action on every resource; no project-wide storage roles.


def wildcard_statements(document: Any) -> Iterator[str]:
    """Descriptions of the Allow statements that grant ``*``/``service:*`` (or NotAction) on ``*``."""
    document = _json(document)
    if not isinstance(document, Mapping):
        return
    for statement in _items(document.get("Statement")):
        if not isinstance(statement, Mapping) or statement.get("Effect", "Allow") != "Allow":
            continue
        resources = _items(statement.get("Resource"))
        if "*" not in resources:
            continue
        actions = [a for a in _items(statement.get("Action")) if isinstance(a, str)]
        wild = [a for a in actions if a == "*" or _SERVICE_WILDCARD.match(a)]
        sid = statement.get("Sid") or "(no Sid)"
        if wild:
            yield f"statement {sid} allows {', '.join(wild)} on Resource '*'"
        if statement.get("NotAction") is not None:
            yield f"statement {sid} allows everything but NotAction on Resource '*'"


def _managed_policy_name(arn: Any) -> str | None:
    if isinstance(arn, str) and ":iam::aws:policy/" in arn:
        return arn.rsplit("/", 1)[-1]
    return None


def _validate_iam_wildcards(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not args.resource_type.startswith("aws:"):
        return
    props = args.props
    documents: list[tuple[str, Any]] = [("policy", props.get("policy"))]
    if args.resource_type == IAM_ROLE:
        documents += [
            (f"inlinePolicies[{_get(p, 'name')}]", _get(p, "policy"))
            for p in _items(props.get("inlinePolicies"))
        ]
    for where, document in documents:
        for finding in wildcard_statements(document):
            report(f"'{args.name}' {where}: {finding}.", None)
    arns = _items(props.get("policyArn"))
    if args.resource_type == IAM_ROLE:
        arns += _items(props.get("managedPolicyArns"))
    if args.resource_type in IAM_POLICY_ATTACHMENTS or args.resource_type == IAM_ROLE:
        for arn in arns:
            name = _managed_policy_name(arn)
            if name in WILDCARD_MANAGED_POLICIES:
                report(
                    f"'{args.name}' attaches the AWS managed policy {name}, which allows a wildcard on '*'.",
                    None,
                )


no_iam_wildcards = _mandatory_resource_policy(
    "no-iam-wildcard-admin",
    "No IAM statement allows '*' or 'service:*' (or NotAction) on Resource '*', directly or "
    "through an AWS managed *FullAccess/Administrator policy.",
    _validate_iam_wildcards,
    Severity.CRITICAL,
)


def _storage_roles(roles: Iterable[Any]) -> list[str]:
    return [r for r in roles if isinstance(r, str) and r.startswith("roles/storage.")]


def _validate_project_storage_roles(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = args.props
    found: list[str] = []
    if args.resource_type in (PROJECT_IAM_MEMBER, PROJECT_IAM_BINDING):
        found = _storage_roles([props.get("role")])
    elif args.resource_type == PROJECT_IAM_POLICY:
        data = _json(props.get("policyData"))
        found = _storage_roles(_get(b, "role") for b in _items(_get(data, "bindings")))
    if found:
        report(
            f"'{args.name}' grants {', '.join(found)} on the whole project: every bucket in it. "
            "Grant the workload's service account a role on the data bucket instead "
            "(gcp.storage.BucketIAMMember).",
            None,
        )


no_project_storage_roles = _mandatory_resource_policy(
    "no-project-wide-storage-roles",
    "No project-level roles/storage.* grant: workloads get storage roles on their bucket only.",
    _validate_project_storage_roles,
    Severity.HIGH,
)


# --------------------------------------------------------------------------------------------
# Registries: scan on push, immutable tags.


def _validate_registries(args: StackValidationArgs, report: ReportViolation) -> None:
    docker_repos: list[PolicyResource] = []
    for r in args.resources:
        if r.resource_type == ECR_REPOSITORY:
            mutability = r.props.get("imageTagMutability") or "MUTABLE (the default)"
            if mutability != "IMMUTABLE":
                report(f"ECR repository '{r.name}': imageTagMutability is {mutability}; IMMUTABLE.", r.urn)
            if not _is_true(_get(r.props, "imageScanningConfiguration", "scanOnPush")):
                report(
                    f"ECR repository '{r.name}': imageScanningConfiguration.scanOnPush must be true.", r.urn
                )
        elif r.resource_type == AR_REPOSITORY and r.props.get("format", "DOCKER") == "DOCKER":
            docker_repos.append(r)
            if not _is_true(_get(r.props, "dockerConfig", "immutableTags")):
                report(
                    f"Artifact Registry repository '{r.name}': dockerConfig.immutableTags must be true.",
                    r.urn,
                )
            if _get(r.props, "vulnerabilityScanningConfig", "enablementConfig") == "DISABLED":
                report(f"Artifact Registry repository '{r.name}': vulnerability scanning is DISABLED.", r.urn)
    if docker_repos:
        enabled = {r.props.get("service") for r in args.resources if r.resource_type == GCP_SERVICE}
        if CONTAINER_SCANNING_API not in enabled:
            report(
                f"Artifact Registry repositories ({', '.join(r.name for r in docker_repos)}) are not "
                f"scanned: the stack does not enable {CONTAINER_SCANNING_API}.",
                docker_repos[0].urn,
            )


registries_immutable_scanned = _mandatory_stack_policy(
    "registries-immutable-scanned",
    "Image registries keep tags immutable and scan pushed images (ECR scanOnPush; "
    "Artifact Registry with the Container Scanning API).",
    _validate_registries,
    Severity.HIGH,
)


ECR_LIFECYCLE_POLICY = "aws:ecr/lifecyclePolicy:LifecyclePolicy"


def _validate_registry_cleanup(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No cleanup rule may delete a tagged image: a WorkflowTemplate version pins it by digest."""
    if args.resource_type == ECR_LIFECYCLE_POLICY:
        document = _json(args.props.get("policy"))
        for rule in _items(_get(document, "rules")):
            status = _get(rule, "selection", "tagStatus")
            if _get(rule, "action", "type") == "expire" and status != "untagged":
                report(
                    f"ECR lifecycle policy '{args.name}': rule {_get(rule, 'rulePriority')} expires {status} "
                    "images; expire only untagged ones (workflow template versions pin tagged images).",
                    None,
                )
    elif args.resource_type == AR_REPOSITORY:
        for rule in _items(args.props.get("cleanupPolicies")):
            state = _get(rule, "condition", "tagState")
            if rule.get("action") == "DELETE" and state != "UNTAGGED":
                report(
                    f"Artifact Registry repository '{args.name}': cleanup policy '{rule.get('id')}' deletes "
                    f"{state or 'ANY'} images; delete only UNTAGGED ones (template versions pin tagged).",
                    None,
                )


registry_cleanup_keeps_tagged = _mandatory_resource_policy(
    "registry-cleanup-keeps-tagged",
    "Registry cleanup (ECR lifecycle rules, Artifact Registry cleanup policies) never deletes a "
    "tagged image: every image a workflow template version references is tagged.",
    _validate_registry_cleanup,
    Severity.HIGH,
)


# --------------------------------------------------------------------------------------------
# Network ranges: private networks, public API allow-lists.

AWS_VPC = "aws:ec2/vpc:Vpc"
GCP_SUBNETWORK = "gcp:compute/subnetwork:Subnetwork"
_RFC1918 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_NOT_PUBLIC = (
    *_RFC1918,
    *(ipaddress.IPv4Network(n) for n in ("100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "0.0.0.0/8")),
)


def _network(text: Any) -> ipaddress.IPv4Network | None:
    try:
        net = ipaddress.ip_network(str(text))
    except ValueError:
        return None
    return net if isinstance(net, ipaddress.IPv4Network) else None


def _validate_network_ranges(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Networks use private ranges; a public API endpoint's allow-list names public ones."""
    props, kind = args.props, args.resource_type
    private: list[Any] = []
    if kind == AWS_VPC:
        private = [props.get("cidrBlock")]
    elif kind == GCP_SUBNETWORK:
        private = [props.get("ipCidrRange")]
    for text in private:
        net = _network(text)
        if net is not None and not any(net.subnet_of(r) for r in _RFC1918):
            report(f"'{args.name}': network range {text} is not private (RFC 1918).", None)
    allowed: list[Any] = []
    if kind == EKS_CLUSTER:
        allowed = _items(props.get("publicAccessCidrs"))
    elif kind == GKE_CLUSTER:
        allowed = [
            _get(b, "cidrBlock") for b in _items(_get(props, "masterAuthorizedNetworksConfig", "cidrBlocks"))
        ]
    for text in allowed:
        net = _network(text)
        if net is not None and any(net.subnet_of(r) for r in _NOT_PUBLIC):
            report(
                f"'{args.name}': the public API endpoint admits {text}, a non-public range no client of a "
                "public endpoint has (EKS refuses it); list public addresses.",
                None,
            )


network_ranges = _mandatory_resource_policy(
    "network-ranges",
    "Networks use private (RFC 1918) ranges; the Kubernetes API's public endpoint admits only public ranges.",
    _validate_network_ranges,
    Severity.MEDIUM,
)


# --------------------------------------------------------------------------------------------
# Helm: pinned charts; the Argo server not exposed.


def is_exact_semver(version: Any) -> bool:
    """True for ``1.2.3`` / ``v1.2.3-rc.1``; False for ranges (``^1.0``, ``~1``, ``>=1``), ``latest``, ''."""
    return isinstance(version, str) and bool(_SEMVER.match(version))


def _chart_name(props: Mapping[str, Any]) -> str:
    chart = props.get("chart")
    return chart if isinstance(chart, str) else ""


def _validate_charts_pinned(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in HELM_RELEASES:
        return
    chart = _chart_name(args.props)
    # A chart from a directory of this repository is pinned by the commit.
    if chart.startswith(("./", "../", "/")):
        return
    version = args.props.get("version")
    if not is_exact_semver(version):
        report(
            f"Helm chart '{chart or args.name}' has version {version!r}; pin an exact version (e.g. 0.45.1) "
            "so a preview shows what an upgrade changes.",
            None,
        )


helm_charts_pinned = _mandatory_resource_policy(
    "helm-charts-pinned",
    "Helm charts are pinned to an exact semantic version (no range, no latest, not empty).",
    _validate_charts_pinned,
    Severity.MEDIUM,
)

_PUBLIC_SERVICE_TYPES = frozenset({"LoadBalancer", "NodePort"})


def _auth_modes(server: Any) -> list[str]:
    modes = [m for m in _items(_get(server, "authModes")) if isinstance(m, str)]
    args = [a for a in _items(_get(server, "extraArgs")) if isinstance(a, str)]
    for i, arg in enumerate(args):
        if arg.startswith("--auth-mode="):
            modes.append(arg.split("=", 1)[1])
        elif arg == "--auth-mode" and i + 1 < len(args):
            modes.append(args[i + 1])
    return modes


def _validate_argo_server(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = args.props
    if args.resource_type in HELM_RELEASES and _chart_name(props).rstrip("/").endswith("argo-workflows"):
        server = _get(props, "values", "server")
        if server is None or _get(server, "enabled") is False:
            return
        service_type = _get(server, "serviceType")
        if service_type in _PUBLIC_SERVICE_TYPES:
            report(
                f"Argo server service type is {service_type}; keep ClusterIP (use kubectl port-forward).",
                None,
            )
        if _is_true(_get(server, "ingress", "enabled")):
            report("Argo server ingress is enabled; the UI/API stays inside the cluster.", None)
        modes = _auth_modes(server)
        if "server" in modes and "client" not in modes:
            report(
                f"Argo server auth modes {modes}: 'server' mode without 'client' lets anyone who reaches the "
                "UI act as the server's service account.",
                None,
            )
    elif args.resource_type == K8S_SERVICE:
        name = _get(props, "metadata", "name") or args.name
        if "argo" in str(name) and _get(props, "spec", "type") in _PUBLIC_SERVICE_TYPES:
            report(f"Service '{name}' exposes Argo as {_get(props, 'spec', 'type')}.", None)


argo_server_private = _mandatory_resource_policy(
    "argo-server-private",
    "The Argo server is not exposed: ClusterIP service, no ingress, no server-only auth mode.",
    _validate_argo_server,
    Severity.CRITICAL,
)


POLICIES: tuple[ResourceValidationPolicy | StackValidationPolicy, ...] = (
    buckets_private,
    buckets_encrypted,
    buckets_protected,
    worker_pools_spot,
    node_metadata_locked,
    no_iam_wildcards,
    no_project_storage_roles,
    registries_immutable_scanned,
    registry_cleanup_keeps_tagged,
    network_ranges,
    helm_charts_pinned,
    argo_server_private,
)
"""Every policy of the pack, in the order they are reported."""

POLICY_NAMES: tuple[str, ...] = tuple(p.name for p in POLICIES)
