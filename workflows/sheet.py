"""nf-core style sample sheets (``sample,fastq_1,fastq_2``), checked before anything is rendered.

Every rejection is one line naming the file, the row (as a spreadsheet numbers it: the header is
row 1) and the column, so a user can fix the sheet without reading a traceback.

Sample IDs must match ``[A-Za-z0-9][A-Za-z0-9_-]{0,62}``: they become path components
(``<prefix>/samples/<sample>/<sample>.bam``), read-group fields and shell words, so nothing that could
escape a path, a quote or an Argo ``{{...}}`` expression is allowed. They never become Kubernetes
names (Argo names the per-sample nodes ``samples(<index>:...)`` itself), so case is kept; two IDs
that differ only in case are rejected as duplicates because they would clash on case-insensitive
file systems.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from workflows.errors import UserError
from workflows.storage import StorageError, normalise_uri

#: Columns every sheet must have (others, such as nf-core's ``strandedness``, are ignored).
REQUIRED_COLUMNS: tuple[str, ...] = ("sample", "fastq_1", "fastq_2")

#: What a sample ID may look like (see module docstring).
SAMPLE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")


class SampleSheetError(UserError, ValueError):
    """A sample sheet that cannot be used; the message names file, row and column."""


@dataclass(frozen=True)
class Sample:
    """One row of a sample sheet: a paired-end sample."""

    id: str
    """Sample ID (path- and shell-safe, see module docstring)."""
    fastq_1: str
    """R1 location: ``s3://``/``gs://`` URI, or an absolute local path for local runs."""
    fastq_2: str
    """R2 location, same form as ``fastq_1``."""
    row: int
    """Row in the sheet (header = row 1), for messages."""


def _rows(path: Path, text: str) -> list[list[str]]:
    """The sheet's rows; a field that spans lines (a quoted line break) or that the csv module
    cannot read (one over its 128 KiB limit) is an error naming its row, never joined or a trace."""
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[list[str]] = []
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return rows
        except csv.Error as exc:
            raise SampleSheetError(f"{path}: row {len(rows) + 1}: cannot read the CSV ({exc})") from None
        for i, field in enumerate(fields):
            if "\n" in field or "\r" in field:
                names = rows[0] if rows else []
                column = names[i].strip() if i < len(names) and names[i].strip() else f"#{i + 1}"
                raise SampleSheetError(
                    f"{path}: row {len(rows) + 1}, column {column}: a quoted field holds a line break"
                )
        rows.append(fields)


def read_sample_sheet(path: Path, scheme: str) -> list[Sample]:
    """Read and check a sheet whose files use ``scheme`` (``s3``, ``gs`` or ``file``).

    Local paths (scheme ``file``) may be relative: they are resolved against the sheet's
    directory and stored as absolute paths.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SampleSheetError(f"{path}: cannot read sample sheet ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise SampleSheetError(f"{path}: not a UTF-8 text file") from None
    rows = _rows(path, text)
    if not rows or not any(field.strip() for field in rows[0]):
        raise SampleSheetError(f"{path}: row 1: missing header (expected {','.join(REQUIRED_COLUMNS)})")
    header = [name.strip() for name in rows[0]]
    if "sample" not in header and "fastq_1" not in header:
        raise SampleSheetError(
            f"{path}: row 1: missing header (expected {','.join(REQUIRED_COLUMNS)}, got {','.join(header)})"
        )
    for name in header:
        if header.count(name) > 1:
            raise SampleSheetError(f"{path}: row 1, column {name}: column appears twice in the header")
    for name in REQUIRED_COLUMNS:
        if name not in header:
            raise SampleSheetError(f"{path}: row 1, column {name}: missing column in the header")
    index = {name: header.index(name) for name in REQUIRED_COLUMNS}

    samples: list[Sample] = []
    seen: dict[str, int] = {}
    for row_number, fields in enumerate(rows[1:], start=2):
        if not any(f.strip() for f in fields):
            continue  # blank line
        if len(fields) != len(header):
            raise SampleSheetError(
                f"{path}: row {row_number}: has {len(fields)} fields, the header has {len(header)}"
            )
        values = {name: fields[i].strip() for name, i in index.items()}
        where = f"{path}: row {row_number}"
        for name in REQUIRED_COLUMNS:
            if not values[name]:
                raise SampleSheetError(f"{where}, column {name}: empty field")
        sample_id = values["sample"]
        if not SAMPLE_ID_RE.match(sample_id):
            raise SampleSheetError(
                f"{where}, column sample: sample ID {sample_id!r} is not safe in paths and names "
                "(use 1-63 letters, digits, '_' or '-', starting with a letter or digit)"
            )
        key = sample_id.lower()
        if key in seen:
            raise SampleSheetError(
                f"{where}, column sample: duplicate sample ID {sample_id!r} (first on row {seen[key]}; "
                "IDs are compared ignoring case)"
            )
        seen[key] = row_number
        locations = {}
        for name in ("fastq_1", "fastq_2"):
            try:
                locations[name] = normalise_uri(values[name], scheme, base=path.parent)
            except StorageError as exc:
                raise SampleSheetError(f"{where}, column {name}: {exc}") from None
        if locations["fastq_1"] == locations["fastq_2"]:
            raise SampleSheetError(f"{where}, column fastq_2: same file as fastq_1 ({values['fastq_2']})")
        samples.append(Sample(sample_id, locations["fastq_1"], locations["fastq_2"], row_number))
    if not samples:
        raise SampleSheetError(f"{path}: row 2: no samples after the header")
    return samples
