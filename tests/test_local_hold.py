"""The executor's input hold: the free tasks run before the input check's answer, nothing else
starts and nothing ends before it; a "no" stops the run (see ``workflows.local.hold``)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from tests.local_workflows import sh, workflow
from workflows.local.executor import Executor
from workflows.local.hold import DeferredEvents, InputHold
from workflows.local.nodes import ERROR, SUCCEEDED, Node, walk

OUT = {"parameters": [{"name": "o", "valueFrom": {"path": "/work/o"}}]}


def _two_tasks() -> dict[str, object]:
    """``free`` (reads the inputs, in the seqstack DAG: FastQC) and ``other``, independent."""
    main = {
        "name": "main",
        "dag": {"tasks": [{"name": "free", "template": "write"}, {"name": "other", "template": "write"}]},
    }
    return workflow([main, sh("write", 'echo -n done > "$WORK/o"', outputs=OUT)])


def _answer_later(ex: Executor, passed: bool, when_ended: str) -> list[float]:
    """Settle the hold 0.5 s after task ``when_ended``'s process has ended; returns [when]."""
    settled: list[float] = []

    def answer() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(n.task == when_ended and n.attempts and n.attempts[-1].ran_seconds for n in ex.nodes):
                break
            time.sleep(0.02)
        time.sleep(0.5)
        settled.append(time.time())
        ex.settle_hold(passed)

    threading.Thread(target=answer, daemon=True).start()
    return settled


def _nodes(ex: Executor) -> dict[str, Node]:
    return {n.display: n for n in walk(ex.run())}


def test_only_the_free_tasks_start_and_none_ends_before_the_answer(tmp_path: Path) -> None:
    ex = Executor([_two_tasks()], cpus=2, state_dir=tmp_path / "state", hold=InputHold({"free"}))
    settled = _answer_later(ex, True, "free")
    nodes = _nodes(ex)
    free, other = nodes["free"], nodes["other"]
    assert free.phase == other.phase == SUCCEEDED
    assert free.attempts[0].started < settled[0] <= free.finished  # ran before, ended after
    assert other.attempts[0].started >= settled[0]  # started after
    assert free.parameters == {"o": "done"}


def test_a_no_stops_the_run_before_anything_ends(tmp_path: Path) -> None:
    ex = Executor([_two_tasks()], cpus=2, state_dir=tmp_path / "state", hold=InputHold({"free"}))
    _answer_later(ex, False, "free")
    nodes = _nodes(ex)
    assert (nodes["free"].phase, nodes["free"].message) == (ERROR, "interrupted")
    assert nodes["free"].parameters == {}  # its output was never collected
    assert not nodes["other"].attempts  # never started


def test_cancelling_the_run_frees_the_tasks_waiting_for_the_answer(tmp_path: Path) -> None:
    """Ctrl-C while tasks wait for the answer: they end, the run returns (no hang)."""
    ex = Executor([_two_tasks()], cpus=2, state_dir=tmp_path / "state", hold=InputHold({"free"}))
    threading.Timer(1.0, ex.cancel).start()
    started = time.monotonic()
    nodes = _nodes(ex)
    assert time.monotonic() - started < 30
    assert nodes["free"].phase == nodes["other"].phase == ERROR


class _Log:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def event(self, node: Node, what: str) -> None:
        self.seen.append((node.task, what))


def _node(task: str) -> Node:
    return Node(key=task, task=task, template="t", kind="Pod")


def test_deferred_events_arrive_in_order_on_release_and_straight_after() -> None:
    log = _Log()
    events = DeferredEvents([log])
    events.event(_node("a"), "started")
    events.event(_node("b"), "pending")
    assert log.seen == []
    events.release()
    assert log.seen == [("a", "started"), ("b", "pending")]
    events.event(_node("a"), "finished")
    assert log.seen[-1] == ("a", "finished")


def test_dropped_events_never_arrive() -> None:
    log = _Log()
    events = DeferredEvents([log])
    events.event(_node("a"), "started")
    events.drop()
    events.event(_node("a"), "finished")
    events.release()
    assert log.seen == []


def test_the_first_answer_stands() -> None:
    hold = InputHold({"fastqc"})
    assert not hold.settled and not hold.passed
    hold.settle(False)
    hold.settle(True)
    assert hold.settled and not hold.passed and not hold.wait()
