"""Workflow pods: one identity for every container (issue 12, item 1), and the local executor's
emulation of a pod as the cluster runs it (identities, Argo's staging modes, the read-only root,
the emptyDir sizeLimit).

Identity tests need root (setuid for the child processes); CI runs as root, so nothing skips
there. The sizeLimit and the plain-data tests run as any user.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from components.argo_workflows import ArgoWorkflowsArgs, S3Repository, argo_values
from tests.regenerate_golden import CASES
from workflows.contract import pool_placement
from workflows.identity import (
    EXECUTOR_SECURITY_CONTEXT,
    POD_FS_GROUP,
    POD_GID,
    POD_UID,
    executor_security_context,
)
from workflows.local import pod as podmod
from workflows.local.executor import Executor
from workflows.local.expr import eval_retry
from workflows.local.launch import Fault
from workflows.local.nodes import ERROR, FAILED, SUCCEEDED, Node, walk
from workflows.local.pod import PodEmulation, default_pods_dir
from workflows.local.pod_identity import Identity, PodError, identity
from workflows.local.pod_volumes import EMPTYDIR_EVICTION
from workflows.pipeline import RETRY_EXPRESSION

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="uids are emulated only as root (CI runs as root)")

OTHER_UID = 8737  # argoexec-nonroot's uid: what the Helm values used to give the executor


# --- one identity per pod, from the values the stack installs ----------------------------------


def _installed_values() -> dict[str, Any]:
    args = ArgoWorkflowsArgs(
        artifact_repository=S3Repository(bucket="b", region="eu-west-1"),
        system_placement=pool_placement("system", tainted=False),
    )
    return argo_values(args, "b")


def test_the_helm_values_give_the_executor_the_pods_uid_and_stay_restricted() -> None:
    sc = _installed_values()["executor"]["securityContext"]
    assert sc == EXECUTOR_SECURITY_CONTEXT
    assert (sc["runAsUser"], sc["runAsGroup"]) == (POD_UID, POD_GID)
    assert sc["runAsNonRoot"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["seccompProfile"] == {"type": "RuntimeDefault"}
    with pytest.raises(ValueError, match="non-root"):
        executor_security_context(uid=0)


@pytest.mark.parametrize("case", sorted(CASES))
def test_init_wait_and_main_of_every_rendered_pod_run_as_one_uid_and_gid(case: str) -> None:
    """Kubernetes' rule (a container's field over the pod's) applied to the rendered template and
    the installed executor values: every container of every step is the same uid/gid with the
    pod's fsGroup. With the executor at 8737 (the old values) this fails."""
    executor_sc = _installed_values()["executor"]["securityContext"]
    checked = 0
    for obj in CASES[case]():
        spec = obj["spec"]
        for t in spec.get("templates", []):
            body = t.get("container") or t.get("script")
            if body is None:
                continue
            pod_sc = t.get("securityContext") or spec["securityContext"]
            assert pod_sc["fsGroup"] == POD_FS_GROUP, t["name"]
            main = identity(body.get("securityContext"), pod_sc, t["name"])
            executor = identity(executor_sc, pod_sc, "executor")
            assert main is not None and main == executor, t["name"]
            assert (main.uid, main.gid) == (POD_UID, POD_GID)
            mismatched = identity(executor_security_context(uid=OTHER_UID), pod_sc, "executor")
            assert mismatched != main
            checked += 1
    assert checked >= 1


# --- the emulation on small workflows ------------------------------------------------------------

POD_SC = {"runAsNonRoot": True, "runAsUser": POD_UID, "runAsGroup": POD_GID, "fsGroup": POD_FS_GROUP}
CONTAINER_SC = {"runAsNonRoot": True, "runAsUser": POD_UID, "readOnlyRootFilesystem": True}
RETRY = {"limit": 3, "retryPolicy": "Always", "expression": RETRY_EXPRESSION}


def step(script: str, size_limit: str | None = None, **extra: Any) -> dict[str, Any]:
    """A workflow of one container step in a /work emptyDir, as the pipeline writes it."""
    empty_dir = {"sizeLimit": size_limit} if size_limit else {}
    template = {
        "name": "step",
        "container": {
            "image": "debian",
            "command": ["bash", "-c", "set -euo pipefail\n" + script],
            "env": [{"name": "WORK", "value": "/work"}],
            "volumeMounts": [{"name": "work", "mountPath": "/work"}],
            "securityContext": CONTAINER_SC,
        },
        "volumes": [{"name": "work", "emptyDir": empty_dir}],
        "retryStrategy": RETRY,
        **extra,
    }
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "wf"},
        "spec": {"entrypoint": "step", "securityContext": POD_SC, "templates": [template]},
    }


def run_one(obj: dict[str, Any], state: Path, **pods: Any) -> Node:
    emulation = PodEmulation(**pods)
    try:
        roots = Executor([obj], cpus=1, state_dir=state, pods=emulation).run()
    finally:
        emulation.cleanup()
    (node,) = [n for n in walk(roots) if n.kind == "Pod"]
    return node


def reads_input(tmp_path: Path) -> dict[str, Any]:
    """A step that gets one input artifact and reports who it is and what it sees."""
    source = tmp_path / "data" / "reads.txt"
    source.parent.mkdir()
    source.write_text("ACGT\n")
    script = (
        'id -u > "$WORK/report"; id -g >> "$WORK/report"; id -G >> "$WORK/report"\n'
        'stat -c "%u %g %a" "$WORK" "$WORK/in" "$WORK/in/reads" >> "$WORK/report"\n'
        'cat "$WORK/in/reads" >> "$WORK/report"\n'
        'mkdir -p "$WORK/out"; cp "$WORK/report" "$WORK/out/report"\n'
    )
    return step(
        script,
        inputs={
            "artifacts": [
                {
                    "name": "reads",
                    "path": "/work/in/reads",
                    "plugin": {"name": "seqstack-local", "key": str(source)},
                    "archive": {"none": {}},
                }
            ]
        },
        outputs={
            "artifacts": [
                {
                    "name": "report",
                    "path": "/work/out/report",
                    "plugin": {"name": "seqstack-local", "key": str(tmp_path / "results" / "report")},
                }
            ]
        },
    )


@needs_root
def test_the_executor_stages_inputs_as_its_uid_with_argos_modes_and_the_step_runs_as_its_uid(
    tmp_path: Path,
) -> None:
    node = run_one(reads_input(tmp_path), tmp_path / "state")
    assert node.phase == SUCCEEDED, node.message
    report = (tmp_path / "results" / "report").read_text().splitlines()
    uid, gid, groups, volume, folder, file, content = report
    assert (int(uid), int(gid)) == (POD_UID, POD_GID)
    assert str(POD_FS_GROUP) in groups.split()
    # The kubelet's emptyDir: 0777 + setgid, group fsGroup.
    assert volume == f"0 {POD_FS_GROUP} 2777"
    # Argo's MkdirAll(dir, 0o700) as the executor's uid (group from the volume's setgid);
    # the file as os.Create makes it (0666 minus umask 022).
    assert folder == f"{POD_UID} {POD_FS_GROUP} 2700"
    assert file == f"{POD_UID} {POD_FS_GROUP} 644"
    assert content == "ACGT"


@needs_root
def test_an_executor_with_another_uid_gives_the_step_permission_denied_and_no_retry(tmp_path: Path) -> None:
    node = run_one(
        reads_input(tmp_path),
        tmp_path / "state",
        executor_security_context=executor_security_context(uid=OTHER_UID, gid=OTHER_UID),
    )
    assert node.phase == FAILED
    assert "Permission denied" in node.message and "exit code 1" in node.message
    assert len(node.attempts) == 1  # a tool's exit 1 is not retried by the pipeline's expression


@needs_root
def test_the_checks_decompressed_copy_is_shared_read_only_not_copied(tmp_path: Path) -> None:
    """A gzipped input's plain copy (the input check's, workflows.local.fastq.PlainCopies) is
    seqstack's own file: the pod gets it as a hard link, owned by root with the group and mode
    Argo's init gives, so the step reads it and cannot write it, and no byte is copied."""
    copy = tmp_path / "decompressed" / "reads.fastq"
    copy.parent.mkdir()
    copy.write_text("ACGT plain\n")
    copy.chmod(0o600)  # as PlainCopies writes it
    obj = reads_input(tmp_path)
    script = obj["spec"]["templates"][0]["container"]["command"][2]
    obj["spec"]["templates"][0]["container"]["command"][2] = script.replace(
        'cat "$WORK/in/reads"',
        'stat -c "%i %u %g %a" "$WORK/in/reads" >> "$WORK/report"\n'
        'if echo x >> "$WORK/in/reads"; then echo written; else echo refused; fi >> "$WORK/report"\n'
        'cat "$WORK/in/reads"',
    )
    source = tmp_path / "data" / "reads.txt"
    emulation = PodEmulation()
    try:
        executor = Executor(
            [obj], cpus=1, state_dir=tmp_path / "state", pods=emulation, decompressed={str(source): copy}
        )
        (node,) = [n for n in walk(executor.run()) if n.kind == "Pod"]
    finally:
        emulation.cleanup()
    assert node.phase == SUCCEEDED, node.message
    report = (tmp_path / "results" / "report").read_text().splitlines()
    staged, written, content = report[-3:]
    assert staged == f"{copy.stat().st_ino} 0 {POD_FS_GROUP} 644"  # the copy's inode
    assert written == "refused" and content == "ACGT plain"
    assert copy.read_text() == "ACGT plain\n" and copy.stat().st_nlink == 1  # the pod is gone


@needs_root
def test_a_shared_copy_is_linked_only_where_every_pod_sharing_it_sees_the_same_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "reads.fastq"
    source.write_text("@r\nA\n+\nI\n")

    def init(name: str, gid: int, mode: int) -> Path:  # the empty file Argo's init leaves
        dest = tmp_path / name
        dest.touch()
        os.chown(dest, POD_UID, gid)
        dest.chmod(mode)
        return dest

    # A mode a step could write through, or one not every uid can read: copied, not linked.
    assert not podmod.share(source, init("writable", POD_FS_GROUP, 0o664))
    assert not podmod.share(source, init("private", POD_FS_GROUP, 0o640))
    assert source.stat().st_nlink == 1
    first, second = init("first", POD_FS_GROUP, 0o644), init("second", POD_FS_GROUP, 0o644)
    assert podmod.share(source, first) and podmod.share(source, second)
    assert first.stat().st_ino == second.stat().st_ino == source.stat().st_ino
    # Another group while linked: the pods sharing it would see it change, so no.
    other = init("other", 4242, 0o644)
    assert not podmod.share(source, other)
    assert other.stat().st_ino != source.stat().st_ino and other.read_text() == ""
    # Once no pod links it, it is re-owned for the next.
    first.unlink()
    second.unlink()
    assert podmod.share(source, other)
    assert (source.stat().st_uid, source.stat().st_gid) == (0, 4242)
    # Links refused (another file system, no CAP_FOWNER): nothing changes at the destination.
    last = init("last", 4242, 0o644)

    def refuse(*args: Any) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(podmod.os, "link", refuse)
    assert not podmod.share(source, last)
    assert last.stat().st_ino != source.stat().st_ino and not last.with_name("last.link").exists()


@needs_root
def test_nothing_outside_the_volumes_is_writable_home_and_tmpdir_included(tmp_path: Path) -> None:
    script = (
        'for d in "$HOME" "$TMPDIR" "' + str(tmp_path) + '"; do\n'
        '  if touch "$d/probe" 2>/dev/null; then echo "wrote $d"; exit 9; fi\n'
        "done\n"
        'touch "$WORK/probe"\n'
    )
    node = run_one(step(script), tmp_path / "state")
    assert node.phase == SUCCEEDED, node.message
    assert not (tmp_path / "probe").exists()


@needs_root
def test_the_wait_container_reads_outputs_as_the_executor_and_hands_them_to_root(tmp_path: Path) -> None:
    out = {
        "artifacts": [
            {
                "name": "o",
                "path": "/work/out/o",
                "plugin": {"name": "seqstack-local", "key": str(tmp_path / "results" / "o")},
            }
        ]
    }
    script = 'mkdir -p "$WORK/out"; echo private > "$WORK/out/o"; chmod 600 "$WORK/out/o"\n'
    # Same uid: the wait container reads the 0600 file; the result belongs to the user who ran us.
    node = run_one(step(script, outputs=out), tmp_path / "same")
    assert node.phase == SUCCEEDED, node.message
    st = (tmp_path / "results" / "o").stat()
    assert (st.st_uid, st.st_gid) == (os.geteuid(), os.getegid())
    # Another uid cannot read it: Argo's wait container fails, the node is an Error.
    node = run_one(
        step(script, outputs=out),
        tmp_path / "other",
        executor_security_context=executor_security_context(uid=OTHER_UID, gid=OTHER_UID),
    )
    assert node.phase == ERROR
    assert node.message.startswith("wait: Error (exit code 1)") and "Permission denied" in node.message


def test_an_emptydir_over_its_size_limit_is_evicted_as_the_kubelet_does_and_not_retried(
    tmp_path: Path,
) -> None:
    script = 'head -c 3145728 /dev/zero > "$WORK/big"; sync; sleep 60\n'
    started = time.monotonic()
    node = run_one(step(script, size_limit="1Mi"), tmp_path / "state", size_poll=0.2)
    assert time.monotonic() - started < 30
    assert node.phase == FAILED
    assert node.message == EMPTYDIR_EVICTION.format(name="work", limit="1Mi")
    assert node.message == 'Usage of EmptyDir volume "work" exceeds the limit "1Mi". '
    # Argo's node message is the pod's; the pipeline's retry expression leaves it alone (the
    # same step would fill the same disk again), unlike a preemption.
    assert len(node.attempts) == 1
    assert not eval_retry(RETRY_EXPRESSION, {"lastRetry.status": FAILED, "lastRetry.message": node.message})
    assert eval_retry(
        RETRY_EXPRESSION,
        {
            "lastRetry.status": FAILED,
            "lastRetry.message": "Pod was terminated in response to imminent node shutdown.",
        },
    )


def test_a_step_within_its_size_limit_is_left_alone(tmp_path: Path) -> None:
    node = run_one(
        step('head -c 100000 /dev/zero > "$WORK/small"; sleep 1\n', size_limit="1Mi"), tmp_path, size_poll=0.2
    )
    assert node.phase == SUCCEEDED, node.message


def test_identities_follow_kubernetes_rules() -> None:
    assert identity({}, {"runAsUser": 5, "runAsGroup": 6, "fsGroup": 7}, "x") == Identity(5, 6, (7,))
    assert identity({"runAsUser": 9}, {"runAsUser": 5, "fsGroup": 5}, "x") == Identity(9, 0, (5,))
    assert identity({}, {}, "x") is None  # the image decides: not emulated
    with pytest.raises(PodError, match="runAsNonRoot"):
        identity({"runAsUser": 0}, {"runAsNonRoot": True}, "x")


def test_without_root_every_step_runs_as_this_user_and_the_run_says_so_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workflows.local import run as runmod
    from workflows.local.demo import DemoSample, generate

    monkeypatch.setattr(podmod, "emulating_identities", lambda: False)
    node = run_one(step('id -u > "$WORK/me"\n'), tmp_path / "state")
    assert node.phase == SUCCEEDED and node.attempts[0].status == SUCCEEDED

    class StopError(Exception):
        pass

    def stop(*_: Any, **__: Any) -> None:
        raise StopError

    monkeypatch.setattr(runmod, "Executor", stop)
    data = generate(tmp_path / "demo", samples=(DemoSample("a", pairs=50, quality_start=38, quality_end=31),))
    out = io.StringIO()
    with pytest.raises(StopError):
        runmod.run_pipeline(
            runmod.RunOptions(sheet=data.sheet, reference=data.reference, outdir=tmp_path / "out", cpus=1),
            console=Console(file=out, width=200),
            live=False,
            err=Console(file=out, width=200),
        )
    assert out.getvalue().count("uids not emulated") == 1


@needs_root
def test_emulated_pods_live_in_a_root_owned_folder_every_uid_can_traverse_and_go_away(tmp_path: Path) -> None:
    emulation = PodEmulation()
    base = emulation.pods_dir(tmp_path / "state")
    st = base.lstat()
    assert st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o711
    assert emulation.pods_dir(tmp_path / "state") == base  # stable: resume fingerprints hold
    emulation.cleanup()
    assert not base.exists()


@needs_root
def test_a_pods_folder_goes_when_its_node_is_done_and_its_script_outlives_a_retry(tmp_path: Path) -> None:
    """The kubelet deletes a finished pod: its folder (the staged script, the read-only root) goes
    when the node ends, not at the run's end. A retried attempt still finds the script staged once."""
    obj = step("")
    template = obj["spec"]["templates"][0]
    template["script"] = {**template.pop("container"), "command": ["bash"], "source": "sleep 1\n"}
    emulation = PodEmulation()
    state = tmp_path / "state"
    try:
        killed_once = [Fault.parse("kill:*@1")]
        roots = Executor([obj], cpus=1, state_dir=state, pods=emulation, faults=killed_once).run()
        base = emulation.pods_dir(state)
        left = sorted(p.name for p in base.iterdir() if p.name != "shims")
    finally:
        emulation.cleanup()
    (node,) = [n for n in walk(roots) if n.kind == "Pod"]
    assert node.phase == SUCCEEDED, node.message
    assert [a.status for a in node.attempts] == [ERROR, SUCCEEDED]  # the retry ran the staged script
    assert left == []


# --- the decisive run: the real pipeline, the old values put back --------------------------------

TOOLS = ("fastqc", "bwa", "samtools")


@pytest.mark.slow
@needs_root
@pytest.mark.skipif(
    any(shutil.which(t) is None for t in TOOLS), reason="fastqc, bwa and samtools must be on PATH"
)
@pytest.mark.parametrize("executor_uid", [OTHER_UID, None], ids=["executor-8737", "installed-values"])
def test_a_real_run_fails_with_permission_denied_when_the_executor_uid_differs(
    tmp_path: Path, executor_uid: int | None
) -> None:
    """``seqstack run`` as root emulates every pod: with the executor at uid 8737 (the values
    before issue 12) FastQC cannot open its input, exactly as on the cluster; with the values the
    stack installs, the same run aligns the good sample."""
    from workflows.local.demo import DemoSample, generate
    from workflows.local.run import RunOptions, run_pipeline

    good = DemoSample("good", pairs=400, quality_start=38, quality_end=31)
    data = generate(tmp_path / "demo", samples=(good,))
    sc = None if executor_uid is None else executor_security_context(uid=executor_uid, gid=executor_uid)
    out = io.StringIO()
    code = run_pipeline(
        RunOptions(
            sheet=data.sheet,
            reference=data.reference,
            outdir=tmp_path / "out",
            cpus=2,
            executor_security_context=sc,
        ),
        console=Console(file=out, width=300),
        live=False,
        err=Console(file=out, width=300),
    )
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert record["pods"].startswith("uids emulated")
    tasks = {t["key"]: t for t in record["tasks"]}
    fastqc = tasks["samples(good)/fastqc(good)"]
    if executor_uid is not None:
        assert code == 1, out.getvalue()
        assert fastqc["status"] == FAILED
        assert "Permission denied" in fastqc["message"] and "exit code 1" in fastqc["message"]
        assert len(fastqc["attempts"]) == 1  # not retried: it would fail the same way
        assert record["samples"]["good"]["status"] == "failed"
    else:
        assert code == 0, out.getvalue()
        assert f"executor runAsUser {POD_UID}" in record["pods"]
        bam = tmp_path / "out" / "samples" / "good" / "good.bam"
        assert record["samples"]["good"]["status"] == "aligned"
        st = bam.stat()
        assert (st.st_uid, st.st_gid) == (0, 0)  # published for the user who ran seqstack
    assert not default_pods_dir(tmp_path / "out" / ".seqstack").exists()  # the pods are gone


def test_outputs_are_collected_only_from_the_pods_volumes(tmp_path: Path) -> None:
    """A pod's only writable places are its volumes: an output elsewhere is refused, not read."""
    outside = tmp_path / "outside"
    out = {
        "artifacts": [
            {
                "name": "o",
                "path": str(outside),
                "plugin": {"name": "seqstack-local", "key": str(tmp_path / "o")},
            }
        ]
    }
    node = run_one(step('echo hi > "$WORK/o"\n', outputs=out), tmp_path / "state")
    assert node.phase == "Error"
    assert f"output artifact o path {str(outside)!r} is not under an emptyDir volume mount" in node.message
    assert not (tmp_path / "o").exists()


@needs_root
def test_path_folders_closed_to_the_pods_uid_are_named(tmp_path: Path) -> None:
    closed = tmp_path / "bin"  # under pytest's 0700 folder: uid 1000 cannot search it
    closed.mkdir()
    path = os.pathsep.join([str(closed), "/usr/bin", str(tmp_path / "missing")])
    assert PodEmulation().unreachable_path(path) == [str(closed)]
    assert PodEmulation(identities=False).unreachable_path(path) == []


@needs_root
def test_pods_live_beside_the_results_when_every_uid_can_reach_them(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    open_dir = Path(tempfile.mkdtemp(prefix="seqstack-open-"))
    request.addfinalizer(lambda: shutil.rmtree(open_dir, ignore_errors=True))
    open_dir.chmod(0o755)
    assert default_pods_dir(open_dir / "state") != open_dir / "state" / "pods"  # not there yet
    (open_dir / "state").mkdir()
    assert default_pods_dir(open_dir / "state") == open_dir / "state" / "pods"
    node = run_one(reads_input(tmp_path), open_dir / "state")
    assert node.phase == SUCCEEDED, node.message
    assert not (open_dir / "state" / "pods").exists()  # removed with the run
    # A closed state folder (pytest's): the system's temporary folder instead.
    assert default_pods_dir(tmp_path / "state").parent == Path(tempfile.gettempdir())
