"""What every step's pod shares: artifact locations, placement, size, retries, security, /work."""

from __future__ import annotations

from typing import Any

from hera.workflows import (
    Artifact,
    EmptyDirVolume,
    Env,
    GCSArtifact,
    NoneArchiveStrategy,
    PluginArtifact,
    RetryStrategy,
    S3Artifact,
)
from hera.workflows import models as m

from workflows.contract import POOL_LABEL, StackOutputs
from workflows.identity import POD_UID
from workflows.quantities import format_gib, format_seconds
from workflows.settings import PipelineSettings, Resources

#: Name of the artifact driver plugin the local executor implements.
LOCAL_ARTIFACT_PLUGIN = "seqstack-local"

#: Where every step works (one emptyDir per pod; the local executor maps it to a task dir).
WORK = "/work"

#: Retry only what the platform did to us: Argo reports a spot preemption either as Error
#: ("pod deleted") or as Failed with the kubelet's shutdown/eviction message. A tool's non-zero
#: exit is Failed with "Error (exit code N)" and is not retried (it would fail the same way).
RETRY_EXPRESSION = (
    "lastRetry.status == 'Error' || (lastRetry.status == 'Failed' && lastRetry.message matches "
    "'(?i)(imminent node shutdown|node is shutting down|evict|preempt)')"
)

#: Label on every rendered object.
LABEL_PART_OF = "app.kubernetes.io/part-of"

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


def is_gzip(path: str) -> str:
    """A bash condition (for ``if``): the file at ``path`` (shell text, quoted by the caller)
    starts with gzip's magic bytes. Read by the shell itself, no process per file: on a sheet of
    tiny samples every fork and exec counts. ``LC_ALL=C`` makes ``read -n 2`` count bytes."""
    read_magic = f'magic=""; LC_ALL=C IFS= read -r -n 2 magic < {path} || true'
    return f"""{{ {read_magic}; [ "$magic" = $'\\x1f\\x8b' ]; }}"""


def arg(name: str) -> str:
    """A reference to the enclosing template's input parameter ``name``."""
    return f"{{{{inputs.parameters.{name}}}}}"


def artifact(stack: StackOutputs, name: str, path: str, bucket: str, key: str, **kw: Any) -> Artifact:
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


def output(stack: StackOutputs, name: str, path: str, *key_parts: str, **kw: Any) -> Artifact:
    """An output artifact under the run's output prefix."""
    return artifact(stack, name, path, OUT_BUCKET, "/".join((OUT, *key_parts)), **kw)


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
            max_duration=format_seconds(r.max_duration_seconds(deadline)),
        ),
    )


def pod(
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
            EmptyDirVolume(
                name="work", mount_path=WORK, size_limit=m.Quantity(format_gib(size.ephemeral_gib))
            )
        ],
        "labels": {LABEL_PART_OF: "seqstack", POOL_LABEL: pool},
    }


def _resources(size: Resources) -> m.ResourceRequirements:
    k8s = size.to_k8s()
    return m.ResourceRequirements(
        requests={k: m.Quantity(v) for k, v in k8s["requests"].items()},
        limits={k: m.Quantity(v) for k, v in k8s["limits"].items()},
    )


def bash(script: str) -> dict[str, Any]:
    """A container body running ``script`` under bash with the shared prelude."""
    return {"command": ["bash", "-c"], "args": [_PRELUDE + script]}
