"""How long a whole-stack evaluation under Pulumi's mock runtime takes (``seqstack inventory``, tests).

Runs each stack several times in this process (the first run also pays for importing the
provider SDKs, reported separately), then times ``seqstack inventory`` in fresh processes (what
a user waits for: interpreter start, imports, evaluation, JSON), and prints medians against the
target. A stack whose
builder still raises NotImplementedError is reported as skipped, not timed.

    .venv/bin/python benchmarks/mock_evaluation.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stacks.harness import run_stack

TARGET_SECONDS = 5.0
STACKS = ("dev-aws", "dev-gcp")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per stack (after the first)")
    args = parser.parse_args()

    worst = 0.0
    for stack in STACKS:
        start = time.perf_counter()
        try:
            inv = run_stack(stack)
        except NotImplementedError as exc:
            print(f"{stack}: skipped ({exc})")
            continue
        first = time.perf_counter() - start
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            run_stack(stack)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        # What a user waits for: interpreter start, CLI and SDK imports, evaluation, JSON.
        cold = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "seqstack", "inventory", "--stack", stack, "--format", "json"],
                check=True,
                capture_output=True,
            )
            cold.append(time.perf_counter() - start)
        cold_median = statistics.median(cold)
        slowest = max(median, first, cold_median)
        worst = max(worst, slowest)
        print(
            f"{stack}: {len(inv.resources)} resources; first run (with imports) {first:.2f} s; "
            f"median of {args.runs} runs {median:.2f} s (min {min(times):.2f}, max {max(times):.2f}); "
            f"`seqstack inventory` in a fresh process, median of 3: {cold_median:.2f} s; "
            f"target < {TARGET_SECONDS:.0f} s: {'met' if slowest < TARGET_SECONDS else 'MISSED'}"
        )
    return 0 if worst < TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
