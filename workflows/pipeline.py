"""The pipeline, defined once with Hera: a versioned WorkflowTemplate and the Workflows that run it.

Shape (see /work/workflow-design.md):

* ``main`` DAG: task ``samples`` fans out over ``{{workflow.parameters.samples}}`` (a JSON list)
  into the per-sample DAG ``sample``; task ``report`` (MultiQC) runs once every sample finished,
  whatever its outcome. ``failFast: false``: one sample's failure never stops the others.
* ``sample`` DAG: ``fastqc-r1`` || ``fastqc-r2`` -> ``qc-gate`` -> ``align`` (only when the
  gate's verdict is ``pass``; a failed sample is reported, and the run still succeeds).
* Data moves as Argo artifacts (no copies inside the containers), keyless through the cluster's
  artifact repository credentials (IRSA / Pod Identity, Workload Identity). Argo's wait container
  uploads whatever exists at an output path even after a failed step, so the scripts put a file
  at its output path only once it is complete. Local runs use the ``seqstack-local`` artifact
  plugin (the local executor).

The template only holds structure and sizes; everything that changes per run (samples, output
prefix, reference, QC rules) is a workflow parameter. Workflows reference the template by name,
so what ``pulumi up`` installed is what runs, and each Workflow object stays small.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from hera.workflows import (
    DAG,
    Artifact,
    Container,
    EmptyDirVolume,
    Env,
    GCSArtifact,
    NoneArchiveStrategy,
    Parameter,
    PluginArtifact,
    RetryStrategy,
    S3Artifact,
    Script,
    Task,
    Workflow,
    WorkflowTemplate,
)
from hera.workflows import models as m

from workflows.contract import POOL_LABEL, StackOutputs
from workflows.identity import POD_FS_GROUP, POD_GID, POD_UID
from workflows.settings import PipelineSettings, Resources
from workflows.sheet import Sample
from workflows.storage import split_uri

#: Name of the artifact driver plugin the local executor implements.
LOCAL_ARTIFACT_PLUGIN = "seqstack-local"

#: Where every step works (one emptyDir per pod; the local executor maps it to a task dir).
WORK = "/work"

#: Index files bwa-mem2 and bwa put beside the FASTA.
BWA_MEM2_INDEX = (".0123", ".amb", ".ann", ".bwt.2bit.64", ".pac")
BWA_INDEX = (".amb", ".ann", ".bwt", ".pac", ".sa")


def index_sets(cloud: str) -> tuple[tuple[str, ...], ...]:
    """The aligner index sets a run on ``cloud`` can use, preferred first.

    A cloud reads only bwa-mem2's set (what ``seqstack index`` builds there): Argo's GCS driver
    lists an input key by plain prefix and, when no object has exactly that key, downloads every
    object starting with it (argo-workflows v4.0.6 ``workflow/artifacts/gcs/gcs.go``,
    ``listByPrefix``), so an absent classic ``.bwt`` would pull bwa-mem2's ``.bwt.2bit.64``, the
    largest index file, into every align pod a second time. Within bwa-mem2's set no name is a
    prefix of another. Local runs (exact paths) also accept classic bwa's set.
    """
    return (BWA_MEM2_INDEX,) if cloud != "local" else (BWA_MEM2_INDEX, BWA_INDEX)


#: Retry only what the platform did to us: Argo reports a spot preemption either as Error
#: ("pod deleted") or as Failed with the kubelet's shutdown/eviction message. A tool's non-zero
#: exit is Failed with "Error (exit code N)" and is not retried (it would fail the same way).
RETRY_EXPRESSION = (
    "lastRetry.status == 'Error' || (lastRetry.status == 'Failed' && lastRetry.message matches "
    "'(?i)(imminent node shutdown|node is shutting down|evict|preempt)')"
)

#: Labels on every rendered object.
LABEL_PART_OF = "app.kubernetes.io/part-of"
LABEL_VERSION = "seqstack.io/pipeline-version"
LABEL_RUN = "seqstack.io/run"
LABEL_CHUNK = "seqstack.io/chunk"

OUT = "{{workflow.parameters.output-prefix}}"
OUT_BUCKET = "{{workflow.parameters.output-bucket}}"
#: Where a run's small per-sample metrics go (the report's only input). Scoped by run, so a later
#: run into the same output prefix never reports an earlier run's samples. Flat: every file name
#: starts with its sample's ID, and MultiQC skips folders named like its own outputs
#: (``multiqc_data``, ``not_aligned``...: valid sample IDs), so there are no per-sample folders.
METRICS = ".metrics/{{workflow.parameters.run-id}}"
REF = "{{workflow.parameters.reference-key}}"
REF_BUCKET = "{{workflow.parameters.reference-bucket}}"
SAMPLE = "{{inputs.parameters.sample}}"
#: Every sample's outputs live under ``<prefix>/samples/<sample>/``, run-level ones (the report)
#: at the top: two namespaces, so no sample ID (``multiqc_data`` is a valid one) can overwrite a
#: run-level output or be overwritten by it. The local output folder has the same layout.
SAMPLES_PREFIX = "samples"
SAMPLE_DIR = f"{SAMPLES_PREFIX}/{SAMPLE}"

_PRELUDE = """set -euo pipefail
mkdir -p "$WORK/in" "$WORK/out" "$WORK/tmp" "$WORK/home"
export TMPDIR="$WORK/tmp" HOME="$WORK/home" MPLCONFIGDIR="$WORK/tmp"
"""


def _artifact(stack: StackOutputs, name: str, path: str, bucket: str, key: str, **kw: Any) -> Artifact:
    """An artifact at bucket/key in the stack's storage (keys may hold ``{{...}}``)."""
    if stack.cloud == "aws":
        return S3Artifact(
            name=name,
            path=path,
            bucket=bucket,
            key=key,
            endpoint=f"s3.{stack.region}.amazonaws.com",
            region=stack.region,
            use_sdk_creds=True,
            archive=NoneArchiveStrategy(),
            **kw,
        )
    if stack.cloud == "gcp":
        return GCSArtifact(name=name, path=path, bucket=bucket, key=key, archive=NoneArchiveStrategy(), **kw)
    return PluginArtifact(
        name=name, path=path, plugin_name=LOCAL_ARTIFACT_PLUGIN, key=key, archive=NoneArchiveStrategy(), **kw
    )


def _output(stack: StackOutputs, name: str, path: str, *key_parts: str, **kw: Any) -> Artifact:
    """An output artifact under the run's output prefix."""
    return _artifact(stack, name, path, OUT_BUCKET, "/".join((OUT, *key_parts)), **kw)


def _retry(settings: PipelineSettings, deadline: int) -> RetryStrategy:
    r = settings.retry
    return RetryStrategy(
        limit=r.limit,
        retry_policy="Always",
        expression=RETRY_EXPRESSION,
        backoff=m.Backoff(
            duration=r.backoff,
            factor=m.IntOrString(r.factor),
            cap=r.cap,
            max_duration=f"{r.max_duration_seconds(deadline)}s",
        ),
    )


def _pod(
    stack: StackOutputs, settings: PipelineSettings, pool: str, size: Resources, deadline: int
) -> dict[str, Any]:
    """What every container step shares: placement, sizes, retries, security, the work volume."""
    placement = stack.node_pools[pool]
    return {
        "node_selector": dict(placement.node_selector),
        "tolerations": [
            m.Toleration(key=t.key, operator=t.operator, value=t.value, effect=t.effect)
            for t in placement.tolerations
        ],
        "resources": _resources(size),
        "retry_strategy": _retry(settings, deadline),
        "active_deadline_seconds": deadline,
        "security_context": m.SecurityContext(
            allow_privilege_escalation=False,
            read_only_root_filesystem=True,
            run_as_non_root=True,
            run_as_user=POD_UID,
            capabilities=m.Capabilities(drop=["ALL"]),
        ),
        "env": [Env(name="WORK", value=WORK)],
        "volumes": [
            EmptyDirVolume(name="work", mount_path=WORK, size_limit=m.Quantity(f"{size.ephemeral_gib}Gi"))
        ],
        "labels": {LABEL_PART_OF: "seqstack", POOL_LABEL: pool},
    }


def _resources(size: Resources) -> m.ResourceRequirements:
    k8s = size.to_k8s()
    return m.ResourceRequirements(
        requests={k: m.Quantity(v) for k, v in k8s["requests"].items()},
        limits={k: m.Quantity(v) for k, v in k8s["limits"].items()},
    )


def _workflow_pod_defaults(stack: StackOutputs) -> dict[str, Any]:
    """Workflow-level settings: the stack's service account and non-root pods (Pod Security
    restricted).

    No ``podGC`` or ``ttlStrategy``: how long pods and finished Workflows stay is the controller's
    ``workflowDefaults`` (``components.argo_workflows.WorkflowRetention``), which Argo applies
    only where the Workflow and its template set nothing (argo-workflows v4.0.6
    ``workflow/util/merge.go``, ``JoinWorkflowSpec``), so that is the one place it is decided.
    """
    return {
        "service_account_name": stack.workflow_service_account,
        "security_context": m.PodSecurityContext(
            run_as_non_root=True,
            # One uid/gid for the whole pod, the same as Argo's init/wait containers (the Helm
            # values read workflows.identity too): they create the input folders with mode 0700.
            run_as_user=POD_UID,
            run_as_group=POD_GID,
            fs_group=POD_FS_GROUP,
            seccomp_profile=m.SeccompProfile(type="RuntimeDefault"),
        ),
    }


def _bash(script: str) -> dict[str, Any]:
    return {"command": ["bash", "-c"], "args": [_PRELUDE + script]}


def _fastqc_script(settings: PipelineSettings) -> str:
    heap = settings.fastqc_heap_mib
    threads = settings.fastqc.threads
    per_thread = min(10000, heap // threads)  # FastQC 0.12's --memory is per thread
    return f"""name="{SAMPLE}_{{{{inputs.parameters.read}}}}"
# FastQC picks gzip by file name: name the input by its content.
magic="$(head -c2 "$WORK/in/reads" | od -An -tx1 | tr -d ' \\n')"
if [ "$magic" = "1f8b" ]; then ext=fastq.gz; else ext=fastq; fi
ln -sf "$WORK/in/reads" "$WORK/in/$name.$ext"
# FastQC 0.12 takes --memory (MB per thread); 0.11.9 does not: give its JVM the whole heap directly.
# (No `fastqc --help | grep -q`: under pipefail grep's early exit can SIGPIPE fastqc.)
usage="$(fastqc --help 2>&1 || true)"
if [[ "$usage" == *--memory* ]]; then
  mem=(--memory {per_thread})
else
  mem=()
  export _JAVA_OPTIONS="-Xmx{heap}m -Djava.io.tmpdir=$WORK/tmp"
fi
# ${{mem[@]+...}}: an empty array under `set -u` is an error in bash < 4.4 (macOS's /bin/bash).
fastqc --quiet --threads {threads} ${{mem[@]+"${{mem[@]}}"}} \\
  --dir "$WORK/tmp" --outdir "$WORK/out" "$WORK/in/$name.$ext"
mv "$WORK/out/${{name}}_fastqc.html" "$WORK/out/fastqc.html"
mv "$WORK/out/${{name}}_fastqc.zip" "$WORK/out/fastqc.zip"
"""


QC_GATE_SOURCE = """import json
import os
import zipfile

work = os.environ["WORK"]
sample = "{{inputs.parameters.sample}}"
rules = json.loads(os.environ["QC_RULES"])
modules = {}
reasons = []
for read in ("R1", "R2"):
    with zipfile.ZipFile(os.path.join(work, "in", read + "_fastqc.zip")) as archive:
        summary = next(n for n in archive.namelist() if n.endswith("/summary.txt"))
        lines = archive.read(summary).decode().splitlines()
    results = {}
    for line in lines:
        status, module = line.split("\\t")[:2]
        results[module] = status
    modules[read] = results
    # A rule's module FastQC left out (it skips some for reads of length 0) fails: it was not checked.
    for module in dict.fromkeys(rules.get("fail_on_fail", []) + rules.get("fail_on_warn", [])):
        if module not in results:
            reasons.append(f"{read}: {module} missing from FastQC's report")
    for module in rules.get("fail_on_fail", []):
        if results.get(module) == "FAIL":
            reasons.append(f"{read}: {module} FAIL")
    for module in rules.get("fail_on_warn", []):
        if results.get(module) == "WARN":
            reasons.append(f"{read}: {module} WARN")
verdict = "fail" if reasons else "pass"
os.makedirs(os.path.join(work, "out"), exist_ok=True)
report = {"sample": sample, "verdict": verdict, "reasons": reasons, "rules": rules, "modules": modules}
with open(os.path.join(work, "out", sample + ".qc.json"), "w") as f:
    json.dump(report, f, indent=2, sort_keys=True)
with open(os.path.join(work, "out", "verdict"), "w") as f:
    f.write(verdict)
print(f"seqstack: {sample} QC {verdict}" + (": " + "; ".join(reasons) if reasons else ""))
"""


def _align_script(settings: PipelineSettings) -> str:
    t = settings.align.threads
    per_thread = settings.sort_mib_per_thread
    return f"""s="{SAMPLE}"
ref="$WORK/ref/ref.fa"
# bwa-mem2 when it and its index are there (the cloud image), else bwa (a laptop with Debian's bwa).
if command -v bwa-mem2 >/dev/null 2>&1 && [ -s "$ref.bwt.2bit.64" ] && [ -s "$ref.0123" ]; then
  aligner=bwa-mem2
elif command -v bwa >/dev/null 2>&1 && [ -s "$ref.bwt" ] && [ -s "$ref.sa" ]; then
  aligner=bwa
else
  echo "seqstack: no aligner index beside the reference: run 'seqstack index' first" >&2
  exit 3
fi
echo "seqstack: aligner=$aligner" >&2
# Argo's wait container uploads output artifacts even when the step failed (argo-workflows
# issues 3761, 14986): every result is written under tmp/ and moved into out/ only once all of
# them are complete, so a failed attempt never publishes a partial BAM or metrics file.
part="$WORK/tmp/$s"
# Stream SAM straight into sort (no SAM on disk); {t} x {per_thread} MiB + the aligner fits the limit.
"$aligner" mem -t {t} -R "@RG\\tID:$s\\tSM:$s\\tPL:ILLUMINA" "$ref" "$WORK/in/R1" "$WORK/in/R2" \\
  | samtools sort -@ {t} -m {per_thread}M -T "$part.sort" -O bam -o "$part.bam" -
# index, flagstat and stats each only read the finished BAM: run them side by side, and fail
# the step if any of them fails (`wait PID` returns that job's status; set -e acts on it).
samtools index -@ {t} "$part.bam" "$part.bam.bai" & index_pid=$!
samtools flagstat -@ {t} "$part.bam" > "$part.flagstat.txt" & flagstat_pid=$!
samtools stats -@ {t} "$part.bam" > "$part.stats.txt" & stats_pid=$!
wait "$index_pid"
wait "$flagstat_pid"
wait "$stats_pid"
mv "$part.bam" "$part.bam.bai" "$part.flagstat.txt" "$part.stats.txt" "$WORK/out/"
"""


_REPORT_SCRIPT = """mkdir -p "$WORK/in/metrics"
# `find -print -quit`, not `find | grep -q .`: with thousands of files grep's early exit would
# SIGPIPE find and, under pipefail, silently take the "no metrics" branch.
if [ -n "$(find "$WORK/in/metrics" -type f -print -quit)" ]; then
  multiqc --force --title "seqstack run" --filename multiqc_report.html \\
    --outdir "$WORK/out" "$WORK/in/metrics"
else
  echo "seqstack: no sample produced metrics" >&2
  printf '<html><body><h1>seqstack</h1><p>No sample produced metrics.</p></body></html>\\n' \\
    > "$WORK/out/multiqc_report.html"
fi
"""


_INDEX_SCRIPT = """ref="$WORK/out/ref.fa"  # index prefix: the files become <fasta>.<suffix> beside the FASTA
if command -v bwa-mem2 >/dev/null 2>&1; then
  echo "seqstack: indexer=bwa-mem2" >&2
  bwa-mem2 index -p "$ref" "$WORK/in/ref.fa"
else
  echo "seqstack: indexer=bwa" >&2
  bwa index -p "$ref" "$WORK/in/ref.fa"
fi
"""


def _reference_inputs(stack: StackOutputs) -> list[Artifact]:
    """The FASTA and the index sets usable here (whichever exists; the align script picks)."""
    arts = [_artifact(stack, "ref-fa", f"{WORK}/ref/ref.fa", REF_BUCKET, REF)]
    for suffix in dict.fromkeys(s for index in index_sets(stack.cloud) for s in index):
        name = "ref" + suffix.replace(".", "-")
        arts.append(
            _artifact(stack, name, f"{WORK}/ref/ref.fa{suffix}", REF_BUCKET, REF + suffix, optional=True)
        )
    return arts


def workflow_parameter_names() -> tuple[str, ...]:
    """The parameters every Workflow passes to the template."""
    return (
        "samples",
        "run-id",
        "output-bucket",
        "output-prefix",
        "reference-bucket",
        "reference-key",
        "qc-rules",
    )


def build_template(stack: StackOutputs, settings: PipelineSettings) -> WorkflowTemplate:
    """The pipeline as a WorkflowTemplate named after its version (installed by ``pulumi up``)."""
    s = settings
    labels = {LABEL_PART_OF: "seqstack", LABEL_VERSION: s.version}
    with WorkflowTemplate(
        name=s.template_name(),
        namespace=stack.namespace,
        labels=labels,
        annotations={
            "workflows.argoproj.io/description": (
                f"seqstack {s.version}: FastQC, QC gate, bwa-mem2 + samtools per sample, MultiQC report"
            )
        },
        entrypoint="main",
        arguments=[
            Parameter(
                name="samples", description="JSON list of {sample, r1_bucket, r1_key, r2_bucket, r2_key}"
            ),
            Parameter(name="run-id", description="ID shared by every chunk of one run (scopes its metrics)"),
            Parameter(
                name="output-bucket", value="", description="Bucket of the output prefix (empty locally)"
            ),
            Parameter(name="output-prefix", description="Key prefix (or local directory) for outputs"),
            Parameter(name="reference-bucket", value="", description="Bucket of the reference FASTA"),
            Parameter(name="reference-key", description="Key (or local path) of the reference FASTA"),
            Parameter(name="qc-rules", value=s.qc.to_json(), description="QC gate rules (JSON)"),
        ],
        **_workflow_pod_defaults(stack),
    ) as wt:
        fastqc = Container(
            name="fastqc",
            image=stack.images["fastqc"],
            inputs=[
                Parameter(name="sample"),
                Parameter(name="read"),
                Parameter(name="bucket"),
                Parameter(name="key"),
                _artifact(
                    stack,
                    "reads",
                    f"{WORK}/in/reads",
                    "{{inputs.parameters.bucket}}",
                    "{{inputs.parameters.key}}",
                ),
            ],
            outputs=[
                _output(
                    stack,
                    "html",
                    f"{WORK}/out/fastqc.html",
                    SAMPLE_DIR,
                    "fastqc",
                    f"{SAMPLE}_{{{{inputs.parameters.read}}}}_fastqc.html",
                ),
                _output(
                    stack,
                    "zip",
                    f"{WORK}/out/fastqc.zip",
                    SAMPLE_DIR,
                    "fastqc",
                    f"{SAMPLE}_{{{{inputs.parameters.read}}}}_fastqc.zip",
                ),
                _output(
                    stack,
                    "metrics-zip",
                    f"{WORK}/out/fastqc.zip",
                    METRICS,
                    f"{SAMPLE}_{{{{inputs.parameters.read}}}}_fastqc.zip",
                ),
            ],
            **_bash(_fastqc_script(s)),
            **_pod(stack, s, "small", s.fastqc, s.step_deadline_seconds),
        )
        gate_pod = _pod(stack, s, "small", s.qc_gate, s.step_deadline_seconds)
        gate_pod["env"] = [*gate_pod["env"], Env(name="QC_RULES", value="{{workflow.parameters.qc-rules}}")]
        qc_gate = Script(
            name="qc-gate",
            image=stack.images["report"],
            command=["python3"],
            source=QC_GATE_SOURCE,
            inputs=[
                Parameter(name="sample"),
                *(
                    _artifact(
                        stack,
                        f"{read.lower()}-zip",
                        f"{WORK}/in/{read}_fastqc.zip",
                        OUT_BUCKET,
                        f"{OUT}/{SAMPLE_DIR}/fastqc/{SAMPLE}_{read}_fastqc.zip",
                    )
                    for read in ("R1", "R2")
                ),
            ],
            outputs=[
                Parameter(name="verdict", value_from=m.ValueFrom(path=f"{WORK}/out/verdict")),
                _output(stack, "qc-json", f"{WORK}/out/{SAMPLE}.qc.json", SAMPLE_DIR, f"{SAMPLE}.qc.json"),
            ],
            **gate_pod,
        )
        align = Container(
            name="align",
            image=stack.images["align"],
            inputs=[
                Parameter(name="sample"),
                *(Parameter(name=n) for n in ("r1_bucket", "r1_key", "r2_bucket", "r2_key")),
                _artifact(
                    stack,
                    "r1",
                    f"{WORK}/in/R1",
                    "{{inputs.parameters.r1_bucket}}",
                    "{{inputs.parameters.r1_key}}",
                ),
                _artifact(
                    stack,
                    "r2",
                    f"{WORK}/in/R2",
                    "{{inputs.parameters.r2_bucket}}",
                    "{{inputs.parameters.r2_key}}",
                ),
                *_reference_inputs(stack),
            ],
            outputs=[
                _output(stack, "bam", f"{WORK}/out/{SAMPLE}.bam", SAMPLE_DIR, f"{SAMPLE}.bam"),
                _output(stack, "bai", f"{WORK}/out/{SAMPLE}.bam.bai", SAMPLE_DIR, f"{SAMPLE}.bam.bai"),
                _output(
                    stack,
                    "flagstat",
                    f"{WORK}/out/{SAMPLE}.flagstat.txt",
                    SAMPLE_DIR,
                    f"{SAMPLE}.flagstat.txt",
                ),
                _output(stack, "stats", f"{WORK}/out/{SAMPLE}.stats.txt", SAMPLE_DIR, f"{SAMPLE}.stats.txt"),
                _output(
                    stack,
                    "metrics-flagstat",
                    f"{WORK}/out/{SAMPLE}.flagstat.txt",
                    METRICS,
                    f"{SAMPLE}.flagstat.txt",
                ),
                _output(
                    stack,
                    "metrics-stats",
                    f"{WORK}/out/{SAMPLE}.stats.txt",
                    METRICS,
                    f"{SAMPLE}.stats.txt",
                ),
            ],
            **_bash(_align_script(s)),
            **_pod(stack, s, "large", s.align, s.align_deadline_seconds),
        )
        report = Container(
            name="report",
            image=stack.images["report"],
            inputs=[
                _artifact(
                    stack, "metrics", f"{WORK}/in/metrics", OUT_BUCKET, f"{OUT}/{METRICS}", optional=True
                ),
            ],
            outputs=[
                _output(stack, "html", f"{WORK}/out/multiqc_report.html", "multiqc_report.html"),
                _output(stack, "data", f"{WORK}/out/multiqc_report_data", "multiqc_data", optional=True),
            ],
            # Chunks of one run share the report key: one report at a time, the last sees all samples.
            synchronization=m.Synchronization(mutexes=[m.Mutex(name="seqstack-report")]),
            **_bash(_REPORT_SCRIPT),
            **_pod(stack, s, "small", s.report, s.step_deadline_seconds),
        )

        sample_params = ("sample", "r1_bucket", "r1_key", "r2_bucket", "r2_key")
        with DAG(name="sample", inputs=[Parameter(name=n) for n in sample_params]):

            def arg(n: str) -> str:
                return f"{{{{inputs.parameters.{n}}}}}"

            for read in ("R1", "R2"):
                Task(
                    name=f"fastqc-{read.lower()}",
                    template=fastqc,
                    arguments={
                        "sample": arg("sample"),
                        "read": read,
                        "bucket": arg(f"{read.lower()}_bucket"),
                        "key": arg(f"{read.lower()}_key"),
                    },
                )
            Task(
                name="qc-gate",
                template=qc_gate,
                arguments={"sample": arg("sample")},
                depends="fastqc-r1 && fastqc-r2",
            )
            Task(
                name="align",
                template=align,
                arguments={n: arg(n) for n in sample_params},
                depends="qc-gate",
                when="'{{tasks.qc-gate.outputs.parameters.verdict}}' == 'pass'",
            )

        with DAG(name="main", fail_fast=False):
            Task(
                name="samples",
                template="sample",
                with_param="{{workflow.parameters.samples}}",
                arguments={n: f"{{{{item.{n}}}}}" for n in sample_params},
            )
            Task(
                name="report",
                template=report,
                depends="samples.Succeeded || samples.Failed || samples.Errored",
            )
    return wt


def sample_items(samples: Sequence[Sample]) -> list[dict[str, str]]:
    """The per-sample items of the fan-out, as plain data (fast for 10,000 samples)."""
    items = []
    for sample in samples:
        b1, k1 = split_uri(sample.fastq_1)
        b2, k2 = split_uri(sample.fastq_2)
        items.append({"sample": sample.id, "r1_bucket": b1, "r1_key": k1, "r2_bucket": b2, "r2_key": k2})
    return items


def run_id(samples: Sequence[Sample], reference: str, output: str) -> str:
    """A short stable ID for a run (same inputs -> same ID), used in names and labels."""
    h = hashlib.sha256(
        json.dumps([reference, output, [(s.id, s.fastq_1, s.fastq_2) for s in samples]]).encode()
    )
    return h.hexdigest()[:10]


def chunks(samples: Sequence[Sample], size: int) -> list[Sequence[Sample]]:
    """Split the sheet into Workflow-sized chunks, in sheet order."""
    return [samples[i : i + size] for i in range(0, len(samples), size)]


def build_workflows(
    samples: Sequence[Sample], reference: str, output: str, stack: StackOutputs, settings: PipelineSettings
) -> list[Workflow]:
    """One Workflow per chunk of samples, each referencing :func:`build_template`'s template."""
    ref_bucket, ref_key = split_uri(reference)
    out_bucket, out_prefix = split_uri(output)
    run = run_id(samples, reference, output)
    parts = chunks(samples, settings.chunk_size)
    workflows = []
    for i, part in enumerate(parts, start=1):
        workflows.append(
            Workflow(
                generate_name=f"seqstack-{run}-{i}of{len(parts)}-",
                namespace=stack.namespace,
                labels={
                    LABEL_PART_OF: "seqstack",
                    LABEL_VERSION: settings.version,
                    LABEL_RUN: run,
                    LABEL_CHUNK: f"{i}-of-{len(parts)}",
                },
                annotations={"seqstack.io/samples": str(len(part)), "seqstack.io/output": output},
                workflow_template_ref=m.WorkflowTemplateRef(name=settings.template_name()),
                arguments=[
                    Parameter(name="samples", value=json.dumps(sample_items(part), separators=(",", ":"))),
                    Parameter(name="run-id", value=run),
                    Parameter(name="output-bucket", value=out_bucket),
                    Parameter(name="output-prefix", value=out_prefix),
                    Parameter(name="reference-bucket", value=ref_bucket),
                    Parameter(name="reference-key", value=ref_key),
                    Parameter(name="qc-rules", value=settings.qc.to_json()),
                ],
            )
        )
    return workflows


def build_index_workflow(reference: str, stack: StackOutputs, settings: PipelineSettings) -> Workflow:
    """A Workflow that builds the aligner index beside ``reference`` on the large pool.

    Outputs are optional per index set: bwa-mem2 writes ``.0123 .amb .ann .bwt.2bit.64 .pac``,
    the ``bwa`` fallback (local machines) ``.amb .ann .bwt .pac .sa``.
    """
    ref_bucket, ref_key = split_uri(reference)
    digest = hashlib.sha256(reference.encode()).hexdigest()[:10]
    with Workflow(
        generate_name=f"seqstack-index-{digest}-",
        namespace=stack.namespace,
        labels={LABEL_PART_OF: "seqstack", LABEL_VERSION: settings.version},
        annotations={"seqstack.io/reference": reference},
        entrypoint="index",
        arguments=[
            Parameter(name="reference-bucket", value=ref_bucket),
            Parameter(name="reference-key", value=ref_key),
        ],
        **_workflow_pod_defaults(stack),
    ) as wf:
        Container(
            name="index",
            image=stack.images["align"],
            inputs=[_artifact(stack, "ref-fa", f"{WORK}/in/ref.fa", REF_BUCKET, REF)],
            outputs=[
                _artifact(
                    stack,
                    "idx" + suffix.replace(".", "-"),
                    f"{WORK}/out/ref.fa{suffix}",
                    REF_BUCKET,
                    REF + suffix,
                    optional=True,
                )
                for suffix in dict.fromkeys(BWA_MEM2_INDEX + BWA_INDEX)
            ],
            **_bash(_INDEX_SCRIPT),
            **_pod(stack, settings, "large", settings.index, settings.align_deadline_seconds),
        )
    return wf
