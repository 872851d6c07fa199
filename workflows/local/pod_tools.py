"""The local stand-in for a pod's image: this machine's tools, as a pod's uid can run them.

On a cluster each step's image holds its tools, runnable by the image's user (uid 1000). Locally,
under pod emulation, a step runs as that uid with this machine's tools. The Python tools that come
with seqstack (MultiQC, and the QC gate's ``python3``) live beside this interpreter, often in a
folder only root can enter (a pyenv or a virtualenv under ``/root``): the uid would get
"Permission denied" for reasons no cluster has. Then, and only then, a folder of shims is made:
``python3`` is a system Python of the same minor version that the uid can run, with this
interpreter's site-packages on ``PYTHONPATH``, and each script of this interpreter's ``bin``
folder is copied with its ``#!`` line pointing at it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: Where a system Python is looked for (besides PATH).
SYSTEM_BIN = ("/usr/local/bin", "/usr/bin", "/bin")


def can_run(command: list[str], popen: Mapping[str, Any]) -> bool:
    """Whether ``command`` starts and exits 0 as the identity in ``popen`` (Popen keywords)."""
    try:
        proc = subprocess.run(
            command, capture_output=True, cwd="/", env={"PATH": os.defpath}, check=False, **popen
        )
    except OSError:
        return False
    return proc.returncode == 0


def python_for(popen: Mapping[str, Any], search_path: str) -> str | None:
    """A Python of this interpreter's minor version the identity can run: this one if it can,
    else the first ``python3.X``/``python3`` on ``search_path`` or in :data:`SYSTEM_BIN`."""
    probe = [
        "-I",
        "-S",
        "-c",
        f"import sys; sys.exit(sys.version_info[:2] != {tuple(sys.version_info[:2])!r})",
    ]
    if can_run([sys.executable, *probe], popen):
        return sys.executable
    minor = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    dirs = [d for d in search_path.split(os.pathsep) if d] + list(SYSTEM_BIN)
    for name in (minor, "python3"):
        for d in dirs:
            candidate = shutil.which(name, path=d)
            other = candidate and os.path.realpath(candidate) != os.path.realpath(sys.executable)
            if candidate and other and can_run([candidate, *probe], popen):
                return candidate
    return None


def make_shims(shim_dir: Path, python: str) -> None:
    """``shim_dir``: ``python``/``python3``/``python3.X`` -> ``python``, and every script of this
    interpreter's ``bin`` folder with its ``#!`` line rewritten to that Python."""
    bindir = Path(sys.executable).parent
    shim_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(shim_dir, 0o755)
    for name in ("python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}"):
        link = shim_dir / name
        if not link.is_symlink():
            link.symlink_to(python)
    for script in sorted(bindir.iterdir()):
        if not script.is_file() or (shim_dir / script.name).exists():
            continue
        try:
            with script.open("rb") as f:
                # The first line first: the folder also holds binaries (ruff's is 25 MB), and
                # reading each whole made this 30-80 ms, on the way to the run's first task.
                first = f.readline(4096)
                if not first.startswith(b"#!"):
                    continue
                shebang = first[2:].strip().split(b" ")[0].decode(errors="replace")
                if not shebang or Path(shebang).parent != bindir:
                    continue
                rest = f.read()
        except OSError:
            continue
        target = shim_dir / script.name
        target.write_bytes(f"#!{shim_dir / 'python3'}\n".encode() + rest)
        os.chmod(target, 0o755)


def shim_environment(shim_dir: Path, base: Mapping[str, str]) -> dict[str, str]:
    """PATH with the shims first, and this interpreter's site-packages on PYTHONPATH."""
    paths = sysconfig.get_paths()
    site = list(dict.fromkeys([paths["purelib"], paths["platlib"]]))
    pythonpath = [*site, *[p for p in base.get("PYTHONPATH", "").split(os.pathsep) if p]]
    return {
        "PATH": os.pathsep.join([str(shim_dir), base.get("PATH", os.defpath)]),
        "PYTHONPATH": os.pathsep.join(pythonpath),
    }


def unreachable_dirs(path: str, popen: Mapping[str, Any]) -> list[str]:
    """The folders of ``path`` (a PATH) that exist but the identity cannot search: their tools
    are invisible to a step running as it (a tool under ``/root`` for uid 1000, say)."""
    dirs = [d for d in dict.fromkeys(path.split(os.pathsep)) if d and os.path.isdir(d)]
    if not dirs:
        return []
    probe = 'for d do { [ -d "$d" ] && [ -x "$d" ]; } || printf "%s\\n" "$d"; done'
    try:
        proc = subprocess.run(
            ["/bin/sh", "-c", probe, "sh", *dirs], capture_output=True, cwd="/", check=False, **popen
        )
    except OSError:
        return dirs
    return proc.stdout.decode(errors="replace").splitlines()


# The init and wait containers' work (:mod:`workflows.local.pod`), run as the executor's
# identity in a fresh interpreter (``-I -S``: nothing from this environment). One such process
# serves every pod of that identity for the whole run (:mod:`workflows.local.pod_helper`): a
# Python start costs about 25 ms of CPU, and a run of many small samples has hundreds of pods.
# Reads one JSON plan per line on stdin and answers each with one JSON line: ``{"error": null}``,
# or the first failure's one-line message, as argoexec ends its container with.
HELPER = r"""
import json, os, sys

def mkdir_all(path, mode):
    # Go's os.MkdirAll: every missing component gets the mode (minus the umask).
    missing = []
    while not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for p in reversed(missing):
        try:
            os.mkdir(p, mode)
        except FileExistsError:
            pass

def create(path):
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))

def stage_in(item):
    dest = item["dest"]
    tmp = dest + ".tmp"
    parent = os.path.dirname(tmp)
    try:
        mkdir_all(parent, 0o700)
    except OSError as e:
        raise SystemExit(f"failed to create artifact temporary parent directory {parent}: {e.strerror}")
    if item["kind"] == "file":
        create(tmp)
    else:
        for d in item["dirs"]:
            mkdir_all(os.path.join(tmp, d), 0o700)
        for f in item["files"]:
            mkdir_all(os.path.dirname(os.path.join(tmp, f)), 0o700)
            create(os.path.join(tmp, f))
    os.rename(tmp, dest)

def check_out(path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    if os.path.isdir(path):
        def fail(e):
            raise e
        for top, dirs, files in os.walk(path, onerror=fail):
            for f in files:
                os.close(os.open(os.path.join(top, f), os.O_RDONLY))
    else:
        os.close(os.open(path, os.O_RDONLY))

def serve(plan):
    try:
        for item in plan["stage_in"]:
            try:
                stage_in(item)
            except OSError as e:
                raise SystemExit(f"artifact {item['name']} failed to load: {e.strerror}: {e.filename}")
        for path in plan["check_out"]:
            try:
                check_out(path)
            except OSError as e:
                raise SystemExit(f"failed to save outputs: {e.strerror}: {e.filename}")
    except SystemExit as e:
        return str(e.code)
    return None

for line in sys.stdin:
    print(json.dumps({"error": serve(json.loads(line))}), flush=True)
"""
