"""The cloud vCPU quota each node pool needs at its maximum size, by the quota's own name.

New accounts and projects often have far less vCPU quota than a few 32-vCPU nodes take
(AWS starts many accounts with a handful of on-demand and spot vCPUs; GCP projects with a
regional CPU quota per machine series). A pool that cannot grow for lack of quota leaves its
pods Pending with an autoscaler event nobody reads, so ``seqstack cost`` prints what to ask for.
The quotas are read from the config and the machine catalogue (``stacks/machines.py``), offline;
checking the current limits needs the cloud's API (commands printed below).
"""

from __future__ import annotations

from dataclasses import dataclass

from stacks.config import Cloud, StackConfig
from stacks.machines import machine

#: AWS Service Quotas codes (service ``ec2``), both counted in vCPUs of the standard families
#: (A, C, D, H, I, M, R, T, Z), which every type seqstack accepts belongs to.
AWS_ON_DEMAND = ("Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances", "L-1216C47A")
AWS_SPOT = ("All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests", "L-34B43A08")

#: Compute Engine regional quota metric per machine series. E2 (and N1) against plain CPUS and
#: N2/N2D/C2D/C3 against their own is how GCP's allocation-quota page describes it; it could not
#: be re-read here, and the API also lists an E2_CPUS metric: check both if E2 nodes do not come.
GCP_SERIES_QUOTA = {
    "e2": "CPUS",
    "n1": "CPUS",
    "n2": "N2_CPUS",
    "n2d": "N2D_CPUS",
    "c2d": "C2D_CPUS",
    "c3": "C3_CPUS",
}
#: Spot VMs count against PREEMPTIBLE_CPUS when the project has that quota, else the series'.
GCP_SPOT_QUOTA = "PREEMPTIBLE_CPUS"


@dataclass(frozen=True)
class PoolQuota:
    """The vCPUs one pool takes at its maximum size, and the quota that must allow them."""

    pool: str
    """Pool name."""
    machine_type: str
    """The pool's (first) machine type."""
    max_nodes: int
    """The pool's maximum node count."""
    vcpus: int
    """vCPUs at the maximum: nodes x vCPUs per node."""
    spot: bool
    """Spot capacity (a separate quota on both clouds)."""
    quota: str
    """The quota's name (and code on AWS)."""


def pool_quotas(cfg: StackConfig) -> list[PoolQuota]:
    """Each pool's vCPUs at its maximum and the quota it draws on."""
    result = []
    for pool in cfg.pools:
        first = machine(cfg.cloud.value, pool.machine_types[0])
        if cfg.cloud is Cloud.AWS:
            name, code = AWS_SPOT if pool.spot else AWS_ON_DEMAND
            quota = f"{name} ({code})"
        else:
            series = GCP_SERIES_QUOTA.get(first.name.split("-")[0], "CPUS")
            quota = f"{GCP_SPOT_QUOTA} (or {series} without it)" if pool.spot else series
        result.append(
            PoolQuota(pool.name, first.name, pool.max_nodes, pool.max_nodes * first.vcpus, pool.spot, quota)
        )
    return result


def totals(quotas: list[PoolQuota]) -> dict[str, int]:
    """vCPUs needed per quota, summed over the pools that share it."""
    sums: dict[str, int] = {}
    for q in quotas:
        sums[q.quota] = sums.get(q.quota, 0) + q.vcpus
    return sums


def how_to_check(cfg: StackConfig) -> str:
    """The read-only command that shows the current limits."""
    if cfg.cloud is Cloud.AWS:
        return (
            f"aws service-quotas get-service-quota --service-code ec2 --quota-code L-1216C47A "
            f"--region {cfg.region} (and L-34B43A08 for spot)"
        )
    return f"gcloud compute regions describe {cfg.region} --project {cfg.project} --format='value(quotas)'"
