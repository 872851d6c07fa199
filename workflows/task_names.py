"""Task and parameter names of the per-sample DAG that the local run's outcomes read
(:func:`workflows.local.run.outcomes`).

Here, in a module without Hera, and not in :mod:`workflows.steps` (whose package imports every
step, Hera among them: about a second of one core): a local run renders in a child process
(:mod:`workflows.local.render_ahead`) and must not import Hera itself at its end just to read
these. The step modules take their names from here, so each is still defined once.
"""

from __future__ import annotations

#: The align task (one lane: it writes the sample's outputs).
ALIGN = "align"
#: The merge task (several lanes: it writes the sample's outputs from the lanes' BAMs).
MERGE = "merge"
#: The QC gate's task.
QC_GATE = "qc-gate"
#: The gate's output parameter holding ``pass`` or ``fail``.
VERDICT = "verdict"
