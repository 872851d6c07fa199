"""The pipeline's tool images: built from ``containers/`` and pushed to the stack's registry.

The seed built its images with bash scripts, pushed ``latest`` and let every run pick up
whatever that tag pointed to. Here the Pulumi program builds each image itself, tags it with
the tool version plus a hash of its build context (``0.12.1-3f2a9c1b0d4e``), and exports the
reference the registry returned for that push, pinned by digest
(``<repository>@sha256:...``). The workflow uses that reference, so rebuilding an image never
changes what an already rendered or running pipeline executes.

The component is cloud-neutral: it gets repository URLs and registry credentials as Args. The
two helpers at the bottom obtain those credentials inside the program (ECR authorization
token, Google OAuth access token), so nobody runs ``docker login`` first.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker
import pulumi_gcp as gcp

#: The Dockerfiles, one directory per image, named as in ``workflows.contract.IMAGE_NAMES``.
CONTAINERS_DIR = Path(__file__).resolve().parents[1] / "containers"

#: Every image is built for x86-64: bwa-mem2's release binaries exist only for x86-64, and one
#: platform for all three keeps the node pools uniform (see the README's "Tool images" section).
#: pulumi-docker's ``Image`` builds a single platform per resource, so multi-arch images would
#: need a different resource anyway.
IMAGE_PLATFORM = "linux/amd64"

#: Docker's username for Google OAuth access tokens (Artifact Registry).
GOOGLE_TOKEN_USER = "oauth2accesstoken"

_VERSION_LABEL = re.compile(r'org\.opencontainers\.image\.version="([^"$]+)"')
_DIGEST_REF = re.compile(r"^[a-z0-9][a-z0-9.:/_-]*@sha256:[0-9a-f]{64}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def context_digest(context: Path) -> str:
    """sha256 over every file of a build context: relative path, executable bit and content.

    Deterministic: files are visited in sorted path order and timestamps are ignored, so the
    same tree gives the same digest on any machine, and any edit (a Dockerfile line, a pinned
    requirement) gives a new one.
    """
    digest = hashlib.sha256()
    files = sorted(
        (p for p in context.rglob("*") if p.is_file()), key=lambda p: p.relative_to(context).as_posix()
    )
    for path in files:
        data = path.read_bytes()
        digest.update(path.relative_to(context).as_posix().encode())
        digest.update(b"\0x\0" if path.stat().st_mode & 0o111 else b"\0-\0")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def image_version(dockerfile: Path) -> str:
    """The tool version an image declares in its ``org.opencontainers.image.version`` label."""
    match = _VERSION_LABEL.search(dockerfile.read_text())
    if match is None:
        raise ValueError(f"{dockerfile}: no org.opencontainers.image.version label with a literal version")
    return match.group(1)


def content_tag(context: Path) -> str:
    """The image tag: tool version and the first 12 hex digits of the context digest."""
    tag = f"{image_version(context / 'Dockerfile')}-{context_digest(context)[:12]}"
    if not _TAG.match(tag):
        raise ValueError(f"{context}: {tag!r} is not a valid image tag")
    return tag


def pinned_reference(image: str, repo_digest: str) -> str:
    """Check that the registry returned ``<repository>@sha256:<64 hex>`` and return it."""
    if not _DIGEST_REF.match(repo_digest):
        raise ValueError(
            f"image {image}: expected <repository>@sha256:<digest> after the push, got {repo_digest!r}"
        )
    return repo_digest


@dataclass(frozen=True)
class RegistryCredentials:
    """How to log in to the registry the images are pushed to."""

    server: pulumi.Input[str]
    """Registry host, e.g. ``123456789012.dkr.ecr.eu-west-1.amazonaws.com`` or
    ``europe-west4-docker.pkg.dev``."""
    username: pulumi.Input[str]
    """User name (``AWS`` for ECR tokens, ``oauth2accesstoken`` for Google access tokens)."""
    password: pulumi.Input[str]
    """Short-lived token; the component marks it secret before it reaches any resource."""


@dataclass(frozen=True)
class ToolImagesArgs:
    """Where each image goes and how to authenticate."""

    repositories: Mapping[str, pulumi.Input[str]]
    """Repository (without tag) per image name, e.g. ``{"fastqc": "<registry>/<ns>/fastqc"}``.
    Each name needs ``<containers_dir>/<name>/Dockerfile``."""
    credentials: RegistryCredentials
    """Login for the registry that holds those repositories."""
    containers_dir: Path = field(default=CONTAINERS_DIR)
    """Directory holding one build context per image (the repository's ``containers/``)."""

    def __post_init__(self) -> None:
        if not self.repositories:
            raise ValueError("ToolImagesArgs.repositories: at least one image is needed")
        for image in self.repositories:
            dockerfile = self.containers_dir / image / "Dockerfile"
            if not dockerfile.is_file():
                raise ValueError(f"ToolImagesArgs.repositories: image {image!r} has no {dockerfile}")


class ToolImages(pulumi.ComponentResource):
    """Builds each tool image for linux/amd64 and pushes it under a content-derived tag.

    Tags are immutable in both registries (ECR ``IMMUTABLE``, Artifact Registry
    ``immutable_tags``); a content tag never needs overwriting, because changed content gets a
    new tag and unchanged content is not rebuilt.
    """

    tags: dict[str, str]
    """Content tag per image (known before anything is built)."""
    image_resources: dict[str, docker.Image]
    """The ``docker.Image`` resource per image."""
    images: pulumi.Output[dict[str, str]]
    """Digest-pinned reference per image, ``<repository>@sha256:<digest>``: the ``images`` output."""

    def __init__(self, name: str, args: ToolImagesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("seqstack:images:ToolImages", name, None, opts)
        registry = docker.RegistryArgs(
            server=args.credentials.server,
            username=args.credentials.username,
            password=pulumi.Output.secret(args.credentials.password),
        )
        self.tags = {}
        self.image_resources = {}
        pinned: dict[str, pulumi.Output[str]] = {}
        for image, repository in args.repositories.items():
            context = args.containers_dir / image
            tag = content_tag(context)
            built = docker.Image(
                f"{name}-{image}",
                image_name=pulumi.Output.concat(repository, ":", tag),
                build=docker.DockerBuildArgs(
                    context=_context_path(context),
                    dockerfile=_context_path(context / "Dockerfile"),
                    platform=IMAGE_PLATFORM,
                    builder_version=docker.BuilderVersion.BUILDER_BUILD_KIT,
                ),
                registry=registry,
                # A preview never builds (no Docker needed to review a change); `up` does.
                build_on_preview=False,
                skip_push=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.tags[image] = tag
            self.image_resources[image] = built
            pinned[image] = built.repo_digest.apply(functools.partial(pinned_reference, image))
        self.images = pulumi.Output.all(**pinned).apply(dict)
        self.register_outputs({"images": self.images, "tags": self.tags})


def _context_path(path: Path) -> str:
    """The path as given to Docker: relative to the project directory when it lies inside it.

    Pulumi runs the program from the project directory, and a relative path keeps the
    resource's inputs identical on every machine (an absolute path would show up as a change).
    """
    project = CONTAINERS_DIR.parent
    try:
        return path.resolve().relative_to(project).as_posix()
    except ValueError:
        return str(path.resolve())


def ecr_credentials(
    registry_id: pulumi.Input[str], server: pulumi.Input[str], opts: pulumi.InvokeOptions | None = None
) -> RegistryCredentials:
    """Credentials for an ECR registry, from an authorization token the program requests itself.

    ``registry_id`` is the account id owning the repositories (``Repository.registry_id``);
    ``server`` the registry host. The token lives 12 hours and is fetched on every run.
    """
    token = aws.ecr.get_authorization_token_output(registry_id=registry_id, opts=opts)
    return RegistryCredentials(
        server=server,
        username=token.user_name,
        password=pulumi.Output.secret(token.password),
    )


def artifact_registry_credentials(
    server: pulumi.Input[str], opts: pulumi.InvokeOptions | None = None
) -> RegistryCredentials:
    """Credentials for Artifact Registry: the OAuth access token of the identity running Pulumi.

    ``server`` is the registry host, ``<region>-docker.pkg.dev``.
    """
    client = gcp.organizations.get_client_config_output(opts=opts)
    return RegistryCredentials(
        server=server,
        username=GOOGLE_TOKEN_USER,
        password=pulumi.Output.secret(client.access_token),
    )
