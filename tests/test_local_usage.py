"""Tasks book what their finished siblings on as much input used (workflows.local.usage)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from tests.local_workflows import fake_machine, run, sh, workflow
from workflows.local.launch import Processes
from workflows.local.usage import Usage, UsageHistory


def test_a_task_books_its_requests_until_a_sibling_with_about_as_much_input_finished() -> None:
    history = UsageHistory()
    assert history.booking("align", 100, 2.0, 4096.0) == (2.0, 4096.0)  # nothing finished yet
    history.add("align", Usage(input_bytes=100, cores=1.2, peak_mib=20.0))
    # 1.2 cores is one core; four times the largest process's peak, plus the margin.
    assert history.booking("align", 100, 2.0, 4096.0) == (1.0, 4 * 20.0 + 256)
    assert history.booking("align", 50, 2.0, 4096.0) == (1.0, 336.0)
    # Up to 1.5 times the sibling's input: its memory scaled by the ratio.
    assert history.booking("align", 150, 2.0, 4096.0) == (1.0, 4 * 30.0 + 256)
    # More input than that, or another template: the requests.
    assert history.booking("align", 151, 2.0, 4096.0) == (2.0, 4096.0)
    assert history.booking("fastqc", 10, 1.0, 512.0) == (1.0, 512.0)


def test_the_most_any_sibling_used_decides_and_requests_cap_the_booking() -> None:
    history = UsageHistory()
    history.add("align", Usage(input_bytes=100, cores=1.5, peak_mib=10.0))
    history.add("align", Usage(input_bytes=300, cores=0.3, peak_mib=900.0))
    history.add("align", Usage(input_bytes=10, cores=2.0, peak_mib=5000.0))  # far less input: ignored
    assert history.booking("align", 50, 4.0, 8192.0) == (2.0, 4 * 900.0 + 256)
    assert history.booking("align", 200, 4.0, 8192.0) == (1.0, 4 * 900.0 + 256)
    # Never more than the requests, never less than a core.
    assert history.booking("align", 200, 0.5, 1000.0) == (0.5, 1000.0)
    history.add("tiny", Usage(input_bytes=1, cores=0.0, peak_mib=0.0))
    assert history.booking("tiny", 1, 2.0, 4096.0) == (1.0, 256.0)


def _high_water_mib() -> float:
    """This process's peak resident memory (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/self/status")


def test_the_exit_reports_the_largest_process_peak_and_how_long_it_ran(tmp_path: Path) -> None:
    procs = Processes(threading.Event(), terminate_grace=1)
    # A shell whose child holds 200 MiB: the peak is the child's, seen through the shell's wait4.
    code = "b = bytearray(200 << 20); import time; time.sleep(0.3)"
    command = ["bash", "-c", f'python3 -c "{code}"; true']
    proc = procs.launch(command, tmp_path, {"PATH": "/usr/bin:/bin"}, tmp_path / "log", {})
    ended = procs.wait(proc, None, None)
    assert ended.returncode == 0
    assert ended.peak_mib >= 200
    # An upper bound: Linux also counts the launcher's own peak (exec keeps the high-water mark
    # of the address space it replaces), so a large launcher shows through.
    assert ended.peak_mib < max(400, _high_water_mib() + 50), ended.peak_mib
    assert 0.3 <= ended.seconds < 5, ended.seconds


def _reads(tmp_path: Path, name: str, size: int) -> Path:
    path = tmp_path / "inputs" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(b"@" * size)
    return path


def _task(name: str, reads: Path, depends: str = "") -> dict[str, Any]:
    task: dict[str, Any] = {
        "name": name,
        "template": "align",
        "arguments": {"parameters": [{"name": "reads", "value": str(reads)}]},
    }
    if depends:
        task["depends"] = depends
    return task


def test_waiting_siblings_book_what_the_first_used_and_a_larger_one_books_its_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three "aligns" that each book both cores and 3 of the 4 GiB and sleep on one small
    # process, all ready at once: by requests, one at a time. Once the first has finished, the
    # two waiting on as much input book one core and four times its peak (which counts this
    # test process's own: see the launch test above): they run side by side.
    # Then a sample with five times the input books its requests.
    # A /proc/stat whose two cores never idle: no task starts on idle cores, whatever this
    # machine is doing, so only the bookings decide what runs side by side.
    stop = fake_machine(tmp_path, monkeypatch, idle=False)
    small = [_reads(tmp_path, f"s{i}.fq", 1000) for i in range(3)]
    large = _reads(tmp_path, "large.fq", 5000)
    tasks = [_task(f"s{i}", path) for i, path in enumerate(small)]
    main = {"name": "main", "dag": {"tasks": [*tasks, _task("large", large, "s0 && s1 && s2")]}}
    align = sh(
        "align",
        'date +%s.%N > "$WORK/t"; sleep 0.6; date +%s.%N >> "$WORK/t"',
        inputs={
            "parameters": [{"name": "reads"}],
            "artifacts": [
                {
                    "name": "reads",
                    "path": "/work/reads.fq",
                    "plugin": {"name": "seqstack-local", "key": "{{inputs.parameters.reads}}"},
                }
            ],
        },
        outputs={"parameters": [{"name": "t", "valueFrom": {"path": "/work/t"}}]},
    )
    align["container"]["resources"] = {"requests": {"cpu": "2", "memory": "48Gi"}}
    try:
        _root, nodes = run([workflow([main, align])], tmp_path, idle_cores=True, memory_mib=64 << 10)
    finally:
        stop.set()
    first, second, third = sorted(
        (tuple(map(float, nodes[f"s{i}"].parameters["t"].split())), f"s{i}") for i in range(3)
    )
    peak = nodes[first[1]].attempts[0].peak_mib
    assert peak is not None and 0 < peak <= _high_water_mib() + 50
    assert nodes[first[1]].attempts[0].booked == (2.0, 48 << 10)
    for span, name in (second, third):
        cores, mib = nodes[name].attempts[0].booked or (0, 0)
        assert cores == 1.0 and mib == pytest.approx(4 * peak + 256, abs=16), (name, cores, mib)
        assert span[0] >= first[0][1]  # not before the first had finished
    assert second[0][0] < third[0][1] and third[0][0] < second[0][1]  # side by side
    assert nodes["large"].attempts[0].booked == (2.0, 48 << 10)  # more input than any sibling's


def test_a_run_without_the_whole_machine_books_requests_only(tmp_path: Path) -> None:
    reads = _reads(tmp_path, "s.fq", 10)
    main = {"name": "main", "dag": {"tasks": [_task("a", reads), _task("b", reads, "a")]}}
    align = sh(
        "align",
        "true",
        inputs={"parameters": [{"name": "reads"}]},
    )
    align["container"]["resources"] = {"requests": {"cpu": "2", "memory": "3Gi"}}
    _root, nodes = run([workflow([main, align])], tmp_path, memory_mib=4096)
    assert nodes["b"].attempts[0].booked == (2.0, 3072.0)
