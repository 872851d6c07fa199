"""Artifacts: staging a task's inputs into its volume (Argo's init container), collecting its
output parameters and artifacts, and publishing them atomically (Argo's wait container), with
the checksums run.json records."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from workflows.local.nodes import Node, TemplateError
from workflows.local.pod import Pod, StageItem
from workflows.local.values import string_value

#: Maps a path inside the pod (``/work/x``) to this machine, naming what it is for errors.
LocalPath = Callable[[str, str], Path]
#: An input artifact as the template declares it and where it comes from (None: nowhere).
InputSource = tuple[Mapping[str, Any], str | None]


def file_digests(path: Path) -> list[list[Any]]:
    """``[[relative path, size, sha256], ...]`` of a file or every file under a directory."""
    if path.is_file():
        return [[".", path.stat().st_size, _sha256(path)]]
    out = []
    for p in sorted(path.rglob("*")):
        if p.is_file():
            out.append([p.relative_to(path).as_posix(), p.stat().st_size, _sha256(p)])
    return out


def file_sizes(path: Path) -> list[list[Any]]:
    """``[[relative path, size], ...]``: :func:`file_digests` without reading the files."""
    if path.is_file():
        return [[".", path.stat().st_size]]
    return [
        [p.relative_to(path).as_posix(), p.stat().st_size] for p in sorted(path.rglob("*")) if p.is_file()
    ]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def stage_inputs(
    sources: Sequence[InputSource],
    local_path: LocalPath,
    where: str,
    pod: Pod,
    plain: Mapping[str, Path] | None = None,
) -> None:
    """Put every input artifact at its path in the task's volume: a file as a symlink, a
    directory as a real one (hard links), ``raw`` data written; through the pod's init
    container when pods are emulated. ``plain``: gzipped inputs (by real path) whose
    decompressed copy the input check kept; the task gets the copy's bytes instead (the same
    reads: the steps read either form, by content), shared by the pods that read it."""
    items: list[StageItem] = []
    for art, src in sources:
        dest = local_path(art["path"], f"input artifact {art['name']}")
        if any(i.dest == dest for i in items):
            raise TemplateError(f"{where}: input artifact {art['name']}: {art['path']} staged twice")
        if "raw" in art and src is None:
            items.append(StageItem(art["name"], dest, raw=art["raw"].get("data", "")))
            continue
        if src is None:
            continue
        if src == "" and art.get("optional"):
            # Argo's executor skips an optional input artifact that has no key (argo-workflows
            # v4.1.2 workflow/executor/executor.go, loadArtifact: `!art.HasLocationOrKey()` ->
            # "Ignoring optional artifact which was not supplied"; a plugin, S3 or GCS location
            # needs a non-empty key to count as one): a single-end lane's empty r2_key.
            continue
        if src == "":
            raise TemplateError(
                f"{where}: input artifact {art['name']}: required artifact not supplied (empty key)"
            )
        source = Path(src)
        if not source.is_absolute():
            raise TemplateError(f"{where}: input artifact {art['name']}: key {src!r} is not an absolute path")
        if not source.exists():
            if art.get("optional"):
                continue
            raise TemplateError(f"{where}: input artifact {art['name']}: {src} does not exist")
        copy = plain.get(os.path.realpath(source)) if plain else None
        items.append(StageItem(art["name"], dest, copy or source, shared=copy is not None))
    if pod.emulated:  # as Argo's init container would, as the executor's uid
        pod.stage_in(items, where)
        return
    for item in items:
        dest = item.dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        if item.source is None:
            dest.write_text(item.raw or "")
            continue
        source = item.source
        if dest.exists() or dest.is_symlink():
            raise TemplateError(f"{where}: input artifact {item.name}: {dest} staged twice")
        if source.is_dir():
            # A directory arrives as a real directory (as Argo unpacks one), so `find` and
            # MultiQC see its files; hard links keep that free of copies where possible.
            shutil.copytree(source, dest, symlinks=False, copy_function=_link_or_copy)
        else:
            # Tools only read their inputs: a symlink costs nothing, whatever the file's size.
            dest.symlink_to(source.resolve())


def collect_outputs(
    node: Node, resolved: Mapping[str, Any], local_path: LocalPath, where: str, default_repo: Path
) -> None:
    """Read the output parameters and publish the output artifacts of a finished task into
    ``node``; nothing is published unless every declared output exists. ``default_repo``:
    where an artifact without a location goes (Argo's default artifact repository)."""
    outputs = resolved.get("outputs") or {}
    params: dict[str, str] = {}
    for p in outputs.get("parameters", []):
        vf = p.get("valueFrom") or {}
        if "value" in p:
            params[p["name"]] = string_value(p["value"])
            continue
        path = local_path(vf["path"], f"output parameter {p['name']}")
        try:
            text = path.read_text()
            params[p["name"]] = text[:-1] if text.endswith("\n") else text
        except OSError:
            if "default" not in vf:
                raise TemplateError(
                    f"{where}: output parameter {p['name']!r}: {vf['path']} not found"
                ) from None
            params[p["name"]] = string_value(vf["default"])
    plan: list[tuple[str, Path, Path]] = []
    for a in outputs.get("artifacts", []):
        src = local_path(a["path"], f"output artifact {a['name']}")
        if not src.exists():
            if a.get("optional"):
                continue
            raise TemplateError(f"{where}: output artifact {a['name']!r}: {a['path']} was not written")
        if "plugin" in a:
            dest = Path(a["plugin"]["key"])
            if not dest.is_absolute():
                raise TemplateError(f"{where}: output artifact {a['name']}: key {dest} is not absolute")
        else:
            dest = default_repo / a["name"]
        plan.append((a["name"], src, dest))
    artifacts: dict[str, str] = {}
    digests: dict[str, list[list[Any]]] = {}
    for name, src, dest in plan:
        publish(src, dest)
        artifacts[name] = str(dest)
        digests[name] = file_digests(dest)
    node.parameters, node.artifacts, node.digests = params, artifacts, digests


def publish(src: Path, dest: Path) -> None:
    """Put a finished output in place atomically: hard-link it beside the destination, then rename.

    Linking (not moving) lets two output artifacts share one path (a file that goes both to the
    results and to the report's metrics); the work directory is removed afterwards anyway.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = dest.with_name(f".{dest.name}.staging-{os.getpid()}-{threading.get_ident()}")
    _remove(stage)
    try:
        if src.is_dir():
            shutil.copytree(src, stage, symlinks=False, copy_function=_link_or_copy)
        else:
            _link_or_copy(str(src), str(stage))
        if dest.is_dir() and not dest.is_symlink():
            old = dest.with_name(f".{dest.name}.old-{os.getpid()}-{threading.get_ident()}")
            os.rename(dest, old)
            os.rename(stage, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(stage, dest)
    finally:
        _remove(stage)


def _link_or_copy(src: str, dst: str) -> str:
    try:
        os.link(os.path.realpath(src), dst)
    except OSError:  # another file system, or links not allowed: copy
        shutil.copy2(src, dst)
    return dst


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()
