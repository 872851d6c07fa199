"""The run's report: what seqstack decided for every sample, then MultiQC over the run's metrics.

This file is the program the ``report`` pod runs: the template carries it verbatim as its script
source (the report image has Python and MultiQC but not seqstack), so it uses the standard library
only (and MultiQC's own PyYAML when it runs MultiQC in this Python) and takes everything from
``$WORK``, the pod's work folder, and ``$REPORT_REFERENCE`` (the reference FASTA as the user named
it, shown in the report's header):

* inputs under ``in/metrics/`` (the run's metrics folder, possibly absent), outputs
  ``out/multiqc_report.html``, ``out/multiqc_report_data/`` and ``out/samples.json``;
* ``in/samples.json``: the workflow's ``samples`` parameter (JSON), so a sample that never reached
  the QC gate is listed too. Both shapes are read: ``{"sample", "lanes": "<JSON list of lane
  items>"}`` and the one-lane ``{"sample", "r1_bucket", "r1_key", "r2_bucket", "r2_key"}``.

``out/samples.json`` (a copy of ``in/samples.json``) goes to the metrics folder as
``seqstack.samples.<workflow>.json`` (no sample's file has that name: IDs have no dot, and no step
writes ``<ID>.samples.*``): the chunks of one run share that folder and their reports
take turns, so the last one lists the samples of every chunk, not only its own.

The seqstack section is MultiQC custom content (a table, one row per sample: lanes, QC verdict and
why, aligned or not, reads, mapped, duplicates when marked), read from ``<sample>.qc.json`` (the
gate's verdict, either shape), ``<sample>.flagstat.txt`` and ``<sample>.markdup.txt`` (``samtools
markdup -f``). MultiQC runs with a config that puts the section first, groups FastQC's
``<unit>_R1``/``<unit>_R2`` rows under ``<unit>``, names every row exactly by seqstack's sample or
unit ID, and never prints the pod's scratch paths. With no metrics at all (no sample got as far as
FastQC) the report is a plain page with the same table.
"""

from __future__ import annotations

import contextlib
import gc
import html
import json
import logging
import os
import re
import subprocess
import sys
import traceback
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NoReturn

#: What the local executor does in this step's interpreter before the step is ready
#: (:mod:`workflows.local.warm`): MultiQC's import, about 1.5 s of CPU, then :func:`warm_multiqc`,
#: all of it otherwise on the run's tail, after the last alignment. A pod ignores this.
PRELOAD = ("multiqc.__main__", "workflows.report_table:warm_multiqc")

#: The custom content's ID (MultiQC section anchor and ``multiqc_data`` file stem).
SECTION = "seqstack"
#: Per-chunk sample lists in the metrics folder (see the module docstring).
SAMPLES_PREFIX = "seqstack.samples."
#: The samples parameter's file, in ``in/`` and (this chunk's copy) in ``out/``.
SAMPLES_FILE = "samples.json"
TITLE = "seqstack run"
#: The MultiQC modules that read what the pipeline writes (its own section, FastQC's zips,
#: samtools' flagstat, stats and markdup files), in the report's order.
MODULES = ("custom_content", "fastqc", "samtools")
REPORT = "multiqc_report.html"


def _column(title: str, description: str, **more: Any) -> dict[str, Any]:
    return {"title": title, "description": description, "scale": False, **more}


_PERCENT = {"suffix": "%", "format": "{:,.2f}", "min": 0, "max": 100}

#: The table's columns, in order: MultiQC header config.
HEADERS: dict[str, dict[str, Any]] = {
    "lanes": _column("Lanes", "Lanes (FASTQ pairs or single-end files) in the sheet", format="{:,.0f}"),
    "qc": _column("QC", "The QC gate's verdict: pass, fail, or - when the gate did not run"),
    "aligned": _column("Aligned", "Whether the sample was aligned"),
    "status": _column("Status", "aligned, qc-failed (reported, not aligned) or failed"),
    "why": _column("Why", "Why the sample failed the QC gate or did not finish"),
    "reads": _column("Reads", "Primary reads in the sample's BAM (samtools flagstat)", format="{:,.0f}"),
    "mapped": _column("Mapped", "Primary reads mapped (samtools flagstat)", **_PERCENT),
    "duplicates": _column(
        "Duplicates",
        "Duplicates among the reads samtools markdup examined (as MultiQC's samtools module counts"
        " them); empty when duplicates were not marked",
        **_PERCENT,
    ),
}


def lanes_of(item: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One sample item's lanes: the ``lanes`` field (a JSON string or a list) or, in the one-lane
    shape, a single lane named ``1`` whose unit is the sample."""
    if "lanes" in item:
        lanes = item["lanes"]
        return list(json.loads(lanes) if isinstance(lanes, str) else lanes)
    return [{"lane": "1", "unit": item["sample"], "r2_key": item.get("r2_key", "")}]


def samples_of(parameter: str) -> dict[str, list[dict[str, Any]]]:
    """The ``samples`` parameter (either shape) as ``{sample: [lane, ...]}`` in its order."""
    return {str(item["sample"]): lanes_of(item) for item in json.loads(parameter or "[]")}


def all_samples(metrics: str, parameter: str) -> dict[str, list[dict[str, Any]]]:
    """Every sample of the run: earlier chunks' lists in the metrics folder (chunk order), then
    this chunk's parameter, then any sample the gate judged that neither names."""
    found: dict[str, list[dict[str, Any]]] = {}
    files = _files(metrics)
    names = sorted((n for n in files if n.startswith(SAMPLES_PREFIX) and n.endswith(".json")), key=_natural)
    for name in names:
        try:
            with open(os.path.join(metrics, name)) as f:
                found.update(samples_of(f.read()))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a list the report cannot read hides no sample the gate judged (below)
    found.update(samples_of(parameter))
    for name in files:
        if name.endswith(".qc.json"):
            found.setdefault(name[: -len(".qc.json")], [])
    return found


def _natural(name: str) -> list[Any]:
    """Sort key putting ``...-2of12-...`` before ``...-10of12-...``."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def _files(folder: str) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(folder) if e.is_file())
    except OSError:
        return []


def _read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def flagstat(path: str) -> dict[str, float]:
    """``reads`` (primary, or in total for a samtools without the primary line) and ``mapped``
    (their mapped percentage) from ``samtools flagstat``'s text output; empty when absent."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return {}
    counts: dict[str, int] = {}
    for line in text.splitlines():
        m = re.match(r"^(\d+) \+ (\d+) (.+?)(?: \(.*\))?$", line.strip())
        if m:
            counts.setdefault(m.group(3), int(m.group(1)) + int(m.group(2)))
    reads = counts.get("primary", counts.get("in total"))
    mapped = counts.get("primary mapped", counts.get("mapped"))
    if reads is None:
        return {}
    out: dict[str, float] = {"reads": reads}
    if mapped is not None and reads:
        out["mapped"] = round(100.0 * mapped / reads, 2)
    return out


def duplicate_rate(path: str) -> float | None:
    """Percent duplicates from ``samtools markdup -f``'s stats: DUPLICATE TOTAL over the reads it
    examined (PAIRED + SINGLE), the figure MultiQC's samtools module shows; ``None`` when absent."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    stats = {}
    for line in lines:
        key, _, value = line.partition(":")
        if value.strip().isdigit():
            stats[key.strip()] = int(value.strip())
    try:
        examined = stats["PAIRED"] + stats["SINGLE"]
        duplicates = stats["DUPLICATE TOTAL"]
    except KeyError:
        return None
    return round(100.0 * duplicates / examined, 2) if examined else 0.0


def _why(qc: Mapping[str, Any], lanes: int) -> list[str]:
    """The gate's reasons: per lane (prefixed with the lane when the sample has several) when the
    verdict has lanes, else its sample-level reasons."""
    per_lane = []
    for lane in qc.get("lanes") or []:
        for reason in lane.get("reasons") or []:
            per_lane.append(f"lane {lane.get('lane')}: {reason}" if lanes > 1 else str(reason))
    if per_lane:
        return per_lane
    return [str(r) for r in qc.get("reasons") or []]


def row(metrics: str, sample: str, lanes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One sample's row of the seqstack table."""
    qc = _read_json(os.path.join(metrics, f"{sample}.qc.json"))
    counts = flagstat(os.path.join(metrics, f"{sample}.flagstat.txt"))
    dups = duplicate_rate(os.path.join(metrics, f"{sample}.markdup.txt"))
    n_lanes = len(lanes) or len((qc or {}).get("lanes") or []) or 1
    out: dict[str, Any] = {"lanes": n_lanes}
    if qc is None:
        why = "no QC verdict: FastQC or the QC gate did not finish"
        out.update(qc="-", aligned="no", status="failed", why=why)
    elif qc.get("verdict") != "pass":
        why = "; ".join(_why(qc, n_lanes)) or "QC failed"
        out.update(qc="fail", aligned="no", status="qc-failed", why=why)
    elif not counts:
        out.update(qc="pass", aligned="no", status="failed", why="QC passed; the alignment did not finish")
    else:
        aligned = [str(a) for a in qc.get("aligned_lanes") or []]
        lanes_judged = [str(lane.get("lane")) for lane in qc.get("lanes") or []]
        dropped = [lane for lane in lanes_judged if lane not in aligned]
        why = ""
        if aligned and dropped:
            why = f"lanes dropped: {', '.join(dropped)} (" + "; ".join(_why(qc, n_lanes)) + ")"
        out.update(qc="pass", aligned="yes", status="aligned", why=why)
    out.update(counts)
    if dups is not None:
        out["duplicates"] = dups
    return out


def table(metrics: str, samples: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Every sample's row, in order."""
    return {sample: row(metrics, sample, lanes) for sample, lanes in samples.items()}


def custom_content(rows: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The seqstack section as MultiQC custom content (a table)."""
    failed = sum(r["status"] != "aligned" for r in rows.values())
    return {
        "id": SECTION,
        "section_name": "seqstack: samples",
        "description": (
            f"What seqstack decided for each of the run's {len(rows)} samples: the QC gate's verdict "
            f"and why, and whether the sample was aligned ({len(rows) - failed} aligned, {failed} not)."
            " Reads, mapped and duplicates are those of the sample's final BAM."
        ),
        "plot_type": "table",
        "pconfig": {
            "id": f"{SECTION}_table",
            "title": "seqstack: samples",
            "col1_header": "Sample",
            "sort_rows": False,
            "no_violin": True,
        },
        "headers": HEADERS,
        "data": {s: dict(r) for s, r in rows.items()},
    }


def config(reference: str = "") -> dict[str, Any]:
    """MultiQC's config: the seqstack section first, FastQC's R1/R2 grouped, exact names, no paths.

    Sample names: seqstack names every file ``<sample or unit>.<what>`` or ``<unit>_R1/_R2.fastq[.gz]``
    (IDs are ``[A-Za-z0-9][A-Za-z0-9_-]*``), so only those endings are cleaned, anchored at the end;
    MultiQC's own list would cut IDs such as ``A_qual2`` (at ``_qual``) or ``runs_A`` (``runs_``).
    """
    header = [{"Reference": reference}] if reference else []
    return {
        "title": TITLE,
        "report_header_info": header,
        "intro_text": (
            "The seqstack section says what the pipeline decided for each sample: the QC gate's"
            " verdict and why, and whether it was aligned. FastQC rows are grouped per sample"
            " (per lane when a sample has several): expand a row for its R1 and R2."
        ),
        "show_analysis_paths": False,
        "no_version_check": True,
        "module_order": list(MODULES),
        # Only the modules whose files the pipeline writes: otherwise MultiQC tests every file
        # against the search patterns of all its 181 modules, reading the start of the file for
        # those on contents (about 0.1 s of the report's one core over 32 samples).
        "run_modules": list(MODULES),
        "custom_content": {"order": [SECTION]},
        "report_section_order": {SECTION: {"order": 1000}},
        "fn_clean_exts": [
            {"type": "regex", "pattern": r"\.f(ast)?q(\.gz)?$"},
            {"type": "regex", "pattern": r"\.(flagstat|stats|markdup|idxstats)(\.txt)?$"},
            {"type": "regex", "pattern": r"_fastqc(\.zip)?$"},
        ],
        "fn_clean_trim": [],
        # FastQC's rows only: a sample whose ID ends in _R1 keeps its samtools row's name.
        "table_sample_merge": {
            "R1": [{"type": "regex", "pattern": "_R1$", "module": "fastqc"}],
            "R2": [{"type": "regex", "pattern": "_R2$", "module": "fastqc"}],
        },
        "fn_ignore_files": [f"{SAMPLES_PREFIX}*", "*.qc.json"],
        # MultiQC 1.35 looks for the literal text "^COMMAND:" and so never finds `samtools markdup
        # -f`'s stats (fixed upstream in MultiQC PR #3647): plain strings find them.
        "sp": {"samtools/markdup_txt": {"contents": ["COMMAND:", "samtools markdup"], "num_lines": 2}},
    }


def cl_config() -> str:
    """:func:`config` as MultiQC's ``--cl-config`` value: JSON on one line (YAML reads it)."""
    return json.dumps(config(os.environ.get("REPORT_REFERENCE", "")), separators=(",", ":"))


def plain_page(rows: Mapping[str, Mapping[str, Any]]) -> str:
    """The report when no sample produced metrics: the seqstack table as plain HTML."""
    cols = list(HEADERS)
    head = "".join(f"<th>{html.escape(HEADERS[c]['title'])}</th>" for c in cols)
    body = "".join(
        "<tr><td>"
        + html.escape(sample)
        + "</td>"
        + "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in cols)
        + "</tr>"
        for sample, r in rows.items()
    )
    return (
        "<html><body><h1>seqstack</h1><p>No sample produced metrics.</p>"
        f"<table><tr><th>Sample</th>{head}</tr>{body}</table></body></html>\n"
    )


def has_metrics(metrics: str) -> bool:
    """Whether any tool wrote metrics (seqstack's own files aside). Stops at the first one."""
    for _top, _dirs, files in os.walk(metrics):
        if any(not (f.startswith(SAMPLES_PREFIX) or f.endswith(".qc.json")) for f in files):
            return True
    return False


def main() -> int:
    """Write the section and config, run MultiQC (or the plain page), save this chunk's list."""
    work = os.environ["WORK"]
    try:
        with open(os.path.join(work, "in", SAMPLES_FILE)) as f:
            parameter = f.read()
    except FileNotFoundError:
        parameter = "[]"
    metrics = os.path.join(work, "in", "metrics")
    out = os.path.join(work, "out")
    own = os.path.join(work, "tmp", "seqstack")
    os.makedirs(out, exist_ok=True)
    os.makedirs(own, exist_ok=True)
    with open(os.path.join(out, SAMPLES_FILE), "w") as f:
        f.write(parameter)
    rows = table(metrics, all_samples(metrics, parameter))
    failed = [s for s, r in rows.items() if r["status"] != "aligned"]
    print(f"seqstack: {len(rows)} samples, {len(rows) - len(failed)} aligned", flush=True)
    if not has_metrics(metrics):
        print("seqstack: no sample produced metrics", file=sys.stderr)
        with open(os.path.join(out, REPORT), "w") as f:
            f.write(plain_page(rows))
        return 0
    with open(os.path.join(own, f"{SECTION}_mqc.json"), "w") as f:
        json.dump(custom_content(rows), f, indent=1)
    # Paths relative to $WORK: the command MultiQC records names no scratch folder. (Its data
    # folder still records each source's absolute path; the HTML shows none of them.) The config
    # goes on the command line (JSON, which MultiQC reads as YAML): a --config file is also
    # validated against MultiQC's whole JSON schema, about 0.35 s of the report's one core after
    # the last alignment, for a config that never changes (tests validate it once).
    args = ["--force", "--filename", REPORT, "--outdir", "out", "--cl-config", cl_config()]
    return run_multiqc([*args, "in/metrics", "tmp/seqstack"], cwd=work)


def run_multiqc(args: list[str], cwd: str) -> int:
    """``multiqc <args>`` in ``cwd``: in this process when this Python has MultiQC (no second
    interpreter start, and what :data:`PRELOAD` imported is used), else the ``multiqc`` command
    (the report image: its ``python3`` is the system one, MultiQC has a virtualenv of its own)."""
    try:
        from multiqc.__main__ import run_multiqc as multiqc_cli
    except ImportError:
        return subprocess.run(["multiqc", *args], cwd=cwd, check=False).returncode
    os.chdir(cwd)
    sys.argv = ["multiqc", *args]  # what the console script reads, plugins' options included
    try:
        with libyaml_safe_load(), one_shot_json_dump(), data_json_beside_html():
            multiqc_cli()
    except SystemExit as exc:  # how MultiQC ends: as the command would exit
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    return 0


def warm_multiqc() -> None:
    """Do now, before the report is ready, what every MultiQC run does the same way: compile the
    HTML template's files, read the installed packages' entry points, import what MultiQC imports
    on first use (typeguard). For the warm process of the local executor (``PRELOAD``), which
    calls it after MultiQC's import; a pod never does.

    Each MultiQC run copies its template's files to a new temporary folder, loads them into a new
    Jinja environment and compiles every one of them again (about 0.1 s of CPU for the default
    template's 23), and it lists the entry points of every installed package four times (about
    0.05 s); on the report's metrics of four samples the run then took 0.69-0.71 CPU-s instead of
    0.88-0.91 (this, before, 0.24-0.25), on the one core the run's tail leaves busy. From here on
    this process keeps what Jinja compiles, by the template's source and name and the options that
    shape the code (a file compiled with other options, or another text under the same name, is
    compiled anew), and each entry-point selection once (the packages do not change while it waits).
    A compiled template names the file it was first compiled from in a traceback: the installed
    template's, not the run's temporary copy. Anything missing (no MultiQC, a template that will not
    load) leaves that part to the run, as before.
    """
    import importlib_metadata
    import jinja2
    from multiqc import config

    select = importlib_metadata.entry_points
    selected: dict[tuple[tuple[str, Any], ...], Any] = {}

    def entry_points(**selection: Any) -> Any:
        key = tuple(sorted(selection.items()))
        if key not in selected:
            selected[key] = select(**selection)
        return selected[key]

    importlib_metadata.entry_points = entry_points

    compile_template = jinja2.Environment.compile
    compiled: dict[tuple[Any, ...], Any] = {}

    def compile_once(
        env: jinja2.Environment,
        source: Any,
        name: str | None = None,
        filename: str | None = None,
        raw: Any = False,
        defer_init: bool = False,
    ) -> Any:
        key = (_code_shape(env), source, name, defer_init)
        # Python source, a parsed template, or an option that cannot be a key (an unhashable
        # finalize): compiled as it was, not kept.
        if raw or not isinstance(source, str) or not _hashable(key):
            return compile_template(env, source, name, filename, raw, defer_init)
        if key not in compiled:
            compiled[key] = compile_template(env, source, name, filename, raw, defer_init)
        return compiled[key]

    jinja2.Environment.compile = compile_once  # type: ignore[assignment,method-assign]

    config.load_defaults()  # what a run does first: its entry points, read once here
    # MultiQC imports typeguard the first time it validates a plot's config, inside the run:
    # 0.05-0.07 s of CPU (with asyncio and unittest, which it imports), here instead.
    with contextlib.suppress(ImportError):
        import typeguard  # noqa: F401
    folders = []
    with contextlib.suppress(Exception):
        template = config.avail_templates[config.template].load()
        folders.append(template.template_dir)
        parent = getattr(template, "template_parent", None)
        if parent:
            folders.append(config.avail_templates[parent].load().template_dir)
    for folder in folders:
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder))
        for name in env.list_templates(extensions=["html", "svg"]):  # what the page includes
            with contextlib.suppress(Exception):  # the run says what is wrong with it, if it uses it
                env.get_template(name)


def _hashable(key: tuple[Any, ...]) -> bool:
    try:
        hash(key)
    except TypeError:
        return False
    return True


def _code_shape(env: Any) -> tuple[Any, ...]:
    """The options of a Jinja environment that shape the code it compiles a template to."""
    return (
        type(env),
        env.block_start_string,
        env.block_end_string,
        env.variable_start_string,
        env.variable_end_string,
        env.comment_start_string,
        env.comment_end_string,
        env.line_statement_prefix,
        env.line_comment_prefix,
        env.trim_blocks,
        env.lstrip_blocks,
        env.newline_sequence,
        env.keep_trailing_newline,
        tuple(sorted(env.extensions)),
        env.optimized,
        env.autoescape,
        env.finalize,
        env.is_async,
        env.code_generator_class,
    )


@contextlib.contextmanager
def libyaml_safe_load() -> Iterator[None]:
    """Within the block, ``yaml.safe_load`` parses with libyaml (PyYAML's ``CSafeLoader``).

    MultiQC reads its defaults (``config_defaults.yaml``, ``search_patterns.yaml``) with
    ``yaml.safe_load`` twice in every run, and PyYAML's pure-Python parser took 0.19-0.26 s of
    CPU for that, a sixth of a small run's report, on the one core the run's tail leaves busy.
    libyaml's parser feeds the same constructor and resolver (the same objects) and took
    0.02-0.05 s. Where libyaml refuses a text the pure parser is asked again, so what loads and
    what fails is PyYAML's own answer. Without libyaml (or PyYAML) nothing changes. In-process
    runs only: the ``multiqc`` command of the report image is left as it is.
    """
    try:
        import yaml

        loader = yaml.CSafeLoader
    except (ImportError, AttributeError):  # no PyYAML, or one built without libyaml
        yield
        return
    original = yaml.safe_load

    def safe_load(stream: Any) -> Any:
        text = stream.read() if hasattr(stream, "read") else stream
        try:
            return yaml.load(text, Loader=loader)
        except yaml.YAMLError:
            return original(text)

    yaml.safe_load = safe_load
    try:
        yield
    finally:
        yaml.safe_load = original


@contextlib.contextmanager
def one_shot_json_dump() -> Iterator[None]:
    """Within the block, ``json.dump`` without an indent encodes in one shot and writes once.

    The standard library's ``json.dump`` always encodes piece by piece in Python; only
    ``json.dumps`` without an indent reaches the C encoder, which writes the same text. MultiQC
    dumps its plots' data that way into the HTML (gzipped) and, key by key, to ``/dev/null`` to
    test that each exports. On 32 small samples the report took 1.86-2.19 CPU-s that way and
    1.61-1.81 in one shot, all on the one core the run's tail leaves busy. In one shot the
    whole text is held in memory once, a fraction of the data MultiQC already holds as Python
    objects. An indented dump (its ``multiqc_data.json``) has no C encoder and is left as it
    is, and so is the ``multiqc`` command of the report image: this acts on in-process runs only.
    """
    original = json.dump

    def dump(obj: Any, fp: Any, **kwargs: Any) -> None:
        if kwargs.get("indent") is not None:
            original(obj, fp, **kwargs)
        else:
            fp.write(json.dumps(obj, **kwargs))

    json.dump = dump
    try:
        yield
    finally:
        json.dump = original


#: What the report says when the forked writer of ``multiqc_data.json`` failed (its traceback
#: is above it, on the same stderr).
DATA_JSON_FAILED = "seqstack: MultiQC could not write multiqc_data.json (above)"


@contextlib.contextmanager
def data_json_beside_html() -> Iterator[None]:
    """Within the block, MultiQC writes ``multiqc_data.json`` in a forked child of this process
    while this process goes on to the HTML; the HTML's writer waits for the child before it
    returns, so the data folder is whole before MultiQC copies its log there and ends.

    That file is MultiQC's whole parsed data, indented, and the standard library encodes an
    indented dump in pure Python (:func:`one_shot_json_dump` cannot help it): on 32 small samples
    0.27-0.48 s of the one core the run's tail keeps busy, beside 0.20-0.32 s for the HTML, and
    it grows with the samples (60 MB on 256). Pages either process writes after the fork are
    copied, which costs back part of the gain: the report over 32 small samples took 1.89 ->
    1.77 s (medians of 6 alternating runs), over 256 12.3-13.2 -> 11.4-12.4 s, over 4 no change.
    The garbage collector is frozen across the fork (and off in the child), so neither collector
    writes to every object's header. The child gets the data as it is at the fork (the file is
    what MultiQC would have written; its dump's NaN -> None no longer reaches this process's
    copy, and the HTML's own dump does the same). Only that pure-Python dump runs in the child:
    polars (MultiQC's parquet) keeps threads a forked child would not have. The child flushes
    its log lines and leaves with ``os._exit``, so nothing of this process's is flushed or run
    twice. If the child fails, its traceback is on stderr and MultiQC ends with
    :data:`DATA_JSON_FAILED` and exit code 1 (its ``RunError``). Where no child can be forked
    (``fork`` refused, or no ``os.fork``) or MultiQC has no such functions, the dump runs here as
    before. In-process runs only.
    """
    try:
        from multiqc import report
        from multiqc.core import write_results
        from multiqc.core.exceptions import RunError
    except ImportError:
        yield
        return
    dump = getattr(report, "multiqc_dump_json", None)
    html_writer = getattr(write_results, "_write_html_report", None)
    if dump is None or html_writer is None or not hasattr(os, "fork"):
        yield
        return
    children: list[int] = []

    def joined() -> bool:
        ok = True
        while children:
            _, status = os.waitpid(children.pop(), 0)
            ok = ok and os.waitstatus_to_exitcode(status) == 0
            gc.unfreeze()
        return ok

    def forked_dump(data_dir: Any) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        gc.freeze()
        try:
            pid = os.fork()
        except OSError:  # e.g. EAGAIN at the process limit: dump here, as MultiQC would
            gc.unfreeze()
            dump(data_dir)
            return
        if pid:
            children.append(pid)
            return
        gc.disable()
        code = 1
        try:
            dump(data_dir)
            code = 0
        except BaseException:  # the child's only way out is os._exit, whatever happened
            traceback.print_exc()
        finally:
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def html_then_join(*args: Any, **kwargs: Any) -> Any:
        try:
            written = html_writer(*args, **kwargs)
        except BaseException:
            joined()
            raise
        if not joined():
            raise RunError(DATA_JSON_FAILED)  # MultiQC logs it and exits 1
        return written

    report.multiqc_dump_json = forked_dump
    write_results._write_html_report = html_then_join
    try:
        yield
    finally:
        report.multiqc_dump_json = dump
        write_results._write_html_report = html_writer
        joined()


def exit_now(code: int) -> NoReturn:
    """End the process with ``code`` once the log handlers, stdout and stderr are flushed, skipping
    the interpreter's teardown: after MultiQC ran in this process, freeing its objects one by one
    took 0.55-0.62 s of the run's last busy core, after the report was written. Nothing is left
    for the teardown to do: MultiQC removes its temporary folder itself (its run's ``finally``)
    and the data JSON's child has been joined."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
