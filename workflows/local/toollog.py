"""The cause of a failed task, read from its log: the tool's own first error line, not the last
symptom.

A step's script runs several tools under ``set -euo pipefail``, so the last line of a failed
step's log is usually a consequence (``mv: cannot stat ...fastqc.html`` after FastQC died of bad
quality characters, ``samtools sort: failed to change sort order header`` after htslib refused
duplicate contig names). The cause comes first: an htslib ``[E::...]`` line, a Java exception
(FastQC), a full disk. Lines are ranked: the first line of the highest-ranked kind wins; a log
with no recognisable error line gives its last line.
"""

from __future__ import annotations

import re
from pathlib import Path

#: Lines that are the cause when present, most telling first.
_CAUSES: tuple[re.Pattern[str], ...] = (
    # Resources: whatever else failed afterwards, this was why.
    re.compile(r"(?i)no space left on device|disk quota exceeded|cannot allocate memory|out of memory"),
    # htslib / samtools / bwa errors: "[E::sam_hrecs_update_hashes] Duplicate entry ..."
    re.compile(r"^\[E::"),
    # Java (FastQC): "java.lang.IllegalArgumentException: No known encodings ..."
    re.compile(r"^(?:Exception in thread \"[^\"]*\" )?[\w$]+(?:\.[\w$]+)*(?:Exception|Error)(?::|$)"),
    # Python (the QC gate, MultiQC): the exception line after a traceback.
    re.compile(r"^[A-Z]\w*(?:Error|Exception): "),
)
#: Lines that look like an error of any tool.
_GENERIC = re.compile(
    r"(?i)\b(?:error|errors|fail|failed|failure|cannot|can't|unable|unexpected|fatal|abort(?:ed)?|"
    r"invalid|not found|no such|missing|truncated|corrupt(?:ed)?|denied|killed)\b|^\[fread\]"
)
#: Never the cause: stack frames, warnings and progress messages of htslib/bwa.
_NOISE = re.compile(r"^(?:\s+at |\s*\.\.\. \d+ more|\[W::|\[M::|\[I::|Traceback |  File \")")

MAX_CHARS = 300


def first_error_line(text: str) -> str:
    """The line of ``text`` that says why the tool failed (see the module docstring)."""
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    candidates = [ln for ln in lines if not _NOISE.match(ln)]
    for pattern in _CAUSES:
        for line in candidates:
            if pattern.search(line.strip()):
                return line.strip()[:MAX_CHARS]
    for line in candidates:
        if _GENERIC.search(line):
            return line.strip()[:MAX_CHARS]
    return (candidates or lines or [""])[-1].strip()[:MAX_CHARS]


def first_error(log: Path) -> str:
    """:func:`first_error_line` of a log file ("" when it cannot be read)."""
    try:
        return first_error_line(log.read_text(errors="replace"))
    except OSError:
        return ""
