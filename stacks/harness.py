"""Run the seqstack Pulumi program offline under Pulumi's mock runtime and record what it declares.

This is the one harness behind ``seqstack inventory`` and the unit tests: it reads
``Pulumi.<stack>.yaml``, validates it (a bad value fails here, before any resource exists),
runs the real program with a recording monitor, and returns every resource with its type token,
logical name, parent and inputs exactly as the provider would receive them, plus the stack
outputs. No credentials, no Pulumi CLI, no network.

See ../shared/notes/pulumi-mocks.md for the traps this avoids (fresh mocks per run, resource
references dropped so remote-component inputs arrive as plain ids, secrets unwrapped).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.proto import resource_pb2

from stacks.config import StackConfig, parse_config
from stacks.loader import PROJECT_DIR, read_stack_file

SECRET_SIG = "4dabf18193072939515e22adb298388d"
REDACTED = "[secret]"
FAKE_ACCOUNT = "123456789012"

#: Zone IDs the mocked getAvailabilityZones answers with, in name order (a...), for regions that
#: have a zone EKS refuses: here it is the first name, as it can be in a real account.
AZ_IDS: dict[str, tuple[str, ...]] = {
    "us-east-1": ("use1-az3", "use1-az1", "use1-az2", "use1-az4", "use1-az6", "use1-az5"),
    "us-west-1": ("usw1-az2", "usw1-az1", "usw1-az3"),
}


@dataclass(frozen=True)
class Recorded:
    """One resource the program declared."""

    type: str
    """Type token, e.g. ``aws:s3/bucket:Bucket``."""
    name: str
    """Logical name."""
    parent: str | None
    """Logical name of the parent resource (None for children of the stack)."""
    parent_type: str | None
    """Type token of the parent resource."""
    inputs: dict[str, Any]
    """Inputs as the provider receives them, secrets unwrapped."""
    secret_inputs: dict[str, Any]
    """The same inputs with every secret value replaced by ``[secret]``."""
    custom: bool
    """False for component resources."""
    urn: str
    """The resource's URN under the mock runtime."""
    protect: bool = False
    """The ``protect`` resource option (not part of the inputs)."""
    retain_on_delete: bool = False
    """The ``retain_on_delete`` resource option (not part of the inputs)."""
    id: str = ""
    """The id the mock gave the resource (what other resources receive as ``vpcId`` etc.)."""
    dependencies: tuple[str, ...] = ()
    """Logical names of the resources this one depends on: ``depends_on`` (a component expanded
    to its children) and the resources its inputs come from."""
    provider: str | None = None
    """Logical name of the explicit provider the resource uses (None: the default provider)."""
    import_id: str = ""
    """The ``import_`` resource option: the id of an existing resource to adopt ("" : create)."""


@dataclass
class Inventory:
    """Everything one mock run of the program declared and exported."""

    config: StackConfig
    """The validated stack config the run used."""
    resources: list[Recorded] = field(default_factory=list)
    """Resources in registration order."""
    outputs: dict[str, Any] = field(default_factory=dict)
    """Stack outputs, resolved (secrets in the clear)."""
    secret_outputs: set[str] = field(default_factory=set)
    """Names of outputs exported as secrets."""
    invokes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """Provider function calls (token, args) the program made."""

    def of_type(self, type_token: str) -> list[Recorded]:
        """All resources of one type token."""
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name: str | None = None) -> Recorded:
        """The single resource of a type (and name); fails loudly if there is not exactly one."""
        found = [r for r in self.of_type(type_token) if name is None or r.name == name]
        if len(found) != 1:
            names = [r.name for r in self.of_type(type_token)]
            raise LookupError(f"expected one {type_token} named {name!r}, found {len(found)} among {names}")
        return found[0]

    def named(self, name: str) -> Recorded:
        """The resource with this logical name."""
        found = [r for r in self.resources if r.name == name]
        if len(found) != 1:
            raise LookupError(f"expected one resource named {name!r}, found {len(found)}")
        return found[0]

    def children_of(self, name: str) -> list[Recorded]:
        """Resources whose parent is the named resource."""
        return [r for r in self.resources if r.parent == name]

    def to_json(self) -> list[dict[str, Any]]:
        """The inventory as ``seqstack inventory --format json`` prints it (secrets redacted)."""
        return [
            {"type": r.type, "name": r.name, "parent": r.parent, "inputs": r.secret_inputs}
            for r in self.resources
        ]


def unwrap_secrets(value: Any, redact: bool) -> Any:
    """Unwrap (or redact) Pulumi's secret envelopes anywhere inside a deserialized value."""
    if isinstance(value, Mapping):
        if SECRET_SIG in value and "value" in value:
            return REDACTED if redact else unwrap_secrets(value["value"], redact)
        return {k: unwrap_secrets(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [unwrap_secrets(v, redact) for v in value]
    return value


def _fake_id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:17]


# Outputs a real provider computes that the program reads back. Each entry gets the resource's
# logical name and inputs and returns the extra state; everything else echoes the inputs.
def _eks_cluster(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    cluster = inputs.get("name") or name
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {"server": f"https://{cluster}.eks.example"}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": cluster}}],
        "current-context": cluster,
        "users": [{"name": cluster, "user": {"token": "mock-token"}}],
    }
    return {
        "kubeconfig": kubeconfig,
        "kubeconfigJson": json.dumps(kubeconfig),
        "clusterSecurityGroupId": f"sg-{_fake_id(name)}",
        "nodeSecurityGroupId": f"sg-{_fake_id(name + 'nodes')}",
        "oidcProviderArn": f"arn:aws:iam::{FAKE_ACCOUNT}:oidc-provider/oidc.eks.example/{cluster}",
        "oidcProviderUrl": f"oidc.eks.example/id/{cluster}",
        "oidcIssuer": f"oidc.eks.example/id/{cluster}",
        "eksClusterName": cluster,
    }


def _eks_node_group(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    # EKS creates one Auto Scaling group per managed node group; the program tags it.
    return {"resources": [{"autoscalingGroups": [{"name": f"eks-{name}-{_fake_id(name)[:8]}"}]}]}


def _docker_image(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    # A push returns the manifest digest as <repository>@sha256:<hex>. Derived from the pushed
    # name:tag, so new content (a new tag) gives a new digest, as a real registry would.
    image_name = str(inputs.get("imageName") or name)
    repository, _, last = image_name.rpartition("/")
    repository = f"{repository}/{last.split(':', 1)[0]}" if repository else last.split(":", 1)[0]
    digest = hashlib.sha256(image_name.encode()).hexdigest()
    registry = inputs.get("registry") or {}
    return {
        "repoDigest": f"{repository}@sha256:{digest}",
        "baseImageName": image_name,
        "registryServer": registry.get("server", ""),
    }


FAKE_STATE: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
    "eks:index:Cluster": _eks_cluster,
    "aws:eks/nodeGroup:NodeGroup": _eks_node_group,
    "docker:index/image:Image": _docker_image,
    "aws:ec2/launchTemplate:LaunchTemplate": lambda name, inputs: {"latestVersion": 1, "defaultVersion": 1},
}


class _Mocks(pulumi_mocks.Mocks):
    def __init__(self, inventory: Inventory, region: str, project: str | None) -> None:
        self.inventory = inventory
        self.region = region
        self.project = project or "mock-project"

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = unwrap_secrets(args.inputs, redact=False)
        state = dict(inputs)
        rid = f"{args.name}-{_fake_id(args.name)}"
        token = args.typ
        if token.startswith("aws:"):
            service = token.split(":")[1].split("/")[0]
            state.setdefault("arn", f"arn:aws:{service}:{self.region}:{FAKE_ACCOUNT}:{args.name}")
            if token == "aws:s3/bucket:Bucket":
                bucket = (
                    inputs.get("bucket")
                    or f"{inputs.get('bucketPrefix', args.name)}{_fake_id(args.name)[:8]}"
                )
                state.update(bucket=bucket, arn=f"arn:aws:s3:::{bucket}", id=bucket)
                rid = bucket
            if token == "aws:iam/role:Role":
                state.setdefault("name", inputs.get("name") or f"{args.name}-{_fake_id(args.name)[:7]}")
                state["arn"] = f"arn:aws:iam::{FAKE_ACCOUNT}:role/{state['name']}"
            if token == "aws:ecr/repository:Repository":
                repo = inputs.get("name") or args.name
                state["repositoryUrl"] = f"{FAKE_ACCOUNT}.dkr.ecr.{self.region}.amazonaws.com/{repo}"
                state["registryId"] = FAKE_ACCOUNT
        elif token.startswith("gcp:"):
            state.setdefault("name", inputs.get("name") or args.name)
            state.setdefault("project", self.project)
            state.setdefault("selfLink", f"https://www.googleapis.com/mock/{args.name}")
            if token == "gcp:serviceaccount/account:Account":
                account = inputs.get("accountId") or args.name
                state["email"] = f"{account}@{self.project}.iam.gserviceaccount.com"
                state["member"] = f"serviceAccount:{state['email']}"
                state["name"] = f"projects/{self.project}/serviceAccounts/{state['email']}"
            if token == "gcp:container/cluster:Cluster":
                state.setdefault("endpoint", "203.0.113.10")
                state.setdefault("masterAuth", {"clusterCaCertificate": "bW9jay1jYQ=="})
        fake = FAKE_STATE.get(token)
        if fake is not None:
            state.update(fake(args.name, inputs))
        return rid, state

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        call_args = unwrap_secrets(dict(args.args), redact=False)
        self.inventory.invokes.append((args.token, call_args))
        # The second element lists check failures; the mock monitor iterates it, so never None.
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{self.region}{z}" for z in "abc"]
            zone_ids = [f"z-{n}" for n in names]
            if self.region in AZ_IDS:
                # Zone names map to zone IDs differently per account; these are one such mapping.
                zone_ids = list(AZ_IDS[self.region])
                names = [f"{self.region}{z}" for z in "abcdef"[: len(zone_ids)]]
            return {"names": names, "zoneIds": zone_ids, "id": self.region}, []
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": FAKE_ACCOUNT,
                "arn": f"arn:aws:iam::{FAKE_ACCOUNT}:user/mock",
                "userId": "mock",
            }, []
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com"}, []
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region}, []
        if args.token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return {
                "authorizationToken": "QVdTOm1vY2s=",
                "userName": "AWS",
                "password": "mock-password",
                "proxyEndpoint": f"https://{FAKE_ACCOUNT}.dkr.ecr.{self.region}.amazonaws.com",
            }, []
        if args.token == "gcp:organizations/getClientConfig:getClientConfig":
            return {"accessToken": "mock-access-token", "project": self.project, "region": self.region}, []
        if args.token == "gcp:organizations/getProject:getProject":
            return {"number": "123456789", "projectId": self.project}, []
        if args.token == "gcp:compute/getZones:getZones":
            zones = [f"{self.region}-{z}" for z in "cab"]  # unsorted, as the API may answer
            return {"names": zones, "project": self.project, "region": self.region, "id": self.region}, []
        if args.token == "kubernetes:helm:template":
            return {"result": []}, []
        return {}, []


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """The stock mock monitor, plus parent tracking and without resource references."""

    def __init__(self, mocks: _Mocks, inventory: Inventory) -> None:
        super().__init__(mocks)
        self.inventory = inventory
        self._by_urn: dict[str, tuple[str, str]] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        raw = rpc.deserialize_properties(request.object)
        parent = self._by_urn.get(request.parent)
        self._by_urn[response.urn] = (request.name, request.type)
        self.inventory.resources.append(
            Recorded(
                type=request.type,
                name=request.name,
                parent=parent[0] if parent else None,
                parent_type=parent[1] if parent else None,
                inputs=unwrap_secrets(raw, redact=False),
                secret_inputs=unwrap_secrets(raw, redact=True),
                custom=bool(request.custom),
                urn=response.urn,
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                id=response.id,
                dependencies=tuple(self._by_urn[u][0] for u in request.dependencies if u in self._by_urn),
                provider=self._provider_name(request.provider),
                import_id=request.importId,
            )
        )
        return response

    def _provider_name(self, reference: str) -> str | None:
        # A provider reference is "<urn>::<id>"; default providers are not registered by name.
        urn = reference.rsplit("::", 1)[0] if reference else ""
        found = self._by_urn.get(urn)
        return found[0] if found else None

    def GetDeploymentInfo(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        # Without resource references, resources passed to remote components (pulumi-eks)
        # arrive as ids/URNs instead of failing with "attached to a different loop".
        info = super().GetDeploymentInfo(request)
        features = [
            f
            for f in info.supportedFeatures
            if f != resource_pb2.RESOURCE_MONITOR_FEATURE_RESOURCE_REFERENCES
        ]
        return resource_pb2.DeploymentInfo(supportedFeatures=features)

    def SupportsFeature(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        has_support = request.id not in ("outputValues", "resourceReferences")
        return type("SupportsFeatureResponse", (object,), {"hasSupport": has_support})


def run_stack(
    stack: str, project_dir: Path = PROJECT_DIR, overrides: Mapping[str, Any] | None = None
) -> Inventory:
    """Run the program for ``stack`` under mocks and return what it declared.

    ``overrides`` replaces or adds fully qualified config keys (tests use it to vary one value);
    a value of None removes the key. Config is validated before the mock runtime starts, so a
    :class:`stacks.config.ConfigError` means nothing was declared.
    """
    raw = dict(read_stack_file(stack, project_dir))
    for key, value in (overrides or {}).items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    cfg = parse_config(raw, stack)
    return run_config(cfg, raw)


def run_config(cfg: StackConfig, raw: Mapping[str, Any]) -> Inventory:
    """Run the program for an already validated config (``raw`` is what the program reads)."""
    from stacks.program import build_outputs

    return run_function(cfg, build_outputs, raw)


def run_function(
    cfg: StackConfig, build: Callable[[], Mapping[str, Any]], raw: Mapping[str, Any] | None = None
) -> Inventory:
    """Run any function that declares resources under the same mocks (tests of one component).

    ``build`` returns outputs by name, recorded like stack outputs.
    """
    raw = raw or {}
    inventory = Inventory(config=cfg)
    mocks = _Mocks(inventory, cfg.region, cfg.project)
    pulumi.runtime.set_all_config({k: _config_text(v) for k, v in raw.items()}, [])
    pulumi.runtime.set_mocks(
        mocks,
        project="seqstack",
        stack=cfg.stack,
        preview=False,
        monitor=_RecordingMonitor(mocks, inventory),
    )

    def record(name: str, value: Any) -> pulumi.Output[None]:
        def store(resolved: Any) -> None:
            inventory.outputs[name] = resolved

        def mark(fut: asyncio.Future[bool]) -> None:
            if fut.result():
                inventory.secret_outputs.add(name)

        if isinstance(value, pulumi.Output):
            asyncio.ensure_future(value.is_secret()).add_done_callback(mark)
        return pulumi.Output.from_input(value).apply(store)

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        return pulumi.Output.all(*(record(name, value) for name, value in build().items()))

    program()
    return inventory


def _config_text(value: Any) -> str:
    """Config values as the engine passes them: strings, structured values as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def iter_policy_documents(inventory: Inventory) -> Iterator[tuple[Recorded, dict[str, Any]]]:
    """Every IAM policy document (inline, managed or trust) the program declares, parsed."""
    for r in inventory.resources:
        for key in ("policy", "assumeRolePolicy"):
            text = r.inputs.get(key)
            if r.type.startswith("aws:") and isinstance(text, str) and text.strip().startswith("{"):
                yield r, json.loads(text)
