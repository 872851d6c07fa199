"""Artifacts: staging inputs, collecting outputs, publishing atomically with checksums."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from workflows.local.artifacts import LocalPath, collect_outputs, file_digests, publish, stage_inputs
from workflows.local.nodes import Node, TemplateError
from workflows.local.pod import PodEmulation


def _local(root: Path) -> LocalPath:
    def local_path(path: str, what: str) -> Path:
        return root / path.removeprefix("/work/")

    return local_path


def test_publish_replaces_a_directory_whole_and_digests_every_file(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "a.txt").write_text("a")
    dest = tmp_path / "out" / "dir"
    dest.mkdir(parents=True)
    (dest / "stale.txt").write_text("old")
    publish(src, dest)
    assert sorted(p.name for p in dest.rglob("*") if p.is_file()) == ["a.txt"]
    assert file_digests(dest) == [["sub/a.txt", 1, hashlib.sha256(b"a").hexdigest()]]
    assert not [p for p in dest.parent.iterdir() if p.name.startswith(".")]  # no staging left


def test_collect_refuses_a_missing_output_and_publishes_nothing(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "a.txt").write_text("A\n")
    (work / "p").write_text("pass\n")
    resolved = {
        "outputs": {
            "parameters": [{"name": "verdict", "valueFrom": {"path": "/work/p"}}],
            "artifacts": [
                {"name": "a", "path": "/work/a.txt", "plugin": {"key": str(tmp_path / "res" / "a.txt")}},
                {"name": "b", "path": "/work/b.txt", "plugin": {"key": str(tmp_path / "res" / "b.txt")}},
            ],
        }
    }
    node = Node("k", "t", "t", "Pod")
    with pytest.raises(TemplateError, match=r"output artifact 'b': /work/b.txt was not written"):
        collect_outputs(node, resolved, _local(work), "w", tmp_path / "repo")
    assert not (tmp_path / "res").exists()
    (work / "b.txt").write_text("B")
    collect_outputs(node, resolved, _local(work), "w", tmp_path / "repo")
    assert node.parameters == {"verdict": "pass"}  # one trailing newline dropped, as Argo does
    assert (tmp_path / "res" / "a.txt").read_text() == "A\n" and set(node.digests) == {"a", "b"}


def test_stage_inputs_links_files_writes_raw_and_refuses_relative_keys(tmp_path: Path) -> None:
    reads = tmp_path / "r1.fq"
    reads.write_text("@r\n")
    pod = PodEmulation(identities=False).pod("k", "k", tmp_path / "state", None, None, "w")
    work = tmp_path / "work"
    sources = [
        ({"name": "r1", "path": "/work/in/r1.fq"}, str(reads)),
        ({"name": "cfg", "path": "/work/cfg", "raw": {"data": "x=1"}}, None),
        ({"name": "opt", "path": "/work/opt", "optional": True}, str(tmp_path / "missing")),
    ]
    stage_inputs(sources, _local(work), "w", pod)
    assert (work / "in" / "r1.fq").resolve() == reads and (work / "cfg").read_text() == "x=1"
    assert not (work / "opt").exists()
    with pytest.raises(TemplateError, match="key 'rel/x' is not an absolute path"):
        stage_inputs([({"name": "x", "path": "/work/x"}, "rel/x")], _local(work), "w", pod)


def test_a_gzipped_input_with_a_plain_copy_is_staged_as_the_copy(tmp_path: Path) -> None:
    """The input check's plain copy of a gzipped FASTQ (workflows.local.fastq.PlainCopies) is
    what the task gets; other inputs, and the artifact's own checks, stay as they were."""
    gz, other = tmp_path / "r1.fastq.gz", tmp_path / "r2.fastq.gz"
    gz.write_bytes(b"gzip")
    other.write_bytes(b"gzip too")
    copy = tmp_path / "decompressed" / "r1.fastq"
    copy.parent.mkdir()
    copy.write_text("@r\nA\n+\nI\n")
    pod = PodEmulation(identities=False).pod("k", "k", tmp_path / "state", None, None, "w")
    work = tmp_path / "work"
    sources = [
        ({"name": "r1", "path": "/work/in/R1"}, str(tmp_path / "." / "r1.fastq.gz")),  # the same file
        ({"name": "r2", "path": "/work/in/R2"}, str(other)),
    ]
    stage_inputs(sources, _local(work), "w", pod, {str(gz): copy})
    assert (work / "in" / "R1").read_text() == "@r\nA\n+\nI\n"
    assert (work / "in" / "R2").read_bytes() == b"gzip too"
    with pytest.raises(TemplateError, match="does not exist"):  # the key is still what is checked
        stage_inputs(
            [({"name": "x", "path": "/work/x"}, str(tmp_path / "gone.gz"))],
            _local(work),
            "w",
            pod,
            {str(tmp_path / "gone.gz"): copy},
        )


def test_an_optional_input_with_an_empty_key_is_skipped_and_a_required_one_refused(tmp_path: Path) -> None:
    """A single-end lane's R2 has an empty key: Argo's executor ignores an optional artifact
    without a key ("Ignoring optional artifact which was not supplied") and refuses a required
    one; staging must not take "" for the current folder."""
    pod = PodEmulation(identities=False).pod("k", "k", tmp_path / "state", None, None, "w")
    work = tmp_path / "work"
    stage_inputs([({"name": "r2", "path": "/work/in/R2", "optional": True}, "")], _local(work), "w", pod)
    assert not (work / "in" / "R2").exists()
    with pytest.raises(TemplateError, match="input artifact r2: required artifact not supplied"):
        stage_inputs([({"name": "r2", "path": "/work/in/R2"}, "")], _local(work), "w", pod)
