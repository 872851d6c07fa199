"""The QC gate: pass or fail each lane of one sample from its FastQC reports, then the sample.

This file is the program the ``qc-gate`` pod runs: the template carries it verbatim as its script
source (the report image has Python but not seqstack), so it uses the standard library only and
takes everything from the environment: ``WORK`` (input ``in/fastqc/`` holding
``<unit>_R1_fastqc.zip`` and, for paired lanes, ``<unit>_R2_fastqc.zip``; outputs under ``out/``),
``QC_SAMPLE``, ``QC_LANES`` (the sample's lane items, JSON), ``QC_RULES`` (``QcRules.to_json()``)
and ``QC_FAILED_LANE`` (``fail-sample`` or ``drop``).

Outputs: ``out/<sample>.qc.json``, ``out/verdict`` (``pass``/``fail``), ``out/align-lanes`` (JSON
list of the lane items to align, ``[]`` on fail) and ``out/layout`` (``one`` when exactly one lane
is aligned, else ``many``). Only the lanes named in ``QC_LANES`` are judged: a stale report of a
lane from an earlier run in the same folder is ignored.
"""

from __future__ import annotations

import json
import os
import sys
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

READS = ("R1", "R2")
FAIL_SAMPLE, DROP = "fail-sample", "drop"


def summary(zip_path: str) -> dict[str, str]:
    """FastQC's ``summary.txt`` inside its archive, as ``{module: PASS|WARN|FAIL}``."""
    with zipfile.ZipFile(zip_path) as archive:
        name = next(n for n in archive.namelist() if n.endswith("/summary.txt"))
        lines = archive.read(name).decode().splitlines()
    return {line.split("\t")[1]: line.split("\t")[0] for line in lines if line.strip()}


def reasons(modules: Mapping[str, Mapping[str, str]], rules: Mapping[str, Sequence[str]]) -> list[str]:
    """Why a lane fails (empty: it passes), read by read, in rule order."""
    fail_on_fail = list(rules.get("fail_on_fail", []))
    fail_on_warn = list(rules.get("fail_on_warn", []))
    found = []
    for read, results in modules.items():
        # A rule's module FastQC left out (it skips some for reads of length 0) fails: not checked.
        for module in dict.fromkeys(fail_on_fail + fail_on_warn):
            if module not in results:
                found.append(f"{read}: {module} missing from FastQC's report")
        failed = [m for m in dict.fromkeys(fail_on_fail + fail_on_warn) if results.get(m) == "FAIL"]
        # A warn rule fails on WARN and, all the more, on FAIL.
        found += [f"{read}: {m} FAIL" for m in failed]
        found += [f"{read}: {m} WARN" for m in fail_on_warn if results.get(m) == "WARN"]
    return found


def judge(
    sample: str,
    lanes: Sequence[Mapping[str, str]],
    modules: Sequence[Mapping[str, Mapping[str, str]]],
    rules: Mapping[str, Sequence[str]],
    failed_lane: str,
) -> dict[str, Any]:
    """The sample's ``qc.json``: each lane judged by ``rules`` (``modules[i]`` are lane i's
    FastQC results by read), then the sample by the ``failed_lane`` policy."""
    judged: list[dict[str, Any]] = []
    if len(lanes) != len(modules):
        raise ValueError(f"{len(lanes)} lanes but FastQC results of {len(modules)}")
    for lane, found in ((lanes[i], modules[i]) for i in range(len(lanes))):
        lane_why = reasons(found, rules)
        judged.append(
            {
                "lane": lane["lane"],
                "unit": lane["unit"],
                "paired": bool(lane.get("r2_key")),
                "verdict": "fail" if lane_why else "pass",
                "reasons": lane_why,
                "modules": {read: dict(results) for read, results in found.items()},
            }
        )
    many = len(judged) > 1
    # A one-lane sample's reasons read as they always did ("R1: ... FAIL").
    why = [f"lane {j['lane']}: {r}" if many else r for j in judged for r in j["reasons"]]
    passing = [lanes[i] for i, j in enumerate(judged) if j["verdict"] == "pass"]
    if failed_lane == DROP:
        verdict = "pass" if passing else "fail"
        if not passing:
            why.append("no lane passed QC")
    else:
        verdict = "pass" if len(passing) == len(judged) else "fail"
    aligned = [lane["lane"] for lane in passing] if verdict == "pass" else []
    return {
        "sample": sample,
        "verdict": verdict,
        "reasons": why,
        "failed_lane": failed_lane,
        "rules": dict(rules),
        "lanes": judged,
        "aligned_lanes": aligned,
    }


def main() -> int:
    """Decide, write the outputs under ``$WORK/out``, print one line."""
    work, sample = os.environ["WORK"], os.environ["QC_SAMPLE"]
    rules = json.loads(os.environ["QC_RULES"])
    lanes = json.loads(os.environ["QC_LANES"])
    failed_lane = os.environ.get("QC_FAILED_LANE") or FAIL_SAMPLE
    if failed_lane not in (FAIL_SAMPLE, DROP):
        print(f"seqstack: failed-lane {failed_lane!r} is not {FAIL_SAMPLE} or {DROP}", file=sys.stderr)
        return 2
    folder = os.path.join(work, "in/fastqc")
    modules = [
        {
            read: summary(os.path.join(folder, f"{lane['unit']}_{read}_fastqc.zip"))
            for read in READS
            if read == "R1" or lane.get("r2_key")
        }
        for lane in lanes
    ]
    report = judge(sample, lanes, modules, rules, failed_lane)
    chosen = [lane for lane in lanes if lane["lane"] in report["aligned_lanes"]]
    out = os.path.join(work, "out")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, f"{sample}.qc.json"), "w") as f:
        json.dump(report, f, indent=2, sort_keys=True)
    outputs = {
        "verdict": report["verdict"],
        "align-lanes": json.dumps(chosen, separators=(",", ":")),
        "layout": "one" if len(chosen) == 1 else "many",
    }
    for name, value in outputs.items():
        with open(os.path.join(out, name), "w") as f:
            f.write(value)
    why = report["reasons"]
    dropped = [j["lane"] for j in report["lanes"] if j["verdict"] == "fail"] if chosen else []
    note = f" (lanes dropped: {', '.join(dropped)})" if dropped else ""
    print(f"seqstack: {sample} QC {report['verdict']}{note}" + (": " + "; ".join(why) if why else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
