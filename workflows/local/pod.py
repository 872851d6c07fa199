"""Emulate an Argo workflow pod on this machine: who runs each container, what they may write,
how the executor stages artifacts, and the emptyDir ``sizeLimit``.

On a cluster every step is a pod with three containers: Argo's ``init`` (downloads the input
artifacts), ``main`` (the tool) and ``wait`` (uploads the outputs). Init and wait run as the
identity the Helm values give the executor (``executor.securityContext``), main as its template's
``runAsUser``/``runAsGroup``, and all three get the pod's ``fsGroup`` as a supplementary group.
What the cluster does, read at argoproj/argo-workflows v4.0.6 and in Kubernetes' kubelet:

* the kubelet creates each emptyDir volume mode 0777, and with an ``fsGroup`` chowns it to that
  group and sets the setgid bit (``drwxrwsrwx root:fsGroup``);
* init creates every input artifact's parent directory with ``os.MkdirAll(dir, 0o700)`` as the
  executor's uid (``workflow/executor/executor.go``; the GCS driver does the same for each object
  of a directory, ``workflow/artifacts/gcs/gcs.go``), downloads into ``<path>.tmp`` (files
  created 0666 minus the umask) and renames it into place;
* wait reads every output (artifact files, output parameter files) as the executor's uid;
* a container's root filesystem is read-only (``readOnlyRootFilesystem``): only volumes are
  writable;
* the kubelet's eviction manager measures each emptyDir and, once its usage exceeds the
  ``sizeLimit``, evicts the pod at once (grace 0) with the message ``Usage of EmptyDir volume
  "<name>" exceeds the limit "<limit>". ``; Argo ends the node ``Failed`` with the pod's message
  (``inferFailedReason`` in ``workflow/controller/operator.go``), and ``failedPodRestart`` does
  not restart it (the main container had started: ``pod_restart.go``).

Locally, when seqstack runs as root, a pod whose template sets ``runAsUser`` (the pipeline's all
do) is emulated: its volumes live in a directory every uid can traverse (as the kubelet's do),
the init work is done by a helper process running as the executor's identity (one per identity
for the whole run, :mod:`workflows.local.pod_helper`; the bytes come
from the "bucket" side, this process), the main process runs with the container's uid, gid,
supplementary groups and umask 022, with ``HOME`` and ``TMPDIR`` on a read-only "root
filesystem", and the wait's reads are checked by a helper process as the executor's identity
before the outputs are published (then owned by the user who ran seqstack, like downloads of
the bucket's objects). Not emulated: the read-only root filesystem beyond ``HOME``/``TMPDIR``
(a tool that writes to a hard-coded ``/tmp`` still can), seccomp, dropped capabilities (the
uids are non-root, so there are none to drop), network and process isolation.

Not root (or a template without ``runAsUser``): every process runs as the current user, inputs
are symlinks, as before. The emptyDir ``sizeLimit`` is enforced either way.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workflows.identity import EXECUTOR_SECURITY_CONTEXT
from workflows.local.pod_helper import PodHelper
from workflows.local.pod_identity import Identity, PodError, emulating_identities, identity
from workflows.local.pod_tools import make_shims, python_for, shim_environment, unreachable_dirs
from workflows.local.pod_volumes import SizeWatch, Volume, size_limit_bytes


@dataclass
class StageItem:
    """One input artifact to stage: where it goes and where its bytes come from."""

    name: str
    """Artifact name."""
    dest: Path
    """Local path inside a volume."""
    source: Path | None = None
    """File or directory the bytes come from (the "bucket"), or None for raw data."""
    raw: str | None = None
    """Inline data (``raw`` artifacts)."""
    shared: bool = False
    """``source`` is seqstack's own file for this run, which no one writes (the input check's
    decompressed copy): an emulated pod may get it as a read-only hard link (:func:`share`)."""


@dataclass
class Pod:
    """One pod of a task: its directories, identities and volumes."""

    key: str
    """Node key (for messages)."""
    root: Path
    """The pod's own directory."""
    workdir: Path
    """Parent (or, with one mount, the directory) of its volumes."""
    script_path: Path
    """Where a script template's source goes (Argo's ``/argo/staging/script``)."""
    main: Identity | None = None
    """Identity of the main container; None: not emulated, run as the current user."""
    executor: Identity | None = None
    """Identity of the init and wait containers."""
    fs_group: int | None = None
    """The pod's fsGroup (group owner of its emptyDir volumes)."""
    helper: PodHelper | None = None
    """The process doing the init and wait work as the executor's identity (shared by the pods
    of that identity: :mod:`workflows.local.pod_helper`)."""
    shim_dir: Path | None = None
    """Python shims for the main container's uid (:mod:`workflows.local.pod_tools`), if needed."""
    volumes: list[Volume] = field(default_factory=list)
    """Its emptyDir volumes (set by :meth:`attach`)."""

    @property
    def emulated(self) -> bool:
        """Whether identities are emulated for this pod."""
        return self.main is not None and self.executor is not None

    def attach(self, volumes: Iterable[Volume]) -> None:
        """The pod's mounted emptyDir volumes, with their local directories."""
        self.volumes = list(volumes)

    # --------------------------------------------------------------------------- the kubelet

    def prepare(self) -> None:
        """Create the pod's volumes as the kubelet does (emptyDir 0777; with fsGroup chowned to it,
        setgid), its staging folder and a read-only "root filesystem" for HOME and TMPDIR."""
        for v in self.volumes:
            v.path.mkdir(parents=True, exist_ok=True)
        if not self.emulated:
            return
        assert self.main is not None and self.executor is not None
        _chmod_tree_parents(self.workdir, self.root)
        for v in self.volumes:
            if self.fs_group is not None:
                os.chown(v.path, 0, self.fs_group)
                os.chmod(v.path, 0o2777)
            else:
                os.chmod(v.path, 0o777)
        rootfs = self.rootfs
        rootfs.mkdir(parents=True, exist_ok=True)
        os.chmod(rootfs, 0o555)
        if self.script_path.exists():  # StageFiles: mode 0755, written by the executor
            os.chown(self.script_path, self.executor.uid, self.executor.gid)
            os.chmod(self.script_path, 0o755)
            _chmod_tree_parents(self.script_path.parent, self.root)

    def remove(self) -> None:
        """Remove an emulated pod's own folder (its root filesystem and staged script) once its
        node is done, as the kubelet deletes a finished pod. Left to the run's end, the pods of
        the peer benchmark's (c) (224 of them) took 0.08 s after the report had finished. A pod
        that is not emulated has no folder of its own beyond the work directory each attempt's
        end removes."""
        if self.emulated:
            shutil.rmtree(self.root, ignore_errors=True)

    @property
    def rootfs(self) -> Path:
        """Stands for the container's read-only root filesystem (HOME and TMPDIR point here)."""
        return self.root / "rootfs"

    def environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """Environment overrides of the main container (``base``: the executor's environment)."""
        if not self.emulated:
            return {}
        env = {"HOME": str(self.rootfs), "TMPDIR": str(self.rootfs / "tmp")}
        if self.shim_dir is not None:
            env.update(shim_environment(self.shim_dir, base))
        return env

    def popen(self) -> dict[str, Any]:
        """Keyword arguments that start the main process as the container's identity."""
        return self.main.popen() if self.main is not None and self.emulated else {}

    # ----------------------------------------------------------------------- init and wait

    def stage_in(self, items: Sequence[StageItem], where: str) -> None:
        """Argo's init container: create each input's folders and file as the executor's
        identity (folders 0700), then fill in the bytes from their source (a shared one, seqstack's
        own, linked where :func:`share` may).

        Raises :class:`PodError` with the executor's message if it fails (Argo: node Error).
        """
        plan = []
        fills: list[tuple[Path, Path | None, str | None]] = []
        for item in items:
            if item.source is not None and item.source.is_dir():
                files, dirs = _tree(item.source)
                plan.append(
                    {"name": item.name, "dest": str(item.dest), "kind": "dir", "files": files, "dirs": dirs}
                )
                fills.extend((item.dest / f, item.source / f, None) for f in files)
            else:
                plan.append({"name": item.name, "dest": str(item.dest), "kind": "file"})
                fills.append((item.dest, item.source, item.raw))
        self._helper({"stage_in": plan, "check_out": []}, where, "init")
        shared = {item.dest for item in items if item.shared and item.source is not None}
        copies = [
            (dest, source)
            for dest, source, _ in fills
            if source is not None and not (dest in shared and share(source, dest))
        ]
        for dest, source, raw in fills:
            # The bytes come from the bucket side; the file keeps the executor's owner and mode.
            if source is None:
                with dest.open("w") as f:
                    f.write(raw or "")
        fill_all(copies)

    def stage_out(self, paths: Iterable[Path], where: str) -> None:
        """Argo's wait container: every output must be readable by the executor's identity.
        Then the outputs are handed to the user who ran seqstack (they are "uploaded")."""
        if not self.emulated:
            return
        existing = [str(p) for p in paths]
        self._helper({"stage_in": [], "check_out": existing}, where, "wait")
        me_uid, me_gid = os.geteuid(), os.getegid()
        for p in map(Path, existing):
            if p.exists() or p.is_symlink():
                for q in [p, *(p.rglob("*") if p.is_dir() and not p.is_symlink() else [])]:
                    os.lchown(q, me_uid, me_gid)
                    st = q.lstat()
                    if stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISGID:  # the volume's setgid
                        os.chmod(q, stat.S_IMODE(st.st_mode) & ~stat.S_ISGID)

    def _helper(self, plan: Mapping[str, Any], where: str, container: str) -> None:
        if not self.emulated:
            return
        assert self.helper is not None
        self.helper.run(plan, container)

    # --------------------------------------------------------------------- the eviction manager

    def watch(self, pgid: int, interval: float) -> SizeWatch:
        """Start watching the pod's emptyDir usage; call :meth:`SizeWatch.stop` when it ends."""
        limited = [(v, size_limit_bytes(v)) for v in self.volumes if v.size_limit]
        w = SizeWatch(limited, pgid, interval)
        w.start()
        return w


#: Linux's FICLONE ioctl (``_IOW(0x94, 9, int)``): make a file share another's blocks, copy on write.
FICLONE = 0x40049409


def clone_or_copy(source: Path, dest: Path) -> None:
    """Fill the existing file ``dest`` (its owner and mode stay) with ``source``'s bytes: a
    copy-on-write clone where the file system has them (btrfs, XFS with reflink, the default of
    mkfs.xfs since 2019), which costs no data copy whatever the size; else a plain copy (ext4)."""
    with source.open("rb") as src, dest.open("r+b") as dst:
        try:
            fcntl.ioctl(dst.fileno(), FICLONE, src.fileno())
            return
        except OSError:
            pass  # not supported here (EOPNOTSUPP, EXDEV, EINVAL, ENOTTY): copy the bytes
    shutil.copyfile(source, dest)  # in the kernel (sendfile); dest keeps its owner and mode


#: One pod at a time re-owns and links a shared source (:func:`share`).
_SHARING = threading.Lock()


def share(source: Path, dest: Path) -> bool:
    """Put ``source`` at ``dest`` (the init's empty file, as the executor's identity made it) as a
    hard link owned by root, the file's group and mode kept: no byte is copied, and a removal
    afterwards frees nothing but the name. Only where no step can write it and every step can
    read it: the file is world-readable and neither group- nor world-writable (``0666`` minus
    the umask ``022`` is ``0644``). Every pod that links it shares the inode, so its owner is
    root, not the executor's uid: a step that wrote to its input in place would change it for
    the others (locally it is denied; in the cluster each pod downloads its own copy).

    False, with nothing changed at ``dest``, when it cannot be: another mode or group than the
    pods that share it now need, another file system, or links refused (then: copy)."""
    st = dest.lstat()
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022 or not mode & 0o004:
        return False
    link = dest.with_name(f"{dest.name}.link")
    with _SHARING:
        src = source.lstat()
        if src.st_nlink > 1 and (src.st_uid, src.st_gid, stat.S_IMODE(src.st_mode)) != (0, st.st_gid, mode):
            return False  # linked now into a pod that needs another group or mode
        try:
            os.chown(source, 0, st.st_gid)
            os.chmod(source, mode)
            os.link(source, link)
        except OSError:  # EXDEV, EPERM (no CAP_FOWNER), ...
            return False
    # Not os.replace: ext4 (auto_da_alloc) starts writing a file's dirty pages out when it is
    # renamed over another, 0.07-0.1 s for a freshly decompressed 230 MB FASTQ.
    os.unlink(dest)
    os.rename(link, dest)
    return True


def fill_all(copies: Sequence[tuple[Path, Path]]) -> None:
    """:func:`clone_or_copy` each ``(dest, source)``, as many at once as there are usable cores:
    where nothing clones (ext4), a task waits for its pair of large FASTQs to be copied, and one
    copy at a time would leave the other cores idle meanwhile. The files, owners and modes are
    the same either way."""
    workers = min(len(copies), len(os.sched_getaffinity(0)))
    if workers <= 1:
        for dest, source in copies:
            clone_or_copy(source, dest)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:  # the copies run in the kernel, GIL-free
        for done in [pool.submit(clone_or_copy, source, dest) for dest, source in copies]:
            done.result()  # the first failure, as the loop would raise it


def output_paths(resolved: Mapping[str, Any], local_path: Callable[[str, str], Path]) -> list[Path]:
    """Every local path the wait container reads: output artifacts and output parameter files."""
    outputs = resolved.get("outputs") or {}
    paths = [local_path(a["path"], f"output artifact {a['name']}") for a in outputs.get("artifacts", [])]
    for p in outputs.get("parameters", []):
        if "path" in (p.get("valueFrom") or {}):
            paths.append(local_path(p["valueFrom"]["path"], f"output parameter {p['name']}"))
    return paths


def _tree(source: Path) -> tuple[list[str], list[str]]:
    files, dirs = [], []
    for p in sorted(source.rglob("*")):
        rel = p.relative_to(source).as_posix()
        if p.is_dir():
            dirs.append(rel)
        elif p.is_file():
            files.append(rel)
    return files, dirs


def _chmod_tree_parents(path: Path, top: Path) -> None:
    """Make ``path`` and its parents up to ``top`` traversable (not listable) by every uid."""
    p = path
    while True:
        if p.is_dir() and not p.is_symlink():
            os.chmod(p, stat.S_IMODE(p.stat().st_mode) | 0o711)
        if p == top or p.parent == p:
            break
        p = p.parent


def default_pods_dir(state_dir: Path) -> Path:
    """The pods folder of a run whose state lives in ``state_dir`` (stable across runs): inside
    it when every uid can reach it (big volumes stay on the results' disk), else in the system's
    temporary folder (an output folder under ``/root`` or pytest's is closed to uid 1000)."""
    state = state_dir.resolve()
    if _searchable_by_all(state):
        return state / "pods"
    digest = hashlib.sha256(str(state).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"seqstack-pods-{digest}"


def _searchable_by_all(path: Path) -> bool:
    """Whether every folder from ``/`` down to ``path`` lets any uid through (o+x)."""
    for p in [path, *path.parents]:
        try:
            if not p.stat().st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


class PodEmulation:
    """Makes the :class:`Pod` of each task for one run of the executor.

    ``executor_security_context``: the Helm values' ``executor.securityContext`` (the stack's by
    default: :data:`workflows.identity.EXECUTOR_SECURITY_CONTEXT`). ``identities``: emulate uids
    (default: when running as root). ``size_poll``: seconds between emptyDir measurements.
    """

    def __init__(
        self,
        executor_security_context: Mapping[str, Any] | None = None,
        *,
        identities: bool | None = None,
        size_poll: float = 1.0,
    ) -> None:
        self.executor_security_context = dict(
            EXECUTOR_SECURITY_CONTEXT if executor_security_context is None else executor_security_context
        )
        self.identities = emulating_identities() if identities is None else identities
        if self.identities and not emulating_identities():
            raise PodError("emulating pod identities needs root")
        self.size_poll = size_poll
        self._lock = threading.Lock()
        self._created: Path | None = None
        self._pythons: dict[Identity, str | None] = {}
        self._helpers: dict[tuple[Identity, str], PodHelper] = {}
        self._shims: set[Path] = set()

    def describe(self) -> str:
        """One line for run.json: whether and with which executor identity uids are emulated."""
        if not self.identities:
            return "uids not emulated (not running as root)"
        sc = self.executor_security_context
        return f"uids emulated; executor runAsUser {sc.get('runAsUser')} runAsGroup {sc.get('runAsGroup')}"

    def unreachable_path(self, path: str) -> list[str]:
        """PATH folders the executor's uid (the pods' uid) cannot search, when uids are emulated."""
        if not self.identities:
            return []
        who = identity(self.executor_security_context, {}, "executor")
        return [] if who is None else unreachable_dirs(path, who.popen())

    def pods_dir(self, state_dir: Path) -> Path:
        """Where emulated pods live: a root-owned directory every uid may traverse (the kubelet's
        pods folder), named after the state directory so paths (and resume fingerprints) are
        stable; an unsafe existing one (not a root-owned directory) is refused."""
        with self._lock:
            if self._created is not None:
                return self._created
            state_dir.mkdir(parents=True, exist_ok=True)
            base = default_pods_dir(state_dir)
            try:
                os.mkdir(base, 0o711)
            except FileExistsError:
                st = os.lstat(base)
                if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
                    raise PodError(f"{base}: exists and is not a directory owned by this user") from None
                shutil.rmtree(base)  # left over from a crashed run
                os.mkdir(base, 0o711)
            os.chmod(base, 0o711)
            self._created = base
            return base

    def pod(
        self,
        key: str,
        safe_key: str,
        state_dir: Path,
        pod_security: Mapping[str, Any] | None,
        container_security: Mapping[str, Any] | None,
        where: str,
    ) -> Pod:
        """The pod of one task (identities only if emulated and the template sets runAsUser)."""
        main = identity(container_security, pod_security, where) if self.identities else None
        if main is None:
            return Pod(
                key=key,
                root=state_dir / "work" / safe_key,
                workdir=state_dir / "work" / safe_key,
                script_path=state_dir / "scripts" / f"{safe_key}.script",
            )
        executor = identity(self.executor_security_context, pod_security, f"{where} (executor)")
        if executor is None:
            raise PodError(f"{where}: executor.securityContext sets no runAsUser")
        base = self.pods_dir(state_dir)
        root = base / safe_key
        fs_group = (pod_security or {}).get("fsGroup")
        helper_python = self._python(executor)
        if helper_python is None:
            raise PodError(
                f"{where}: no Python that uid {executor.uid} (the executor's) can run on this machine"
            )
        main_python = self._python(main)
        shim_dir = None
        if main_python is not None and main_python != sys.executable:
            shim_dir = base / "shims" / str(main.uid)
            with self._lock:
                if shim_dir not in self._shims:
                    make_shims(shim_dir, main_python)
                    self._shims.add(shim_dir)
        return Pod(
            key=key,
            root=root,
            workdir=root / "volumes",
            script_path=root / "staging" / "script",
            main=main,
            executor=executor,
            fs_group=None if fs_group is None else int(fs_group),
            helper=self._helper(executor, helper_python),
            shim_dir=shim_dir,
        )

    def _python(self, who: Identity) -> str | None:
        with self._lock:
            if who not in self._pythons:
                self._pythons[who] = python_for(who.popen(), "")
            return self._pythons[who]

    def _helper(self, who: Identity, python: str) -> PodHelper:
        with self._lock:
            return self._helpers.setdefault((who, python), PodHelper(who, python))

    def cleanup(self) -> None:
        """Stop the init/wait helpers and remove the pods' folder (the run is over): the shims, and
        any pod a run that stopped early left behind (a finished node removes its own, :meth:`Pod.remove`)."""
        with self._lock:
            helpers = list(self._helpers.values())
            self._helpers.clear()
        for h in helpers:
            h.stop()
        with self._lock:
            if self._created is not None:
                shutil.rmtree(self._created, ignore_errors=True)
                self._created = None
                self._shims.clear()
