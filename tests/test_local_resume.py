"""Resume fingerprints and the reuse check of an earlier success."""

from __future__ import annotations

import os
from pathlib import Path

from workflows.local.artifacts import file_digests
from workflows.local.nodes import SUCCEEDED, Node
from workflows.local.record import EarlierTask
from workflows.local.resume import fingerprint, reuse

OUTPUTS = {"outputs": {"artifacts": [{"name": "bam", "path": "/work/x.bam"}]}}


def test_fingerprint_changes_with_command_script_and_inputs(tmp_path: Path) -> None:
    src = tmp_path / "in.fq"
    src.write_text("@r\nACGT\n+\nIIII\n")
    inputs = [({"name": "r1"}, str(src))]
    base = fingerprint(["bash", "-c", "x"], {"source": "s"}, True, inputs, OUTPUTS)
    assert base == fingerprint(["bash", "-c", "x"], {"source": "s"}, True, inputs, OUTPUTS)
    assert base != fingerprint(["bash", "-c", "y"], {"source": "s"}, True, inputs, OUTPUTS)
    assert base != fingerprint(["bash", "-c", "x"], {"source": "t"}, True, inputs, OUTPUTS)
    os.utime(src, ns=(1, 1))  # same bytes, touched: the input may have been replaced
    assert base != fingerprint(["bash", "-c", "x"], {"source": "s"}, True, inputs, OUTPUTS)


def _earlier(out: Path, fp: str) -> EarlierTask:
    return EarlierTask(SUCCEEDED, fp, {"p": "1"}, {"bam": (str(out), file_digests(out))})


def test_reuse_needs_the_same_fingerprint_and_unchanged_outputs(tmp_path: Path) -> None:
    out = tmp_path / "x.bam"
    out.write_bytes(b"BAM1")
    node = Node("wf/samples(0:s1)/align", "align", "align", "Pod", fingerprint="f1")
    assert not reuse(node, _earlier(out, "f0"), OUTPUTS)  # different work
    assert not reuse(node, None, OUTPUTS)
    earlier = _earlier(out, "f1")
    out.write_bytes(b"BAM2")  # same size, other bytes
    assert not reuse(node, earlier, OUTPUTS) and not node.cached
    out.write_bytes(b"BAM1")
    assert reuse(node, earlier, OUTPUTS)
    assert node.cached and node.phase == SUCCEEDED and node.artifacts == {"bam": str(out)}
    assert node.parameters == {"p": "1"}
