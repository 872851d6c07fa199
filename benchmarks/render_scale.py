"""Render a 10,000-sample sheet and print how long it took and the largest object's size.

Targets: under 2 s in total, every object under 1 MB serialised (etcd's limit). Run with
``python benchmarks/render_scale.py [--samples N] [--chunk-size N]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workflows.contract import StackOutputs
from workflows.render import render, to_yaml
from workflows.settings import PipelineSettings
from workflows.sheet import read_sample_sheet

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "dev-aws.outputs.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--chunk-size", type=int, default=None)
    args = parser.parse_args()

    stack = StackOutputs.load(FIXTURE)
    settings = PipelineSettings.cloud_defaults()
    if args.chunk_size:
        settings = replace(settings, chunk_size=args.chunk_size)
    with tempfile.TemporaryDirectory() as tmp:
        sheet = Path(tmp) / "sheet.csv"
        lines = ["sample,fastq_1,fastq_2"] + [
            f"SAMPLE-{i:06d},s3://seqstack-data/reads/run-2026-11/SAMPLE-{i:06d}_R1.fastq.gz,"
            f"s3://seqstack-data/reads/run-2026-11/SAMPLE-{i:06d}_R2.fastq.gz"
            for i in range(args.samples)
        ]
        sheet.write_text("\n".join(lines) + "\n")

        t0 = time.perf_counter()
        samples = read_sample_sheet(sheet, stack.scheme)
        t1 = time.perf_counter()
        objs = render(
            samples, "s3://seqstack-data/refs/hg38.fa", "s3://seqstack-data/runs/r1", stack, settings
        )
        t2 = time.perf_counter()
        text = to_yaml(objs)
        t3 = time.perf_counter()

    sizes = [len(json.dumps(o, separators=(",", ":")).encode()) for o in objs]
    largest = max(sizes)
    print(f"samples:            {len(samples)}")
    print(
        f"objects:            {len(objs)} "
        f"(1 WorkflowTemplate + {len(objs) - 1} Workflows of <= {settings.chunk_size})"
    )
    print(f"read+check sheet:   {t1 - t0:.3f} s")
    print(f"render (dicts):     {t2 - t1:.3f} s")
    print(f"to YAML:            {t3 - t2:.3f} s  ({len(text.encode()) / 1e6:.1f} MB in all)")
    print(f"total:              {t3 - t0:.3f} s  (target < 2 s)")
    print(f"largest object:     {largest / 1e3:.1f} kB JSON (target < 1000 kB)")
    ok = (t3 - t0) < 2.0 and largest < 1_000_000
    print("result:             " + ("within targets" if ok else "MISSED a target"))


if __name__ == "__main__":
    main()
