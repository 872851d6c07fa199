"""The QC gate: pass or fail one sample from its two FastQC reports and the run's rules.

This file is the program the ``qc-gate`` pod runs: the template carries it verbatim as its script
source (the report image has Python but not seqstack), so it uses the standard library only and
takes everything from the environment: ``WORK`` (inputs ``in/R1_fastqc.zip``,
``in/R2_fastqc.zip``; outputs ``out/<sample>.qc.json``, ``out/verdict``), ``QC_SAMPLE`` and
``QC_RULES`` (``QcRules.to_json()``).
"""

from __future__ import annotations

import json
import os
import sys
import zipfile
from collections.abc import Mapping, Sequence

READS = ("R1", "R2")


def summary(zip_path: str) -> dict[str, str]:
    """FastQC's ``summary.txt`` inside its archive, as ``{module: PASS|WARN|FAIL}``."""
    with zipfile.ZipFile(zip_path) as archive:
        name = next(n for n in archive.namelist() if n.endswith("/summary.txt"))
        lines = archive.read(name).decode().splitlines()
    return {line.split("\t")[1]: line.split("\t")[0] for line in lines if line.strip()}


def reasons(modules: Mapping[str, Mapping[str, str]], rules: Mapping[str, Sequence[str]]) -> list[str]:
    """Why the sample fails (empty: it passes), read by read, in rule order."""
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


def main() -> int:
    """Decide, write ``<sample>.qc.json`` and ``verdict`` under ``$WORK/out``, print one line."""
    work, sample = os.environ["WORK"], os.environ["QC_SAMPLE"]
    rules = json.loads(os.environ["QC_RULES"])
    modules = {read: summary(os.path.join(work, "in", f"{read}_fastqc.zip")) for read in READS}
    why = reasons(modules, rules)
    verdict = "fail" if why else "pass"
    out = os.path.join(work, "out")
    os.makedirs(out, exist_ok=True)
    report = {"sample": sample, "verdict": verdict, "reasons": why, "rules": rules, "modules": modules}
    with open(os.path.join(out, f"{sample}.qc.json"), "w") as f:
        json.dump(report, f, indent=2, sort_keys=True)
    with open(os.path.join(out, "verdict"), "w") as f:
        f.write(verdict)
    print(f"seqstack: {sample} QC {verdict}" + (": " + "; ".join(why) if why else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
