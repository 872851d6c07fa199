"""The report (:mod:`workflows.report_table`): the seqstack section lists every sample of the run
with what seqstack decided, FastQC's R1/R2 rows are grouped under their unit, and the page shows
no scratch path. Real MultiQC on real FastQC and samtools outputs of the mtDNA reads; the report
is checked through MultiQC's data folder, not by scraping the HTML."""

from __future__ import annotations

import base64
import csv
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.testdata import MTDNA_FASTA, MTDNA_R1, MTDNA_R2
from workflows import report_table
from workflows.contract import StackOutputs
from workflows.pipeline import build_template
from workflows.settings import PipelineSettings
from workflows.steps import report as report_step
from workflows.steps.bam import BATCH_BASES

TOOLS = ("fastqc", "bwa", "samtools")
needs_tools = pytest.mark.skipif(
    any(shutil.which(t) is None for t in TOOLS), reason="fastqc, bwa and samtools must be on PATH"
)
MULTIQC_BIN = Path(sys.executable).parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _lanes(sample: str, *lanes: str) -> str:
    """A sample item's ``lanes`` field as the design has it (a JSON string of lane items)."""
    units = [sample] if len(lanes) == 1 else [f"{sample}_{lane}" for lane in lanes]
    items = [
        {"lane": lane, "unit": unit, "r1_bucket": "", "r1_key": f"/d/{unit}_1.fq.gz", "r2_bucket": ""}
        | {"r2_key": f"/d/{unit}_2.fq.gz"}
        for lane, unit in zip(lanes, units, strict=True)
    ]
    return json.dumps(items)


def _old_item(sample: str) -> dict[str, str]:
    """Today's one-lane item."""
    return {"sample": sample, "r1_bucket": "", "r1_key": "/d/1.fq", "r2_bucket": "", "r2_key": "/d/2.fq"}


#: The run: sheet order. New-shape and old-shape items mixed, as during the LANES change.
SAMPLES = [
    {"sample": "S1", "lanes": _lanes("S1", "1")},  # passes, aligned, duplicates marked
    {"sample": "S2", "lanes": _lanes("S2", "1", "2")},  # lane 2 fails QC: the sample fails
    {"sample": "S3", "lanes": _lanes("S3", "1")},  # never reached the gate: no file at all
    _old_item("A_qual2"),  # today's shapes; MultiQC's own cleaning would cut the name at _qual
    _old_item("runs_lowq"),  # today's shapes, QC-failed; MultiQC's cleaning would drop runs_
]

QC_FAIL_REASON = "R1: Per base sequence quality FAIL"
REFERENCE = "s3://refs/rCRS.fa"


def _qc_new(sample: str, verdicts: dict[str, str]) -> dict[str, Any]:
    units = {lane: sample if len(verdicts) == 1 else f"{sample}_{lane}" for lane in verdicts}
    lanes = [
        {
            "lane": lane,
            "unit": units[lane],
            "paired": True,
            "verdict": v,
            "reasons": [] if v == "pass" else [QC_FAIL_REASON],
            "modules": {"R1": {}, "R2": {}},
        }
        for lane, v in verdicts.items()
    ]
    failed = any(v == "fail" for v in verdicts.values())
    return {
        "sample": sample,
        "verdict": "fail" if failed else "pass",
        "reasons": [f"lane {lane}: {QC_FAIL_REASON}" for lane, v in verdicts.items() if v == "fail"],
        "failed_lane": "fail-sample",
        "rules": {},
        "lanes": lanes,
        "aligned_lanes": [] if failed else list(verdicts),
    }


def _qc_old(sample: str, why: list[str]) -> dict[str, Any]:
    return {
        "sample": sample,
        "verdict": "fail" if why else "pass",
        "reasons": why,
        "rules": {},
        "modules": {"R1": {}, "R2": {}},
    }


def _fastqc(folder: Path, units: list[str]) -> None:
    """Real FastQC on the mtDNA reads, named ``<unit>_R1/_R2.fastq.gz`` as the fastqc pod names them."""
    reads = folder / "reads"
    reads.mkdir()
    files = []
    for unit in units:
        for read, src in (("R1", MTDNA_R1), ("R2", MTDNA_R2)):
            link = reads / f"{unit}_{read}.fastq.gz"
            link.symlink_to(src)
            files.append(str(link))
    subprocess.run(
        ["fastqc", "--quiet", "--threads", "2", "--outdir", str(folder), *files], check=True, timeout=600
    )
    shutil.rmtree(reads)
    for html in folder.glob("*_fastqc.html"):
        html.unlink()


def _align(tmp: Path, metrics: Path, sample: str, markdup: bool) -> None:
    """bwa mem | samtools, then flagstat (and markdup -f stats) as the align pod writes them."""
    ref = tmp / "ref.fa"
    if not ref.exists():
        shutil.copy(MTDNA_FASTA, ref)
        subprocess.run(["bwa", "index", str(ref)], check=True, capture_output=True)
    bam = tmp / f"{sample}.bam"
    mem = f"bwa mem -t 2 -K {BATCH_BASES} -Y -R '@RG\\tID:{sample}\\tSM:{sample}' {ref} {MTDNA_R1} {MTDNA_R2}"
    if markdup:
        pipe = (
            f"{mem} 2>/dev/null | samtools fixmate -m - - | samtools sort -o - - "
            f"| samtools markdup -f {metrics}/{sample}.markdup.txt - {bam}"
        )
    else:
        pipe = f"{mem} 2>/dev/null | samtools sort -o {bam} -"
    subprocess.run(pipe, shell=True, check=True, executable="/bin/bash")
    with open(metrics / f"{sample}.flagstat.txt", "w") as f:
        subprocess.run(["samtools", "flagstat", str(bam)], stdout=f, check=True)
    with open(metrics / f"{sample}.stats.txt", "w") as f:
        subprocess.run(["samtools", "stats", str(bam)], stdout=f, check=True)


def run_report(
    work: Path, samples: list[dict[str, Any]] | None, launcher: Sequence[str] = ("-I",), *args: str
) -> subprocess.CompletedProcess[str]:
    """The report's program as the pod runs it: its source alone (``python3 -I``, outside the
    repository, or through another ``launcher`` given the script and ``args``), ``$WORK`` set,
    MultiQC on PATH."""
    script = work.parent / f"{work.name}-report.py"
    script.write_text(report_step.source())
    if samples is not None:
        (work / "in").mkdir(parents=True, exist_ok=True)
        (work / "in" / "samples.json").write_text(json.dumps(samples, separators=(",", ":")))
    env = {"PATH": f"{MULTIQC_BIN}:/usr/local/bin:/usr/bin:/bin", "WORK": str(work), "LANG": "C.UTF-8"}
    env["REPORT_REFERENCE"] = REFERENCE
    return subprocess.run(
        [sys.executable, *launcher, str(script), *args],
        env=env,
        cwd="/",
        capture_output=True,
        text=True,
        timeout=600,
    )


def _tsv(path: Path) -> dict[str, dict[str, str]]:
    with path.open() as f:
        return {row["Sample"]: row for row in csv.DictReader(f, delimiter="\t")}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished report over real metrics: ``$WORK`` of the report pod after it ran."""
    tmp = tmp_path_factory.mktemp("report")
    work = tmp / "work"
    metrics = work / "in" / "metrics"
    metrics.mkdir(parents=True)
    _fastqc(metrics, ["S1", "S2_1", "S2_2", "A_qual2", "runs_lowq"])
    _align(tmp, metrics, "S1", markdup=True)
    _align(tmp, metrics, "A_qual2", markdup=False)
    qc = {
        "S1": _qc_new("S1", {"1": "pass"}),
        "S2": _qc_new("S2", {"1": "pass", "2": "fail"}),
        "A_qual2": _qc_old("A_qual2", []),
        "runs_lowq": _qc_old("runs_lowq", [QC_FAIL_REASON, "R2: Per base sequence quality FAIL"]),
    }
    for sample, verdict in qc.items():
        (metrics / f"{sample}.qc.json").write_text(json.dumps(verdict))
    proc = run_report(work, SAMPLES)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "seqstack: 5 samples, 2 aligned" in proc.stdout
    return work


def _data(work: Path) -> Path:
    return work / "out" / "multiqc_report_data"


# --------------------------------------------------------------------------- the pod runs this


def test_the_report_pod_runs_this_module_with_every_sample_of_its_chunk() -> None:
    settings = PipelineSettings.local(2, 4)
    wt = build_template(StackOutputs.local(Path("/data/out")), settings).to_dict()
    (t,) = (t for t in wt["spec"]["templates"] if t["name"] == "report")
    assert t["script"]["command"] == ["python3"]
    assert t["script"]["source"] == Path(report_table.__file__).read_text()
    raw = {a["name"]: a for a in t["inputs"]["artifacts"] if "raw" in a}
    assert raw["samples"]["raw"]["data"] == "{{workflow.parameters.samples}}"
    assert raw["samples"]["path"] == "/work/in/samples.json"
    outputs = {a["name"]: a for a in t["outputs"]["artifacts"]}
    assert outputs["samples"]["path"] == "/work/out/samples.json"
    assert outputs["samples"]["plugin"]["key"].endswith("/seqstack.samples.{{workflow.name}}.json")
    assert t["synchronization"] == {"mutexes": [{"name": "seqstack-report"}]}  # kept
    env = {e["name"]: e["value"] for e in t["script"]["env"]}
    assert env["REPORT_REFERENCE"] == "{{workflow.parameters.reference-key}}"  # a local path
    aws = StackOutputs.load(FIXTURES / "dev-aws.outputs.json")
    cloud = build_template(aws, PipelineSettings.cloud_defaults()).to_dict()
    (t,) = (t for t in cloud["spec"]["templates"] if t["name"] == "report")
    env = {e["name"]: e["value"] for e in t["script"]["env"]}
    assert env["REPORT_REFERENCE"] == (
        "s3://{{workflow.parameters.reference-bucket}}/{{workflow.parameters.reference-key}}"
    )


# --------------------------------------------------------------------------- real MultiQC


@pytest.mark.slow
@needs_tools
def test_the_seqstack_section_lists_every_sample_with_what_seqstack_decided(report: Path) -> None:
    rows = _tsv(_data(report) / "multiqc_seqstack_table.txt")  # MultiQC writes it sorted
    assert set(rows) == {"S1", "S2", "S3", "A_qual2", "runs_lowq"}  # every sample, exact IDs
    given = json.loads((report / "tmp" / "seqstack" / "seqstack_mqc.json").read_text())
    assert list(given["data"]) == ["S1", "S2", "S3", "A_qual2", "runs_lowq"]  # the page: sheet order
    s1, s2, s3, a, lowq = (rows[s] for s in given["data"])
    assert (s1["lanes"], s1["qc"], s1["aligned"], s1["status"], s1["why"]) == (
        "1",
        "pass",
        "yes",
        "aligned",
        "",
    )
    assert (s2["lanes"], s2["qc"], s2["aligned"], s2["status"]) == ("2", "fail", "no", "qc-failed")
    assert s2["why"] == f"lane 2: {QC_FAIL_REASON}"
    assert (s3["qc"], s3["aligned"], s3["status"]) == ("-", "no", "failed")
    assert "no QC verdict" in s3["why"]
    assert (lowq["qc"], lowq["status"]) == ("fail", "qc-failed")
    assert lowq["why"] == f"{QC_FAIL_REASON}; R2: Per base sequence quality FAIL"
    assert (a["qc"], a["aligned"], a["duplicates"]) == ("pass", "yes", "")  # not marked: empty
    # Reads: the BAM's primary reads, as samtools flagstat counts them (5,053 pairs, all kept).
    assert int(float(s1["reads"])) == int(float(a["reads"])) == 10106
    assert s2["reads"] == s3["reads"] == lowq["reads"] == ""
    # Duplicates: samtools markdup's own stats, by hand, and MultiQC's samtools module agree.
    stats = dict(
        (k.strip(), v.strip())
        for k, _, v in (line.partition(":") for line in (report / "in/metrics/S1.markdup.txt").open())
    )
    by_hand = 100 * int(stats["DUPLICATE TOTAL"]) / (int(stats["PAIRED"]) + int(stats["SINGLE"]))
    assert 0 < by_hand < 100
    assert float(s1["duplicates"]) == pytest.approx(by_hand, abs=0.01)
    general = json.loads((_data(report) / "multiqc_data.json").read_text())["report_general_stats_data"]
    (marked,) = (rows for rows in general.values() if "duplicate_fraction" in rows.get("S1", {}))
    assert 100 * marked["S1"]["duplicate_fraction"] == pytest.approx(by_hand, abs=0.01)


@pytest.mark.slow
@needs_tools
def test_the_seqstack_section_comes_first_and_fastqc_rows_group_under_their_unit(report: Path) -> None:
    data = json.loads((_data(report) / "multiqc_data.json").read_text())
    assert next(iter(data["report_plot_data"])) == "seqstack_table"  # the first section's plot
    assert data["config_report_header_info"] == [{"Reference": REFERENCE}]
    fastqc = data["report_general_stats_data"]["fastqc"]
    for unit in ("S1", "S2_1", "S2_2", "A_qual2", "runs_lowq"):
        assert {unit, f"{unit} R1", f"{unit} R2"} <= set(fastqc), sorted(fastqc)
    assert not [name for name in fastqc if "fastq" in name or name.endswith(("_R1", "_R2"))]
    # samtools' rows keep the sample's exact ID (MultiQC's own cleaning would cut A_qual2 at _qual).
    assert set(_tsv(_data(report) / "multiqc_samtools_flagstat.txt")) == {"S1", "A_qual2"}


@pytest.mark.slow
@needs_tools
def test_the_page_shows_no_scratch_path(report: Path) -> None:
    html = (report / "out" / report_table.REPORT).read_text()
    assert "seqstack_table" in html and "runs_lowq" in html  # the page is the real report
    for leak in (str(report), str(report.parent), "in/metrics", "tmp/seqstack", "based on data in"):
        assert leak not in html, leak


def _plot_data(html: str) -> Any:
    """The plots' data the page carries (gzipped, base64), parsed: what the page draws."""
    found = re.search(r'id="mqc_compressed_plotdata">([^<]*)<', html)
    assert found, "no plot data in the page"
    return json.loads(gzip.decompress(base64.b64decode(found.group(1))))


def _multiqc_command(report: Path, work: Path, config: dict[str, Any]) -> Path:
    """The plain ``multiqc`` command (a pod's path) over the report's inputs, with ``config``, in
    ``work``: the report's arguments otherwise."""
    shutil.copytree(report / "in", work / "in")
    shutil.copytree(report / "tmp", work / "tmp")
    (work / "out").mkdir()
    env = {"PATH": f"{MULTIQC_BIN}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    args = ["--force", "--filename", report_table.REPORT, "--outdir", "out"]
    args += ["--cl-config", json.dumps(config, separators=(",", ":"))]
    proc = subprocess.run(
        [str(MULTIQC_BIN / "multiqc"), *args, "in/metrics", "tmp/seqstack"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work


def _same_data(report: Path, other: Path) -> list[dict[str, Any]]:
    """Asserts the two runs wrote the same data folder, except the run's folder, date and
    command; returns both ``multiqc_data.json``."""
    mine, theirs = (json.loads((_data(w) / "multiqc_data.json").read_text()) for w in (report, other))
    differ = {k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k)}
    assert differ <= {
        "report_multiqc_command",
        "config_output_dir",
        "config_analysis_dir_abs",
        "report_creation_date",
        "report_data_sources",
    }
    assert mine["report_plot_data"] and mine["report_general_stats_data"]  # the dump is whole
    assert sorted(p.name for p in _data(report).iterdir()) == sorted(p.name for p in _data(other).iterdir())
    return [mine, theirs]


@pytest.mark.slow
@needs_tools
def test_the_report_writes_what_the_multiqc_command_writes(report: Path, tmp_path: Path) -> None:
    """In its own Python the report runs MultiQC with libyaml, one-shot JSON dumps and
    ``multiqc_data.json`` written by a forked child beside the HTML; the ``multiqc`` command
    (a pod's path: none of that) writes the same data folder and the same plots from the same
    inputs. Only the run's folder, date and ID differ."""
    cold = _multiqc_command(report, tmp_path / "work", report_table.config(REFERENCE))
    warm, plain = _same_data(report, cold)
    # The command as run: the program's name, then the same arguments.
    commands = [d["report_multiqc_command"].split(" ", 1) for d in (warm, plain)]
    assert commands[0][0] == "multiqc" and commands[0][1] == commands[1][1]
    pages = [(w / "out" / report_table.REPORT).read_text() for w in (report, cold)]
    assert _plot_data(pages[0]) == _plot_data(pages[1])


#: What the local executor's warm process does (``workflows.local.warm.PROGRAM`` with the report's
#: ``PRELOAD``): MultiQC imported, :func:`report_table.warm_multiqc`, then the script as
#: ``__main__``; here every template Jinja compiles while the script runs is logged to argv[2],
#: every module it imports to argv[3].
WARM_RUN = """\
import runpy, sys
import jinja2.environment
import multiqc.__main__
from workflows import report_table
report_table.warm_multiqc()
script, compiled, imported = sys.argv[1:4]
generate = jinja2.environment.generate
def logged(*args, **kwargs):
    with open(compiled, "a") as log:
        log.write(f"{args[2]}\\n")
    return generate(*args, **kwargs)
jinja2.environment.generate = logged
class Imports:
    def find_spec(self, name, path=None, target=None):  # asked for modules not imported yet
        with open(imported, "a") as log:
            log.write(f"{name}\\n")
sys.meta_path.insert(0, Imports())
sys.argv = [script]
runpy.run_path(script, run_name="__main__")
"""


@pytest.mark.slow
@needs_tools
def test_a_warmed_report_compiles_no_template_and_writes_what_the_multiqc_command_writes(
    report: Path, tmp_path: Path
) -> None:
    """After :func:`report_table.warm_multiqc` (the warm process), the report's MultiQC run finds
    every template it renders compiled and typeguard imported, and writes the same data folder
    and plots as the plain ``multiqc`` command."""
    work = tmp_path / "warm"
    shutil.copytree(report / "in", work / "in")
    compiled = tmp_path / "compiled.txt"
    imported = tmp_path / "imported.txt"
    proc = run_report(work, None, ("-c", WARM_RUN), str(compiled), str(imported))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "seqstack: 5 samples, 2 aligned" in proc.stdout
    assert not compiled.exists(), f"compiled during the report: {compiled.read_text()}"
    # What MultiQC imports on first use, imported by the warm-up instead.
    assert "typeguard" not in imported.read_text().split()
    cold = _multiqc_command(report, tmp_path / "cold", report_table.config(REFERENCE))
    _same_data(work, cold)
    pages = [(w / "out" / report_table.REPORT).read_text() for w in (work, cold)]
    assert _plot_data(pages[0]) == _plot_data(pages[1])


def test_warm_multiqc_keeps_entry_points_and_compiles_again_what_other_options_or_text_change() -> None:
    """The kept compiles are keyed by the template's text, its name and the environment's
    code-shaping options; entry points are read once per selection."""
    program = """\
import importlib_metadata, jinja2
import multiqc.__main__
from workflows import report_table
before = importlib_metadata.entry_points(group="multiqc.modules.v1")
report_table.warm_multiqc()
kept = importlib_metadata.entry_points(group="multiqc.modules.v1")
print("same", kept is importlib_metadata.entry_points(group="multiqc.modules.v1"))
print("equal", sorted(e.name for e in kept) == sorted(e.name for e in before))
text = "{% if x %}\\n  yes\\n{% endif %}\\n"
print("plain", repr(jinja2.Environment().from_string(text).render(x=1)))
print("trimmed", repr(jinja2.Environment(trim_blocks=True, lstrip_blocks=True).from_string(text).render(x=1)))
for version in ("one", "two"):
    env = jinja2.Environment(loader=jinja2.DictLoader({"t.html": version}))
    print("named", env.get_template("t.html").render())
class Upper:
    __hash__ = None
    def __call__(self, value):
        return str(value).upper()
print("unkeyed", jinja2.Environment(finalize=Upper()).from_string("{{ x }}").render(x="a"))
"""
    proc = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines() == [
        "same True",
        "equal True",
        "plain '\\n  yes\\n'",
        "trimmed '  yes\\n'",
        "named one",
        "named two",
        "unkeyed A",
    ]


@pytest.mark.slow
@needs_tools
def test_no_module_left_out_of_the_report_would_find_a_file_in_the_metrics(
    report: Path, tmp_path: Path
) -> None:
    """The report runs MultiQC's search over the modules it names only; with all 181 the same
    files are found and the report is the same (FastQC zips for lanes, flagstat, stats and
    markdup stats among them): no file of the pipeline's is left unread."""
    every = {k: v for k, v in report_table.config(REFERENCE).items() if k != "run_modules"}
    assert every != report_table.config(REFERENCE)
    both = _same_data(report, _multiqc_command(report, tmp_path / "work", every))
    # Where each module found its files: {module: {section: {sample: path}}}, paths by name.
    found = [
        {
            m: {s: sorted(Path(p).name for p in v.values()) for s, v in ss.items()}
            for m, ss in d["report_data_sources"].items()
        }
        for d in both
    ]
    assert found[0] == found[1]
    assert set(found[0]) == {"FastQC", "Samtools"}
    assert set(found[0]["Samtools"]) == {"stats", "flagstat", "markdup"}


@pytest.mark.slow
@needs_tools
def test_later_chunks_list_the_samples_of_earlier_ones(report: Path, tmp_path: Path) -> None:
    """Chunk 1's samples all failed before FastQC (no metrics: the plain page, with the table);
    its list goes to the metrics folder; chunk 2's report lists chunk 1's samples too."""
    chunk1 = tmp_path / "chunk1"
    proc = run_report(chunk1, [_old_item("E1"), {"sample": "E2", "lanes": _lanes("E2", "L1", "L2")}])
    assert proc.returncode == 0, proc.stderr
    assert "no sample produced metrics" in proc.stderr
    page = (chunk1 / "out" / report_table.REPORT).read_text()
    assert "<td>E1</td>" in page and "<td>E2</td>" in page and "no QC verdict" in page
    chunk2 = tmp_path / "chunk2"
    shutil.copytree(report / "in" / "metrics", chunk2 / "in" / "metrics")
    shutil.copy(
        chunk1 / "out" / "samples.json",
        chunk2 / "in" / "metrics" / "seqstack.samples.seqstack-x-1of2-ab.json",
    )
    proc = run_report(chunk2, SAMPLES[:1])
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = _tsv(_data(chunk2) / "multiqc_seqstack_table.txt")
    given = json.loads((chunk2 / "tmp" / "seqstack" / "seqstack_mqc.json").read_text())
    # Chunk 1's first, then this chunk's, then the samples the gate judged that no list names.
    assert (
        list(given["data"])
        == ["E1", "E2", "S1", "A_qual2", "S2", "runs_lowq"]
        == sorted(rows, key=list(given["data"]).index)
    )
    assert rows["E2"]["lanes"] == "2" and rows["E2"]["status"] == "failed"


# --------------------------------------------------------------------------- parsing


def test_flagstat_counts_primary_reads_and_falls_back_to_the_total(tmp_path: Path) -> None:
    new = tmp_path / "new.txt"
    new.write_text(
        "10111 + 0 in total (QC-passed reads + QC-failed reads)\n10106 + 0 primary\n"
        "10111 + 0 mapped (100.00% : N/A)\n9000 + 6 primary mapped (89.12% : N/A)\n"
    )
    assert report_table.flagstat(str(new)) == {"reads": 10106, "mapped": round(100 * 9006 / 10106, 2)}
    old = tmp_path / "old.txt"  # samtools < 1.13: no primary lines
    old.write_text("200 + 0 in total (QC-passed reads + QC-failed reads)\n150 + 0 mapped (75.00% : N/A)\n")
    assert report_table.flagstat(str(old)) == {"reads": 200, "mapped": 75.0}
    assert report_table.flagstat(str(tmp_path / "absent.txt")) == {}


def test_duplicate_rate_is_duplicates_over_examined_reads(tmp_path: Path) -> None:
    stats = tmp_path / "m.txt"
    stats.write_text(
        "COMMAND: samtools markdup -f m.txt - out.bam\nREAD: 110\nEXAMINED: 100\nPAIRED: 80\nSINGLE: 20\n"
        "DUPLICATE PAIR: 8\nDUPLICATE SINGLE: 2\nDUPLICATE TOTAL: 10\n"
    )
    assert report_table.duplicate_rate(str(stats)) == 10.0
    assert report_table.duplicate_rate(str(tmp_path / "absent.txt")) is None


def test_both_shapes_of_the_samples_parameter() -> None:
    found = report_table.samples_of(
        json.dumps([_old_item("A"), {"sample": "B", "lanes": _lanes("B", "1", "2")}])
    )
    assert list(found) == ["A", "B"]
    assert [lane["unit"] for lane in found["A"]] == ["A"]
    assert [lane["unit"] for lane in found["B"]] == ["B_1", "B_2"]


def test_a_sample_aligned_without_a_dropped_lane_says_which_lanes_were_dropped(tmp_path: Path) -> None:
    qc = _qc_new("D", {"1": "pass", "2": "fail", "3": "pass"})
    qc.update(verdict="pass", failed_lane="drop", aligned_lanes=["1", "3"])
    (tmp_path / "D.qc.json").write_text(json.dumps(qc))
    (tmp_path / "D.flagstat.txt").write_text("20 + 0 in total (QC-passed reads + QC-failed reads)\n")
    row = report_table.row(str(tmp_path), "D", json.loads(_lanes("D", "1", "2", "3")))
    assert (row["lanes"], row["qc"], row["status"], row["reads"]) == (3, "pass", "aligned", 20)
    assert row["why"] == f"lanes dropped: 2 (lane 2: {QC_FAIL_REASON})"


def test_a_sample_that_passed_but_has_no_alignment_metrics_failed_to_align(tmp_path: Path) -> None:
    (tmp_path / "P.qc.json").write_text(json.dumps(_qc_old("P", [])))
    row = report_table.row(str(tmp_path), "P", [{"lane": "1", "unit": "P"}])
    assert (row["qc"], row["aligned"], row["status"]) == ("pass", "no", "failed")


def test_seqstack_own_files_are_not_metrics(tmp_path: Path) -> None:
    (tmp_path / "seqstack.samples.wf-1of1-x.json").write_text("[]")
    (tmp_path / "S.qc.json").write_text("{}")
    assert not report_table.has_metrics(str(tmp_path))
    (tmp_path / "S_R1_fastqc.zip").write_bytes(b"")
    assert report_table.has_metrics(str(tmp_path))


def test_the_config_is_json_that_multiqc_reads_as_yaml_and_valid_by_its_schema(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import jsonschema
    import yaml
    from multiqc.utils.config_schema import config_to_schema

    monkeypatch.setenv("REPORT_REFERENCE", "/refs/mt.fa")
    conf = report_table.config("/refs/mt.fa")
    assert yaml.safe_load(report_table.cl_config()) == conf
    assert conf["show_analysis_paths"] is False
    # MultiQC validates a --config file, not --cl-config: the schema check it would do, done here.
    schema = config_to_schema()
    jsonschema.validate(instance=conf, schema=schema)
    with pytest.raises(jsonschema.ValidationError, match="regexx"):
        jsonschema.validate(instance={**conf, "fn_clean_exts": [{"type": "regexx"}]}, schema=schema)


def test_main_without_samples_or_metrics_writes_the_plain_page(tmp_path: Path) -> None:
    env = {**os.environ, "WORK": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-I", report_table.__file__], env=env, capture_output=True, text=True, check=True
    )
    assert "no sample produced metrics" in proc.stderr
    assert "No sample produced metrics" in (tmp_path / "out" / report_table.REPORT).read_text()
    assert (tmp_path / "out" / "samples.json").read_text() == "[]"


def test_the_report_ends_without_the_interpreters_teardown(tmp_path: Path) -> None:
    """Run as the warm process runs it (``runpy``, as ``__main__``) by an interpreter that has an
    exit handler: the report's exit skips it, and what it printed is all there."""
    program = (
        "import atexit, runpy, sys\n"
        "atexit.register(print, 'the teardown ran')\n"
        "runpy.run_path(sys.argv[1], run_name='__main__')\n"
    )
    env = {**os.environ, "WORK": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-I", "-c", program, report_table.__file__], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "seqstack: 0 samples, 0 aligned\n"
    assert "no sample produced metrics" in proc.stderr
    assert (tmp_path / "out" / report_table.REPORT).exists()


def test_exit_now_exits_with_the_code_after_flushing_what_was_written() -> None:
    program = (
        "import logging, sys\n"
        f"sys.path.insert(0, {str(Path(report_table.__file__).parent)!r})\n"
        "from report_table import exit_now\n"
        "logging.basicConfig(stream=sys.stderr)\n"
        "print('out', end='')\n"
        "sys.stderr.write('err ')\n"
        "logging.getLogger('x').warning('logged')\n"
        "exit_now(3)\n"
    )
    proc = subprocess.run([sys.executable, "-I", "-c", program], capture_output=True, text=True)
    assert (proc.returncode, proc.stdout) == (3, "out")
    assert proc.stderr == "err WARNING:x:logged\n"
