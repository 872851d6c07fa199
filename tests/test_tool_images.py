"""components/tool_images.py: content tags, and the build/push wiring under Pulumi's mocks.

The component is run alone (``run_function``) with the repositories and credentials each cloud
supplies, so these tests hold whether or not the stacks are wired; the last tests run the
committed stacks and check that both export digest-pinned ``images``.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.tool_images import (
    CONTAINERS_DIR,
    GOOGLE_TOKEN_USER,
    IMAGE_PLATFORM,
    RegistryCredentials,
    ToolImages,
    ToolImagesArgs,
    artifact_registry_credentials,
    content_tag,
    context_digest,
    ecr_credentials,
    pinned_reference,
)
from stacks.config import parse_config
from stacks.harness import Inventory, run_function, run_stack
from stacks.loader import read_stack_file
from workflows.contract import IMAGE_NAMES

IMAGE = "docker:index/image:Image"
ECR_TOKEN = "aws:ecr/getAuthorizationToken:getAuthorizationToken"
GOOGLE_CONFIG = "gcp:organizations/getClientConfig:getClientConfig"
ECR_HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
AR_HOST = "europe-west4-docker.pkg.dev"
PINNED = re.compile(r"^(?P<repo>[a-z0-9.:/_-]+)@sha256:[0-9a-f]{64}$")


# --- content tags ---------------------------------------------------------------------------


@pytest.fixture
def fastqc_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "fastqc"
    shutil.copytree(CONTAINERS_DIR / "fastqc", copy)
    return copy


def test_tag_is_tool_version_plus_twelve_hex_of_the_context() -> None:
    for image, version in {"fastqc": "0.12.1", "align": "2.2.1", "report": "1.35"}.items():
        tag = content_tag(CONTAINERS_DIR / image)
        assert re.fullmatch(rf"{re.escape(version)}-[0-9a-f]{{12}}", tag), tag
        assert tag.endswith(context_digest(CONTAINERS_DIR / image)[:12])


def test_tag_is_stable_across_copies_and_timestamps(fastqc_copy: Path) -> None:
    original = content_tag(CONTAINERS_DIR / "fastqc")
    assert content_tag(fastqc_copy) == original
    os.utime(fastqc_copy / "Dockerfile", (0, 0))
    assert content_tag(fastqc_copy) == original


def test_tag_changes_when_the_dockerfile_changes(fastqc_copy: Path) -> None:
    before = content_tag(fastqc_copy)
    dockerfile = fastqc_copy / "Dockerfile"
    dockerfile.write_text(
        dockerfile.read_text().replace("fonts-dejavu-core", "fonts-dejavu-core fonts-liberation")
    )
    after = content_tag(fastqc_copy)
    assert after != before
    assert after.split("-")[0] == before.split("-")[0] == "0.12.1"


def test_tag_changes_when_any_context_file_changes(fastqc_copy: Path) -> None:
    before = content_tag(fastqc_copy)
    (fastqc_copy / "extra.conf").write_text("x")
    added = content_tag(fastqc_copy)
    (fastqc_copy / "extra.conf").chmod(0o755)
    made_executable = content_tag(fastqc_copy)
    assert len({before, added, made_executable}) == 3


def test_a_dockerfile_without_a_version_label_is_rejected(fastqc_copy: Path) -> None:
    dockerfile = fastqc_copy / "Dockerfile"
    dockerfile.write_text(re.sub(r"org\.opencontainers\.image\.version=\S+", "", dockerfile.read_text()))
    with pytest.raises(ValueError, match=r"org\.opencontainers\.image\.version"):
        content_tag(fastqc_copy)


def test_pinned_reference_accepts_only_repository_at_digest() -> None:
    good = f"{ECR_HOST}/seqstack-dev/fastqc@sha256:{'a' * 64}"
    assert pinned_reference("fastqc", good) == good
    for bad in (f"{ECR_HOST}/seqstack-dev/fastqc:0.12.1", f"sha256:{'a' * 64}", f"x@sha256:{'a' * 63}"):
        with pytest.raises(ValueError, match="fastqc"):
            pinned_reference("fastqc", bad)


# --- Args -------------------------------------------------------------------------------------


CREDENTIALS = RegistryCredentials(server=ECR_HOST, username="AWS", password="token")


def test_args_reject_an_image_without_a_dockerfile() -> None:
    with pytest.raises(ValueError, match="'bowtie2'"):
        ToolImagesArgs(repositories={"bowtie2": f"{ECR_HOST}/x/bowtie2"}, credentials=CREDENTIALS)
    with pytest.raises(ValueError, match="at least one image"):
        ToolImagesArgs(repositories={}, credentials=CREDENTIALS)


# --- the component under mocks ---------------------------------------------------------------


def run_images(
    stack: str, cloud: str, containers_dir: Path = CONTAINERS_DIR
) -> tuple[Inventory, dict[str, str]]:
    """ToolImages with the repositories and credentials each cloud's stack would pass."""
    raw = dict(read_stack_file(stack))
    cfg = parse_config(raw, stack)
    tags: dict[str, str] = {}

    def program() -> dict[str, Any]:
        if cloud == "aws":
            repositories: dict[str, Any] = {n: f"{ECR_HOST}/seqstack-dev/{n}" for n in IMAGE_NAMES}
            credentials = ecr_credentials(registry_id="123456789012", server=ECR_HOST)
        else:
            repositories = {n: f"{AR_HOST}/seqstack-dev/seqstack-dev/{n}" for n in IMAGE_NAMES}
            credentials = artifact_registry_credentials(server=AR_HOST)
        images = ToolImages(
            "images",
            ToolImagesArgs(repositories=repositories, credentials=credentials, containers_dir=containers_dir),
        )
        tags.update(images.tags)
        return {"images": images.images}

    return run_function(cfg, program, raw), tags


@pytest.fixture(scope="module", params=["aws", "gcp"])
def cloud_run(request) -> tuple[str, Inventory, dict[str, str]]:
    inv, tags = run_images(f"dev-{request.param}", request.param)
    return request.param, inv, tags


def test_each_image_is_built_for_amd64_from_its_own_context(cloud_run) -> None:
    _, inv, _ = cloud_run
    built = {r.name: r for r in inv.of_type(IMAGE)}
    assert set(built) == {f"images-{n}" for n in IMAGE_NAMES}
    for name in IMAGE_NAMES:
        image = built[f"images-{name}"]
        assert image.parent == "images" and image.parent_type == "seqstack:images:ToolImages"
        build = image.inputs["build"]
        assert build["platform"] == IMAGE_PLATFORM == "linux/amd64"
        assert build["context"] == f"containers/{name}"
        assert build["dockerfile"] == f"containers/{name}/Dockerfile"
        assert build["builderVersion"] == "BuilderBuildKit"
        assert image.inputs["skipPush"] is False
        assert image.inputs["buildOnPreview"] is False


def test_images_are_pushed_under_the_content_tag(cloud_run) -> None:
    cloud, inv, tags = cloud_run
    assert tags == {n: content_tag(CONTAINERS_DIR / n) for n in IMAGE_NAMES}
    prefix = f"{ECR_HOST}/seqstack-dev/" if cloud == "aws" else f"{AR_HOST}/seqstack-dev/seqstack-dev/"
    for name in IMAGE_NAMES:
        image = inv.one(IMAGE, f"images-{name}")
        assert image.inputs["imageName"] == f"{prefix}{name}:{tags[name]}"
        assert ":latest" not in image.inputs["imageName"]


def test_registry_login_comes_from_the_program_and_the_token_is_secret(cloud_run) -> None:
    cloud, inv, _ = cloud_run
    if cloud == "aws":
        assert [args for token, args in inv.invokes if token == ECR_TOKEN] == [{"registryId": "123456789012"}]
        server, username, password = ECR_HOST, "AWS", "mock-password"
    else:
        assert [token for token, _ in inv.invokes if token == GOOGLE_CONFIG]
        server, username, password = AR_HOST, GOOGLE_TOKEN_USER, "mock-access-token"
    for name in IMAGE_NAMES:
        image = inv.one(IMAGE, f"images-{name}")
        assert image.inputs["registry"] == {"server": server, "username": username, "password": password}
        # The secret token makes the whole login block secret in the state and in previews.
        assert image.secret_inputs["registry"] == "[secret]"


def test_images_output_is_the_pushed_digest_of_each_repository(cloud_run) -> None:
    _, inv, tags = cloud_run
    images = inv.outputs["images"]
    assert set(images) == set(IMAGE_NAMES)
    for name, ref in images.items():
        match = PINNED.match(ref)
        assert match, ref
        pushed = inv.one(IMAGE, f"images-{name}").inputs["imageName"]
        assert pushed == f"{match.group('repo')}:{tags[name]}"


def test_a_changed_dockerfile_gives_a_new_tag_and_digest_only_for_that_image(tmp_path: Path) -> None:
    copy = tmp_path / "containers"
    shutil.copytree(CONTAINERS_DIR, copy)
    before, before_tags = run_images("dev-aws", "aws", copy)
    again, again_tags = run_images("dev-aws", "aws", copy)
    assert again_tags == before_tags and again.outputs["images"] == before.outputs["images"]

    dockerfile = copy / "align" / "Dockerfile"
    dockerfile.write_text(
        dockerfile.read_text().replace("ARG SAMTOOLS_VERSION=1.21", "ARG SAMTOOLS_VERSION=1.21 ")
    )
    after, after_tags = run_images("dev-aws", "aws", copy)
    assert after_tags["align"] != before_tags["align"]
    assert after.outputs["images"]["align"] != before.outputs["images"]["align"]
    for unchanged in ("fastqc", "report"):
        assert after_tags[unchanged] == before_tags[unchanged]
        assert after.outputs["images"][unchanged] == before.outputs["images"][unchanged]


def test_a_registry_answer_without_a_digest_fails_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from stacks import harness

    monkeypatch.setitem(
        harness.FAKE_STATE, IMAGE, lambda name, inputs: {"repoDigest": str(inputs["imageName"])}
    )
    with pytest.raises(Exception, match="expected <repository>@sha256"):
        run_images("dev-aws", "aws")


def test_nothing_is_declared_at_import_time() -> None:
    # Importing the module again under a fresh mock runtime registers no resource.
    import importlib

    import components.tool_images as module

    recorded: list[str] = []

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args):  # pragma: no cover - would fail the test if reached
            recorded.append(args.name)
            return args.name, {}

        def call(self, args):  # pragma: no cover
            return {}, []

    pulumi.runtime.set_mocks(Mocks(), project="seqstack", stack="t", preview=False)
    importlib.reload(module)
    assert recorded == []


# --- the committed stacks ---------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev-aws", "dev-gcp"])
def test_stack_images_output_is_digest_pinned_in_the_stack_registry(stack: str) -> None:
    inv = run_stack(stack)
    built = inv.of_type(IMAGE)
    if not built:
        pytest.fail(f"{stack} builds no tool image")
    images = inv.outputs["images"]
    assert set(images) == set(IMAGE_NAMES)
    registry = inv.outputs["registry"]
    for name, ref in images.items():
        match = PINNED.match(ref)
        assert match, f"{stack}: images.{name} = {ref!r} is not pinned by digest"
        assert match.group("repo").startswith(registry), (registry, ref)
        assert match.group("repo").endswith(f"/{name}")
    if stack == "dev-aws":
        tokens = [args for token, args in inv.invokes if token == ECR_TOKEN]
        assert tokens == [{"registryId": "123456789012"}]  # the account owning the repositories
    else:
        assert [token for token, _ in inv.invokes if token == GOOGLE_CONFIG]
    for image in built:
        assert image.secret_inputs["registry"] == "[secret]"
        assert image.inputs["registry"]["server"] == registry.split("/", 1)[0]


#: Google's Arm machine families (Tau T2A, Axion C4A and N4A); everything else is x86-64.
GOOGLE_ARM_FAMILIES = ("t2a-", "c4a-", "n4a-")


def test_every_node_pool_runs_x86_64_so_the_amd64_images_can_run_anywhere(aws_inv: Inventory) -> None:
    # The images are linux/amd64 only (bwa-mem2 ships x86-64 binaries), so no pool may be Arm.
    groups = aws_inv.of_type("aws:eks/nodeGroup:NodeGroup")
    assert groups
    for group in groups:
        assert "x86_64" in group.inputs["amiType"], (group.name, group.inputs["amiType"])
    pools = run_stack("dev-gcp").of_type("gcp:container/nodePool:NodePool")
    assert pools
    for pool in pools:
        machine = pool.inputs["nodeConfig"]["machineType"]
        assert not machine.startswith(GOOGLE_ARM_FAMILIES), (pool.name, machine)
