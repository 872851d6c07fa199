"""The run's render in a forked child (:mod:`workflows.local.render_ahead`): the same objects as
``render`` in this process, ``render``'s own errors, and no child left behind.

A child is forked only from a process with one thread, so each case runs in a fresh Python
(pytest's own process may have threads of earlier tests).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from tests.regenerate_golden import FIXTURES
from workflows.contract import StackOutputs
from workflows.local.render_ahead import RenderAhead
from workflows.render import render
from workflows.settings import PipelineSettings
from workflows.sheet import read_sample_sheet

ROOT = Path(__file__).resolve().parents[1]

#: Reads the golden local case's arguments; ``ahead`` and ``direct`` are then the child's answer
#: and this process's own render.
SETUP = f"""
import json, os, signal, sys
from pathlib import Path
from workflows.contract import StackOutputs
from workflows.local import render_ahead
from workflows.settings import PipelineSettings
from workflows.sheet import read_sample_sheet
samples = read_sample_sheet(Path({str(FIXTURES / "sheet-local.csv")!r}), "file")
args = (samples, "/data/ref/rCRS.fa", "/data/out", StackOutputs.local(Path("/data/out")),
        PipelineSettings.local(4, 16))
"""


def python(code: str) -> dict[str, object]:
    """Run ``code`` (after SETUP) in a fresh interpreter; the JSON it printed last."""
    done = subprocess.run(
        [sys.executable, "-c", SETUP + code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_child_answers_with_what_render_renders_and_is_reaped() -> None:
    result = python("""
ahead = render_ahead.RenderAhead()
ahead.start()
pid = ahead.pid
objs = ahead.render(*args)
try:
    os.waitpid(pid, os.WNOHANG)
    reaped = False
except ChildProcessError:
    reaped = True
from workflows.render import render
print(json.dumps({"forked": pid is not None, "answered": ahead.answered, "reaped": reaped,
                  "same": objs == render(*args), "workflows": len(objs)}))
""")
    assert result == {"forked": True, "answered": True, "reaped": True, "same": True, "workflows": 2}


def test_a_child_that_died_leaves_the_render_to_this_process() -> None:
    result = python("""
ahead = render_ahead.RenderAhead()
ahead.start()
os.kill(ahead.pid, signal.SIGKILL)
objs = ahead.render(*args)
from workflows.render import render
print(json.dumps({"answered": ahead.answered, "same": objs == render(*args)}))
""")
    assert result == {"answered": False, "same": True}


def test_a_render_that_fails_fails_with_renders_own_error() -> None:
    # Patched before the fork, so the child's render raises too: the child says nothing, and the
    # error the run reports is the one render raises in the run's own process.
    result = python("""
import workflows.render
def broken(*a):
    raise ValueError(f"sample {a[0][0].id}: no such thing")
workflows.render.render = broken
ahead = render_ahead.RenderAhead()
ahead.start()
forked = ahead.forked
try:
    ahead.render(*args)
    error = None
except ValueError as exc:
    error = str(exc)
print(json.dumps({"forked": forked, "answered": ahead.answered, "error": error}))
""")
    assert result == {"forked": True, "answered": False, "error": "sample NA12878: no such thing"}


def test_an_early_child_no_run_took_is_ended_at_exit() -> None:
    result = python("""
render_ahead.start_early()
early = render_ahead._early
print(json.dumps({"pid": early.pid if early else None}))
""")
    # Killed and reaped before the interpreter ended: left alone it would still be importing Hera
    # (most of a second), then read the end of a request that never came.
    assert isinstance(result["pid"], int)
    assert not os.path.exists(f"/proc/{result['pid']}")


def test_the_early_child_is_taken_once() -> None:
    result = python("""
render_ahead.start_early()
first = render_ahead.take()
second = render_ahead.take()
print(json.dumps({"first": first.forked, "second": second.forked, "answered": bool(first.render(*args))
                  and first.answered}))
""")
    assert result == {"first": True, "second": False, "answered": True}


def test_no_child_is_forked_beside_another_thread() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        ahead = RenderAhead()
        ahead.start()
        assert not ahead.forked
        samples = read_sample_sheet(FIXTURES / "sheet-local.csv", "file")
        args = (samples, "/data/ref/rCRS.fa", "/data/out", StackOutputs.local(Path("/data/out")))
        settings = PipelineSettings.local(4, 16)
        assert ahead.render(*args, settings) == render(*args, settings)
        assert not ahead.answered
    finally:
        stop.set()
        other.join()


def test_the_runs_own_process_reads_its_outcomes_without_hera() -> None:
    # The child imports Hera; the run's process, which only reads task names, must not import it
    # at its end (a second of one core after the last task).
    result = python("""
from workflows.local.run import outcomes
outcomes(samples, {}, [], Path("/data/out"))
print(json.dumps({"hera": "hera" in sys.modules}))
""")
    assert result == {"hera": False}
