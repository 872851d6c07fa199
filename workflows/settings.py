"""Pipeline settings: how big each step is, how it retries, how the QC gate decides.

Plain frozen dataclasses, validated at construction, so a bad combination (for example a sort
that cannot fit in the align pod's memory limit, the seed's ``-m1G`` x 94 threads in 80 Gi) is
rejected with one clear message before anything is rendered.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

from workflows.errors import UserError
from workflows.quantities import QuantityError, format_cpu, format_gib, format_mib, whole_duration_seconds

#: Version of the pipeline definition; goes into the WorkflowTemplate name.
PIPELINE_VERSION = "2.0.0"

#: Alignment file formats (``--output-format``, the workflow parameter ``output-format``).
OUTPUT_FORMATS: tuple[str, ...] = ("bam", "cram")

#: FastQC modules whose FAIL fails the QC gate by default.
DEFAULT_FAIL_MODULES: tuple[str, ...] = ("Basic Statistics", "Per base sequence quality")

#: Every module FastQC 0.11/0.12 reports in summary.txt (rules may only name these).
FASTQC_MODULES: tuple[str, ...] = (
    "Basic Statistics",
    "Per base sequence quality",
    "Per tile sequence quality",
    "Per sequence quality scores",
    "Per base sequence content",
    "Per sequence GC content",
    "Per base N content",
    "Sequence Length Distribution",
    "Sequence Duplication Levels",
    "Overrepresented sequences",
    "Adapter Content",
)


class FailedLane(StrEnum):
    """What a lane that fails the QC gate does to its sample (``--failed-lane``)."""

    FAIL_SAMPLE = "fail-sample"
    """The sample fails the gate and none of its lanes is aligned (the default)."""
    DROP = "drop"
    """Only the passing lanes are aligned; the sample fails when none passes."""


_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")


class SettingsError(UserError, ValueError):
    """Settings that cannot work; the message names the setting at fault."""


@dataclass(frozen=True)
class Resources:
    """CPU, memory and scratch of one step; requests equal limits (Guaranteed QoS on spot)."""

    cpu: float
    """Cores (requests = limits); also the thread count the step's tool is given."""
    memory_mib: int
    """Memory limit in MiB."""
    ephemeral_gib: int
    """Ephemeral storage (the /work emptyDir: inputs, temporary files, outputs) in GiB."""

    def check(self, name: str) -> None:
        """Reject non-positive sizes, naming the step."""
        if self.cpu <= 0 or self.memory_mib <= 0 or self.ephemeral_gib <= 0:
            raise SettingsError(f"{name}: cpu, memory_mib and ephemeral_gib must all be > 0, got {self}")

    @property
    def threads(self) -> int:
        """Whole threads a tool gets (at least one)."""
        return max(1, math.floor(self.cpu))

    def to_k8s(self) -> dict[str, dict[str, str]]:
        """Kubernetes ``resources``: requests equal limits for cpu and memory, and for scratch."""
        amounts = {
            "cpu": format_cpu(self.cpu),
            "memory": format_mib(self.memory_mib),
            "ephemeral-storage": format_gib(self.ephemeral_gib),
        }
        return {"requests": dict(amounts), "limits": dict(amounts)}


@dataclass(frozen=True)
class QcRules:
    """Which FastQC results fail the QC gate (a failed sample is reported, not aligned)."""

    fail_on_fail: tuple[str, ...] = DEFAULT_FAIL_MODULES
    """Modules whose FAIL (in R1 or R2) fails the sample."""
    fail_on_warn: tuple[str, ...] = ()
    """Modules whose WARN already fails the sample (stricter sites)."""

    def __post_init__(self) -> None:
        for kind, modules in (("fail_on_fail", self.fail_on_fail), ("fail_on_warn", self.fail_on_warn)):
            for module in modules:
                if module not in FASTQC_MODULES:
                    raise SettingsError(
                        f"qc rules {kind}: unknown FastQC module {module!r} "
                        f"(known: {', '.join(FASTQC_MODULES)})"
                    )

    def to_json(self) -> str:
        """The rules as the QC gate reads them (a workflow parameter)."""
        return json.dumps({"fail_on_fail": list(self.fail_on_fail), "fail_on_warn": list(self.fail_on_warn)})


@dataclass(frozen=True)
class Retry:
    """How every step retries (spot preemption); a genuine tool failure is not retried."""

    limit: int = 5
    """Retries after the first attempt."""
    backoff: str = "30s"
    """First wait before a retry (Argo duration: 30s, 2m, 1h)."""
    factor: int = 2
    """Each further wait is this many times longer."""
    cap: str = "15m"
    """No single wait is longer than this."""

    def check(self) -> None:
        """Reject values Argo would not accept or that make no sense."""
        if not 0 <= self.limit <= 50:
            raise SettingsError(f"retry limit must be between 0 and 50, got {self.limit}")
        if self.factor < 1:
            raise SettingsError(f"retry backoff factor must be >= 1, got {self.factor}")
        for name, value in (("backoff", self.backoff), ("cap", self.cap)):
            try:
                whole_duration_seconds(value)
            except QuantityError as exc:
                raise SettingsError(f"retry {name} {exc}") from None

    def max_duration_seconds(self, deadline_seconds: int) -> int:
        """Argo's ``backoff.maxDuration`` for a step whose attempts may each run ``deadline_seconds``.

        Argo counts maxDuration from the FIRST attempt's start and shortens each retry's pod
        deadline to what is left of it. A fixed value (say 12 h) would therefore give an
        alignment preempted after 11 h just one hour to redo 11 h of work; every attempt gets
        its full deadline plus the longest waits instead.
        """
        return (self.limit + 1) * deadline_seconds + self.limit * whole_duration_seconds(self.cap)


@dataclass(frozen=True)
class PipelineSettings:
    """Sizes, retries, QC rules and chunking of a pipeline run."""

    # Cloud defaults fit every machine of each pool after kubelet reservations and daemonsets
    # (tests/test_pipeline_fit.py): small = 4 vCPU / 16 GiB (m6i.xlarge, n2-standard-4), large =
    # 32 vCPU / 128 GiB (m6i.8xlarge, n2-standard-32), 200 / 500 GiB disks.
    fastqc: Resources = Resources(cpu=1, memory_mib=3072, ephemeral_gib=50)
    """FastQC on one FASTQ (FastQC uses one thread per file; the Java heap is derived below)."""
    qc_gate: Resources = Resources(cpu=0.25, memory_mib=256, ephemeral_gib=1)
    """The QC gate (reads two FastQC summaries)."""
    align: Resources = Resources(cpu=30, memory_mib=96 * 1024, ephemeral_gib=350)
    """bwa-mem2 + samtools sort on the large pool (threads = cpu; 30 of 32 vCPU are allocatable)."""
    aligner_memory_mib: int = 24 * 1024
    """Memory reserved for bwa-mem2 itself (hg38 index ~ 16 GiB loaded, plus read batches)."""
    markdup_memory_mib: int = 4 * 1024
    """Memory reserved for ``samtools markdup`` (``--markdup``). It reads the sort's output, so it
    starts only once the aligner has exited (sort emits nothing before its input ends): the sort
    shares the align pod with the larger of the two reserves, never with both. ``samtools
    flagstat`` and ``stats`` also read the output as it is written (``workflows.steps.bam``);
    they keep counters and histograms, not the alignments, and are not reserved for."""
    sort_memory_per_thread_mib: int | None = None
    """samtools sort ``-m`` per thread; None derives the largest value that fits (see below)."""
    report: Resources = Resources(cpu=2, memory_mib=8192, ephemeral_gib=50)
    """MultiQC over every sample's metrics."""
    index: Resources = Resources(cpu=8, memory_mib=96 * 1024, ephemeral_gib=200)
    """bwa-mem2 index of the reference: hg38 needs ~ 64-74 GiB (a 128 GiB large-pool machine)."""
    retry: Retry = Retry()
    """Retry strategy of every step."""
    align_deadline_seconds: int = 48 * 3600
    """Kill an alignment attempt after this long (the seed's 3 h killed an 11.5 h job)."""
    step_deadline_seconds: int = 12 * 3600
    """Deadline of every other step's attempt."""
    chunk_size: int = 100
    """Samples per Workflow object (keeps objects and their status far below etcd's 1 MB)."""
    qc: QcRules = field(default_factory=QcRules)
    """QC gate rules (a workflow parameter: can change per run without a new template)."""
    failed_lane: str = FailedLane.FAIL_SAMPLE.value
    """What a QC-failed lane does: ``fail-sample`` or ``drop`` (:class:`FailedLane`; a workflow
    parameter, like the rules). A bad lane usually means a bad library, so by default the whole
    sample fails rather than silently aligning less data than the user sequenced."""
    version: str = PIPELINE_VERSION
    """Pipeline version, part of the WorkflowTemplate name."""
    markdup: bool = False
    """Mark duplicates (a workflow parameter, like ``qc``: per run, not part of the template)."""
    output_format: str = "bam"
    """``bam`` or ``cram`` (a workflow parameter: per run, not part of the template)."""

    #: Memory the sort may never use: JVM-free, but samtools overshoots -m a little per thread.
    SORT_SLACK = 0.85

    def __post_init__(self) -> None:
        for f in fields(self):  # every step's size (workflows.steps reads them by step)
            size = getattr(self, f.name)
            if isinstance(size, Resources):
                size.check(f.name)
        self.retry.check()
        policies = [f.value for f in FailedLane]
        if self.failed_lane not in policies:
            raise SettingsError(f"failed_lane must be one of {', '.join(policies)}, got {self.failed_lane!r}")
        if not _VERSION_RE.match(self.version):
            raise SettingsError(f"version must be MAJOR.MINOR.PATCH, got {self.version!r}")
        if not 1 <= self.chunk_size <= 2000:
            raise SettingsError(f"chunk_size must be between 1 and 2000 samples, got {self.chunk_size}")
        if self.fastqc.memory_mib < 768:
            raise SettingsError(
                f"fastqc memory_mib must be >= 768 (JVM heap + overhead), got {self.fastqc.memory_mib}"
            )
        if self.align_deadline_seconds < 600 or self.step_deadline_seconds < 60:
            raise SettingsError("deadlines must be >= 600 s (align) and >= 60 s (other steps)")
        if self.aligner_memory_mib <= 0:
            raise SettingsError(f"aligner_memory_mib must be > 0, got {self.aligner_memory_mib}")
        if self.markdup_memory_mib <= 0:
            raise SettingsError(f"markdup_memory_mib must be > 0, got {self.markdup_memory_mib}")
        if self.output_format not in OUTPUT_FORMATS:
            raise SettingsError(f"output_format must be bam or cram, got {self.output_format!r}")
        per_thread = self.sort_mib_per_thread
        reserve = self._beside_sort
        if per_thread < 64:
            raise SettingsError(
                f"align memory_mib {self.align.memory_mib} leaves {per_thread} MiB per sort thread "
                f"for {self.align.threads} threads after {reserve[1]} MiB for {reserve[0]} "
                f"({reserve[0]}_memory_mib); need >= 64: raise align memory_mib or lower align cpu / "
                f"{reserve[0]}_memory_mib"
            )
        if self.sort_budget_mib > self.align.memory_mib:
            raise SettingsError(
                f"samtools sort {self.align.threads} threads x {per_thread} MiB + {reserve[0]} "
                f"{reserve[1]} MiB ({reserve[0]}_memory_mib) = {self.sort_budget_mib} MiB exceeds "
                f"align memory_mib {self.align.memory_mib}"
            )

    @property
    def _beside_sort(self) -> tuple[str, int]:
        """What shares the align pod with the sort: the aligner while sort reads, markdup while
        it writes; the larger reserve, named (``aligner`` or ``markdup``)."""
        if self.markdup_memory_mib > self.aligner_memory_mib:
            return "markdup", self.markdup_memory_mib
        return "aligner", self.aligner_memory_mib

    @property
    def sort_mib_per_thread(self) -> int:
        """samtools sort ``-m`` (MiB per thread): given, or the largest that fits the limit.

        threads x per-thread + the aligner's (or markdup's, if larger) memory stays within
        SORT_SLACK of the align limit, because samtools sort's real use runs somewhat above ``-m``
        per thread.
        """
        if self.sort_memory_per_thread_mib is not None:
            return self.sort_memory_per_thread_mib
        free = self.align.memory_mib * self.SORT_SLACK - self._beside_sort[1]
        return max(0, math.floor(free / self.align.threads))

    @property
    def sort_budget_mib(self) -> int:
        """Memory the align step may use: sort threads x per-thread + the aligner's reserve (or
        markdup's, when larger: they never run at once)."""
        return self.align.threads * self.sort_mib_per_thread + self._beside_sort[1]

    @property
    def fastqc_heap_mib(self) -> int:
        """FastQC's Java heap: the limit less 512 MiB for the JVM itself, capped at FastQC's 10000."""
        return min(10000, self.fastqc.memory_mib - 512)

    def template_fingerprint(self) -> str:
        """Short hash of everything baked into the WorkflowTemplate (not chunking, QC rules or the
        failed-lane policy, markdup and output format: those are workflow parameters)."""
        data = asdict(
            replace(
                self,
                chunk_size=1,
                qc=QcRules(),
                failed_lane=FailedLane.FAIL_SAMPLE.value,
                markdup=False,
                output_format="bam",
            )
        )
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:8]

    def template_name(self) -> str:
        """``seqstack-pipeline-v2-0-0`` for the cloud defaults, plus a content hash otherwise.

        A run with custom sizes then gets its own template instead of silently replacing (or
        clashing with) the one ``pulumi up`` installed for this version.
        """
        base = f"seqstack-pipeline-v{self.version.replace('.', '-')}"
        if (
            self.template_fingerprint()
            == PipelineSettings.cloud_defaults(self.version).template_fingerprint()
        ):
            return base
        return f"{base}-{self.template_fingerprint()}"

    @classmethod
    def cloud_defaults(cls, version: str = PIPELINE_VERSION) -> PipelineSettings:
        """Sizes for a whole human genome on the cloud pools."""
        return cls(version=version)

    @classmethod
    def local(cls, cpus: int, memory_gib: float) -> PipelineSettings:
        """Sizes for one machine (``seqstack run``): small scratch, quick retries."""
        if cpus < 1 or memory_gib < 1:
            raise SettingsError(
                f"local run needs >= 1 cpu and >= 1 GiB memory, got {cpus} cpu {memory_gib} GiB"
            )
        memory_mib = int(memory_gib * 1024)
        fastqc_mib = min(2048, max(768, memory_mib // 2))

        def aligner(align_mib: int) -> int:
            return max(128, align_mib // 4)

        def threads(align_mib: int) -> int:
            # Fewer threads than cores when memory is short: each sort thread gets >= 256 MiB.
            return max(1, min(cpus, int((align_mib * cls.SORT_SLACK - aligner(align_mib)) // 256)))

        # The align leaves one FastQC's memory free when it still keeps every sort thread and at
        # least half the memory: the first align books its requests (workflows.local.usage learns
        # from finished siblings only), and had it booked all the memory it could not start until
        # the last FastQC had ended, on cores that FastQC leaves half idle at its end. Its sort
        # threads get that much less memory.
        align_mib = memory_mib - fastqc_mib
        if align_mib < memory_mib // 2 or threads(align_mib) < threads(memory_mib):
            align_mib = memory_mib
        aligner_mib = aligner(align_mib)
        return cls(
            fastqc=Resources(cpu=1, memory_mib=fastqc_mib, ephemeral_gib=10),
            qc_gate=Resources(cpu=0.25, memory_mib=256, ephemeral_gib=1),
            align=Resources(cpu=threads(align_mib), memory_mib=align_mib, ephemeral_gib=20),
            aligner_memory_mib=aligner_mib,
            markdup_memory_mib=min(aligner_mib, 2048),
            report=Resources(cpu=1, memory_mib=min(2048, memory_mib), ephemeral_gib=5),
            index=Resources(cpu=1, memory_mib=memory_mib, ephemeral_gib=20),
            retry=Retry(limit=2, backoff="1s", factor=2, cap="10s"),
            align_deadline_seconds=6 * 3600,
            step_deadline_seconds=3600,
            chunk_size=2000,
        )

    def to_json(self) -> dict[str, Any]:
        """All settings as plain data (for review and fingerprints)."""
        return asdict(self)
