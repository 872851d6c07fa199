"""Machine types seqstack knows: shape, CPU architecture, accelerators, and what a pod can use.

A node pool's machine type is checked here before anything is created: an unknown name (a typo,
or a type of the other cloud) fails only after the network and cluster exist, an Arm type
cannot run the x86-64 tool images, a GPU type costs several times as much for nothing the
pipeline uses, and a machine too small for a step leaves its pod Pending for ever.

The shapes are the providers' published ones (EC2 instance types: vCPUs and GiB per size of a
family; Compute Engine: vCPUs in the name, GiB per vCPU per series). Only families whose sizes
are regular are listed; add a family here to allow it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class MachineError(ValueError):
    """A machine type that is unknown or unusable; the message names the type and why."""


@dataclass(frozen=True)
class Machine:
    """One machine type's shape."""

    name: str
    """The type's name, e.g. ``m6i.8xlarge`` or ``n2-standard-32``."""
    vcpus: int
    """Virtual CPUs."""
    memory_gib: float
    """Memory in GiB."""

    def allocatable(self) -> tuple[float, float]:
        """(CPU, GiB) a pod can request on one node: after kubelet reservations and daemonsets.

        Conservative: the larger of EKS's and GKE's reservations, plus a budget for the
        daemonsets both clouds run on every node (CNI, kube-proxy, CSI, logging agents).
        """
        cpu = self.vcpus - 0.06 - 0.01 - 0.005 * 2 - 0.0025 * max(0, self.vcpus - 4) - DAEMONSET_CPU
        memory = self.memory_gib - max(_gke_reserved_gib(self.memory_gib), _eks_reserved_gib(self.vcpus))
        return cpu, memory - DAEMONSET_GIB


DAEMONSET_CPU = 0.5
DAEMONSET_GIB = 1.0

# --- AWS ---------------------------------------------------------------------------------

#: vCPUs per EC2 size name (the regular part of the ladder; metal and odd sizes are left out).
_EC2_SIZES: dict[str, int] = {
    "large": 2,
    "xlarge": 4,
    "2xlarge": 8,
    "4xlarge": 16,
    "8xlarge": 32,
    "12xlarge": 48,
    "16xlarge": 64,
    "24xlarge": 96,
    "32xlarge": 128,
    "48xlarge": 192,
}

#: x86-64 EC2 families without accelerators: GiB per vCPU and the largest regular size.
_EC2_FAMILIES: dict[str, tuple[float, str]] = {
    **{f: (4.0, "24xlarge") for f in ("m5", "m5a")},
    "m6i": (4.0, "32xlarge"),
    **{f: (4.0, "48xlarge") for f in ("m6a", "m7i", "m7a")},
    "c5a": (2.0, "24xlarge"),
    "c6i": (2.0, "32xlarge"),
    **{f: (2.0, "48xlarge") for f in ("c6a", "c7i", "c7a")},
    **{f: (8.0, "24xlarge") for f in ("r5", "r5a")},
    "r6i": (8.0, "32xlarge"),
    **{f: (8.0, "48xlarge") for f in ("r6a", "r7i", "r7a")},
}

#: Burstable types: (vCPUs, GiB).
_EC2_BURSTABLE: dict[str, tuple[int, float]] = {
    "medium": (2, 4),
    "large": (2, 8),
    "xlarge": (4, 16),
    "2xlarge": (8, 32),
}

#: Graviton families (arm64) and families with GPUs or other accelerators.
_EC2_ARM = re.compile(r"^(a1|t4g|[cmrx]\d+g[a-z]*|i\d+g[a-z]*|im4gn|is4gen|hpc7g)\.")
_EC2_ACCELERATED = re.compile(r"^(p\d+[a-z]*|g\d+[a-z]*|inf\d+|trn\d+[a-z]*|dl\d+[a-z]*|f\d+|vt\d+)\.")

# --- GCP ---------------------------------------------------------------------------------

#: Compute Engine series: vCPU counts offered per (series, kind) and GiB per vCPU.
_GCE: dict[tuple[str, str], tuple[float, tuple[int, ...]]] = {
    ("e2", "standard"): (4.0, (2, 4, 8, 16, 32)),
    ("e2", "highmem"): (8.0, (2, 4, 8, 16)),
    ("e2", "highcpu"): (1.0, (2, 4, 8, 16, 32)),
    ("n2", "standard"): (4.0, (2, 4, 8, 16, 32, 48, 64, 80, 96, 128)),
    ("n2", "highmem"): (8.0, (2, 4, 8, 16, 32, 48, 64, 80, 96, 128)),
    ("n2", "highcpu"): (1.0, (2, 4, 8, 16, 32, 48, 64, 80, 96)),
    ("n2d", "standard"): (4.0, (2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224)),
    ("n2d", "highmem"): (8.0, (2, 4, 8, 16, 32, 48, 64, 80, 96)),
    ("n2d", "highcpu"): (1.0, (2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224)),
    ("c2d", "standard"): (4.0, (2, 4, 8, 16, 32, 56, 112)),
    ("c3", "standard"): (4.0, (4, 8, 22, 44, 88, 176)),
}
_GCE_NAME = re.compile(r"^(?P<series>[a-z]\d+[a-z]?)-(?P<kind>[a-z]+)-(?P<vcpus>\d+)$")
_GCE_ARM = re.compile(r"^(t2a|c4a|n4a)-")
_GCE_ACCELERATED = re.compile(r"^(a2|a3|a4|g2|g4|ct\d+[a-z]*)-")


def _ec2(name: str) -> Machine:
    if _EC2_ARM.match(name):
        raise MachineError(f"{name} is an Arm (Graviton) type; the tool images are built for x86-64 only")
    if _EC2_ACCELERATED.match(name):
        raise MachineError(f"{name} has GPUs or other accelerators, which no pipeline step uses")
    family, _, size = name.partition(".")
    if family in ("t3", "t3a") and size in _EC2_BURSTABLE:
        vcpus, gib = _EC2_BURSTABLE[size]
        return Machine(name, vcpus, gib)
    if family in _EC2_FAMILIES and size in _EC2_SIZES:
        per_vcpu, largest = _EC2_FAMILIES[family]
        if _EC2_SIZES[size] <= _EC2_SIZES[largest]:
            return Machine(name, _EC2_SIZES[size], _EC2_SIZES[size] * per_vcpu)
    raise MachineError(
        f"{name} is not an EC2 type seqstack knows (x86-64 families {', '.join(sorted(_EC2_FAMILIES))}, "
        "t3, t3a; sizes large to 48xlarge; see stacks/machines.py)"
    )


def _gce(name: str) -> Machine:
    if _GCE_ARM.match(name):
        raise MachineError(f"{name} is an Arm type; the tool images are built for x86-64 only")
    if _GCE_ACCELERATED.match(name):
        raise MachineError(f"{name} has GPUs or TPUs, which no pipeline step uses")
    m = _GCE_NAME.match(name)
    if m:
        entry = _GCE.get((m["series"], m["kind"]))
        vcpus = int(m["vcpus"])
        if entry is not None and vcpus in entry[1]:
            return Machine(name, vcpus, vcpus * entry[0])
    raise MachineError(
        f"{name} is not a Compute Engine type seqstack knows "
        f"({', '.join(sorted({f'{s}-{k}-N' for s, k in _GCE}))}; see stacks/machines.py)"
    )


def machine(cloud: str, name: str) -> Machine:
    """The shape of machine type ``name`` on ``cloud``, or a :class:`MachineError` saying why not."""
    return _ec2(name) if cloud == "aws" else _gce(name)


def _gke_reserved_gib(mem: float) -> float:
    tiers = [(4, 0.25), (4, 0.20), (8, 0.10), (112, 0.06), (float("inf"), 0.02)]
    reserved, left = 0.0, mem
    for size, share in tiers:
        part = min(left, size)
        reserved += part * share
        left -= part
    return reserved + 0.1  # eviction threshold


def _eks_reserved_gib(vcpus: int) -> float:
    max_pods = 234 if vcpus >= 16 else 58
    return (255 + 11 * max_pods) / 1024 + 0.1
