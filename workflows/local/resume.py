"""Resume fingerprints: what makes a task's earlier success reusable by ``--resume`` (its
command, script, environment, inputs' size and mtime, declared outputs), and the check that
every output it published is still there, byte for byte (as snakemake's ``persistence``)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from workflows.local.artifacts import InputSource, file_digests, file_sizes
from workflows.local.nodes import SUCCEEDED, Node
from workflows.local.record import EarlierTask


def _stat_signature(path: Path, own: frozenset[Path] = frozenset()) -> list[Any]:
    """Cheap identity of an input (size, mtime) so a changed input invalidates a cached task.
    Files in an input folder that are the task's ``own`` outputs do not count: the report writes
    its chunk's sample list into the metrics folder it reads, and must still resume."""
    if not path.exists():
        return [str(path), None]
    if path.is_file():
        st = path.stat()
        return [str(path), st.st_size, st.st_mtime_ns]
    files = [p for p in sorted(path.rglob("*")) if p.is_file() and p not in own]
    return [str(path), [_stat_signature(p)[1:] for p in files]]


def _output_paths(outputs: Any) -> frozenset[Path]:
    """The local files a task's (resolved) output artifacts publish to."""
    arts = outputs.get("artifacts", []) if isinstance(outputs, Mapping) else []
    return frozenset(Path(a["plugin"]["key"]) for a in arts if isinstance(a.get("plugin"), Mapping))


def fingerprint(
    command: Sequence[str],
    body: Mapping[str, Any],
    is_script: bool,
    sources: Sequence[InputSource],
    outputs: Any,
) -> str:
    """A task's identity for ``--resume``: equal only if it would do the same work again."""
    data = {
        "command": list(command),
        "source": body.get("source") if is_script else None,
        "env": body.get("env"),
        "inputs": [_stat_signature(Path(src), _output_paths(outputs)) if src else None for _, src in sources],
        "outputs": outputs,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:32]


def reuse(node: Node, earlier: EarlierTask | None, resolved: Mapping[str, Any]) -> bool:
    """Keep an earlier success whose fingerprint equals ``node.fingerprint`` and whose every
    declared output still matches its checksums: ``node`` becomes that success (cached)."""
    if earlier is None or earlier.status != SUCCEEDED or earlier.fingerprint != node.fingerprint:
        return False
    declared = {
        a["name"] for a in (resolved.get("outputs") or {}).get("artifacts", []) if not a.get("optional")
    }
    if not declared <= set(earlier.artifacts):
        return False
    for path_text, expected in earlier.artifacts.values():
        path = Path(path_text)
        if not path.exists():
            return False
        # Sizes first (cheap), then content: a half-written or replaced file never counts.
        if file_sizes(path) != [[f[0], f[1]] for f in expected]:
            return False
        if file_digests(path) != expected:
            return False
    node.parameters = dict(earlier.parameters)
    node.artifacts = {name: path for name, (path, _files) in earlier.artifacts.items()}
    node.digests = {name: files for name, (_path, files) in earlier.artifacts.items()}
    node.attempts = []
    node.cached = True
    node.phase, node.message = SUCCEEDED, "outputs complete from a previous run (resumed)"
    node.finished = time.time()
    return True
