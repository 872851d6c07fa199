"""Idle cores from /proc/stat (workflows.local.idle): which CPUs count, what idle means, and that a
run's executor starts a task on cores the running tasks leave idle."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.local_workflows import fake_machine, run, sleepers, spans, write_proc_stat
from workflows.local.idle import IdleCores, read_fields, read_ticks, usable_cpus


def test_ticks_count_only_the_usable_cpus_and_iowait_as_idle(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    write_proc_stat(stat, {0: (10, 20, 5), 1: (30, 40, 0), 2: (1000, 0, 0)})
    assert read_ticks(stat, {0, 1}) == (65, 105)
    assert read_ticks(stat, {7}) is None
    assert read_ticks(tmp_path / "missing", {0}) is None


def test_fields_are_summed_per_field_over_the_usable_cpus_whatever_the_lines_around(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    # The all-CPU line, a CPU not usable, one with fewer fields (older kernels), other lines.
    stat.write_text("cpu  9 9 9 9\ncpu0 1 2 3 4 5 6 7 8 9 10\ncpu1 10 20\ncpu12 5 5\nintr 1 2 3\nctxt 7\n")
    assert read_fields(stat, {0, 1}) == [11, 22, 3, 4, 5, 6, 7, 8]
    assert read_fields(stat, {1}) == [10, 20, 0, 0, 0, 0, 0, 0]


def test_idle_cores_are_averaged_over_the_last_readings(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    write_proc_stat(stat, {0: (0, 0, 0), 1: (0, 0, 0)})
    seen: list[float] = []
    got = threading.Event()

    def observe(idle: float, since: float) -> None:
        seen.append(idle)
        got.set()

    sampler = IdleCores(observe, stat=stat, interval=0.05, cpus={0, 1})
    assert sampler.start()
    # CPU 0 idle all along, CPU 1 busy: one core idle.
    write_proc_stat(stat, {0: (0, 100, 0), 1: (100, 0, 0)})
    assert got.wait(2)
    sampler.stop()
    assert seen[0] == 1.0


def test_without_proc_stat_nothing_starts(tmp_path: Path) -> None:
    sampler = IdleCores(lambda idle, since: None, stat=tmp_path / "none")
    assert not sampler.start()
    sampler.stop()


def test_proc_stat_is_read_here() -> None:
    ticks = read_ticks(Path("/proc/stat"), usable_cpus())
    assert ticks is not None and 0 <= ticks[0] <= ticks[1]


def test_tasks_that_book_every_core_and_sleep_run_side_by_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A machine whose two cores stay idle (a /proc/stat that only counts idle ticks): the
    # sleeping tasks leave them so, whatever else this machine is doing meanwhile.
    ticking = fake_machine(tmp_path, monkeypatch, idle=True)
    # Three tasks, each booking both cores and sleeping: by requests they run one after the
    # other (3 s); on idle cores the next starts beside them. Twice the cores at most: the third
    # waits for the first to end (about 2 s in all).
    t0 = time.monotonic()
    wf = sleepers(3, {"cpu": "2", "memory": "10Mi"}, seconds=1)
    _root, nodes = run([wf], tmp_path, idle_cores=True, memory_mib=1024)
    took = time.monotonic() - t0
    ticking.set()
    first, second, third = spans(nodes, 3)
    assert second[0] < first[1]  # the second started while the first was sleeping
    assert third[0] >= first[1] - 0.05  # the third: only once two cores were given back
    assert took < 2.8
