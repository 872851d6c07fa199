"""Settings: samtools sort memory always fits the align pod's limit; bad settings are rejected."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from workflows.contract import StackOutputs
from workflows.render import workflow_template
from workflows.settings import PipelineSettings, QcRules, Resources, Retry, SettingsError

STACK = StackOutputs.local(__import__("pathlib").Path("/data/out"))


def align_script(settings: PipelineSettings) -> str:
    templates = {t["name"]: t for t in workflow_template(STACK, settings)["spec"]["templates"]}
    return templates["align"]["container"]["args"][0]


@pytest.mark.parametrize(
    ("cpu", "memory_gib", "aligner_gib", "markdup_gib"),
    [
        (94, 80, 24, 4),
        (32, 96, 32, 4),
        (64, 256, 32, 4),
        (8, 32, 16, 4),
        (1, 4, 1, 1),
        (16, 60, 20, 4),
        # markdup's reserve larger than the aligner's: the sort makes room for it instead
        (16, 60, 4, 12),
        (2, 8, 1, 3),
    ],
)
def test_sort_threads_times_memory_plus_headroom_fits_the_limit(
    cpu: int, memory_gib: int, aligner_gib: int, markdup_gib: int
) -> None:
    s = PipelineSettings(
        align=Resources(cpu=cpu, memory_mib=memory_gib * 1024, ephemeral_gib=100),
        aligner_memory_mib=aligner_gib * 1024,
        markdup_memory_mib=markdup_gib * 1024,
    )
    # Sort runs beside the aligner while it reads, beside markdup while it writes.
    reserve = max(s.aligner_memory_mib, s.markdup_memory_mib)
    assert s.align.threads * s.sort_mib_per_thread + reserve <= s.align.memory_mib
    # What the rendered script really asks samtools for, read back from the script.
    script = align_script(s)
    sorts = re.findall(r"samtools sort -@ (\d+) -m (\d+)M", script)
    assert len(sorts) == 2  # with and without markdup: the same sort
    for threads, per_thread in sorts:
        assert int(threads) == cpu
        assert int(threads) * int(per_thread) + reserve <= memory_gib * 1024
    assert f"mem -K 100000000 -Y -t {cpu} " in script
    assert f"samtools markdup -@ {cpu} " in script


def test_markdup_memory_that_leaves_the_sort_too_little_is_rejected_naming_it() -> None:
    with pytest.raises(SettingsError, match=r"after 6144 MiB for markdup \(markdup_memory_mib\); need >= 64"):
        PipelineSettings(
            align=Resources(cpu=8, memory_mib=6 * 1024, ephemeral_gib=100),
            aligner_memory_mib=2048,
            markdup_memory_mib=6 * 1024,
        )
    with pytest.raises(SettingsError, match=r"markdup 4096 MiB \(markdup_memory_mib\) = 12288 MiB exceeds"):
        PipelineSettings(
            align=Resources(cpu=8, memory_mib=10 * 1024, ephemeral_gib=100),
            aligner_memory_mib=2048,
            markdup_memory_mib=4096,
            sort_memory_per_thread_mib=1024,
        )


def test_the_seeds_overflow_is_rejected() -> None:
    """-m1G x 94 threads in an 80 Gi limit: the seed's OOM kill, now a clear error."""
    with pytest.raises(SettingsError, match=r"94 threads x 1024 MiB .* exceeds align memory_mib 81920"):
        PipelineSettings(
            align=Resources(cpu=94, memory_mib=80 * 1024, ephemeral_gib=350),
            aligner_memory_mib=20 * 1024,
            sort_memory_per_thread_mib=1024,
        )


def test_too_little_memory_for_the_threads_is_rejected() -> None:
    with pytest.raises(SettingsError, match=r"leaves \d+ MiB per sort thread for 64 threads"):
        PipelineSettings(
            align=Resources(cpu=64, memory_mib=40 * 1024, ephemeral_gib=100), aligner_memory_mib=32 * 1024
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"chunk_size": 0}, "chunk_size must be between 1 and 2000"),
        ({"version": "v1"}, "version must be MAJOR.MINOR.PATCH"),
        ({"fastqc": Resources(cpu=1, memory_mib=512, ephemeral_gib=10)}, "fastqc memory_mib must be >= 768"),
        ({"report": Resources(cpu=0, memory_mib=512, ephemeral_gib=10)}, "report: cpu, memory_mib"),
        ({"retry": Retry(limit=-1)}, "retry limit must be between 0 and 50"),
        ({"retry": Retry(backoff="30 seconds")}, "retry backoff must look like 30s"),
        ({"retry": Retry(cap="1d")}, "retry cap must look like 30s"),
        ({"aligner_memory_mib": 0}, "aligner_memory_mib must be > 0"),
        ({"markdup_memory_mib": 0}, "markdup_memory_mib must be > 0"),
        ({"output_format": "sam"}, "output_format must be bam or cram, got 'sam'"),
    ],
)
def test_invalid_settings_name_the_setting(change: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        replace(PipelineSettings.cloud_defaults(), **change)  # type: ignore[arg-type]


def test_qc_rules_only_name_real_fastqc_modules() -> None:
    with pytest.raises(SettingsError, match="unknown FastQC module 'Per base quality'"):
        QcRules(fail_on_fail=("Per base quality",))


@pytest.mark.parametrize(("cpus", "memory_gib"), [(1, 1), (2, 4), (8, 16), (64, 4), (128, 512)])
def test_local_settings_always_fit(cpus: int, memory_gib: float) -> None:
    s = PipelineSettings.local(cpus, memory_gib)
    assert s.sort_budget_mib <= s.align.memory_mib
    assert 1 <= s.align.threads <= cpus


def test_a_local_align_leaves_one_fastqc_s_memory_unless_that_costs_it_a_thread() -> None:
    roomy = PipelineSettings.local(2, 16)
    assert roomy.align.memory_mib == 16 * 1024 - roomy.fastqc.memory_mib
    assert roomy.align.threads == 2
    # 2 GiB for 4 cores: without the FastQC's 1 GiB the sort could have only 2 threads of 256 MiB.
    short = PipelineSettings.local(4, 2)
    assert short.align.memory_mib == 2 * 1024
    assert short.align.threads == 4
    # 1 GiB: FastQC's 768 MiB would leave the align a quarter of the run's memory.
    tiny = PipelineSettings.local(1, 1)
    assert tiny.align.memory_mib == 1024


def test_template_name_carries_the_version_and_custom_sizes_get_their_own_name() -> None:
    defaults = PipelineSettings.cloud_defaults()
    assert defaults.template_name() == "seqstack-pipeline-v2-0-0"
    assert (
        replace(defaults, chunk_size=10).template_name() == "seqstack-pipeline-v2-0-0"
    )  # not in the template
    assert (
        replace(defaults, qc=QcRules(fail_on_warn=("Adapter Content",))).template_name()
        == defaults.template_name()
    )
    # --markdup and --output-format are workflow parameters of one template, not new templates
    per_run = replace(defaults, markdup=True, output_format="cram")
    assert per_run.template_name() == defaults.template_name()
    assert workflow_template(STACK, per_run) == workflow_template(STACK, defaults)
    assert replace(defaults, markdup_memory_mib=8192).template_name() != defaults.template_name()
    assert PipelineSettings.cloud_defaults("2.1.0").template_name() == "seqstack-pipeline-v2-1-0"
    custom = replace(defaults, retry=Retry(limit=3))
    assert re.fullmatch(r"seqstack-pipeline-v2-0-0-[0-9a-f]{8}", custom.template_name())
    assert custom.template_name() != replace(defaults, retry=Retry(limit=4)).template_name()
