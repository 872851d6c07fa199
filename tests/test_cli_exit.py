"""How ``seqstack`` ends (``seqstack.cli.exit_now``): without the interpreter's teardown, but with
everything ``sys.exit`` gives: the code, the exit handlers, flushed output, running threads
waited for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(code: str) -> subprocess.CompletedProcess[str]:
    prelude = "import atexit, sys, threading, time\nfrom seqstack.cli import exit_now\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_the_code_the_exit_handlers_and_unflushed_output_all_survive() -> None:
    done = run(
        "atexit.register(lambda: print('handler ran'))\n"
        "sys.stdout.write('no newline yet, ')\n"
        "sys.stderr.write('to stderr')\n"
        "exit_now(3)\n"
    )
    assert (done.returncode, done.stdout, done.stderr) == (3, "no newline yet, handler ran\n", "to stderr")


def test_codes_as_sys_exit_reads_them() -> None:
    assert run("exit_now(None)").returncode == 0
    message = run("exit_now('error: a message')")
    assert (message.returncode, message.stderr) == (1, "error: a message\n")


def test_a_thread_still_running_is_waited_for() -> None:
    done = run(
        "def late():\n"
        "    time.sleep(0.3)\n"
        "    print('thread finished', flush=True)\n"
        "threading.Thread(target=late).start()\n"
        "exit_now(4)\n"
    )
    assert (done.returncode, done.stdout) == (4, "thread finished\n")


def test_python_m_seqstack_ends_with_the_commands_code() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "seqstack", "run", "--samples", "/nonexistent.csv", "--reference", "x.fa"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and done.stderr.startswith("error: "), done.stderr
