"""What a CRAM needs from its reference: a place that lasts, and a checksum to recognise it by.

A CRAM stores bases as differences to the reference FASTA it was written against, so it can only
be read again with that FASTA. ``--output-format cram`` is therefore refused when the reference
sits in a temporary folder (``/tmp``, ``/var/tmp``, ``/dev/shm``, Python's temporary folder),
which the system empties: the CRAM would outlive the only copy of what decodes it. The run
records where the reference is and its SHA-256 (``run.json``), and the CRAM's ``@SQ`` lines carry
each contig's MD5 (``M5``), so a copy found later can be checked.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterable
from pathlib import Path

from workflows.errors import UserError

#: Folders the system empties (at boot, or by age): no place for the reference of a CRAM.
TEMPORARY_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm")


class CramReferenceError(UserError):
    """``--output-format cram`` with a reference that will not be there later (one line)."""


def temporary_folders() -> list[Path]:
    """The temporary folders of this machine, resolved (``/tmp`` is a link on some systems)."""
    found = [Path(p) for p in TEMPORARY_FOLDERS] + [Path(tempfile.gettempdir())]
    return list(dict.fromkeys(p.resolve() for p in found))


def temporary_folder(path: Path, folders: Iterable[Path]) -> Path | None:
    """The temporary folder ``path`` (resolved, links followed) lies in, or None."""
    where = path.resolve()
    for folder in folders:
        if where == folder or folder in where.parents:
            return folder
    return None


def check_reference(reference: Path, folders: Iterable[Path] | None = None) -> None:
    """Refuse a CRAM run whose reference FASTA lies in a temporary folder (``folders``: default
    :func:`temporary_folders`), in one line naming the option and the path."""
    folder = temporary_folder(reference, temporary_folders() if folders is None else folders)
    if folder is not None:
        raise CramReferenceError(
            f"--output-format cram: the reference {reference} is in the temporary folder {folder}, "
            "which will not keep it; a CRAM cannot be read without it: put the reference somewhere "
            "permanent, or write BAM"
        )


def sha256(path: Path, chunk: int = 1 << 20) -> str:
    """The file's SHA-256 (hex), read in chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
