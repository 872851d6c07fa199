"""The tool images' Dockerfiles, read statically (there is no Docker engine here).

Each Dockerfile is parsed with dockerfile-parse and checked for what the issue demands: base
images pinned by digest, every download verified with ``sha256sum -c`` before use, package
caches removed, a numeric non-root user, and the commands the pipeline runs present in the
image that runs them. ``make images`` is exercised with a stand-in ``docker`` that records its
arguments, and the smoke commands run against the real tools where this machine has them.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from workflows.contract import IMAGE_NAMES

REPO = Path(__file__).resolve().parents[1]
CONTAINERS = REPO / "containers"
SHA256 = re.compile(r"^[0-9a-f]{64}$")

#: What the pipeline's templates call in each image (workflow-design.md: fastqc; bwa-mem2 with a
#: bwa fallback and samtools; multiqc; the QC gate in python3; every template runs bash -c).
DAG_COMMANDS: dict[str, set[str]] = {
    "fastqc": {"bash", "fastqc"},
    "align": {"bash", "bwa-mem2", "bwa", "samtools", "igzip"},
    "report": {"bash", "multiqc", "python3"},
}

#: Tools a template script might call that are NOT in a slim Debian/Python base image; any of
#: these in a rendered script must be installed in that template's image.
NON_BASE_TOOLS = (
    "fastqc",
    "bwa-mem2",
    "bwa",
    "samtools",
    "igzip",
    "multiqc",
    "python3",
    "python",
    "java",
    "unzip",
    "zip",
    "pigz",
    "curl",
    "wget",
    "jq",
    "aws",
    "gsutil",
    "gcloud",
    "s5cmd",
)


@dataclass
class Instruction:
    instruction: str
    value: str
    line: int


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction]

    def args(self) -> dict[str, str]:
        out = {}
        for ins in self.instructions:
            if ins.instruction == "ARG" and "=" in ins.value:
                key, value = ins.value.split("=", 1)
                out[key.strip()] = value.strip()
        return out

    def runs(self) -> list[str]:
        return [ins.value for ins in self.instructions if ins.instruction == "RUN"]


def stages_of(image: str) -> list[Stage]:
    parser = DockerfileParser(path=str(CONTAINERS / image / "Dockerfile"))
    stages: list[Stage] = []
    for item in parser.structure:
        ins = Instruction(item["instruction"], item["value"], item["startline"] + 1)
        if ins.instruction == "FROM":
            words = ins.value.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name, instructions=[]))
        elif ins.instruction != "COMMENT":
            assert stages, f"{image}: {ins.instruction} before the first FROM"
            stages[-1].instructions.append(ins)
    return stages


def expand(text: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m.group(1) or m.group(2), m.group(0)), text)


def smoke_commands(image: str) -> list[str]:
    lines = (CONTAINERS / image / "smoke").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def first_word(command: str) -> str:
    return shlex.split(command)[0]


def test_one_build_context_per_contract_image() -> None:
    found = {p.parent.name for p in CONTAINERS.glob("*/Dockerfile")}
    assert found == set(IMAGE_NAMES)


@pytest.mark.parametrize("image", IMAGE_NAMES)
def test_every_base_image_is_pinned_by_digest(image: str) -> None:
    stages = stages_of(image)
    earlier: set[str] = set()
    for stage in stages:
        if stage.base in earlier:
            continue
        assert re.fullmatch(r"[a-z0-9./_-]+:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}", stage.base), stage.base
        assert ":latest@" not in stage.base
        if stage.name:
            earlier.add(stage.name)


@pytest.mark.parametrize("image", IMAGE_NAMES)
def test_no_latest_tag_and_no_unpinned_frontend(image: str) -> None:
    text = (CONTAINERS / image / "Dockerfile").read_text()
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert not re.search(r":latest\b", code)
    # A `# syntax=` directive would pull an unpinned BuildKit frontend image.
    assert not re.search(r"^#\s*syntax\s*=", text, re.MULTILINE)


def test_both_debian_images_share_one_base_digest() -> None:
    bases = {stage.base for image in ("fastqc", "align") for stage in stages_of(image)}
    assert len(bases) == 1, bases


def downloads(run: str) -> list[tuple[str, str]]:
    """(tool, output file) for every curl/wget in a RUN; a download without a file is an error."""
    found = []
    for segment in re.split(r"&&|;|\|\|", run):
        words = shlex.split(segment)
        if not words or words[0] not in ("curl", "wget"):
            continue
        flag = {"curl": ("-o", "--output"), "wget": ("-O", "--output-document")}[words[0]]
        outs = [words[i + 1] for i, w in enumerate(words[:-1]) if w in flag]
        assert len(outs) == 1, f"{words[0]} must save to one named file to be verified: {segment.strip()}"
        found.append((words[0], outs[0]))
    return found


@pytest.mark.parametrize("image", IMAGE_NAMES)
def test_every_download_is_checksum_verified_before_use(image: str) -> None:
    for stage in stages_of(image):
        args = stage.args()
        for ins in stage.instructions:
            if ins.instruction == "ADD":
                assert "://" not in ins.value, f"{image}:{ins.line}: ADD of a URL skips verification"
            if ins.instruction != "RUN":
                continue
            run = ins.value
            for tool, target in downloads(run):
                # Never piped straight into tar/sh: the bytes must land in a file first.
                assert not re.search(rf"\b{tool}\b[^&;|]*\|", run), f"{image}:{ins.line}: {tool} piped"
                check = re.search(rf'echo\s+"(\S+)\s+{re.escape(target)}"\s*\|\s*sha256sum\s+-c\s+-', run)
                assert check, f"{image}:{ins.line}: {target} is not verified with sha256sum -c"
                assert run.index(check.group(0)) > run.index(target), "verified before it was downloaded"
                first_use = re.search(rf"\b(tar|unzip)\s[^&]*{re.escape(target)}", run)
                assert first_use is None or first_use.start() > check.start(), "used before verification"
                digest = expand(check.group(1), args)
                assert SHA256.match(digest), f"{image}:{ins.line}: {check.group(1)} is not a sha256"


def test_every_pinned_checksum_is_a_real_looking_sha256_and_used() -> None:
    for image in IMAGE_NAMES:
        text = (CONTAINERS / image / "Dockerfile").read_text()
        for stage in stages_of(image):
            for key, value in stage.args().items():
                if key.endswith("_SHA256"):
                    assert SHA256.match(value), f"{image}: {key}={value}"
                    assert f"${{{key}}}" in text, f"{image}: {key} declared but never checked"


@pytest.mark.parametrize("image", IMAGE_NAMES)
def test_no_package_caches_are_left_behind(image: str) -> None:
    for stage in stages_of(image):
        for run in stage.runs():
            if "apt-get install" in run or "apt-get update" in run:
                assert "--no-install-recommends" in run or "apt-get install" not in run
                assert "rm -rf /var/lib/apt/lists/*" in run, run
            for pip in re.findall(r"\S*pip3?\s+install[^&;]*", run):
                assert "--no-cache-dir" in pip, pip
                assert "--require-hashes" in pip, pip


def test_every_python_requirement_is_pinned_with_a_hash() -> None:
    text = (CONTAINERS / "report" / "requirements.txt").read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    names = []
    for entry in entries:
        head = entry.split("\\", 1)[0].strip()
        assert re.match(r"^[A-Za-z0-9._-]+==[A-Za-z0-9.+!-]+( ; .+)?$", head), head
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", entry), f"{head} has no sha256"
        names.append(head.split("==")[0].lower())
    assert "multiqc" in names
    assert "multiqc==1.35" in (CONTAINERS / "report" / "requirements.in").read_text()


@pytest.mark.parametrize("image", IMAGE_NAMES)
def test_final_stage_runs_as_uid_1000(image: str) -> None:
    final = stages_of(image)[-1]
    users = [ins for ins in final.instructions if ins.instruction == "USER"]
    assert users, f"{image}: the final stage never leaves root"
    assert users[-1].value in ("1000", "1000:1000"), users[-1].value
    # Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
    assert re.fullmatch(r"\d+(:\d+)?", users[-1].value)
    creates = " ".join(final.runs())
    assert "useradd --uid 1000" in creates


@pytest.mark.parametrize("image", IMAGE_NAMES)
def test_final_stage_smoke_runs_every_dag_command_as_the_user(image: str) -> None:
    final = stages_of(image)[-1]
    last_user = max(i for i, ins in enumerate(final.instructions) if ins.instruction == "USER")
    smoke = final.instructions[-1]
    assert smoke.instruction == "RUN" and final.instructions.index(smoke) > last_user
    tools = {first_word(part) for part in smoke.value.split("&&")}
    tools |= {part.split()[-1] for part in smoke.value.split("&&") if part.strip().startswith("command -v")}
    missing = DAG_COMMANDS[image] - tools - {"bash"}
    assert not missing, f"{image}: build-time smoke does not run {missing}"


@pytest.mark.parametrize("image", IMAGE_NAMES)
def test_smoke_file_covers_every_dag_command(image: str) -> None:
    commands = smoke_commands(image)
    assert commands
    called = set()
    for command in commands:
        called |= {w for w in re.findall(r"[A-Za-z0-9_.-]+", command) if w in DAG_COMMANDS[image]}
    # bash runs every smoke line (make images uses `bash -c`), so it is covered by construction.
    assert DAG_COMMANDS[image] - {"bash"} <= called


def test_image_versions_match_the_pinned_tools() -> None:
    def label(image: str) -> str:
        final = stages_of(image)[-1]
        labels = " ".join(ins.value for ins in final.instructions if ins.instruction == "LABEL")
        match = re.search(r'org\.opencontainers\.image\.version="([^"]+)"', labels)
        assert match, image
        return match.group(1)

    assert stages_of("fastqc")[0].args()["FASTQC_VERSION"] == label("fastqc") == "0.12.1"
    assert stages_of("align")[0].args()["BWA_MEM2_VERSION"] == label("align") == "2.2.1"
    pinned = re.search(r"^multiqc==(\S+)", (CONTAINERS / "report" / "requirements.txt").read_text(), re.M)
    assert pinned and pinned.group(1) == label("report") == "1.35"


def test_bwa_mem2_is_the_official_x86_64_release_binary() -> None:
    run = " ".join(stages_of("align")[0].runs())
    assert "github.com/bwa-mem2/bwa-mem2/releases/download/v${BWA_MEM2_VERSION}/" in run
    assert "bwa-mem2-${BWA_MEM2_VERSION}_x64-linux.tar.bz2" in run
    # The launcher picks bwa-mem2.<isa> from its own directory: all variants must be copied.
    assert '_x64-linux"/bwa-mem2* /opt/bin/' in run


# --- the rendered pipeline: every tool a template calls exists in that template's image ------


def rendered_templates() -> list[tuple[str, dict]]:
    """(image name, template) for each container/script template of the rendered pipeline."""
    from workflows import render  # written: a broken import must fail here, not skip
    from workflows.contract import StackOutputs
    from workflows.settings import PipelineSettings
    from workflows.sheet import Lane, Sample

    images = {name: f"registry.example/seqstack/{name}@sha256:{i:064x}" for i, name in enumerate(IMAGE_NAMES)}
    stack = StackOutputs.local(Path("/tmp/seqstack-out"), images=images)
    # One lane, several lanes and single-end: every template (align, align-lane, merge) is rendered.
    samples = [
        Sample(id="s1", lanes=(Lane("1", "/data/s1_1.fq.gz", "/data/s1_2.fq.gz", 2),), row=2),
        Sample(
            id="s2", lanes=(Lane("1", "/data/s2a.fq.gz", "", 3), Lane("2", "/data/s2b.fq.gz", "", 4)), row=3
        ),
    ]
    settings = PipelineSettings.local(4, 8.0)
    objs = render.render(samples, "/ref/genome.fa", "/tmp/seqstack-out", stack, settings)
    by_ref = {ref: name for name, ref in images.items()}
    out = []
    for obj in objs:
        for template in obj.get("spec", {}).get("templates", []):
            body = template.get("container") or template.get("script")
            if body:
                assert body["image"] in by_ref, f"{template['name']} uses {body['image']}, not a stack image"
                out.append((by_ref[body["image"]], template))
    assert out, "the rendered pipeline has no container templates"
    return out


def tools_called(template: dict) -> set[str]:
    body = template.get("container") or template.get("script")
    text = " ".join([*body.get("command", []), *body.get("args", []), body.get("source", "")])
    called = {body["command"][0]} if body.get("command") else set()
    python = bool(called) and body["command"][0].startswith("python")
    for tool in NON_BASE_TOOLS:
        # A word on its own: not part of a path (…/fastqc/), a file name (x_fastqc.zip) or a name.
        # A Python program runs a tool as the first word of a command list (["multiqc", ...]);
        # its other strings name things ("fastqc" is also a MultiQC module).
        name = re.escape(tool)
        word = rf"\[\s*[\"']{name}[\"']" if python else rf"(?<![\w./-]){name}(?![\w./-])"
        if re.search(word, text):
            called.add(tool)
    return called


def test_every_tool_the_rendered_pipeline_calls_is_in_its_image() -> None:
    for image, template in rendered_templates():
        provided = DAG_COMMANDS[image] | {"sh"}
        missing = tools_called(template) - provided
        assert not missing, f"template {template['name']} runs {missing}, not installed in the {image} image"


# --- make images --------------------------------------------------------------------------


FAKE_DOCKER = """#!/bin/sh
printf '%s\\n' "$*" >> "$DOCKER_LOG"
"""


def test_make_images_builds_each_image_for_amd64_and_runs_its_smoke_as_the_pod_would(tmp_path: Path) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    log = tmp_path / "docker.log"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "DOCKER_LOG": str(log)}
    result = subprocess.run(["make", "-s", "images"], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    builds = [c for c in calls if c.startswith("build ")]
    assert len(builds) == len(IMAGE_NAMES)
    for image in IMAGE_NAMES:
        build = next(c for c in builds if c.endswith(f" containers/{image}"))
        assert "--platform linux/amd64" in build and f"-t seqstack/{image}:local" in build
        runs = [c for c in calls if c.startswith("run ") and f" seqstack/{image}:local " in c]
        assert len(runs) == len(smoke_commands(image))
        for run, command in zip(runs, smoke_commands(image), strict=True):
            for flag in ("--user 1000:1000", "--read-only", "--network none", "--cap-drop ALL"):
                assert flag in run, f"{image}: smoke runs without {flag}"
            assert run.endswith(command), run


def test_make_images_fails_without_docker(tmp_path: Path) -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    # An empty PATH hides any real docker (CI runners have one); the recipe's check uses only
    # shell builtins, and make's SHELL is an absolute path.
    env = {**os.environ, "PATH": str(tmp_path)}
    result = subprocess.run([make, "-s", "images"], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "Docker" in result.stdout + result.stderr


# --- the smoke commands themselves, against the tools installed here ----------------------


@pytest.mark.slow
@pytest.mark.parametrize("image", IMAGE_NAMES)
def test_smoke_commands_pass_against_the_local_tools(image: str, tmp_path: Path) -> None:
    """Each smoke line is valid bash that succeeds with real tools (those this machine has)."""
    ran = 0
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, "WORK": str(tmp_path), "TMPDIR": str(tmp_path)}
    env["PATH"] = f"{os.environ['PATH']}:{venv_bin}"
    for command in smoke_commands(image):
        needed = {w for w in re.findall(r"[A-Za-z0-9_.-]+", command) if w in NON_BASE_TOOLS}
        if any(shutil.which(tool, path=env["PATH"]) is None for tool in needed):
            continue  # bwa-mem2 is not installed here; the image build runs that line
        result = subprocess.run(
            ["bash", "-c", f"set -euo pipefail; {command}"],
            env=env,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=120,
        )
        assert result.returncode == 0, f"{command}\n{result.stderr}"
        ran += 1
    if ran == 0:
        pytest.skip(f"none of the {image} tools is installed here")
