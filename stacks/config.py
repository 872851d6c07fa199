"""Stack configuration: every ``seqstack:`` key, read and validated once into frozen dataclasses.

The table :data:`KEYS` is the one list of knobs. ``Pulumi.yaml`` declares the same keys (a test
keeps the two in step), :func:`parse_config` turns raw values into a :class:`StackConfig`, and a
bad value stops the program before any resource is declared with a :class:`ConfigError` that
names the key and the value. This module reads no environment variables.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from stacks.namespaces import unknown_key_error
from stacks.versions import DEFAULT_MINOR, VersionError, check_minor
from workflows.errors import UserError

NAMESPACE = "seqstack"


class ConfigError(UserError, ValueError):
    """A stack config value is missing or invalid; the message names the key and the value."""


class Cloud(StrEnum):
    """Which cloud a stack builds on."""

    AWS = "aws"
    GCP = "gcp"


class NatMode(StrEnum):
    """How private nodes reach the internet: one NAT gateway, or one per zone (no cross-zone SPOF)."""

    SINGLE = "single"
    PER_ZONE = "perZone"


@dataclass(frozen=True)
class Key:
    """One declared config key: its name, type, default and meaning."""

    name: str
    """Key name without the ``seqstack:`` namespace."""
    type: str
    """``string``, ``integer``, ``boolean`` or ``array`` (of strings), as in Pulumi.yaml."""
    description: str
    """What the key does, shown by ``pulumi config``."""
    default: Any = None
    """Default value; None means required (or a per-cloud default, see the description)."""


# Machine types per cloud when a stack does not set them. Spot pools list several types of ONE
# size (4 vCPU/16 GiB, 32 vCPU/128 GiB) so that a spot shortage in one type does not starve the
# pool, and so the autoscaler's node template (built from the first type) fits every node.
CLOUD_DEFAULT_MACHINE_TYPES: dict[Cloud, dict[str, tuple[str, ...]]] = {
    Cloud.AWS: {
        "system": ("t3.large",),
        "small": ("m6i.xlarge", "m6a.xlarge", "m5.xlarge", "m5a.xlarge"),
        "large": ("m6i.8xlarge", "m6a.8xlarge", "m5.8xlarge", "m5a.8xlarge"),
    },
    Cloud.GCP: {
        "system": ("e2-standard-2",),
        "small": ("n2-standard-4",),
        "large": ("n2-standard-32",),
    },
}

KEYS: tuple[Key, ...] = (
    Key("cloud", "string", "Cloud this stack builds on: aws or gcp."),
    Key(
        "clusterName",
        "string",
        "Cluster name (lowercase letters, digits, -), unique per account/project; default seqstack-<stack>.",
    ),
    Key(
        "kubernetesVersion",
        "string",
        "Kubernetes minor version, 1.NN, in standard support on the cloud (stacks/versions.py).",
        DEFAULT_MINOR,
    ),
    Key("zoneCount", "integer", "Availability zones the network and nodes span (2 or 3).", 3),
    Key("natMode", "string", "single: one NAT gateway (cheap); perZone: one per zone (no SPOF).", "single"),
    Key("vpcCidr", "string", "Address range of the network (a /16 to /20 IPv4 CIDR).", "10.40.0.0/16"),
    Key(
        "apiAllowedCidrs",
        "array",
        "IPv4 CIDRs that may reach the Kubernetes API's public endpoint (where pulumi up and kubectl run).",
        ["0.0.0.0/0"],
    ),
    Key("systemMachineTypes", "array", "Machine types of the on-demand system pool (default per cloud)."),
    Key("systemMinNodes", "integer", "Minimum nodes in the system pool (runs Argo and the autoscaler).", 1),
    Key("systemMaxNodes", "integer", "Maximum nodes in the system pool.", 3),
    Key("systemDiskGiB", "integer", "Root disk size of system nodes, GiB.", 50),
    Key("systemSpot", "boolean", "Run the system pool on spot capacity (not recommended).", False),
    Key(
        "smallMachineTypes", "array", "Machine types of the small (FastQC) pool, ~4 vCPU (default per cloud)."
    ),
    Key("smallMinNodes", "integer", "Minimum nodes in the small pool (0: scale to zero).", 0),
    Key("smallMaxNodes", "integer", "Maximum nodes in the small pool.", 10),
    Key("smallDiskGiB", "integer", "Root disk size of small nodes, GiB (FastQC scratch).", 200),
    Key("smallSpot", "boolean", "Run the small pool on spot capacity.", True),
    Key(
        "largeMachineTypes",
        "array",
        "Machine types of the large (bwa-mem2) pool, 32+ vCPU (default per cloud).",
    ),
    Key("largeMinNodes", "integer", "Minimum nodes in the large pool (0: scale to zero).", 0),
    Key("largeMaxNodes", "integer", "Maximum nodes in the large pool.", 4),
    Key("largeDiskGiB", "integer", "Root disk size of large nodes, GiB (reads, index, sort spill).", 500),
    Key("largeSpot", "boolean", "Run the large pool on spot capacity.", True),
    Key(
        "dataBucketPrefix",
        "string",
        "Prefix of the data bucket's name (a suffix makes it unique).",
        "seqstack-data",
    ),
    Key("retainData", "boolean", "Keep the data bucket when the stack is destroyed.", True),
    Key("scratchExpirationDays", "integer", "Days after which objects under scratch/ are deleted.", 14),
    Key("quotaCpu", "string", "biojobs namespace quota: total CPU requests.", "512"),
    Key("quotaMemory", "string", "biojobs namespace quota: total memory requests.", "2Ti"),
    Key(
        "quotaEphemeralStorage",
        "string",
        "biojobs namespace quota: total ephemeral-storage requests.",
        "20Ti",
    ),
    Key("quotaPods", "integer", "biojobs namespace quota: number of pods.", 500),
    Key("deletionProtection", "boolean", "Protect the cluster from deletion (GKE).", True),
    Key(
        "argoChartVersion",
        "string",
        "Exact argo-workflows Helm chart version (argoproj/argo-helm; appVersion v4.x).",
        "1.0.18",
    ),
    # Who may reach the cluster, and reconnecting the retained data bucket (stacks/access.py,
    # stacks/names.py).
    Key(
        "adminPrincipals",
        "array",
        "Cluster admins besides its creator: IAM role/user ARNs (AWS) or IAM members like user:a@b (GCP).",
        [],
    ),
    Key(
        "previewPrincipal",
        "string",
        "Read-only principal of the PR-preview job: an IAM role ARN (AWS) or a serviceAccount: member (GCP).",
    ),
    Key(
        "adoptDataBucket",
        "boolean",
        "Adopt the data bucket a destroyed stack left behind (same name) instead of creating it.",
        False,
    ),
)

KEYS_BY_NAME: dict[str, Key] = {k.name: k for k in KEYS}

_RFC1918 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
#: Ranges never seen as a client address by a public endpoint: RFC 1918, shared (CGNAT),
#: loopback, link-local, "this network".
_NOT_PUBLIC = (
    *_RFC1918,
    *(ipaddress.IPv4Network(n) for n in ("100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "0.0.0.0/8")),
)
_CLUSTER_NAME = re.compile(r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")
_K8S_VERSION = re.compile(r"^1\.\d{2}$")
_BUCKET_PREFIX = re.compile(r"^[a-z0-9][a-z0-9-]{1,40}$")
_QUANTITY = re.compile(r"^\d+(\.\d+)?(m|k|M|G|T|P|Ki|Mi|Gi|Ti|Pi)?$")
_MACHINE_TYPE = re.compile(r"^[a-z0-9][a-z0-9.\-]*$")
REGION_PATTERNS: dict[Cloud, re.Pattern[str]] = {
    Cloud.AWS: re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$"),
    Cloud.GCP: re.compile(r"^[a-z]+-[a-z]+\d+$"),
}
_REGION_EXAMPLE = {Cloud.AWS: "eu-west-1", Cloud.GCP: "europe-west4"}


@dataclass(frozen=True)
class NodePoolConfig:
    """One node pool's shape."""

    name: str
    """Pool name: ``system``, ``small`` or ``large``."""
    machine_types: tuple[str, ...]
    """Instance/machine types, all of one size."""
    min_nodes: int
    """Minimum node count (total across zones)."""
    max_nodes: int
    """Maximum node count (total across zones)."""
    disk_gib: int
    """Root disk size in GiB."""
    spot: bool
    """Spot (preemptible) capacity instead of on-demand."""


@dataclass(frozen=True)
class QuotaConfig:
    """ResourceQuota for the ``biojobs`` namespace (Kubernetes quantities)."""

    cpu: str
    """Total CPU requests."""
    memory: str
    """Total memory requests."""
    ephemeral_storage: str
    """Total ephemeral-storage requests."""
    pods: int
    """Number of pods."""


@dataclass(frozen=True)
class StackConfig:
    """The whole validated stack configuration."""

    stack: str
    """Stack name, e.g. ``dev-aws``."""
    cloud: Cloud
    """Which cloud."""
    region: str
    """Region, from ``aws:region`` or ``gcp:region``."""
    project: str | None
    """GCP project id (``gcp:project``); None on AWS."""
    cluster_name: str
    """Kubernetes cluster name."""
    kubernetes_version: str
    """Kubernetes minor version, ``1.NN``."""
    zone_count: int
    """Zones the network and nodes span."""
    nat_mode: NatMode
    """NAT gateway layout."""
    vpc_cidr: str
    """Network address range."""
    api_allowed_cidrs: tuple[str, ...]
    """Who may reach the Kubernetes API's public endpoint (credentials are still required)."""
    system: NodePoolConfig
    """On-demand pool for controllers."""
    small: NodePoolConfig
    """Spot pool for FastQC."""
    large: NodePoolConfig
    """Spot pool for bwa-mem2."""
    data_bucket_prefix: str
    """Prefix of the data bucket name."""
    retain_data: bool
    """Keep the data bucket on ``pulumi destroy``."""
    scratch_expiration_days: int
    """Lifetime of objects under ``scratch/``."""
    quotas: QuotaConfig
    """biojobs namespace quota."""
    deletion_protection: bool
    """Cluster deletion protection (GKE)."""
    argo_chart_version: str = "1.0.18"
    """Exact argo-workflows chart version."""
    admin_principals: tuple[str, ...] = ()
    """Principals given cluster-admin (IAM ARNs on AWS, IAM members on GCP), besides the creator."""
    preview_principal: str | None = None
    """The PR-preview identity, given read-only access; None: none."""
    adopt_data_bucket: bool = False
    """Import the existing (retained) data bucket of this stack instead of creating it."""

    @property
    def pools(self) -> tuple[NodePoolConfig, ...]:
        """The three pools in a fixed order."""
        return (self.system, self.small, self.large)


def parse_config(raw: Mapping[str, Any], stack: str) -> StackConfig:
    """Validate raw config values into a :class:`StackConfig`.

    ``raw`` maps fully qualified keys (``seqstack:cloud``, ``aws:region``) to values as Pulumi
    hands them over: strings, with structured values as JSON text; parsed YAML values are
    accepted too. Unknown ``seqstack:`` keys are rejected, since a misspelt key would otherwise
    silently fall back to its default.
    """
    for full_key in raw:
        ns, _, name = full_key.partition(":")
        if ns == NAMESPACE and name not in KEYS_BY_NAME:
            raise ConfigError(f"{full_key}: unknown config key (known: {', '.join(KEYS_BY_NAME)})")
        problem = unknown_key_error(full_key, NAMESPACE)
        if problem:
            raise ConfigError(problem)
    r = _Reader(raw)
    cloud_text = r.string("cloud")
    try:
        cloud = Cloud(cloud_text)
    except ValueError:
        raise ConfigError(f"seqstack:cloud: unknown cloud {cloud_text!r} (expected aws or gcp)") from None

    region_key = f"{cloud.value}:region"
    region = raw.get(region_key)
    if not isinstance(region, str) or not region:
        raise ConfigError(f"{region_key}: required (e.g. {_REGION_EXAMPLE[cloud]})")
    if not REGION_PATTERNS[cloud].match(region):
        raise ConfigError(f"{region_key}: malformed region {region!r} (e.g. {_REGION_EXAMPLE[cloud]})")
    project = None
    if cloud is Cloud.GCP:
        project = raw.get("gcp:project")
        if not isinstance(project, str) or not re.match(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$", project):
            raise ConfigError(f"gcp:project: required, a GCP project id, got {project!r}")

    # Unset: seqstack-<stack>, so a second stack on defaults gets account-unique names of its own.
    if raw.get(f"{NAMESPACE}:clusterName") in (None, ""):
        from stacks.names import default_cluster_name

        cluster_name = default_cluster_name(stack)
    else:
        cluster_name = r.string("clusterName")
    if not _CLUSTER_NAME.match(cluster_name):
        unset = raw.get(f"{NAMESPACE}:clusterName") in (None, "")
        raise ConfigError(
            f"seqstack:clusterName: {cluster_name!r}"
            + (f" (the default for stack {stack!r}; set the key)" if unset else "")
            + " must be 2-40 lowercase letters, digits or -"
        )
    version = r.string("kubernetesVersion")
    if not _K8S_VERSION.match(version):
        raise ConfigError(f"seqstack:kubernetesVersion: {version!r} is not of the form 1.NN")
    try:
        check_minor(cloud.value, version)
    except VersionError as exc:
        raise ConfigError(str(exc)) from None
    zone_count = r.integer("zoneCount")
    if zone_count not in (2, 3):
        raise ConfigError(f"seqstack:zoneCount: {zone_count} must be 2 or 3")
    nat_text = r.string("natMode")
    try:
        nat_mode = NatMode(nat_text)
    except ValueError:
        raise ConfigError(f"seqstack:natMode: {nat_text!r} must be single or perZone") from None
    vpc_cidr = r.string("vpcCidr")
    try:
        network = ipaddress.IPv4Network(vpc_cidr)
    except ValueError:
        raise ConfigError(f"seqstack:vpcCidr: {vpc_cidr!r} is not an IPv4 CIDR") from None
    if not 16 <= network.prefixlen <= 20:
        raise ConfigError(f"seqstack:vpcCidr: {vpc_cidr!r} must be a /16 to /20")
    if not any(network.subnet_of(private) for private in _RFC1918):
        raise ConfigError(
            f"seqstack:vpcCidr: {vpc_cidr} is not a private range (use part of 10.0.0.0/8, 172.16.0.0/12 "
            "or 192.168.0.0/16: nodes on public addresses would shadow those hosts on the internet)"
        )

    api_cidrs = r.string_list("apiAllowedCidrs", tuple(KEYS_BY_NAME["apiAllowedCidrs"].default))
    if not api_cidrs:
        raise ConfigError("seqstack:apiAllowedCidrs: must list at least one CIDR, got []")
    for cidr in api_cidrs:
        try:
            ipaddress.IPv4Network(cidr)
        except ValueError:
            raise ConfigError(f"seqstack:apiAllowedCidrs: {cidr!r} is not an IPv4 CIDR") from None
        special = next((n for n in _NOT_PUBLIC if ipaddress.IPv4Network(cidr).subnet_of(n)), None)
        if special is not None:
            raise ConfigError(
                f"seqstack:apiAllowedCidrs: {cidr} is inside the non-public range {special}; the API's "
                "public endpoint only ever sees public addresses (EKS refuses such a range); list the "
                "public address your office or runners reach the internet from"
            )

    pools = {name: _pool(r, cloud, name) for name in ("system", "small", "large")}
    bucket_prefix = r.string("dataBucketPrefix")
    if not _BUCKET_PREFIX.match(bucket_prefix):
        raise ConfigError(
            f"seqstack:dataBucketPrefix: {bucket_prefix!r} must be 2-41 lowercase letters, digits or -"
        )
    scratch_days = r.integer("scratchExpirationDays")
    if scratch_days < 1:
        raise ConfigError(f"seqstack:scratchExpirationDays: {scratch_days} must be at least 1")
    quotas = QuotaConfig(
        cpu=r.quantity("quotaCpu"),
        memory=r.quantity("quotaMemory"),
        ephemeral_storage=r.quantity("quotaEphemeralStorage"),
        pods=r.integer("quotaPods"),
    )
    if quotas.pods < 1:
        raise ConfigError(f"seqstack:quotaPods: {quotas.pods} must be at least 1")
    cfg = StackConfig(
        stack=stack,
        cloud=cloud,
        region=region,
        project=project,
        cluster_name=cluster_name,
        kubernetes_version=version,
        zone_count=zone_count,
        nat_mode=nat_mode,
        vpc_cidr=vpc_cidr,
        api_allowed_cidrs=api_cidrs,
        system=pools["system"],
        small=pools["small"],
        large=pools["large"],
        data_bucket_prefix=bucket_prefix,
        retain_data=r.boolean("retainData"),
        scratch_expiration_days=scratch_days,
        quotas=quotas,
        deletion_protection=r.boolean("deletionProtection"),
        argo_chart_version=_exact_version(r.string("argoChartVersion"), "argoChartVersion"),
        admin_principals=r.string_list("adminPrincipals", ()),
        preview_principal=r.optional_string("previewPrincipal"),
        adopt_data_bucket=r.boolean("adoptDataBucket"),
    )
    # Cross-key and per-cloud checks of access, names and fit live beside the code that uses them
    # (they read StackConfig, so they are imported here, not at the top).
    from stacks.access import check_access
    from stacks.fit import check_fit
    from stacks.machines import MachineError
    from stacks.names import check_names

    check_access(cfg)
    check_names(cfg)
    if cfg.adopt_data_bucket and not cfg.retain_data:
        raise ConfigError(
            "seqstack:adoptDataBucket: true needs seqstack:retainData true (an adopted bucket must match "
            "the retained one; set retainData false in a later up, before the destroy that deletes it)"
        )
    try:
        check_fit(cfg)
    except MachineError as exc:
        raise ConfigError(str(exc)) from None
    return cfg


def _exact_version(value: str, key: str) -> str:
    """A pinned chart version: ``1.2.3`` only (a range or ``latest`` would float under us)."""
    if not re.fullmatch(r"\d+\.\d+\.\d+", value):
        raise ConfigError(f"{NAMESPACE}:{key}: {value!r} must be an exact version like 1.0.18")
    return value


def _pool(r: _Reader, cloud: Cloud, name: str) -> NodePoolConfig:
    types_key = f"{name}MachineTypes"
    types = r.string_list(types_key, CLOUD_DEFAULT_MACHINE_TYPES[cloud][name])
    if not types:
        raise ConfigError(f"seqstack:{types_key}: must list at least one machine type, got []")
    for t in types:
        if not _MACHINE_TYPE.match(t):
            raise ConfigError(f"seqstack:{types_key}: {t!r} is not a machine type name")
    min_nodes = r.integer(f"{name}MinNodes")
    max_nodes = r.integer(f"{name}MaxNodes")
    disk = r.integer(f"{name}DiskGiB")
    if min_nodes < 0:
        raise ConfigError(f"seqstack:{name}MinNodes: {min_nodes} must not be negative")
    if name == "system" and min_nodes < 1:
        raise ConfigError(f"seqstack:systemMinNodes: {min_nodes} must be at least 1 (Argo runs there)")
    if max_nodes < 1:
        raise ConfigError(f"seqstack:{name}MaxNodes: {max_nodes} must be at least 1")
    if min_nodes > max_nodes:
        raise ConfigError(
            f"seqstack:{name}MinNodes: {min_nodes} is greater than seqstack:{name}MaxNodes {max_nodes}"
        )
    if disk <= 0:
        raise ConfigError(f"seqstack:{name}DiskGiB: {disk} must be a positive size in GiB")
    return NodePoolConfig(
        name=name,
        machine_types=types,
        min_nodes=min_nodes,
        max_nodes=max_nodes,
        disk_gib=disk,
        spot=r.boolean(f"{name}Spot"),
    )


class _Reader:
    """Typed access to raw ``seqstack:`` values, falling back to the declared defaults."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self._raw = raw

    def _get(self, name: str) -> Any:
        value = self._raw.get(f"{NAMESPACE}:{name}")
        return KEYS_BY_NAME[name].default if value is None else value

    def string(self, name: str) -> str:
        value = self._get(name)
        if value is None or value == "":
            raise ConfigError(f"{NAMESPACE}:{name}: required ({KEYS_BY_NAME[name].description})")
        if not isinstance(value, str):
            raise ConfigError(f"{NAMESPACE}:{name}: expected a string, got {value!r}")
        return value

    def integer(self, name: str) -> int:
        value = self._get(name)
        if isinstance(value, bool):
            raise ConfigError(f"{NAMESPACE}:{name}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
        raise ConfigError(f"{NAMESPACE}:{name}: expected an integer, got {value!r}")

    def boolean(self, name: str) -> bool:
        value = self._get(name)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ConfigError(f"{NAMESPACE}:{name}: expected true or false, got {value!r}")

    def quantity(self, name: str) -> str:
        value = self._get(name)
        text = str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
        if not isinstance(text, str) or not _QUANTITY.match(text):
            raise ConfigError(f"{NAMESPACE}:{name}: {value!r} is not a Kubernetes quantity (e.g. 512, 2Ti)")
        return text

    def optional_string(self, name: str) -> str | None:
        value = self._raw.get(f"{NAMESPACE}:{name}")
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise ConfigError(f"{NAMESPACE}:{name}: expected a string, got {value!r}")
        return value

    def string_list(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self._raw.get(f"{NAMESPACE}:{name}")
        if value is None:
            return default
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise ConfigError(f"{NAMESPACE}:{name}: expected a list of strings, got {value!r}") from None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{NAMESPACE}:{name}: expected a list of strings, got {value!r}")
        return tuple(value)
