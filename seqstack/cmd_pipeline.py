"""``seqstack render | submit | status | index | render-index``: the pipeline on an Argo cluster.

``render`` prints every Argo object of a run (WorkflowTemplate first, then one Workflow per chunk
of the sample sheet) without contacting anything. ``submit`` checks every input exists, then
sends the same objects to the Argo server (reach it with
``kubectl -n argo port-forward svc/<argo server> 2746:2746``), and ``--watch`` follows them.
Bad input (sheet, stack outputs, missing object) is one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.console import Group
from rich.live import Live
from rich.table import Table

from seqstack.run_options import output_format
from workflows.console import console, print_error
from workflows.contract import ContractError, StackOutputs
from workflows.errors import UserError
from workflows.k8s_names import name_problem, subdomain_problem
from workflows.settings import FailedLane, PipelineSettings, QcRules
from workflows.sheet import Sample, SampleSheetError, read_sample_sheet
from workflows.storage import (
    StorageError,
    missing_objects,
    normalise_uri,
    object_sizes,
    output_prefix,
    outside_bucket,
    read_object,
)

if TYPE_CHECKING:
    from workflows.argo_client import ArgoConnection

# Hera (behind workflows.render, workflows.pipeline and workflows.argo_client) takes about half a
# second to import; every seqstack command pays for this module's imports, so those are imported
# by the commands that use them.

StackOpt = Annotated[
    str | None, typer.Option("--stack", "-s", help="Pulumi stack (reads `pulumi stack output --json`).")
]
OutputsOpt = Annotated[
    Path | None,
    typer.Option(
        "--stack-outputs", help="Saved `pulumi stack output --json --show-secrets` (instead of --stack)."
    ),
]
SamplesOpt = Annotated[
    Path,
    typer.Option(
        "--samples", help="Sample sheet CSV: sample,fastq_1,fastq_2[,lane] (empty fastq_2: single-end)."
    ),
]
ReferenceOpt = Annotated[
    str, typer.Option("--reference", help="Reference FASTA URI; its index sits beside it.")
]
OutputOpt = Annotated[str, typer.Option("--output", help="Output prefix URI (one folder per sample).")]
ChunkOpt = Annotated[
    int | None, typer.Option("--chunk-size", help="Samples per Workflow object (default 100; local: 2000).")
]
QcOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--qc-fail-on", help="FastQC module whose FAIL fails a sample (repeat; default: the built-in rules)."
    ),
]
FailedLaneOpt = Annotated[
    FailedLane | None,
    typer.Option(
        "--failed-lane",
        help="What a lane that fails the QC gate does: fail-sample (default: none of its lanes is "
        "aligned) or drop (align the passing lanes).",
    ),
]
MarkdupOpt = Annotated[
    bool, typer.Option("--markdup", help="Mark duplicates (samtools fixmate, markdup); stats in the report.")
]
FormatOpt = Annotated[
    str, typer.Option("--output-format", help="bam, or cram (encoded against --reference, which must stay).")
]
ServerOpt = Annotated[
    str | None,
    typer.Option("--argo-server", envvar="ARGO_SERVER", help="Argo server URL, e.g. https://localhost:2746."),
]
TokenOpt = Annotated[
    str | None,
    typer.Option("--argo-token", envvar="ARGO_TOKEN", help="Bearer token (Argo client auth mode)."),
]
InsecureOpt = Annotated[
    bool,
    typer.Option("--insecure", help="Do not verify the server's TLS certificate (Argo's is self-signed)."),
]
NamespaceOpt = Annotated[
    str | None, typer.Option("--namespace", help="Workflow namespace (default: the stack's, biojobs).")
]
EndpointOpt = Annotated[
    str | None,
    typer.Option("--s3-endpoint-url", help="S3-compatible endpoint for input checks (MinIO, tests)."),
]
WatchOpt = Annotated[
    bool, typer.Option("--watch", help="Follow the workflows to the end with live progress.")
]
IntervalOpt = Annotated[float, typer.Option("--interval", help="Seconds between status polls when watching.")]


def _fail(message: str, code: int) -> typer.Exit:
    """A run that ended badly on the cluster (not bad input): one line, exit ``code``."""
    print_error(message)
    return typer.Exit(code)


def load_stack_outputs(stack: str | None, outputs_file: Path | None) -> StackOutputs:
    """Stack outputs from a saved file, or from the Pulumi CLI for a stack name."""
    if outputs_file is not None:
        return StackOutputs.load(outputs_file)
    if not stack:
        raise ContractError("give --stack NAME (needs the pulumi CLI) or --stack-outputs FILE")
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise ContractError(
            f"stack {stack}: the pulumi CLI is not on PATH; install it, or save the outputs elsewhere with "
            "`pulumi stack output --json --show-secrets > FILE` and pass --stack-outputs FILE"
        )
    project = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [pulumi, "stack", "output", "--json", "--show-secrets", "--stack", stack],
        capture_output=True,
        text=True,
        cwd=project if (project / "Pulumi.yaml").exists() else None,
        check=False,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ContractError(f"stack {stack}: `pulumi stack output` failed: {last}")
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise ContractError(f"stack {stack}: `pulumi stack output` did not print JSON ({exc.msg})") from None
    return StackOutputs.from_json(data, source=f"stack {stack}")


def _settings(
    stack: StackOutputs,
    chunk_size: int | None,
    qc_fail_on: list[str] | None,
    failed_lane: FailedLane | None = None,
    markdup: bool = False,
    fmt: str = "bam",
) -> PipelineSettings:
    if stack.cloud == "local":
        # The sizes `seqstack run` uses by default, so a rendered local run is the one it runs.
        from workflows.local.run import default_memory_gib

        settings = PipelineSettings.local(os.cpu_count() or 1, default_memory_gib())
    else:
        settings = PipelineSettings.cloud_defaults()
    if chunk_size is not None:
        settings = replace(settings, chunk_size=chunk_size)
    if qc_fail_on:
        settings = replace(settings, qc=QcRules(fail_on_fail=tuple(qc_fail_on)))
    if failed_lane is not None:
        settings = replace(settings, failed_lane=failed_lane.value)
    return replace(settings, markdup=markdup, output_format=output_format(fmt))


def _check_cram_reference(settings: PipelineSettings, ref: str) -> None:
    """A CRAM run with a local reference (a ``local`` stack) in a temporary folder is refused:
    the CRAMs could not be read once it is gone. Bucket references stay where they are."""
    if settings.output_format == "cram" and "://" not in ref:
        from workflows.cram import check_reference

        check_reference(Path(ref))


def _inputs(
    stack: StackOutputs, samples_file: Path, reference: str, output: str
) -> tuple[list[Sample], str, str]:
    samples = read_sample_sheet(samples_file, stack.scheme)
    for sample in samples:
        for lane in sample.lanes:
            for column, location in zip(("fastq_1", "fastq_2"), lane.files, strict=False):
                problem = outside_bucket(location, stack.data_bucket)
                if problem:
                    raise SampleSheetError(f"{samples_file}: row {lane.row}, column {column}: {problem}")
    ref = _reference(stack, reference)
    out = output_prefix(output, stack.scheme)
    problem = outside_bucket(out, stack.data_bucket)
    if problem:
        raise StorageError(f"--output: {problem}")
    return samples, ref, out


def _reference(stack: StackOutputs, reference: str) -> str:
    """The normalised ``--reference``, refused when the pods could not read it."""
    try:
        ref = normalise_uri(reference, stack.scheme)
    except StorageError as exc:
        raise StorageError(f"--reference: {exc}") from None
    problem = outside_bucket(ref, stack.data_bucket)
    if problem:
        raise StorageError(f"--reference: {problem}")
    return ref


def _connection(
    stack: StackOutputs, server: str | None, token: str | None, insecure: bool, ns: str | None
) -> Any:
    from workflows.argo_client import ArgoConnection

    if not server:
        hint = ""
        if stack.argo:
            hint = (
                f" (kubectl -n {stack.argo.namespace} port-forward svc/{stack.argo.server_service} "
                f"{stack.argo.server_port}:{stack.argo.server_port}, then --argo-server "
                f"https://localhost:{stack.argo.server_port})"
            )
        raise ContractError(f"no Argo server: pass --argo-server or set ARGO_SERVER{hint}")
    return ArgoConnection(
        host=server, token=token, namespace=_namespace(ns or stack.namespace), verify_ssl=not insecure
    )


def _namespace(value: str) -> str:
    """``--namespace``: a Kubernetes namespace name, else one line naming the option."""
    why = name_problem(value)
    if why:
        raise UserError(f"--namespace {value!r} {why}")
    return value


def check_inputs_exist(
    samples: list[Sample],
    reference: str,
    storage_options: dict[str, Any] | None,
    cloud: str,
) -> None:
    """Every FASTQ, the FASTA and one complete aligner index usable on ``cloud``, built from that
    FASTA, must exist; else one StorageError."""
    from workflows.pipeline import BWA_MEM2_INDEX, index_sets

    owners = {f: (s, lane) for s in samples for lane in s.lanes for f in lane.files}
    wanted = [*owners, reference]
    missing = missing_objects(wanted, storage_options)
    if missing:
        first = missing[0]
        where = f" (sample {owners[first][0].id}, row {owners[first][1].row})" if first in owners else ""
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise StorageError(f"input not found: {first}{where}{more}; nothing was submitted")
    for index in index_sets(cloud):
        if not missing_objects([reference + suffix for suffix in index], storage_options):
            problem = index_problem(reference, index, storage_options)
            if problem:
                raise StorageError(
                    f"reference {reference}: its index {reference}.ann does not match it ({problem}); "
                    f"run `seqstack index --reference {reference}` to build it again; nothing was submitted"
                )
            return
    raise StorageError(
        f"no aligner index beside {reference} (bwa-mem2: {' '.join(BWA_MEM2_INDEX)}); "
        f"run `seqstack index --reference {reference}` first; nothing was submitted"
    )


def index_problem(
    reference: str, index: tuple[str, ...], storage_options: dict[str, Any] | None
) -> str | None:
    """Why the index (files ``index`` beside ``reference``) was not built from it, or None: reads
    the ``.ann``, the FASTA's first 64 KiB and the objects' sizes, never the whole genome."""
    from workflows.fasta import FastaError, parse_ann, remote_problem, size_problem

    try:
        ann = parse_ann(read_object(reference + ".ann", storage_options).decode(errors="replace"))
    except FastaError as exc:
        return f"{reference}.ann: {exc}"
    # bwa's own files have sizes the .ann implies; bwa-mem2's have a layout of their own.
    checked = (".pac", ".bwt", ".sa") if ".sa" in index else ()
    sizes = object_sizes([reference, *(reference + s for s in checked)], storage_options)
    return size_problem(ann, {s: sizes[reference + s] for s in checked}) or remote_problem(
        read_object(reference, storage_options, limit=64 << 10), sizes[reference], ann
    )


def _storage_options(endpoint: str | None) -> dict[str, Any] | None:
    if endpoint is not None:
        try:
            host = urlsplit(endpoint).hostname if endpoint.startswith(("http://", "https://")) else None
        except ValueError:
            host = None
        if not host:
            raise UserError(f"--s3-endpoint-url {endpoint!r}: give an http:// or https:// URL with a host")
    return {"s3": {"client_kwargs": {"endpoint_url": endpoint}}} if endpoint else None


def render_cmd(
    samples: SamplesOpt,
    reference: ReferenceOpt,
    output: OutputOpt,
    stack: StackOpt = None,
    stack_outputs: OutputsOpt = None,
    chunk_size: ChunkOpt = None,
    qc_fail_on: QcOpt = None,
    failed_lane: FailedLaneOpt = None,
    markdup: MarkdupOpt = False,
    output_fmt: FormatOpt = "bam",
) -> None:
    """Print the run's Argo objects as YAML (`---` separated); contacts nothing."""
    from workflows.render import render, to_yaml

    outputs = load_stack_outputs(stack, stack_outputs)
    settings = _settings(outputs, chunk_size, qc_fail_on, failed_lane, markdup, output_fmt)
    sheet, ref, out = _inputs(outputs, samples, reference, output)
    _check_cram_reference(settings, ref)
    typer.echo(to_yaml(render(sheet, ref, out, outputs, settings)), nl=False)


def render_index_cmd(
    reference: ReferenceOpt, stack: StackOpt = None, stack_outputs: OutputsOpt = None
) -> None:
    """Print the Workflow that builds the bwa-mem2 index beside a reference FASTA."""
    from workflows.render import render_index, to_yaml

    outputs = load_stack_outputs(stack, stack_outputs)
    ref = _reference(outputs, reference)
    settings = _settings(outputs, None, None)
    typer.echo(to_yaml(render_index(ref, outputs, settings)), nl=False)


def submit_cmd(
    samples: SamplesOpt,
    reference: ReferenceOpt,
    output: OutputOpt,
    stack: StackOpt = None,
    stack_outputs: OutputsOpt = None,
    chunk_size: ChunkOpt = None,
    qc_fail_on: QcOpt = None,
    failed_lane: FailedLaneOpt = None,
    markdup: MarkdupOpt = False,
    output_fmt: FormatOpt = "bam",
    argo_server: ServerOpt = None,
    argo_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    namespace: NamespaceOpt = None,
    s3_endpoint_url: EndpointOpt = None,
    watch_: WatchOpt = False,
    interval: IntervalOpt = 10.0,
) -> None:
    """Check inputs exist, submit the run to Argo, print the workflow names (and --watch them)."""
    from workflows.render import render

    _check_interval(interval)
    outputs = load_stack_outputs(stack, stack_outputs)
    settings = _settings(outputs, chunk_size, qc_fail_on, failed_lane, markdup, output_fmt)
    sheet, ref, out = _inputs(outputs, samples, reference, output)
    _check_cram_reference(settings, ref)
    conn = _connection(outputs, argo_server, argo_token, insecure, namespace)
    check_inputs_exist(sheet, ref, _storage_options(s3_endpoint_url), outputs.cloud)
    objs = render(sheet, ref, out, outputs, settings)
    _send(conn, objs, watch_, interval)


def index_cmd(
    reference: ReferenceOpt,
    stack: StackOpt = None,
    stack_outputs: OutputsOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the Workflow instead of submitting it.")
    ] = False,
    argo_server: ServerOpt = None,
    argo_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    namespace: NamespaceOpt = None,
    s3_endpoint_url: EndpointOpt = None,
    watch_: WatchOpt = False,
    interval: IntervalOpt = 10.0,
) -> None:
    """Build the bwa-mem2 index beside a reference FASTA on the large pool (skipped if it exists)."""
    from workflows.pipeline import BWA_MEM2_INDEX
    from workflows.render import render_index, to_yaml

    _check_interval(interval)
    outputs = load_stack_outputs(stack, stack_outputs)
    ref = _reference(outputs, reference)
    objs = render_index(ref, outputs, _settings(outputs, None, None))
    if dry_run:
        typer.echo(to_yaml(objs), nl=False)
        return
    conn = _connection(outputs, argo_server, argo_token, insecure, namespace)
    options = _storage_options(s3_endpoint_url)
    if missing_objects([ref], options):
        raise StorageError(f"reference not found: {ref}")
    if not missing_objects([ref + s for s in BWA_MEM2_INDEX], options):
        problem = index_problem(ref, BWA_MEM2_INDEX, options)
        if problem is None:
            typer.echo(f"index already present beside {ref}; nothing to do")
            return
        typer.echo(f"the index beside {ref} does not match it ({problem}): building it again")
    _send(conn, objs, watch_, interval)


def status_cmd(
    name: Annotated[str, typer.Argument(help="Workflow name, as `seqstack submit` printed it.")],
    argo_server: ServerOpt = None,
    argo_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    namespace: Annotated[str, typer.Option("--namespace", help="Workflow namespace.")] = "biojobs",
) -> None:
    """Show a workflow's phase and every sample's state."""
    from workflows.argo_client import ArgoConnection, get_workflow

    if not argo_server:
        raise UserError("no Argo server: pass --argo-server or set ARGO_SERVER")
    why = subdomain_problem(name)
    if why:
        raise UserError(f"workflow name {name!r} {why}")
    conn = ArgoConnection(
        host=argo_server, token=argo_token, namespace=_namespace(namespace), verify_ssl=not insecure
    )
    wf = get_workflow(conn, name)
    console().print(_progress({name: wf}, detail=True))


def _check_interval(interval: float) -> None:
    """``--interval``: seconds between polls; NaN, infinity (never polls again) or negative are refused."""
    if not math.isfinite(interval) or interval < 0:
        raise UserError(f"--interval {interval}: give the seconds between status polls, e.g. 10")


def _send(conn: ArgoConnection, objs: list[dict[str, Any]], follow: bool, interval: float) -> None:
    """Submit, print the workflow names (one a line, for scripts), and follow them if asked."""
    from workflows.argo_client import submit

    names = submit(conn, objs)
    for name in names:
        typer.echo(name)
    if follow:
        _watch(conn, names, interval)


def _progress(workflows: dict[str, dict[str, Any]], detail: bool) -> Group:
    """A summary table (one row per workflow) and, when asked or small, one row per sample."""
    from workflows.argo_client import sample_states

    summary = Table(title="seqstack workflows")
    for col in ("workflow", "phase", "pending", "running", "aligned", "qc_failed", "failed"):
        summary.add_column(col)
    rows = []
    for name, wf in workflows.items():
        states = sample_states(wf)
        counts = Counter(s.state for s in states)
        phase = (wf.get("status") or {}).get("phase") or "Pending"
        summary.add_row(
            name,
            phase,
            *(str(counts.get(k, 0)) for k in ("pending", "running", "aligned", "qc_failed", "failed")),
        )
        rows.extend(states)
    parts: list[Any] = [summary]
    if detail or len(rows) <= 40:
        per_sample = Table(title="samples")
        for col in ("sample", "state", "step", "detail"):
            per_sample.add_column(col, overflow="fold")
        for s in rows:
            per_sample.add_row(s.sample, s.state, s.step, s.detail)
        parts.append(per_sample)
    return Group(*parts)


def _watch(conn: ArgoConnection, names: list[str], interval: float) -> None:
    from workflows.argo_client import sample_states, watch

    latest: dict[str, dict[str, Any]] = {}

    def update(wfs: dict[str, dict[str, Any]]) -> None:
        latest.update(wfs)
        live.update(_progress(wfs, detail=False))

    with Live(_progress({}, detail=False), console=console(), refresh_per_second=2) as live:
        phases = watch(conn, names, update, interval=interval)
    if any(p != "Succeeded" for p in phases.values()):
        raise _fail(f"not every workflow succeeded: {phases}", 1)
    # Argo's DAG phase is that of its leaf task (the report, which runs whatever the samples
    # did), so a Workflow whose sample failed still ends Succeeded: exit 1 as `seqstack run` does.
    failed = [s.sample for wf in latest.values() for s in sample_states(wf) if s.state == "failed"]
    if failed:
        raise _fail(f"{len(failed)} sample(s) failed: {', '.join(failed[:20])}", 1)
