"""Does the pipeline fit the stack? Checked with the config, before anything is created.

Every check here stands for a failure that would otherwise come late: after the network, the
cluster and the node pools exist (an unknown machine type), or only when a pipeline runs (a pod
asking for more CPU, memory or scratch than any node of its pool, or than the namespace quota,
stays Pending for ever, or is refused by the ResourceQuota, with nothing to say why).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from stacks.machines import Machine, MachineError, machine
from workflows.settings import PipelineSettings, Resources

if TYPE_CHECKING:
    from stacks.config import NodePoolConfig, StackConfig

#: Pool each step's pods run on (workflows/pipeline.py and workflows/render.py place them).
STEP_POOLS: dict[str, str] = {
    "fastqc": "small",
    "qc_gate": "small",
    "report": "small",
    "align": "large",
    "index": "large",
}

#: Argo's wait container beside every step's main container (its requests in the Helm values,
#: ``components/argo_workflows.py``; a test keeps the two equal). Quotas count it.
EXECUTOR_CPU = 0.1
EXECUTOR_MEMORY_MIB = 128
EXECUTOR_EPHEMERAL_GIB = 1

#: The system pool runs Argo's controller and server, the autoscaler and the cloud's agents.
SYSTEM_MIN_VCPUS = 2
SYSTEM_MIN_GIB = 4.0

#: Part of a node's root disk pods cannot use: kubelet's eviction threshold and the images.
EVICTION_SHARE = 0.10
IMAGES_GIB = 20
SYSTEM_MIN_DISK_GIB = 20

#: A sanity cap per pool: 100 nodes of 32 vCPU are 3,200 vCPUs of quota, beyond any run this
#: pipeline was sized for; a larger number is far more likely a typo. Raise it here on purpose.
MAX_NODES_PER_POOL = 100

_UNITS = {
    "": 1,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
}
_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(m|k|M|G|T|P|Ki|Mi|Gi|Ti|Pi)?$")


def quantity(text: str) -> float:
    """A Kubernetes quantity as a number (cores or bytes): ``500m`` -> 0.5, ``2Gi`` -> 2**31."""
    m = _QUANTITY.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    return float(m[1]) * _UNITS[m[2] or ""]


def _key(pool: str, suffix: str) -> str:
    return f"seqstack:{pool}{suffix}"


def _shape(m: Machine) -> str:
    return f"{m.vcpus} vCPU, {m.memory_gib:g} GiB"


def pool_machines(cloud: str, pool: NodePoolConfig) -> list[Machine]:
    """The pool's machine types, each known, x86-64, without accelerators, all of one size."""
    key = _key(pool.name, "MachineTypes")
    machines = []
    for name in pool.machine_types:
        try:
            machines.append(machine(cloud, name))
        except MachineError as exc:
            raise MachineError(f"{key}: {exc}") from None
    first = machines[0]
    for other in machines[1:]:
        if (other.vcpus, other.memory_gib) != (first.vcpus, first.memory_gib):
            raise MachineError(
                f"{key}: mixes sizes {first.name} ({_shape(first)}) and {other.name} ({_shape(other)}); "
                "list types of one size (the autoscaler sizes an empty pool from the first)"
            )
    return machines


def _pod(size: Resources) -> tuple[float, float, float]:
    """(CPU, GiB, scratch GiB) one step's pod requests: its main container and Argo's wait."""
    return (
        size.cpu + EXECUTOR_CPU,
        (size.memory_mib + EXECUTOR_MEMORY_MIB) / 1024,
        size.ephemeral_gib + EXECUTOR_EPHEMERAL_GIB,
    )


def check_fit(cfg: StackConfig, settings: PipelineSettings | None = None) -> None:
    """Raise a :class:`MachineError` naming the key of the first config value the pipeline cannot use."""
    settings = settings or PipelineSettings.cloud_defaults()
    cloud = cfg.cloud.value
    for pool in cfg.pools:
        first = pool_machines(cloud, pool)[0]
        if pool.max_nodes > MAX_NODES_PER_POOL:
            raise MachineError(
                f"{_key(pool.name, 'MaxNodes')}: {pool.max_nodes} is more than {MAX_NODES_PER_POOL} nodes "
                f"({pool.max_nodes * first.vcpus:,} vCPUs); raise MAX_NODES_PER_POOL in stacks/fit.py "
                "if you mean it"
            )
        if pool.name == "system":
            if first.vcpus < SYSTEM_MIN_VCPUS or first.memory_gib < SYSTEM_MIN_GIB:
                raise MachineError(
                    f"seqstack:systemMachineTypes: {first.name} ({_shape(first)}) is too small for "
                    f"Argo and the cluster's agents (need {SYSTEM_MIN_VCPUS} vCPU, {SYSTEM_MIN_GIB:g} GiB)"
                )
            if pool.disk_gib < SYSTEM_MIN_DISK_GIB:
                raise MachineError(
                    f"seqstack:systemDiskGiB: {pool.disk_gib} is below {SYSTEM_MIN_DISK_GIB} GiB "
                    "(node image, container images and logs)"
                )
        usable_disk = pool.disk_gib * (1 - EVICTION_SHARE) - IMAGES_GIB
        cpu, gib = first.allocatable()
        for step, step_pool in STEP_POOLS.items():
            if step_pool != pool.name:
                continue
            need_cpu, need_gib, need_disk = _pod(getattr(settings, step))
            if need_cpu > cpu or need_gib > gib:
                raise MachineError(
                    f"{_key(pool.name, 'MachineTypes')}: {first.name} ({_shape(first)}, about {cpu:.1f} CPU "
                    f"and {gib:.1f} GiB allocatable) is too small for the {step} step, whose pod requests "
                    f"{need_cpu:g} CPU and {need_gib:.1f} GiB"
                )
            if need_disk > usable_disk:
                raise MachineError(
                    f"{_key(pool.name, 'DiskGiB')}: {pool.disk_gib} GiB leaves about {usable_disk:.0f} GiB "
                    f"of pod scratch (less {EVICTION_SHARE:.0%} eviction threshold and {IMAGES_GIB} GiB of "
                    f"images); the {step} step requests {need_disk:g} GiB"
                )
    _check_quotas(cfg, settings)


def _check_quotas(cfg: StackConfig, settings: PipelineSettings) -> None:
    pods = {step: _pod(getattr(settings, step)) for step in STEP_POOLS}
    limits = (
        ("quotaCpu", cfg.quotas.cpu, 0, 1.0, "CPU"),
        ("quotaMemory", cfg.quotas.memory, 1, 2**30, "GiB"),
        ("quotaEphemeralStorage", cfg.quotas.ephemeral_storage, 2, 2**30, "GiB of scratch"),
    )
    for key, text, index, unit, what in limits:
        step = max(pods, key=lambda s: pods[s][index])
        need = pods[step][index]
        if quantity(text) / unit < need:
            raise MachineError(
                f"seqstack:{key}: {text} is below the {need:g} {what} one {step} pod requests "
                "(its step and Argo's wait container), so no such pod could ever start"
            )
