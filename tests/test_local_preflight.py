"""`seqstack run` refuses, before any task, what would only fail halfway: more memory than the
machine has, and an output disk too small for the BAMs and sort files (no tools needed)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seqstack.cli import app
from tests.sheets import paired
from workflows.local import preflight
from workflows.local.nodes import Node
from workflows.local.preflight import disk_problem, estimated_bytes, memory_problem
from workflows.local.run import CopiesDone, machine_memory_gib, plain_copies
from workflows.settings import PipelineSettings
from workflows.sheet import Sample


def pair(tmp_path: Path, name: str, data: bytes, compress: bool) -> Sample:
    paths = []
    for read in ("R1", "R2"):
        p = tmp_path / f"{name}_{read}.fastq{'.gz' if compress else ''}"
        p.write_bytes(gzip.compress(data) if compress else data)
        paths.append(str(p))
    return paired(name, paths[0], paths[1], 2)


def test_memory_above_the_machines_is_refused_and_up_to_it_is_not() -> None:
    assert memory_problem(16, 16.0) is None
    assert memory_problem(64, 15.5) == "--memory 64 GiB is more than this machine has (15.5 GiB)"


def test_the_disk_estimate_counts_gzipped_reads_whole_and_plain_ones_at_a_quarter(tmp_path: Path) -> None:
    gz = pair(tmp_path, "a", b"@r\nACGT\n+\nIIII\n" * 1000, compress=True)
    plain = pair(tmp_path, "b", b"@r\nACGT\n+\nIIII\n" * 1000, compress=False)
    gz_size = 2 * Path(gz.lanes[0].fastq_1).stat().st_size
    assert estimated_bytes([gz]) == 2 * gz_size
    assert estimated_bytes([plain]) == 2 * (2 * (Path(plain.lanes[0].fastq_1).stat().st_size // 4))
    assert disk_problem(tmp_path, 1, estimated_bytes([gz]), free=2 * gz_size) is None
    message = disk_problem(tmp_path, 2, estimated_bytes([gz, plain]), free=100)
    assert message is not None and message.startswith(
        f"{tmp_path}: 0.0 GiB free, but the BAMs and sort files of 2"
    )


def test_run_refuses_both_in_one_line_before_reading_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = pair(tmp_path, "a", b"@r\nACGT\n+\nIIII\n" * 1000, compress=True)
    sheet = tmp_path / "s.csv"
    sheet.write_text(f"sample,fastq_1,fastq_2\na,{s.lanes[0].fastq_1},{s.lanes[0].fastq_2}\n")
    base = ["run", "-s", str(sheet), "-r", str(tmp_path / "absent.fa"), "-o", str(tmp_path / "out")]
    too_much = f"{machine_memory_gib() * 2 + 1:.0f}"
    result = CliRunner().invoke(app, [*base, "--memory", too_much])
    assert result.exit_code == 2
    assert result.output.startswith(f"error: --memory {too_much} GiB is more than this machine has")
    assert len(result.output.strip().splitlines()) == 1

    class Usage:
        free = 1

    monkeypatch.setattr(preflight.shutil, "disk_usage", lambda _: Usage)
    result = CliRunner().invoke(app, base)
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {tmp_path / 'out'}: 0.0 GiB free, but the BAMs and sort files")
    assert len(result.output.strip().splitlines()) == 1


def test_the_checks_plain_copies_get_a_quarter_of_the_room_beyond_the_bams(tmp_path: Path) -> None:
    """The input check's copies of gzipped reads (workflows.local.fastq.PlainCopies) never take
    the room the disk check set aside for the BAMs and sort files."""
    r1 = tmp_path / "r1.fastq.gz"
    r1.write_bytes(gzip.compress(b"@r\nACGT\n+\nIIII\n" * 1000))
    sample = paired("s", str(r1), str(r1), 2)
    need = estimated_bytes([sample])
    settings = PipelineSettings.local(2, 8.0)
    roomy = plain_copies(tmp_path / "state", need, 1024.0, settings, free=need + 4000)
    full = plain_copies(tmp_path / "state", need, 1024.0, settings, free=need)
    small_memory = plain_copies(tmp_path / "state", need, 1 / 1024, settings, free=10 * 2**30)
    assert (roomy.budget, full.budget, small_memory.budget) == (1000, 0, 2**18)
    assert roomy.file_limit == settings.fastqc.ephemeral_gib * 2**30 // 4


def test_the_plain_copies_go_when_the_first_task_outside_every_sample_starts(tmp_path: Path) -> None:
    """The report follows every sample's DAG: from its start no task reads the reads again, so
    the copies are removed beside it rather than after it, on the run's way out."""
    folder = tmp_path / "decompressed"
    folder.mkdir()
    (folder / "00000.s1_R1.fastq").write_text("@r\nA\n+\nI\n")
    done = CopiesDone(folder)
    align = Node(key="samples(0:s1)/align", task="align", template="align", kind="Pod", sample="s1")
    report = Node(key="report", task="report", template="report", kind="Pod", sample=None)
    samples = Node(key="samples", task="samples", template="sample", kind="TaskGroup", sample=None)
    done.event(align, "started")
    done.event(report, "finished")  # reused from an earlier run (--resume): it never starts
    done.event(samples, "started")
    done.wait()
    assert folder.is_dir()
    done.event(report, "started")
    done.wait()
    assert not folder.exists()
