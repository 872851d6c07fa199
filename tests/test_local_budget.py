"""The resource budget (cores and memory, first come first served) and named mutexes."""

from __future__ import annotations

import threading
import time

from workflows.local.budget import Mutexes, ResourceBudget
from workflows.settings import PipelineSettings


def test_cores_and_memory_are_both_booked() -> None:
    budget = ResourceBudget(4, 1000)
    never = threading.Event()
    assert budget.acquire(1, never, 800)
    # Cores are free, memory is not: the second task waits until the first gives it back.
    got = threading.Event()
    waiter = threading.Thread(target=lambda: budget.acquire(1, never, 800) and got.set())
    waiter.start()
    assert not got.wait(0.5)
    budget.release(1, 800)
    assert got.wait(2)
    waiter.join()
    assert budget.free == 3 and budget.free_mib == 200


def test_a_big_task_is_not_overtaken_by_small_ones() -> None:
    budget = ResourceBudget(2)
    never = threading.Event()
    assert budget.acquire(1, never)
    order: list[str] = []
    big = threading.Thread(target=lambda: budget.acquire(2, never) and order.append("big"))
    big.start()
    time.sleep(0.3)  # the big one is queued first
    small = threading.Thread(target=lambda: budget.acquire(1, never) and order.append("small"))
    small.start()
    time.sleep(0.5)
    assert order == []  # one core is free, but the small task waits its turn
    budget.release(1)
    big.join(2)
    assert order == ["big"]
    budget.release(2)
    small.join(2)
    assert order == ["big", "small"]


def test_cancel_releases_waiters() -> None:
    budget = ResourceBudget(1)
    cancelled = threading.Event()
    assert budget.acquire(1, cancelled)
    result: list[bool] = []
    t = threading.Thread(target=lambda: result.append(budget.acquire(1, cancelled)))
    t.start()
    cancelled.set()
    budget.wake()
    t.join(2)
    assert result == [False]


def test_cancel_releases_every_waiter_at_once() -> None:
    budget = ResourceBudget(1)
    cancelled = threading.Event()
    assert budget.acquire(1, cancelled)
    results: list[bool] = []

    def wait() -> None:
        results.append(budget.acquire(1, cancelled))

    waiters = [threading.Thread(target=wait) for _ in range(5)]
    for t in waiters:
        t.start()
    time.sleep(0.3)  # all queued
    started = time.monotonic()
    cancelled.set()
    budget.wake()
    for t in waiters:
        t.join(3)
    # Each leaves the queue waking the next: well before the waiters' own look again.
    assert time.monotonic() - started < 1.0 < ResourceBudget.BEHIND_POLL
    assert results == [False] * 5


def test_only_the_head_of_the_queue_is_asked_what_it_would_book() -> None:
    """Releases and idle readings wake the head only: with many tasks queued (a 256-sample
    sheet queues hundreds), every waiter woken at each event cost the executor O(waiters)."""
    budget = ResourceBudget(1)
    never = threading.Event()
    assert budget.acquire(1, never)
    asked = [0] * 4
    done: list[int] = []

    def task(i: int) -> None:
        def resize() -> tuple[float, float]:
            asked[i] += 1
            return 1.0, 0.0

        if budget.book(1, never, 0.0, resize):
            done.append(i)
            time.sleep(0.05)
            budget.release(1)

    threads = [threading.Thread(target=task, args=(i,), daemon=True) for i in range(4)]
    for t in threads:
        t.start()
        time.sleep(0.05)  # queued in this order
    for _ in range(20):  # the cores stay booked: readings and empty releases
        budget.observe(0.0, time.monotonic())
        budget.release(0)
        budget.wake()
        time.sleep(0.01)
    asked_while_booked = list(asked)
    budget.release(1)
    for t in threads:
        t.join(3)
    assert asked_while_booked[0] >= 1 and asked_while_booked[1:] == [0, 0, 0]
    assert done == [0, 1, 2, 3]
    assert all(n >= 1 for n in asked)


def test_mutexes_are_shared_by_name_and_ordered() -> None:
    mutexes = Mutexes()
    a = mutexes.locks({"mutexes": [{"name": "z"}, {"name": "a"}]})
    b = mutexes.locks({"mutex": {"name": "a"}})
    assert len(a) == 2 and a[0] is b[0]  # sorted by name: every template takes them in one order
    assert mutexes.locks(None) == []


def _waiting(budget: ResourceBudget, cost: float, mib: float = 0.0) -> threading.Event:
    """A task queued for ``cost`` cores and ``mib`` MiB; the event is set once it has them."""
    got = threading.Event()

    def book() -> None:
        if budget.acquire(cost, threading.Event(), mib):
            got.set()

    threading.Thread(target=book, daemon=True).start()
    time.sleep(0.2)  # queued
    return got


def test_a_task_starts_on_cores_the_running_ones_leave_idle() -> None:
    budget = ResourceBudget(2, 1000)
    assert budget.acquire(2, threading.Event(), 100)  # every core booked
    fastqc = _waiting(budget, 1, 100)
    budget.observe(0.3, time.monotonic())  # less than half a core idle: it waits
    assert not fastqc.wait(0.3)
    budget.observe(0.45, time.monotonic())  # half a core idle (within IDLE_SLACK): it starts
    assert fastqc.wait(2)
    assert budget.started_on_idle == 1 and budget.free == -1


def test_the_first_align_starts_beside_a_last_fastqc_that_leaves_half_a_core_idle() -> None:
    # The local settings' bookings: the align leaves one FastQC's memory free, and a lone
    # FastQC at the end of its phase uses about 1.5 of 2 cores.
    settings = PipelineSettings.local(2, 16)
    mib = 16 * 1024
    budget = ResourceBudget(2, mib)
    assert budget.acquire(settings.fastqc.cpu, threading.Event(), settings.fastqc.memory_mib)
    align = _waiting(budget, settings.align.cpu, settings.align.memory_mib)
    assert not align.wait(0.3)  # neither its cores nor the machine's idle ones
    budget.observe(0.5, time.monotonic())
    assert align.wait(2)
    assert budget.started_on_idle == 1


def test_a_small_request_needs_only_its_share_idle_and_a_big_one_a_whole_core() -> None:
    small = ResourceBudget(2)
    assert small.acquire(2, threading.Event())
    gate = _waiting(small, 0.25)
    small.observe(0.0, time.monotonic())  # less than half its quarter core: it waits
    assert not gate.wait(0.3)
    small.observe(0.1, time.monotonic())
    assert gate.wait(2)
    big = ResourceBudget(2)
    assert big.acquire(1.5, threading.Event())
    align = _waiting(big, 2)
    big.observe(0.3, time.monotonic())
    assert not align.wait(0.3)
    big.observe(0.5, time.monotonic())  # not two idle cores, but half of one whole core
    assert align.wait(2)
    assert small.started_on_idle == big.started_on_idle == 1


def test_memory_is_never_booked_beyond_the_budget() -> None:
    budget = ResourceBudget(2, 1000)
    assert budget.acquire(1, threading.Event(), 900)
    assert budget.acquire(1, threading.Event(), 0)
    big = _waiting(budget, 1, 200)
    budget.observe(2.0, time.monotonic())  # every core idle, but not 200 MiB free
    assert not big.wait(0.5)
    budget.release(1, 900)
    assert big.wait(2)
    assert budget.started_on_idle == 0  # its cores were free once the memory was


def test_one_idle_span_starts_one_task_and_never_more_than_twice_the_cores() -> None:
    budget = ResourceBudget(1)
    assert budget.acquire(1, threading.Event())
    first = _waiting(budget, 1)
    span = time.monotonic()
    budget.observe(1.0, span)
    assert first.wait(2)
    second = _waiting(budget, 0.5)
    budget.observe(1.0, span)  # the same span, measured before the first one started
    assert not second.wait(0.3)
    budget.observe(1.0, time.monotonic())  # a fresh span, but 2 cores of 1 are booked already
    assert not second.wait(0.3)
    budget.observe(0.0, time.monotonic())
    budget.release(1)
    budget.release(1)
    assert second.wait(2)  # its request fits the budget again
    assert budget.started_on_idle == 1
