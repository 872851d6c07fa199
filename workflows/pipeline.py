"""The pipeline, defined once with Hera: a versioned WorkflowTemplate and the Workflows that run it.

Shape (see /work/workflow-design.md):

* ``main`` DAG: task ``samples`` fans out over ``{{workflow.parameters.samples}}`` (a JSON list)
  into the per-sample DAG ``sample``; task ``report`` (MultiQC) runs once every sample finished,
  whatever its outcome. ``failFast: false``: one sample's failure never stops the others.
* ``sample`` DAG (inputs ``sample`` and ``lanes``, the sample's lane items as JSON): ``fastqc``
  once per lane (both reads in one FastQC) -> ``qc-gate`` (judges each lane; its ``align-lanes``
  are the lanes to align, ``[]`` on fail) -> either ``align`` (exactly one lane to align: the
  sample's files as a one-lane sample always had them) or ``align-lane`` per lane -> ``merge``
  (several). A QC-failed sample is reported, and the run still succeeds.
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

from hera.workflows import DAG, Parameter, Task, Workflow, WorkflowTemplate
from hera.workflows import models as m

from workflows.contract import StackOutputs
from workflows.identity import POD_FS_GROUP, POD_GID, POD_UID
from workflows.settings import FailedLane, PipelineSettings
from workflows.sheet import Sample
from workflows.steps import INDEX, PIPELINE
from workflows.steps.align import BWA_INDEX, BWA_MEM2_INDEX, index_sets
from workflows.steps.bam import FORMAT_PARAM, MARKDUP_PARAM, alignment_arguments, alignment_parameters
from workflows.steps.pod import LABEL_PART_OF, LOCAL_ARTIFACT_PLUGIN, RETRY_EXPRESSION, SAMPLES_PREFIX, WORK
from workflows.steps.step import MAIN_DAG, SAMPLE_DAG, SAMPLE_PARAMS
from workflows.storage import split_uri

__all__ = [
    "BWA_INDEX",
    "BWA_MEM2_INDEX",
    "LOCAL_ARTIFACT_PLUGIN",
    "RETRY_EXPRESSION",
    "SAMPLES_PREFIX",
    "WORK",
    "build_index_workflow",
    "build_template",
    "build_workflows",
    "index_sets",
]

#: Labels on every rendered object (besides ``LABEL_PART_OF``).
LABEL_VERSION = "seqstack.io/pipeline-version"
LABEL_RUN = "seqstack.io/run"
LABEL_CHUNK = "seqstack.io/chunk"


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
        "failed-lane",
        MARKDUP_PARAM,
        FORMAT_PARAM,
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
                name="samples",
                description="JSON list of {sample, lanes}; lanes: JSON text of a list of "
                "{lane, unit, r1_bucket, r1_key, r2_bucket, r2_key} (r2 empty: single-end)",
            ),
            Parameter(name="run-id", description="ID shared by every chunk of one run (scopes its metrics)"),
            Parameter(
                name="output-bucket", value="", description="Bucket of the output prefix (empty locally)"
            ),
            Parameter(name="output-prefix", description="Key prefix (or local directory) for outputs"),
            Parameter(name="reference-bucket", value="", description="Bucket of the reference FASTA"),
            Parameter(name="reference-key", description="Key (or local path) of the reference FASTA"),
            Parameter(name="qc-rules", value=s.qc.to_json(), description="QC gate rules (JSON)"),
            Parameter(
                name="failed-lane",
                value=FailedLane.FAIL_SAMPLE.value,  # a run sets its own: the template stays one
                enum=[f.value for f in FailedLane],
                description="What a QC-failed lane does: fail-sample (the sample fails) or drop",
            ),
            *alignment_parameters(),
        ],
        **_workflow_pod_defaults(stack),
    ) as wt:
        templates = [(step, step.build(stack, s)) for step in PIPELINE]
        with DAG(name=SAMPLE_DAG, inputs=[Parameter(name=n) for n in SAMPLE_PARAMS]):
            for step, template in templates:
                if step.dag == SAMPLE_DAG and step.wire is not None:
                    step.wire(template)
        with DAG(name=MAIN_DAG, fail_fast=False):
            Task(
                name="samples",
                template=SAMPLE_DAG,
                with_param="{{workflow.parameters.samples}}",
                arguments={n: f"{{{{item.{n}}}}}" for n in SAMPLE_PARAMS},
            )
            for step, template in templates:
                if step.dag == MAIN_DAG and step.wire is not None:
                    step.wire(template)
    return wt


def lane_items(sample: Sample) -> list[dict[str, str]]:
    """One sample's lane items (what the per-sample DAG fans FastQC and alignment out over)."""
    items = []
    for lane in sample.lanes:
        b1, k1 = split_uri(lane.fastq_1)
        b2, k2 = split_uri(lane.fastq_2) if lane.paired else ("", "")
        items.append(
            {
                "lane": lane.id,
                "unit": sample.unit(lane),
                "r1_bucket": b1,
                "r1_key": k1,
                "r2_bucket": b2,
                "r2_key": k2,
            }
        )
    return items


def sample_items(samples: Sequence[Sample]) -> list[dict[str, str]]:
    """The per-sample items of the fan-out, as plain data (fast for 10,000 samples): the sample
    ID and its lane items as a JSON string (an Argo parameter is a string; the per-sample DAG
    fans out over it with ``withParam``)."""
    return [
        {"sample": sample.id, "lanes": json.dumps(lane_items(sample), separators=(",", ":"))}
        for sample in samples
    ]


def run_id(samples: Sequence[Sample], reference: str, output: str) -> str:
    """A short stable ID for a run (same inputs -> same ID), used in names and labels.

    A sheet of one-lane paired samples keeps the ID it had before lanes existed.
    """
    rows = [
        (s.id, lane.fastq_1, lane.fastq_2)
        if len(s.lanes) == 1
        else (s.id, [(x.id, *x.files) for x in s.lanes])
        for s in samples
        for lane in s.lanes[:1]
    ]
    h = hashlib.sha256(json.dumps([reference, output, rows]).encode())
    return h.hexdigest()[:10]


def chunks(samples: Sequence[Sample], size: int) -> list[Sequence[Sample]]:
    """Split the sheet into Workflow-sized chunks of samples, in sheet order (a sample's lanes
    always run in one Workflow: they are merged there)."""
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
                    Parameter(name="failed-lane", value=settings.failed_lane),
                    *alignment_arguments(settings),
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
        INDEX.build(stack, settings)
    return wf
