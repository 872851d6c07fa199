"""The resource budget (cores and memory, first come first served) and named mutexes."""

from __future__ import annotations

import threading
import time

from workflows.local.budget import Mutexes, ResourceBudget


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


def test_mutexes_are_shared_by_name_and_ordered() -> None:
    mutexes = Mutexes()
    a = mutexes.locks({"mutexes": [{"name": "z"}, {"name": "a"}]})
    b = mutexes.locks({"mutex": {"name": "a"}})
    assert len(a) == 2 and a[0] is b[0]  # sorted by name: every template takes them in one order
    assert mutexes.locks(None) == []
