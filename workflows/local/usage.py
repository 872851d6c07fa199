"""What finished tasks used, so their later siblings on about as much input book that, not requests.

A pod's requests are fixed when the Workflow is rendered, for the largest input the template may
meet: a local align books every core and all the memory (but one FastQC's where it can spare
it), so that one large sample sorts in memory. On 32 amplicon samples of 1,500 pairs each such
align runs about 0.13 s on one core, so the aligns run one at a time with a core idle, and each
ends before :class:`workflows.local.idle.IdleCores` can measure that core (memory would stop a
second one anyway: it is booked strictly).

So the local executor learns, per template and request, what each successful attempt used: its
cores (CPU seconds over the seconds its process ran) and its largest process's peak resident
memory (``ru_maxrss``, from the same ``wait4`` as the CPU time). A later task of that template
whose input artifacts hold at most :data:`TOLERANCE` times the bytes of a finished sibling's
books the most any such sibling used, never more than its requests: its cores to the
nearest whole core (at least one: CPU is compressible, and a task averaging 1.2 cores leaves
0.8 idle when it runs alone), and :data:`PROCESSES` times its peak, scaled up by how much
more input this task has, plus :data:`MARGIN_MIB`. A task with more input than that (the first
of a template, a large sample after small ones) books its requests.

The memory figure is an estimate, not a measure of the pod's sum: ``wait4`` reports the peak of
the largest process of the tree (never less: Linux also counts the launcher's own peak, as
``exec`` keeps the high-water mark of the address space it replaces, so with this executor's
70 MiB or so no task reads smaller), and a pod's pipeline runs its tools side by side. The DAG's
largest pipeline runs four tools at once (``bwa mem | samtools fixmate | samtools sort |
samtools markdup``), hence four times the largest; that a step's memory grows with its input is
the other assumption (bwa's index is the same for every sample, samtools sort holds at most its
input). The cluster books requests as before: Kubernetes places pods by their requests.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Usage:
    """What one successful attempt of a template used."""

    input_bytes: int
    """Bytes in its input artifacts."""
    cores: float
    """CPU seconds over the seconds its process ran."""
    peak_mib: float
    """Peak resident memory of its largest process (``ru_maxrss``)."""


class UsageHistory:
    """Usages of finished attempts by template, and the bookings they allow (see the module)."""

    #: Tools a pod runs side by side at most, each at most as large as the largest.
    PROCESSES = 4
    #: MiB added to the estimate: allocations a peak sampled at exit may not show.
    MARGIN_MIB = 256.0
    #: A sibling counts when this task's input is at most this many times the sibling's (the
    #: same sample sheet's samples differ by a few per cent even when they were made alike).
    TOLERANCE = 1.5

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: dict[str, list[Usage]] = {}

    def add(self, template: str, usage: Usage) -> None:
        """Record a successful attempt of ``template``."""
        with self._lock:
            self._done.setdefault(template, []).append(usage)

    def booking(self, template: str, input_bytes: int, cpu: float, mib: float) -> tuple[float, float]:
        """The cores and MiB a task of ``template`` with ``input_bytes`` of input books, given its
        requests ``cpu`` and ``mib``."""
        with self._lock:
            peers = [u for u in self._done.get(template, ()) if input_bytes <= self.TOLERANCE * u.input_bytes]
        if not peers:
            return cpu, mib
        cores = max(1.0, math.floor(max(u.cores for u in peers) + 0.5))
        scaled = max(u.peak_mib * max(1.0, input_bytes / max(u.input_bytes, 1)) for u in peers)
        return min(cpu, cores), min(mib, self.PROCESSES * scaled + self.MARGIN_MIB)
