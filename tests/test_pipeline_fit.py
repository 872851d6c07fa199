"""Every cloud step fits the machines its pool is built from (dev stacks' Pulumi config).

A pod that asks for more than any node can offer stays Pending for ever (the first cut asked
32 CPU / 96 GiB for align on a pool listing 32 vCPU / 64 GiB c6i.8xlarge). Allocatable capacity
is estimated conservatively: the larger of EKS's and GKE's kubelet reservations, plus a budget
for daemonsets (CNI, kube-proxy, CSI, logging).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stacks.machines import Machine
from workflows.settings import PipelineSettings, Resources

REPO = Path(__file__).resolve().parents[1]

#: Public machine shapes (vCPU, GiB) of the types the dev stacks use.
SHAPES: dict[str, tuple[int, float]] = {
    "t3.large": (2, 8),
    "m5.xlarge": (4, 16),
    "m5a.xlarge": (4, 16),
    "m6a.xlarge": (4, 16),
    "m6i.xlarge": (4, 16),
    "c5a.8xlarge": (32, 64),
    "c6a.8xlarge": (32, 64),
    "c6i.8xlarge": (32, 64),
    "m6i.8xlarge": (32, 128),
    "m6a.8xlarge": (32, 128),
    "m5.8xlarge": (32, 128),
    "m5a.8xlarge": (32, 128),
    "r6i.8xlarge": (32, 256),
    "e2-standard-2": (2, 8),
    "n2-standard-4": (4, 16),
    "n2-standard-32": (32, 128),
}


def allocatable(machine: str) -> tuple[float, float]:
    """What a pod can request on one node of ``machine``: the reservation model config validation
    uses (``stacks.machines``), applied to the public shapes above."""
    vcpus, mem = SHAPES[machine]
    return Machine(machine, vcpus, mem).allocatable()


def fits(size: Resources, machine: str) -> bool:
    cpu, memory = allocatable(machine)
    return size.cpu <= cpu and size.memory_mib / 1024 <= memory


def pool_types(stack: str, pool: str) -> list[str]:
    config = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())["config"]
    types: list[str] = config[f"seqstack:{pool}MachineTypes"]
    return types


STACKS = [s for s in ("dev-aws", "dev-gcp") if (REPO / f"Pulumi.{s}.yaml").exists()]


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize(
    ("step", "pool"), [("fastqc", "small"), ("qc_gate", "small"), ("report", "small"), ("align", "large")]
)
def test_step_fits_every_machine_of_its_pool(stack: str, step: str, pool: str) -> None:
    size = getattr(PipelineSettings.cloud_defaults(), step)
    for machine in pool_types(stack, pool):
        assert machine in SHAPES, f"add {machine}'s shape to this test"
        assert fits(size, machine), (
            f"{step} {size} does not fit {machine} (allocatable ~{allocatable(machine)})"
        )


@pytest.mark.parametrize("stack", STACKS)
def test_index_fits_some_machine_of_the_large_pool(stack: str) -> None:
    """Indexing hg38 needs ~64-74 GiB: at least one large type must have room for it."""
    size = PipelineSettings.cloud_defaults().index
    assert any(fits(size, machine) for machine in pool_types(stack, "large"))


def test_the_first_cuts_align_size_would_not_have_fit() -> None:
    """The check is not vacuous: the original 32 CPU / 96 GiB align fits no listed machine."""
    first_cut = Resources(cpu=32, memory_mib=96 * 1024, ephemeral_gib=400)
    assert not any(fits(first_cut, machine) for machine in SHAPES)


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize(
    ("step", "pool"),
    [("fastqc", "small"), ("qc_gate", "small"), ("report", "small"), ("align", "large"), ("index", "large")],
)
def test_scratch_fits_the_pool_disk(stack: str, step: str, pool: str) -> None:
    """Ephemeral storage: the disk less kubelet's 10 % eviction threshold and ~20 GiB of images."""
    config = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())["config"]
    disk = int(config[f"seqstack:{pool}DiskGiB"])
    assert getattr(PipelineSettings.cloud_defaults(), step).ephemeral_gib <= disk * 0.9 - 20
