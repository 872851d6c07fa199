"""The init/wait helper of emulated pods: one process per executor identity serves every pod of
a run (a Python start per pod and container cost ~25 ms of CPU each), with the same effects and
messages as a process per request. Needs root (setuid), as CI runs."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from workflows.local.pod_helper import PodHelper
from workflows.local.pod_identity import Identity, PodError
from workflows.local.pod_tools import python_for

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="uids are emulated only as root (CI runs as root)")
WHO = Identity(1000, 1000)


def _helper() -> PodHelper:
    python = python_for(WHO.popen(), "")
    assert python is not None, "no Python uid 1000 can run"
    return PodHelper(WHO, python)


def _open_dir(tmp_path: Path) -> Path:
    d = tmp_path / "volume"
    d.mkdir()
    for p in (d, *d.parents):
        if p == Path("/"):
            break
        p.chmod(stat.S_IMODE(p.stat().st_mode) | 0o711)
    d.chmod(0o777)
    return d


@needs_root
def test_one_process_serves_every_request_as_the_identity(tmp_path: Path) -> None:
    volume = _open_dir(tmp_path)
    helper = _helper()
    try:
        pids = set()
        for i in range(3):
            dest = volume / f"in{i}" / "reads.fq"
            helper.run(
                {"stage_in": [{"name": "r", "dest": str(dest), "kind": "file"}], "check_out": []}, "init"
            )
            st, parent = dest.stat(), dest.parent.stat()
            assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1000, 0o644)
            assert stat.S_IMODE(parent.st_mode) == 0o700  # Argo's MkdirAll(dir, 0o700), umask 022
            assert helper._proc is not None
            pids.add(helper._proc.pid)
        assert len(pids) == 1
    finally:
        helper.stop()
    assert helper._proc is None


@needs_root
def test_a_failure_is_argoexecs_one_line_and_the_helper_goes_on(tmp_path: Path) -> None:
    volume = _open_dir(tmp_path)
    private = volume / "private"
    private.write_text("x")
    private.chmod(0o600)  # root's file: uid 1000 cannot read it
    helper = _helper()
    try:
        with pytest.raises(
            PodError, match=r"^wait: Error \(exit code 1\): failed to save outputs: Permission denied"
        ):
            helper.run({"stage_in": [], "check_out": [str(private)]}, "wait")
        helper.run({"stage_in": [], "check_out": [str(volume / "missing")]}, "wait")  # absent: fine
        # Killed from outside between two pods: the next request starts a new one.
        assert helper._proc is not None
        dead = helper._proc
        dead.kill()
        dead.wait()
        helper.run({"stage_in": [], "check_out": []}, "init")
        assert helper._proc is not None and helper._proc.pid != dead.pid
    finally:
        helper.stop()


def test_inputs_are_cloned_where_the_file_system_can_else_copied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Staged inputs keep the init's owner and mode either way; the bytes are a copy-on-write
    clone where supported (no data copied), else a copy (this machine's ext4)."""
    from workflows.local import pod as podmod

    source = tmp_path / "reads.fq"
    source.write_bytes(b"@r\nACGT\n+\nIIII\n" * 1000)
    dest = tmp_path / "staged"
    dest.write_bytes(b"")
    dest.chmod(0o640)
    podmod.clone_or_copy(source, dest)  # whatever this file system supports
    assert dest.read_bytes() == source.read_bytes() and stat.S_IMODE(dest.stat().st_mode) == 0o640
    # Where FICLONE works, no bytes are copied by us: the clone is all there is.
    calls: list[int] = []

    def clone(fd: int, request: int, arg: int) -> int:
        calls.append(request)
        os.truncate(fd, 0)
        os.write(fd, os.pread(arg, 1 << 20, 0))
        return 0

    monkeypatch.setattr(podmod.fcntl, "ioctl", clone)
    monkeypatch.setattr(podmod.shutil, "copyfile", lambda *a: pytest.fail("copied although cloned"))
    dest.write_bytes(b"")
    podmod.clone_or_copy(source, dest)
    assert calls == [podmod.FICLONE] and dest.read_bytes() == source.read_bytes()


def test_a_pods_inputs_are_filled_side_by_side_and_the_first_failure_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workflows.local import pod as podmod

    pairs = []
    for name in ("R1", "R2", "ref"):
        source = tmp_path / f"{name}.src"
        source.write_bytes(name.encode() * 1000)
        dest = tmp_path / name
        dest.write_bytes(b"")
        pairs.append((dest, source))
    # Two copies at once: each waits until the other has started.
    both = threading.Barrier(2, timeout=10)
    real = podmod.clone_or_copy

    def copy(source: Path, dest: Path) -> None:
        if dest.name != "ref":
            both.wait()
        real(source, dest)

    monkeypatch.setattr(podmod.os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(podmod, "clone_or_copy", copy)
    podmod.fill_all(pairs)
    assert all(dest.read_bytes() == source.read_bytes() for dest, source in pairs)
    pairs[1][1].unlink()
    with pytest.raises(FileNotFoundError, match=r"R2\.src"):
        podmod.fill_all(pairs)
