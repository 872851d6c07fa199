"""`seqstack run` end to end with the real tools (fastqc, bwa, samtools, multiqc) on generated
reads and, when present, on real human mtDNA reads: outputs, QC verdicts, counts equal to the
tools run by hand, bad inputs, preemption retries, --resume and Ctrl-C.

These run the rendered Argo objects through the local executor, so they also prove the rendered
pipeline's scripts work with real tools.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from stacks.cost import measured_tasks
from tests.testdata import MTDNA, MTDNA_FASTA, MTDNA_R1, MTDNA_R2
from workflows.local.demo import DemoSample, generate
from workflows.local.launch import Fault
from workflows.local.reference import ensure_index
from workflows.local.run import RunOptions, run_pipeline

TOOLS = ("fastqc", "bwa", "samtools")
GATE_MODULES = ("Basic Statistics", "Per base sequence quality")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        any(shutil.which(t) is None for t in TOOLS), reason="fastqc, bwa and samtools must be on PATH"
    ),
]


class Result:
    """A finished `seqstack run`: exit code, printed lines and run.json."""

    def __init__(self, outdir: Path, code: int, out: str, err: str, children_cpu: float = 0.0) -> None:
        self.outdir, self.code, self.out, self.err = outdir, code, out, err
        self.record: dict[str, Any] = json.loads((outdir / "run.json").read_text())
        #: User + system CPU of every process the run started and reaped (RUSAGE_CHILDREN delta).
        self.children_cpu = children_cpu

    def task(self, key: str) -> dict[str, Any]:
        return next(t for t in self.record["tasks"] if t["key"] == key)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(sheet: Path, reference: Path, outdir: Path, **options: Any) -> Result:
    out, err = io.StringIO(), io.StringIO()
    before = _children_cpu()
    code = run_pipeline(
        RunOptions(sheet=sheet, reference=reference, outdir=outdir, cpus=2, **options),
        console=Console(file=out, width=200),
        err=Console(file=err, width=200),
        live=False,
    )
    return Result(outdir, code, out.getvalue(), err.getvalue(), _children_cpu() - before)


def sam_body(bam: Path) -> list[str]:
    """`samtools view -h` without @PG lines (they record the command line), as nf-core compares."""
    text = subprocess.run(
        ["samtools", "view", "-h", str(bam)], capture_output=True, text=True, check=True
    ).stdout
    return [line for line in text.splitlines() if not line.startswith("@PG")]


def count(bam: Path, *flags: str) -> int:
    proc = subprocess.run(
        ["samtools", "view", "-c", *flags, str(bam)], capture_output=True, text=True, check=True
    )
    return int(proc.stdout)


def direct_bam(tmp: Path, reference: Path, r1: Path, r2: Path, sample: str) -> Path:
    """The tools run by hand on the same data: bwa mem | samtools sort (own index, own copy)."""
    tmp.mkdir(parents=True, exist_ok=True)
    ref = tmp / "ref.fa"
    shutil.copy(reference, ref)
    subprocess.run(["bwa", "index", str(ref)], check=True, capture_output=True)
    bam = tmp / f"{sample}.bam"
    subprocess.run(
        f"bwa mem -t 2 -R '@RG\\tID:{sample}\\tSM:{sample}\\tPL:ILLUMINA' {ref} {r1} {r2} 2>/dev/null"
        f" | samtools sort -o {bam} -",
        shell=True,
        check=True,
    )
    return bam


def fastqc_summary(zip_path: Path) -> dict[str, str]:
    with zipfile.ZipFile(zip_path) as z:
        name = next(n for n in z.namelist() if n.endswith("/summary.txt"))
        lines = z.read(name).decode().splitlines()
    return {line.split("\t")[1]: line.split("\t")[0] for line in lines}


def expected_verdict(outdir: Path, sample: str) -> str:
    """What the default rules say, from FastQC's own summaries."""
    failing = [
        m
        for read in ("R1", "R2")
        for m, status in fastqc_summary(
            outdir / "samples" / sample / "fastqc" / f"{sample}_{read}_fastqc.zip"
        ).items()
        if m in GATE_MODULES and status == "FAIL"
    ]
    return "fail" if failing else "pass"


def assert_no_partial_outputs(outdir: Path, record: dict[str, Any]) -> None:
    """Every file under the results is a complete output recorded in run.json (size and sha256)."""
    recorded = {}
    for task in record["tasks"]:
        for art in task["outputs"]["artifacts"].values():
            for rel, size, _sha in art["files"]:
                recorded[Path(art["path"]) / rel if rel != "." else Path(art["path"])] = size
    state = outdir / ".seqstack"
    assert not (state / "work").exists()
    for p in outdir.rglob("*"):
        if not p.is_file() or p == outdir / "run.json" or state in p.parents:
            continue
        assert p in recorded, f"{p} is not a recorded complete output"
        assert p.stat().st_size == recorded[p], f"{p} differs from the recorded output"


# ------------------------------------------------------------------------- generated demo data


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Result:
    base = tmp_path_factory.mktemp("demo")
    data = generate(base / "data")
    return run(data.sheet, data.reference, base / "results")


def test_demo_aligns_the_good_sample_and_stops_the_low_quality_one(demo: Result) -> None:
    assert demo.code == 0, demo.err
    out = demo.outdir
    assert demo.record["samples"]["demo-good"]["status"] == "aligned"
    assert demo.record["samples"]["demo-lowq"]["status"] == "qc-failed"
    # The real FastQC says so, and the gate applied the rules to what FastQC said.
    assert (
        fastqc_summary(out / "samples/demo-lowq/fastqc/demo-lowq_R1_fastqc.zip")["Per base sequence quality"]
        == "FAIL"
    )
    for sample in ("demo-good", "demo-lowq"):
        qc = json.loads((out / "samples" / sample / f"{sample}.qc.json").read_text())
        assert qc["verdict"] == expected_verdict(out, sample)
        for read in ("R1", "R2"):
            for ext in ("html", "zip"):
                assert (
                    out / "samples" / sample / "fastqc" / f"{sample}_{read}_fastqc.{ext}"
                ).stat().st_size > 0
    assert not (out / "samples" / "demo-lowq" / "demo-lowq.bam").exists()
    bam = out / "samples" / "demo-good" / "demo-good.bam"
    subprocess.run(["samtools", "quickcheck", str(bam)], check=True)
    assert (out / "samples" / "demo-good" / "demo-good.bam.bai").exists()
    assert "in total" in (out / "samples" / "demo-good" / "demo-good.flagstat.txt").read_text()
    assert (out / "multiqc_report.html").stat().st_size > 10_000
    assert "demo-lowq" in demo.out and "qc-failed" in demo.out and "multiqc_report.html" in demo.out
    assert_no_partial_outputs(out, demo.record)


def test_demo_report_shows_what_seqstack_decided_for_every_sample(demo: Result) -> None:
    """The report's seqstack section (from MultiQC's data folder) lists the QC-failed sample with
    the gate's reasons; FastQC's R1/R2 rows are grouped; the page names no local scratch path."""
    data = demo.outdir / "multiqc_data"
    lines = (data / "multiqc_seqstack_table.txt").read_text().splitlines()
    rows = {r[0]: dict(zip(lines[0].split("\t"), r, strict=True)) for r in (x.split("\t") for x in lines[1:])}
    assert set(rows) == {"demo-good", "demo-lowq"}
    good, lowq = rows["demo-good"], rows["demo-lowq"]
    assert (good["qc"], good["aligned"], good["status"], float(good["reads"])) == (
        "pass",
        "yes",
        "aligned",
        8000,
    )
    qc = json.loads((demo.outdir / "samples" / "demo-lowq" / "demo-lowq.qc.json").read_text())
    assert (lowq["qc"], lowq["aligned"], lowq["status"]) == ("fail", "no", "qc-failed")
    assert lowq["why"] == "; ".join(qc["reasons"]) and qc["reasons"]
    assert demo.record["samples"]["demo-lowq"]["status"] == lowq["status"]  # run.json agrees
    general = json.loads((data / "multiqc_data.json").read_text())["report_general_stats_data"]["fastqc"]
    assert {"demo-good", "demo-good R1", "demo-good R2", "demo-lowq", "demo-lowq R1"} <= set(general)
    html = (demo.outdir / "multiqc_report.html").read_text()
    assert str(demo.outdir) not in html and ".seqstack/work" not in html


def test_the_demo_report_ran_in_the_interpreter_started_early_for_it(demo: Result) -> None:
    """The report above (real MultiQC) was handed to the warm process that imported MultiQC
    while the samples ran (workflows.local.warm); nothing else was."""
    assert demo.record["tasksWarmStarted"] == 1
    [report] = [t for t in demo.record["tasks"] if t["task"] == "report"]
    [imports] = [a["warmStartCpuSeconds"] for a in report["attempts"]]
    assert imports > 0  # CPU seconds it had spent importing MultiQC when it was handed the report
    others = [a for t in demo.record["tasks"] if t is not report for a in t["attempts"]]
    assert others and all(a["warmStartCpuSeconds"] is None for a in others)


def test_demo_counts_equal_the_tools_run_by_hand(demo: Result, tmp_path: Path) -> None:
    data = demo.outdir.parent / "data"
    bam = direct_bam(
        tmp_path,
        data / "demo_reference.fa",
        data / "demo-good_R1.fastq.gz",
        data / "demo-good_R2.fastq.gz",
        "x",
    )
    ours = demo.outdir / "samples" / "demo-good" / "demo-good.bam"
    assert count(ours, "-F", "4") == count(bam, "-F", "4") > 0.9 * 8000
    assert count(ours) == count(bam)


def fastqc_data(zip_path: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as z:
        name = next(n for n in z.namelist() if n.endswith("/fastqc_data.txt"))
        return z.read(name).decode().splitlines()


def test_the_tools_read_the_reads_the_input_check_decompressed_and_they_are_removed(
    demo: Result, tmp_path: Path
) -> None:
    """The input check kept the bytes of each gzipped FASTQ it decompressed, and the tasks were
    staged those (FastQC names the plain file it read): the same QC as FastQC on the gzipped
    file, the same alignment as the tools by hand (test above). None is left after the run."""
    assert demo.record["inputsDecompressed"] == 4  # two samples, R1 and R2
    ours = fastqc_data(demo.outdir / "samples" / "demo-good" / "fastqc" / "demo-good_R1_fastqc.zip")
    reads = demo.outdir.parent / "data" / "demo-good_R1.fastq.gz"
    subprocess.run(["fastqc", "--quiet", "--outdir", str(tmp_path), str(reads)], check=True)
    by_hand = fastqc_data(tmp_path / "demo-good_R1_fastqc.zip")
    assert "Filename\tdemo-good_R1.fastq" in ours and "Filename\tdemo-good_R1.fastq.gz" in by_hand
    assert [x for x in ours if not x.startswith("Filename")] == [
        x for x in by_hand if not x.startswith("Filename")
    ]
    assert not (demo.outdir / ".seqstack" / "decompressed").exists()


def test_run_json_records_the_cpu_time_of_every_attempt_and_cost_uses_it(demo: Result) -> None:
    attempts = {t["key"]: t["attempts"][-1] for t in demo.record["tasks"] if t["attempts"]}
    assert attempts and all(a["cpuSeconds"] > 0 for a in attempts.values()), attempts
    recorded = sum(a["cpuSeconds"] for a in attempts.values())
    # Never more than every process of the run used (the tasks, the index, the input checks
    # and the pods' helpers); the tasks are most of it (FastQC's JVMs, bwa, MultiQC).
    assert recorded <= demo.children_cpu + 0.05, (recorded, demo.children_cpu)
    assert recorded >= 0.5 * demo.children_cpu, (recorded, demo.children_cpu)
    # align is `bwa mem | samtools sort` under bash: the tools' time is counted, not bash's alone.
    assert attempts["samples(demo-good)/align(demo-good)"]["cpuSeconds"] > 0.05
    tasks = {t.task: t for t in measured_tasks(demo.outdir / "run.json", min_pairs=1)}
    assert tasks["align"].basis.endswith("(cpuSeconds), 2-CPU machine")


def test_run_json_records_every_task(demo: Result) -> None:
    keys = {t["key"]: t for t in demo.record["tasks"]}
    for sample in ("demo-good", "demo-lowq"):
        for task in (f"fastqc({sample})", "qc-gate"):
            t = keys[f"samples({sample})/{task}"]
            assert t["status"] == "Succeeded" and t["attempts"][0]["exitCode"] == 0
            assert t["attempts"][0]["command"][0] in ("bash", "python3") and t["attempts"][0]["started"]
    assert keys["samples(demo-lowq)/align"]["status"] == "Skipped"
    align = keys["samples(demo-good)/align(demo-good)"]
    bam = align["outputs"]["artifacts"]["bam"]
    assert bam["path"].endswith("samples/demo-good/demo-good.bam") and len(bam["files"][0][2]) == 64
    assert demo.record["aligner"]["tool"] in ("bwa", "bwa-mem2")


def test_preempted_align_is_retried_and_gives_the_same_bam(demo: Result, tmp_path: Path) -> None:
    data = demo.outdir.parent / "data"
    sheet = tmp_path / "one.csv"
    r1, r2 = data / "demo-good_R1.fastq.gz", data / "demo-good_R2.fastq.gz"
    sheet.write_text(f"sample,fastq_1,fastq_2\ndemo-good,{r1},{r2}\n")
    faulted = run(
        sheet, data / "demo_reference.fa", tmp_path / "out", faults=[Fault.parse("kill:align@1:after=0.1")]
    )
    assert faulted.code == 0, faulted.err
    attempts = faulted.task("samples(demo-good)/align(demo-good)")["attempts"]
    assert [(a["status"], a["message"]) for a in attempts] == [("Error", "pod deleted"), ("Succeeded", "")]
    bam = tmp_path / "out" / "samples" / "demo-good" / "demo-good.bam"
    assert sam_body(bam) == sam_body(demo.outdir / "samples" / "demo-good" / "demo-good.bam")
    assert_no_partial_outputs(tmp_path / "out", faulted.record)


def test_resume_skips_complete_tasks_and_redoes_a_half_written_output(demo: Result) -> None:
    # Runs last against the shared demo results: it rewrites them (to the same content).
    data = demo.outdir.parent / "data"
    again = run(data / "samples.csv", data / "demo_reference.fa", demo.outdir, resume=True)
    assert again.code == 0, again.err
    assert all(t["cached"] for t in again.record["tasks"] if t["status"] == "Succeeded")
    bam = demo.outdir / "samples" / "demo-good" / "demo-good.bam"
    before = sam_body(bam)
    with bam.open("r+b") as f:  # a half-written BAM: same name, cut short
        f.truncate(bam.stat().st_size // 2)
    third = run(data / "samples.csv", data / "demo_reference.fa", demo.outdir, resume=True)
    assert third.code == 0, third.err
    assert third.task("samples(demo-good)/align(demo-good)")["cached"] is False
    assert third.task("samples(demo-good)/fastqc(demo-good)")["cached"] is True
    assert sam_body(bam) == before


# ------------------------------------------------------------------------------- bad inputs


def _records(n: int, start: int = 1) -> bytes:
    return b"".join(b"@r%d\nACGTACGTAC\n+\nIIIIIIIIII\n" % i for i in range(start, start + n))


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory: pytest.TempPathFactory) -> Result:
    """One run: a good sample plus one sample per kind of bad input."""
    base = tmp_path_factory.mktemp("bad")
    data = generate(base / "data", samples=[DemoSample("good", 300, 38, 31)])
    good1, good2 = data.reads["good"]
    d = base / "data"
    (d / "trunc_R1.fastq.gz").write_bytes(good1.read_bytes()[:-300])
    (d / "short_R2.fastq.gz").write_bytes(gzip.compress(_records(299)))
    (d / "pair_R1.fastq.gz").write_bytes(gzip.compress(_records(300)))
    (d / "step_R2.fastq.gz").write_bytes(gzip.compress(_records(5) + _records(1, 7) + _records(294, 6)))
    (d / "empty_R1.fastq.gz").write_bytes(gzip.compress(b""))
    # Each FASTQ belongs to one lane of the sheet: the rows get copies of the shared files.
    for copy in ("truncated", "empty", "notfastq", "missing"):
        shutil.copy(good2, d / f"{copy}_good_R2.fastq.gz")
    shutil.copy(d / "pair_R1.fastq.gz", d / "pair2_R1.fastq.gz")
    rows = {
        "good": (good1.name, good2.name),
        "truncated": ("trunc_R1.fastq.gz", "truncated_good_R2.fastq.gz"),
        "mismatch": ("pair_R1.fastq.gz", "short_R2.fastq.gz"),
        "outofstep": ("pair2_R1.fastq.gz", "step_R2.fastq.gz"),
        "empty": ("empty_R1.fastq.gz", "empty_good_R2.fastq.gz"),
        "notfastq": ("demo_reference.fa", "notfastq_good_R2.fastq.gz"),
        "missing": ("nowhere_R1.fastq.gz", "missing_good_R2.fastq.gz"),
    }
    sheet = d / "bad.csv"
    sheet.write_text("sample,fastq_1,fastq_2\n" + "".join(f"{s},{a},{b}\n" for s, (a, b) in rows.items()))
    return run(sheet, data.reference, base / "results")


BAD = {
    "truncated": ("trunc_R1.fastq.gz", "truncated gzip"),
    "mismatch": ("short_R2.fastq.gz", "R1 has 300 reads but R2 has 299"),
    "outofstep": ("step_R2.fastq.gz", "read names out of step with R1 at read 6"),
    "empty": ("empty_R1.fastq.gz", "empty FASTQ"),
    "notfastq": ("demo_reference.fa", "not a FASTQ file"),
    "missing": ("nowhere_R1.fastq.gz", "file not found"),
}


@pytest.mark.parametrize("sample", sorted(BAD))
def test_bad_input_fails_only_its_sample_with_one_line(bad_inputs: Result, sample: str) -> None:
    filename, problem = BAD[sample]
    lines = [line for line in bad_inputs.err.splitlines() if f"sample {sample}:" in line]
    assert len(lines) == 1, bad_inputs.err
    assert filename in lines[0] and problem in lines[0]
    assert bad_inputs.code == 1
    assert bad_inputs.record["samples"][sample]["status"] == "failed"
    assert not (bad_inputs.outdir / sample).exists()  # nothing of it in the results
    # ...and the good sample still completed.
    assert bad_inputs.record["samples"]["good"]["status"] == "aligned"
    subprocess.run(
        ["samtools", "quickcheck", str(bad_inputs.outdir / "samples" / "good" / "good.bam")], check=True
    )


def test_the_input_check_says_what_it_waits_for_and_how_it_ended(bad_inputs: Result) -> None:
    lines = bad_inputs.out.splitlines()
    waiting = lines.index(f"inputs: checking the FASTQ files of {len(BAD) + 1} sample(s)")
    ended = next(i for i, line in enumerate(lines) if line.startswith("inputs: 1 of 7 sample(s) ready ("))
    assert waiting < ended


BAD_REFERENCES = {
    "missing.fa": None,
    "not-fasta.fa": "this is not a reference\n",
    # One sequence line: the old check skipped the last line of its window, so these passed.
    "protein.fa": ">sp|P69905|HBA_HUMAN\nMVLSPADKTNVKAAWGKVGAHAGEYGAEALERMFLSFPTTKTYFPHF\n",
    "text.fa": ">notes\nremember to index the reference first\n",
    "duplicate-contigs.fa": ">chr1\nACGTACGT\n>chr2\nACGT\n>chr1\nTTTT\n",
}


@pytest.mark.parametrize("reference", sorted(BAD_REFERENCES))
def test_bad_reference_fails_every_sample_in_one_line_naming_it(tmp_path: Path, reference: str) -> None:
    data = generate(tmp_path / "data", samples=[DemoSample("a", 50, 38, 31), DemoSample("b", 50, 38, 31)])
    if BAD_REFERENCES[reference] is not None:
        (tmp_path / reference).write_text(BAD_REFERENCES[reference])
    result = run(data.sheet, tmp_path / reference, tmp_path / "results")
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert lines == [f"error: reference {tmp_path / reference}: {lines[0].split(': ', 2)[2]}"]
    assert set(result.record["samples"]) == {"a", "b"}
    assert all(s["status"] == "failed" for s in result.record["samples"].values())
    assert not list((tmp_path / "results").glob("samples/*/*.bam"))
    # The check was keeping the gzipped reads it decompressed: the run removed them on its way out.
    assert not (tmp_path / "results" / ".seqstack" / "decompressed").exists()


def test_a_fastq_listed_twice_stops_before_anything_runs(tmp_path: Path) -> None:
    """Rows of one sample are its lanes, but the same files twice are a mistake, not two lanes."""
    data = generate(tmp_path / "data", samples=[DemoSample("a", 50, 38, 31)])
    r1, r2 = data.reads["a"]
    sheet = tmp_path / "dup.csv"
    sheet.write_text(f"sample,fastq_1,fastq_2\na,{r1},{r2}\na,{r1},{r2}\n")
    out, err = io.StringIO(), io.StringIO()
    code = run_pipeline(
        RunOptions(sheet=sheet, reference=data.reference, outdir=tmp_path / "results", cpus=2),
        console=Console(file=out),
        err=Console(file=err, width=300),
        live=False,
    )
    assert code == 2
    assert (
        str(sheet) in err.getvalue()
        and "row 3, column fastq_1: same file as row 2, column fastq_1" in err.getvalue()
        and len(err.getvalue().strip().splitlines()) == 1
    )
    assert not (tmp_path / "results" / "run.json").exists()


# ------------------------------------------------------------------------------------ Ctrl-C


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _named(pids: set[int], command: str) -> list[int]:
    """Those of ``pids`` running ``command`` (their /proc comm)."""
    found = []
    for pid in pids:
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == command:
                found.append(pid)
        except OSError:
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start(sheet: Path, reference: Path, out: Path) -> subprocess.Popen[str]:
    """`python -m seqstack run` as a user starts it from a terminal, output merged into one text
    pipe. Ctrl-C's SIGINT is put back to its default first: a shell without job control starts
    a background job (`cmd &`, so a CI script's) with SIGINT ignored, which its children inherit
    and Python then keeps (no KeyboardInterrupt), as any program run that way does."""
    args = ["run", "-s", str(sheet), "-r", str(reference), "-o", str(out), "--cpus", "2"]
    return subprocess.Popen(
        [sys.executable, "-m", "seqstack", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _wait_for(proc: subprocess.Popen[str], text: str, timeout: float = 60.0) -> str:
    """What the run printed until ``text`` appeared, the output ended or ``timeout`` passed
    (read from the pipe's descriptor, so a run that prints nothing cannot hang the test)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(fd, 1 << 16) if ready else b""
        if not chunk:
            break
        seen += chunk.decode(errors="replace")
    return seen


def test_ctrl_c_stops_every_child_and_leaves_no_partial_output(tmp_path: Path) -> None:
    data = generate(tmp_path / "data", samples=[DemoSample("big", 100_000, 38, 31)])
    out = tmp_path / "results"
    proc = _start(data.sheet, data.reference, out)
    seen = _wait_for(proc, "fastqc: running")
    # Interrupt FastQC mid-run (100k pairs take it seconds): once its JVM is up, however slow
    # the machine is, rather than after a fixed wait.
    deadline = time.monotonic() + 30
    while not _named(_descendants(proc.pid), "java") and time.monotonic() < deadline:
        time.sleep(0.05)
    children = _descendants(proc.pid)
    assert _named(children, "java"), seen
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, seen + rest
    assert "interrupted" in rest
    time.sleep(0.5)
    assert not [pid for pid in children if _alive(pid)]
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "Interrupted"
    assert not list(out.rglob("*.bam*"))
    assert_no_partial_outputs(out, record)


def big_sheet(folder: Path, records: int) -> Path:
    """A sheet of one sample whose two FASTQs take seconds to check and a fraction of that to write."""
    reads = b"@r\nACGTACGTAC\n+\nIIIIIIIIII\n" * records
    (folder / "R1.fastq").write_bytes(reads)
    (folder / "R2.fastq").write_bytes(reads)
    sheet = folder / "sheet.csv"
    sheet.write_text(f"sample,fastq_1,fastq_2\nbig,{folder / 'R1.fastq'},{folder / 'R2.fastq'}\n")
    return sheet


def test_ctrl_c_during_the_input_check_stops_the_check_workers(tmp_path: Path) -> None:
    # 6 million records per file: seconds of checking (here), written in a fraction of that.
    sheet = big_sheet(tmp_path, 6_000_000)
    data = generate(tmp_path / "data", samples=[DemoSample("tiny", 200, 38, 31)])
    out = tmp_path / "results"
    proc = _start(sheet, data.reference, out)
    seen = _wait_for(proc, "aligner:")  # printed while the workers are still reading
    children = _descendants(proc.pid)
    assert children, seen  # the check workers
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, seen + rest
    assert "interrupted before any task started" in rest
    assert "Traceback" not in seen + rest
    time.sleep(0.5)
    assert not [pid for pid in children if _alive(pid)]
    assert not list(out.rglob("*.bam*"))


# --------------------------------------------------------------------------- real mtDNA reads


def test_real_mtdna_reads(tmp_path: Path) -> None:
    r1, r2 = MTDNA_R1, MTDNA_R2
    # A copy of the reference: its index is built beside it, never inside the repository.
    ref = tmp_path / "ref" / MTDNA_FASTA.name
    ref.parent.mkdir()
    shutil.copy(MTDNA_FASTA, ref)
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(f"sample,fastq_1,fastq_2\nHG00152,{r1},{r2}\n")
    data_files = {p: p.stat().st_mtime_ns for p in MTDNA.iterdir()}
    result = run(sheet, ref, tmp_path / "results")
    out = tmp_path / "results"
    verdict = expected_verdict(out, "HG00152")
    assert json.loads((out / "samples" / "HG00152" / "HG00152.qc.json").read_text())["verdict"] == verdict
    if verdict == "fail":
        assert result.record["samples"]["HG00152"]["status"] == "qc-failed"
        return
    assert result.code == 0, result.err
    bam = out / "samples" / "HG00152" / "HG00152.bam"
    subprocess.run(["samtools", "quickcheck", str(bam)], check=True)
    direct = direct_bam(tmp_path / "direct", ref, r1, r2, "HG00152")
    assert count(bam, "-F", "4") == count(direct, "-F", "4") > 9000
    assert count(bam) == count(direct)
    assert "beside the reference" in result.record["aligner"]["index"]
    assert {p: p.stat().st_mtime_ns for p in MTDNA.iterdir()} == data_files  # the reads' folder untouched


def test_index_is_built_beside_a_writable_reference_else_in_the_cache(tmp_path: Path) -> None:
    data = generate(tmp_path / "data", samples=[DemoSample("a", 10, 38, 31)])
    built = ensure_index(data.reference, tmp_path / "cache")
    assert built.built and built.fasta == data.reference and "beside the reference" in built.where
    assert ensure_index(data.reference, tmp_path / "cache").built is False  # found next time
    locked = tmp_path / "locked"
    locked.mkdir()
    shutil.copy(data.reference, locked / "ref.fa")
    locked.chmod(0o555)
    try:
        cached = ensure_index(locked / "ref.fa", tmp_path / "cache")
    finally:
        locked.chmod(0o755)
    assert cached.built and cached.fasta == tmp_path / "cache" / "ref.fa" and "not writable" in cached.where
    assert sorted(p.name for p in locked.iterdir()) == ["ref.fa"]
    suffix = ".bwt" if cached.aligner == "bwa" else ".bwt.2bit.64"
    assert (tmp_path / "cache" / f"ref.fa{suffix}").stat().st_size > 0


def test_a_tool_failure_is_not_retried_and_fails_its_sample_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    data = generate(tmp_path / "data", samples=[DemoSample("s1", 200, 38, 31)])
    ensure_index(data.reference, tmp_path / "cache")  # with the real bwa
    # Where the pods' uid can reach it, as a tool in an image (as root, steps run as uid 1000,
    # and pytest's tmp_path is closed to other users).
    fake = Path(tempfile.mkdtemp(prefix="seqstack-fake-bin-"))
    request.addfinalizer(lambda: shutil.rmtree(fake, ignore_errors=True))
    fake.chmod(0o755)
    (fake / "bwa").write_text("#!/bin/sh\necho 'bwa: simulated crash' >&2\nexit 3\n")
    (fake / "bwa").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    result = run(data.sheet, data.reference, tmp_path / "results")
    assert result.code == 1
    align = result.task("samples(s1)/align(s1)")
    # One attempt (a non-zero exit is not a preemption); the pipeline's status is sort's, which
    # then had no input (pipefail reports the last failing command).
    assert [a["status"] for a in align["attempts"]] == ["Failed"] and align["attempts"][0]["exitCode"] != 0
    outcome = result.record["samples"]["s1"]
    assert outcome["status"] == "failed" and "align" in outcome["reason"]
    assert "Error (exit code" in outcome["reason"]
    assert "s1" in result.out and "failed" in result.out
    assert not (tmp_path / "results" / "samples" / "s1" / "s1.bam").exists()
    assert (tmp_path / "results" / "multiqc_report.html").exists()  # the report still ran
    assert_no_partial_outputs(tmp_path / "results", result.record)
