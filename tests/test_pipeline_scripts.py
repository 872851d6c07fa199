"""The rendered step scripts run with the real tools (FastQC, bwa, samtools, MultiQC) on real reads.

This checks the scripts themselves (bash/python bodies as rendered, with ``{{...}}`` filled in and
input artifacts placed where the template says), independent of the local executor: FastQC copes
with 0.11.9's missing ``--memory``, the gate's verdict follows the rules, the aligner falls back to
``bwa`` and writes a sorted, indexed BAM with a read group and no SAM on disk.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

import pytest

from tests.sheets import paired
from tests.testdata import MTDNA_FASTA, MTDNA_R1, MTDNA_R2
from workflows import report_table
from workflows.contract import StackOutputs
from workflows.render import render, render_index
from workflows.settings import PipelineSettings
from workflows.steps import fastqc as fastqc_step

R1, R2, FASTA = MTDNA_R1, MTDNA_R2, MTDNA_FASTA
#: The lanes of a one-lane paired sample S1, as the gate receives them.
S1_LANES = json.dumps(
    [{"lane": "1", "unit": "S1", "r1_bucket": "", "r1_key": "/r/1.fq", "r2_bucket": "", "r2_key": "/r/2.fq"}]
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        any(shutil.which(t) is None for t in ("fastqc", "bwa", "samtools")),
        reason="fastqc/bwa/samtools not on PATH",
    ),
]


def _templates(tmp: Path) -> tuple[dict[str, Any], dict[str, str], Path]:
    out = tmp / "out"
    ref = tmp / "ref" / "ref.fa"
    ref.parent.mkdir()
    shutil.copy(FASTA, ref)
    samples = [paired("HG00152", str(R1), str(R2), 2)]
    wt, wf = render(samples, str(ref), str(out), StackOutputs.local(out), PipelineSettings.local(2, 4))
    params = {p["name"]: p["value"] for p in wf["spec"]["arguments"]["parameters"]}
    return {t["name"]: t for t in wt["spec"]["templates"]}, params, ref


def _fill(text: str, inputs: dict[str, str], workflow: dict[str, str]) -> str:
    text = re.sub(r"\{\{inputs\.parameters\.([\w-]+)\}\}", lambda m: inputs[m.group(1)], text)
    text = text.replace("{{workflow.name}}", "seqstack-test-1of1-x")
    return re.sub(r"\{\{workflow\.parameters\.([\w-]+)\}\}", lambda m: workflow[m.group(1)], text)


def _run_step(
    template: dict[str, Any],
    inputs: dict[str, str],
    workflow: dict[str, str],
    work: Path,
    tools_first: Path | None = None,
    succeed: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Place input artifacts (plugin key = local path) under ``work``, run the step, collect outputs."""
    work.mkdir(parents=True)
    for art in template.get("inputs", {}).get("artifacts", []):
        dest = work / Path(_fill(art["path"], inputs, workflow)).relative_to("/work")
        if "raw" in art:
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(_fill(art["raw"]["data"], inputs, workflow))
            continue
        key = _fill(art["plugin"]["key"], inputs, workflow)
        if not key:  # Argo skips an optional input whose key is empty (a single-end lane's R2)
            assert art.get("optional"), f"required input {art['name']} has an empty key"
            continue
        src = Path(key)
        if not src.exists():
            assert art.get("optional"), f"missing required input {src}"
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dest)
        else:
            shutil.copy(src, dest)
    body = template.get("container") or template["script"]
    env = {
        "PATH": f"{tools_first or ''}:{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "WORK": str(work),
        "LANG": "C.UTF-8",
    }
    if tools_first:  # Python packages there too (the report imports MultiQC when it can)
        env["PYTHONPATH"] = str(tools_first)
    env.update(
        {e["name"]: _fill(e["value"], inputs, workflow) for e in body.get("env", []) if e["name"] != "WORK"}
    )
    if "script" in template:
        source = work / "script.py"
        source.write_text(_fill(body["source"], inputs, workflow))
        cmd = [*body["command"], str(source)]
    else:
        cmd = [*body["command"], *(_fill(a, inputs, workflow) for a in body["args"])]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
    if not succeed:
        assert proc.returncode != 0, "the step should have failed"
        return proc
    assert proc.returncode == 0, proc.stderr[-3000:]
    for art in template.get("outputs", {}).get("artifacts", []):
        src = work / Path(_fill(art["path"], inputs, workflow)).relative_to("/work")
        dest = Path(_fill(art["plugin"]["key"], inputs, workflow))
        if not src.exists():
            assert art.get("optional"), f"missing required output {src}"
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dest, dirs_exist_ok=True)
        else:
            shutil.copy(src, dest)
    return proc


def test_steps_run_end_to_end_with_real_tools(tmp_path: Path) -> None:
    templates, workflow, ref = _templates(tmp_path)
    (index_wf,) = render_index(str(ref), StackOutputs.local(tmp_path / "out"), PipelineSettings.local(2, 4))
    index_params = {p["name"]: p["value"] for p in index_wf["spec"]["arguments"]["parameters"]}
    proc = _run_step(index_wf["spec"]["templates"][0], {}, index_params, tmp_path / "w-index")
    assert "indexer=" in proc.stderr
    assert Path(f"{ref}.bwt").exists() or Path(f"{ref}.bwt.2bit.64").exists()

    out = Path(workflow["output-prefix"])
    (item,) = json.loads(workflow["samples"])
    (lane,) = json.loads(item["lanes"])
    sample = {"sample": "HG00152", **lane}
    # One FastQC over both reads, each report named after its lane's unit (here the sample ID).
    _run_step(templates["fastqc"], sample, workflow, tmp_path / "w-fastqc")
    for read in ("R1", "R2"):
        assert (out / "samples" / "HG00152" / "fastqc" / f"HG00152_{read}_fastqc.html").exists()
        run_metrics = out / ".metrics" / workflow["run-id"]
        assert (run_metrics / f"HG00152_{read}_fastqc.zip").exists()

    gate_args = {"sample": "HG00152", "lanes": item["lanes"]}
    gate = _run_step(templates["qc-gate"], gate_args, workflow, tmp_path / "w-gate")
    verdict = json.loads((out / "samples" / "HG00152" / "HG00152.qc.json").read_text())
    assert verdict["verdict"] in ("pass", "fail")
    assert (tmp_path / "w-gate" / "out" / "verdict").read_text() == verdict["verdict"]
    assert set(verdict["lanes"][0]["modules"]) == {"R1", "R2"}
    assert "Basic Statistics" in verdict["lanes"][0]["modules"]["R1"]
    assert f"QC {verdict['verdict']}" in gate.stdout

    align = _run_step(templates["align"], sample, workflow, tmp_path / "w-align")
    assert align.stderr.splitlines()[0] == "seqstack: aligner=bwa" or "aligner=bwa-mem2" in align.stderr
    bam = out / "samples" / "HG00152" / "HG00152.bam"
    assert (out / "samples" / "HG00152" / "HG00152.bam.bai").exists()
    header = subprocess.run(
        ["samtools", "view", "-H", str(bam)], capture_output=True, text=True, check=True
    ).stdout
    assert "SO:coordinate" in header
    assert "@RG\tID:HG00152.1\tSM:HG00152\tLB:HG00152\tPL:ILLUMINA\tPU:1" in header
    flagstat = (out / "samples" / "HG00152" / "HG00152.flagstat.txt").read_text()
    assert re.search(r"^10106 \+ 0 primary$", flagstat, re.M), flagstat  # 5,053 pairs, all kept
    assert not list((tmp_path / "w-align").rglob("*.sam"))
    assert not (tmp_path / "w-align" / "out" / "HG00152.bam.tmp").exists()

    _run_step(templates["report"], {}, workflow, tmp_path / "w-report")
    html = (out / "multiqc_report.html").read_text()
    assert "HG00152" in html
    table = (out / "multiqc_data" / "multiqc_seqstack_table.txt").read_text().splitlines()
    row = dict(zip(table[0].split("\t"), table[1].split("\t"), strict=True))
    assert (row["Sample"], row["qc"], row["status"]) == ("HG00152", verdict["verdict"], "aligned")
    assert float(row["reads"]) == 10106


#: A stand-in for ``fastqc``: its help says whether it takes --memory (0.12) or not (0.11.9), and
#: a run writes down the JVM options it was given, then the reports FastQC would write.
FAKE_FASTQC = """#!/bin/bash
if [ "$1" = --help ]; then echo "{help}"; exit 0; fi
printf '%s' "${{_JAVA_OPTIONS-unset}}" > {log}
while [ "$1" != --outdir ]; do shift; done
outdir=$2; shift 2
for f in "$@"; do
  name=$(basename "$f"); name=${{name%.gz}}; name=${{name%.fastq}}
  touch "$outdir/${{name}}_fastqc.html" "$outdir/${{name}}_fastqc.zip"
done
"""


@pytest.mark.parametrize("help_text", ["--memory  MB per thread", "--threads  files at once"])
def test_fastqc_runs_small_inputs_on_the_first_compiler_only(tmp_path: Path, help_text: str) -> None:
    """Every input under its size limit: ``C1_ONLY`` reaches the JVM, on FastQC 0.12 (--memory)
    and 0.11.9 (heap in _JAVA_OPTIONS) alike; one large input, gzipped or plain: it does not."""
    templates, workflow, _ = _templates(tmp_path)
    fake = tmp_path / "bin"
    fake.mkdir()
    log = tmp_path / "java-options"
    (fake / "fastqc").write_text(FAKE_FASTQC.format(help=help_text, log=log))
    (fake / "fastqc").chmod(0o755)
    big_gz = tmp_path / "big.fq.gz"  # gzip's magic, then a hole up to the limit
    big_gz.write_bytes(b"\x1f\x8b")
    os.truncate(big_gz, fastqc_step.SMALL_GZIP_BYTES)
    big_plain = tmp_path / "big.fq"
    big_plain.write_bytes(b"@r\n")
    os.truncate(big_plain, fastqc_step.SMALL_PLAIN_BYTES)
    small_plain = tmp_path / "small.fq"
    small_plain.write_bytes(b"@r\n" + b"A" * (fastqc_step.SMALL_GZIP_BYTES * 2))
    heap = f"-Xmx{PipelineSettings.local(2, 4).fastqc_heap_mib}m"
    cases = {
        "small gz pair": (R1, R2, True),
        "small plain, above the gzip limit": (small_plain, R2, True),
        "R2 large gz": (R1, big_gz, False),
        "R1 large plain": (big_plain, R2, False),
        "single-end small": (R1, None, True),
    }
    for i, (name, (r1, r2, small)) in enumerate(cases.items()):
        lane = {
            "lane": "1",
            "unit": "S",
            "r1_bucket": "",
            "r1_key": str(r1),
            "r2_bucket": "",
            "r2_key": str(r2 or ""),
        }
        _run_step(
            templates["fastqc"],
            {"sample": "S", **lane},
            workflow,
            tmp_path / f"w-fastqc-{i}",
            fake,
        )
        options = log.read_text().split()
        assert (fastqc_step.C1_ONLY in options) is small, (name, options)
        if "--memory" in help_text:  # 0.12 gets its heap from --memory: nothing else is set
            assert options == ([fastqc_step.C1_ONLY] if small else ["unset"]), name
        else:
            assert heap in options, name


def test_fastqc_runs_in_a_folder_with_a_space_in_its_name(tmp_path: Path) -> None:
    """The JVM splits _JAVA_OPTIONS at blanks: no path of the pod's may go there."""
    templates, workflow, _ = _templates(tmp_path)
    lane = {"lane": "1", "unit": "S", "r1_bucket": "", "r1_key": str(R1), "r2_bucket": "", "r2_key": ""}
    _run_step(templates["fastqc"], {"sample": "S", **lane}, workflow, tmp_path / "my runs" / "w fastqc")
    assert (Path(workflow["output-prefix"]) / "samples" / "S" / "fastqc" / "S_R1_fastqc.zip").exists()


#: A stand-in for ``fastqc`` that writes its reports, then idles as FastQC's exit poll does (for
#: {linger} s; its pid goes to {pidfile}), then exits {code}. {end} closes each HTML. Its shell
#: becomes the ``sleep`` when it would exit 0, so a SIGTERM leaves no process behind.
LINGERING_FASTQC = """#!/bin/bash
if [ "$1" = --help ]; then echo "--threads  files at once"; exit 0; fi
echo $$ > {pidfile}
while [ "$1" != --outdir ]; do shift; done
outdir=$2; shift 2
for f in "$@"; do
  name=$(basename "$f"); name=${{name%.gz}}; name=${{name%.fastq}}
  echo zip > "$outdir/${{name}}_fastqc.zip"
  printf '<html><body>report</body>{end}' > "$outdir/${{name}}_fastqc.html"
done
if [ {code} = 0 ]; then exec sleep {linger}; fi
sleep {linger}; exit {code}
"""


def _lingering(tmp: Path, end: str, linger: int, code: int = 0) -> tuple[Path, Path]:
    """The stand-in's folder (first on PATH) and its pid file."""
    fake, pidfile = tmp / "bin", tmp / "fastqc.pid"
    fake.mkdir()
    (fake / "fastqc").write_text(LINGERING_FASTQC.format(pidfile=pidfile, end=end, linger=linger, code=code))
    (fake / "fastqc").chmod(0o755)
    return fake, pidfile


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_fastqc_is_stopped_once_its_reports_are_written(tmp_path: Path) -> None:
    """FastQC idles up to a second after its last report (its exit poll): the step ends as soon
    as every HTML is complete, publishes the reports, and leaves no FastQC behind."""
    templates, workflow, _ = _templates(tmp_path)
    fake, pidfile = _lingering(tmp_path, "</html>", linger=120)
    lane = {"lane": "1", "unit": "S", "r1_bucket": "", "r1_key": str(R1), "r2_bucket": "", "r2_key": str(R2)}
    started = time.monotonic()
    _run_step(templates["fastqc"], {"sample": "S", **lane}, workflow, tmp_path / "w", fake)
    assert time.monotonic() - started < 60  # not the stand-in's 120 s
    assert _gone(int(pidfile.read_text()))
    html = Path(workflow["output-prefix"]) / "samples" / "S" / "fastqc" / "S_R2_fastqc.html"
    assert html.read_text().endswith("</html>")


def test_fastqc_is_waited_for_while_a_report_is_incomplete(tmp_path: Path) -> None:
    """An HTML that does not end in </html> (being written, or another FastQC's) is not a finished
    report: the step waits for FastQC's own exit and takes its status."""
    templates, workflow, _ = _templates(tmp_path)
    lane = {"lane": "1", "unit": "S", "r1_bucket": "", "r1_key": str(R1), "r2_bucket": "", "r2_key": str(R2)}
    fake, _ = _lingering(tmp_path, "</body>", linger=2)
    started = time.monotonic()
    _run_step(templates["fastqc"], {"sample": "S", **lane}, workflow, tmp_path / "w", fake)
    assert time.monotonic() - started >= 2  # it lingered its whole time
    shutil.rmtree(fake)
    fake, _ = _lingering(tmp_path, "</body>", linger=1, code=3)
    step = templates["fastqc"]
    failed = _run_step(step, {"sample": "S", **lane}, workflow, tmp_path / "w2", fake, succeed=False)
    assert failed.returncode == 3
    assert not (tmp_path / "w2" / "out" / "R1_fastqc.html").exists()


def test_fastqc_writes_each_html_after_its_zip(tmp_path: Path) -> None:
    """What the early stop relies on, seen on the real FastQC: the moment every HTML ends in
    </html>, every zip is already complete (FastQC closes the zip, then writes the HTML)."""
    import zipfile

    env = {**os.environ, "_JAVA_OPTIONS": f"-Xmx512m {fastqc_step.C1_ONLY}"}
    proc = subprocess.Popen(
        ["fastqc", "--quiet", "--threads", "2", "--outdir", str(tmp_path), str(R1), str(R2)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    names = [r.name.removesuffix(".fastq.gz") for r in (R1, R2)]
    htmls = [tmp_path / f"{n}_fastqc.html" for n in names]
    try:
        deadline = time.monotonic() + 300
        while not all(h.exists() and h.read_bytes().endswith(b"</html>") for h in htmls):
            assert proc.poll() is None, "FastQC exited before both reports were seen complete"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        for n in names:  # taken now, while FastQC may still be running
            with zipfile.ZipFile(tmp_path / f"{n}_fastqc.zip") as z:
                assert z.testzip() is None
                data = z.read(f"{n}_fastqc/fastqc_data.txt").decode()
                assert data.count(">>END_MODULE") >= 10
                assert z.read(f"{n}_fastqc/summary.txt")
    finally:
        assert proc.wait(timeout=60) == 0


def test_fastqc_reports_the_same_with_the_first_compiler_only(tmp_path: Path) -> None:
    """A compiler changes how fast FastQC runs, not what it finds: the same data either way."""
    data = {}
    for name, options in (("c1", fastqc_step.C1_ONLY), ("default", "")):
        out = tmp_path / name
        out.mkdir()
        env = {**os.environ, "_JAVA_OPTIONS": f"-Xmx512m {options}".strip()}
        subprocess.run(
            ["fastqc", "--quiet", "--extract", "--outdir", str(out), str(R1)],
            env=env,
            check=True,
            timeout=300,
        )
        data[name] = (out / f"{R1.name.removesuffix('.fastq.gz')}_fastqc" / "fastqc_data.txt").read_text()
    assert data["c1"] == data["default"]
    assert ">>Per base sequence quality" in data["c1"]


def test_qc_gate_fails_a_sample_by_the_rules(tmp_path: Path) -> None:
    """A FastQC zip whose summary FAILs a rule module gives verdict fail with the reason."""
    import zipfile

    templates, workflow, _ = _templates(tmp_path)
    out = Path(workflow["output-prefix"])
    for read, status in (("R1", "PASS"), ("R2", "FAIL")):
        z = out / "samples" / "S1" / "fastqc" / f"S1_{read}_fastqc.zip"
        z.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(z, "w") as archive:
            archive.writestr(
                f"S1_{read}_fastqc/summary.txt",
                f"PASS\tBasic Statistics\tx\n{status}\tPer base sequence quality\tx\n"
                "FAIL\tAdapter Content\tx\n",
            )
    _run_step(templates["qc-gate"], {"sample": "S1", "lanes": S1_LANES}, workflow, tmp_path / "w-gate")
    verdict = json.loads((out / "samples" / "S1" / "S1.qc.json").read_text())
    assert verdict["verdict"] == "fail"
    assert verdict["reasons"] == ["R2: Per base sequence quality FAIL"]  # Adapter Content is not a rule


def test_qc_gate_fails_a_rule_module_fastqc_left_out(tmp_path: Path) -> None:
    """FastQC omits the quality modules for reads of length 0: a rule it did not check is a fail."""
    templates, workflow, _ = _templates(tmp_path)
    out = Path(workflow["output-prefix"])
    reads = tmp_path / "S1_R1.fastq"
    reads.write_text("".join(f"@r{i}\n\n+\n\n" for i in range(200)))  # every read empty
    subprocess.run(["fastqc", "--quiet", "--outdir", str(tmp_path), str(reads)], check=True, timeout=300)
    for read in ("R1", "R2"):
        z = out / "samples" / "S1" / "fastqc" / f"S1_{read}_fastqc.zip"
        z.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / "S1_R1_fastqc.zip", z)
    _run_step(templates["qc-gate"], {"sample": "S1", "lanes": S1_LANES}, workflow, tmp_path / "w-gate")
    verdict = json.loads((out / "samples" / "S1" / "S1.qc.json").read_text())
    assert verdict["verdict"] == "fail"
    assert "Per base sequence quality" not in verdict["lanes"][0]["modules"]["R1"]  # what FastQC did
    assert verdict["reasons"] == [
        "R1: Per base sequence quality missing from FastQC's report",
        "R2: Per base sequence quality missing from FastQC's report",
    ]


def test_report_finds_metrics_among_thousands_of_files(tmp_path: Path) -> None:
    """Among thousands of files (seqstack's own lists and verdicts first in name order), the
    report still finds the metrics and runs MultiQC (a `find | grep -q` under pipefail once
    skipped it)."""
    templates, workflow, _ = _templates(tmp_path)
    metrics = Path(workflow["output-prefix"]) / ".metrics" / workflow["run-id"]
    metrics.mkdir(parents=True)
    for i in range(3000):
        (metrics / f"S{i:04d}.qc.json").write_text("{}")
        (metrics / f"seqstack.samples.w{i:04d}.json").write_text("[]")
    (metrics / "S2999.flagstat.txt").write_text("x" * 50)
    fake = tmp_path / "bin"
    (fake / "multiqc").mkdir(parents=True)
    (fake / "multiqc" / "__init__.py").write_text("")
    # MultiQC's console script as the report runs it in its own interpreter.
    (fake / "multiqc" / "__main__.py").write_text(
        "import sys\n"
        "def run_multiqc():\n"
        "    out = sys.argv[sys.argv.index('--outdir') + 1]\n"
        "    with open(out + '/multiqc_report.html', 'w') as f:\n"
        "        f.write('<html>multiqc ran on ' + sys.argv[-2] + '</html>\\n')\n"
    )
    _run_step(templates["report"], {}, workflow, tmp_path / "w-report", tools_first=fake)
    assert (
        Path(workflow["output-prefix"]) / "multiqc_report.html"
    ).read_text() == "<html>multiqc ran on in/metrics</html>\n"


def test_without_multiqc_in_its_python_the_report_runs_the_multiqc_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report image's ``python3`` is the system one and MultiQC a command of its own
    virtualenv: then the report runs that command, and exits with its code."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "multiqc").write_text('#!/bin/sh\necho "$@" > args.txt\nexit 3\n')
    (fake / "multiqc").chmod(0o755)
    monkeypatch.setitem(sys.modules, "multiqc.__main__", None)  # import fails: not installed
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    assert report_table.run_multiqc(["--force", "in/metrics"], cwd=str(tmp_path)) == 3
    assert (tmp_path / "args.txt").read_text() == "--force in/metrics\n"


def test_multiqc_in_the_reports_own_python_reads_its_yaml_with_libyaml_to_the_same_objects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process, MultiQC's ``yaml.safe_load`` calls go through libyaml and give what PyYAML's
    pure parser gives, for MultiQC's own defaults; the function is put back afterwards."""
    import multiqc
    import yaml

    parsed: list[str] = []

    class Counting(yaml.CSafeLoader):  # type: ignore[misc]  # PyYAML's stubs type it loosely
        def __init__(self, stream: Any) -> None:
            parsed.append(stream[:20])
            super().__init__(stream)

    monkeypatch.setattr(yaml, "CSafeLoader", Counting)
    original = yaml.safe_load
    folder = Path(multiqc.__file__).parent
    defaults = [folder / "config_defaults.yaml", folder / "search_patterns.yaml"]
    loaded: list[Any] = []

    def fake_cli() -> None:
        for path in defaults:
            with path.open() as f:  # MultiQC hands safe_load an open file
                loaded.append(yaml.safe_load(f))

    monkeypatch.setitem(sys.modules, "multiqc.__main__", types.SimpleNamespace(run_multiqc=fake_cli))
    monkeypatch.chdir(tmp_path)
    assert report_table.run_multiqc(["--force", "in/metrics"], cwd=str(tmp_path)) == 0
    assert len(parsed) == 2
    assert loaded == [yaml.load(path.read_text(), Loader=yaml.SafeLoader) for path in defaults]
    assert loaded[0]["no_version_check"] is False  # a real config, not an empty one
    assert yaml.safe_load is original


def test_where_libyaml_refuses_a_text_pyyamls_own_parser_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    class Refusing(yaml.CSafeLoader):  # type: ignore[misc]
        def __init__(self, stream: Any) -> None:
            raise yaml.YAMLError("libyaml refused it")

    monkeypatch.setattr(yaml, "CSafeLoader", Refusing)
    with report_table.libyaml_safe_load():
        assert yaml.safe_load("a: [1, 2]\n") == {"a": [1, 2]}
        with pytest.raises(yaml.YAMLError, match="mapping values are not allowed"):
            yaml.safe_load("a: b: c\n")  # PyYAML's own error for a text neither parser takes


def test_in_process_multiqc_dumps_unindented_json_in_one_shot_to_the_same_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Within the block ``json.dump`` writes what it writes outside, but an unindented dump
    never takes the standard library's piece-by-piece Python encoder; an indented one still
    does (there is no other), and ``json.dump`` is put back afterwards."""
    import array
    import io
    import json.encoder

    class Arrays(json.JSONEncoder):  # the kind of encoder MultiQC passes: a default() hook
        def default(self, o: Any) -> Any:
            return o.tolist() if isinstance(o, array.array) else super().default(o)

    data = {"s1": {"gc": array.array("d", [0.5, 1e-7]), "name": 'Ünïcode "q"', "n": [1, None, True]}}
    python_encoder: list[bool] = []
    make_iterencode = json.encoder._make_iterencode  # type: ignore[attr-defined]

    def counting(*args: Any, **kwargs: Any) -> Any:
        python_encoder.append(True)
        return make_iterencode(*args, **kwargs)

    def written(**kwargs: Any) -> str:
        out = io.StringIO()
        json.dump(data, out, cls=Arrays, **kwargs)
        return out.getvalue()

    streamed = [written(), written(ensure_ascii=False), written(indent=4)]
    monkeypatch.setattr(json.encoder, "_make_iterencode", counting)
    original = json.dump
    with report_table.one_shot_json_dump():
        assert [written(), written(ensure_ascii=False)] == streamed[:2]
        assert python_encoder == []
        assert written(indent=4) == streamed[2]
        assert python_encoder == [True]
    assert json.dump is original


def test_in_process_multiqc_writes_its_data_json_in_a_child_while_the_html_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Within the block MultiQC's dump of ``multiqc_data.json`` returns at once and runs in a
    forked child, side by side with the HTML's writer (the dump waits for a byte the writer
    sends: run one after the other, it would give up after 20 s and fail); the writer returns
    once the child has written the file. MultiQC's functions are put back afterwards."""
    from multiqc import report
    from multiqc.core import write_results

    html_began, tell = os.pipe()

    def dump(data_dir: Path) -> None:  # MultiQC's signature: the data folder
        ready, _, _ = select.select([html_began], [], [], 20)
        assert ready, "the HTML's writer never ran beside the dump"
        (data_dir / "multiqc_data.json").write_text(json.dumps({"pid": os.getpid()}))

    def write_html(*args: Any, **kwargs: Any) -> str:
        os.write(tell, b"x")
        return "<html/>"

    monkeypatch.setattr(report, "multiqc_dump_json", dump)
    monkeypatch.setattr(write_results, "_write_html_report", write_html)
    with report_table.data_json_beside_html():
        report.multiqc_dump_json(tmp_path)
        assert not (tmp_path / "multiqc_data.json").exists()
        assert write_results._write_html_report(None, None) == "<html/>"
        written = json.loads((tmp_path / "multiqc_data.json").read_text())
    assert written["pid"] != os.getpid()
    assert report.multiqc_dump_json is dump and write_results._write_html_report is write_html


def test_when_the_data_json_child_fails_multiqc_fails_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """The child's traceback is on stderr and MultiQC ends with its own error type (it logs the
    message and exits 1); the HTML's writer had run in full."""
    from multiqc import report
    from multiqc.core import write_results
    from multiqc.core.exceptions import RunError

    def dump(data_dir: Path) -> None:
        raise OSError(28, "No space left on device", str(data_dir / "multiqc_data.json"))

    pages: list[str] = []
    monkeypatch.setattr(report, "multiqc_dump_json", dump)
    monkeypatch.setattr(write_results, "_write_html_report", lambda *a, **k: pages.append("written"))
    with report_table.data_json_beside_html(), pytest.raises(RunError) as failed:
        report.multiqc_dump_json(tmp_path)
        write_results._write_html_report(None, None)
    assert failed.value.message == report_table.DATA_JSON_FAILED
    assert "No space left on device" in capfd.readouterr().err
    assert pages == ["written"]


def test_where_no_child_can_be_forked_the_data_json_is_dumped_in_the_reports_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from multiqc import report
    from multiqc.core import write_results

    def refused() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    dumped: list[int] = []
    monkeypatch.setattr(report, "multiqc_dump_json", lambda data_dir: dumped.append(os.getpid()))
    monkeypatch.setattr(write_results, "_write_html_report", lambda *a, **k: "<html/>")
    monkeypatch.setattr(os, "fork", refused)
    with report_table.data_json_beside_html():
        report.multiqc_dump_json(tmp_path)
        assert write_results._write_html_report(None, None) == "<html/>"
    assert dumped == [os.getpid()]


def test_align_fails_when_a_side_by_side_bam_step_fails(tmp_path: Path) -> None:
    """index, flagstat and stats run in parallel; a failure of any one must fail the step."""
    templates, workflow, ref = _templates(tmp_path)
    subprocess.run(["bwa", "index", str(ref)], check=True, capture_output=True)
    shim = tmp_path / "shim"
    shim.mkdir()
    real = shutil.which("samtools")
    (shim / "samtools").write_text(f'#!/bin/sh\n[ "$1" = stats ] && exit 7\nexec {real} "$@"\n')
    (shim / "samtools").chmod(0o755)
    lane = {
        "lane": "1",
        "unit": "HG00152",
        "r1_bucket": "",
        "r1_key": str(R1),
        "r2_bucket": "",
        "r2_key": str(R2),
    }
    sample = {"sample": "HG00152", **lane}
    _run_step(templates["align"], sample, workflow, tmp_path / "w-align", tools_first=shim, succeed=False)
    assert not (Path(workflow["output-prefix"]) / "samples" / "HG00152" / "HG00152.bam").exists()


@pytest.mark.parametrize(("ends", "code"), [(None, 0), (SystemExit(2), 2), (SystemExit("bad config"), 1)])
def test_multiqc_in_the_reports_own_python_exits_as_the_command_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], ends: Any, code: int
) -> None:
    seen: list[tuple[list[str], str]] = []

    def fake_cli() -> None:
        seen.append((sys.argv, os.getcwd()))
        if ends is not None:
            raise ends

    monkeypatch.setitem(sys.modules, "multiqc.__main__", types.SimpleNamespace(run_multiqc=fake_cli))
    monkeypatch.chdir(tmp_path.parent)  # run_multiqc moves to the report's folder; undone after
    monkeypatch.setattr(sys, "argv", ["pytest"])
    assert report_table.run_multiqc(["--force", "in/metrics"], cwd=str(tmp_path)) == code
    assert seen == [(["multiqc", "--force", "in/metrics"], str(tmp_path))]
    assert ("bad config" in capsys.readouterr().err) == (code == 1)
