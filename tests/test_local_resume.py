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


def test_a_task_own_output_inside_its_input_folder_does_not_change_its_fingerprint(tmp_path: Path) -> None:
    """The report publishes its chunk's sample list into the metrics folder it reads."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "S1.flagstat.txt").write_text("1 + 0 in total\n")
    own = folder / "seqstack.samples.wf.json"
    outputs = {"artifacts": [{"name": "samples", "plugin": {"name": "seqstack-local", "key": str(own)}}]}
    inputs = [({"name": "metrics"}, str(folder))]
    before = fingerprint(["python3"], {"source": "s"}, True, inputs, outputs)
    own.write_text("[]")
    assert fingerprint(["python3"], {"source": "s"}, True, inputs, outputs) == before
    (folder / "S2.flagstat.txt").write_text("1 + 0 in total\n")  # anything else still counts
    assert fingerprint(["python3"], {"source": "s"}, True, inputs, outputs) != before


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
