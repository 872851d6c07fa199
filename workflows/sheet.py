"""nf-core style sample sheets (``sample,fastq_1,fastq_2[,lane]``), checked before anything is rendered.

Rows with the same ``sample`` are that sample's lanes (or runs), in sheet order; the optional
``lane`` column names them (nf-core/sarek's convention), else they are numbered ``1``, ``2``...
An empty ``fastq_2`` means single-end reads; a sheet may mix paired and single-end rows. Every
FASTQ file belongs to exactly one lane.

Every rejection is one line naming the file, the row (as a spreadsheet numbers it: the header is
row 1) and the column, so a user can fix the sheet without reading a traceback.

Sample IDs must match ``[A-Za-z0-9][A-Za-z0-9_-]{0,62}``: they become path components
(``<prefix>/samples/<sample>/<sample>.bam``), read-group fields and shell words, so nothing that could
escape a path, a quote or an Argo ``{{...}}`` expression is allowed. They never become Kubernetes
names (Argo names the per-sample nodes ``samples(<index>:...)`` itself), so case is kept; two IDs
that differ only in case are rejected as duplicates because they would clash on case-insensitive
file systems. Lane IDs follow the same rule (they become ``<sample>_<lane>`` file names).
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

#: Columns read when present: ``lane`` names a sample's lanes (nf-core/sarek's convention).
OPTIONAL_COLUMNS: tuple[str, ...] = ("lane",)

#: What a sample ID may look like (see module docstring).
SAMPLE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")


class SampleSheetError(UserError, ValueError):
    """A sample sheet that cannot be used; the message names file, row and column."""


@dataclass(frozen=True)
class Lane:
    """One row of a sample sheet: one lane (or run) of a sample, paired-end or single-end."""

    id: str
    """The ``lane`` column's value, or ``1``, ``2``... in the sample's row order when the sheet
    has no lane column or the cell is empty (same safety rule as sample IDs)."""
    fastq_1: str
    """R1 location: ``s3://``/``gs://`` URI, or an absolute local path for local runs; never empty."""
    fastq_2: str
    """R2 location, same form as ``fastq_1``; empty for single-end reads."""
    row: int
    """Row in the sheet (header = row 1), for messages."""

    @property
    def paired(self) -> bool:
        """Whether the lane has an R2 file."""
        return bool(self.fastq_2)

    @property
    def files(self) -> tuple[str, ...]:
        """The lane's FASTQ locations, R1 first."""
        return (self.fastq_1, self.fastq_2) if self.fastq_2 else (self.fastq_1,)


@dataclass(frozen=True)
class Sample:
    """A sample: every row of the sheet with its ID, each one of its lanes, in sheet order."""

    id: str
    """Sample ID (path- and shell-safe, see module docstring)."""
    lanes: tuple[Lane, ...]
    """Its lanes in sheet order (at least one)."""
    row: int
    """First row of the sample in the sheet (header = row 1), for messages."""

    def unit(self, lane: Lane) -> str:
        """File-name stem of one lane's outputs: the sample ID when it has one lane (so a
        one-lane sample's files keep the names they always had), else ``<sample>_<lane>``."""
        return self.id if len(self.lanes) == 1 else f"{self.id}_{lane.id}"


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
    columns = (*REQUIRED_COLUMNS, *(c for c in OPTIONAL_COLUMNS if c in header))
    index = {name: header.index(name) for name in columns}

    lanes: dict[str, list[Lane]] = {}
    first: dict[str, tuple[str, int]] = {}  # lower-case ID -> (ID as written, first row)
    used: dict[str, tuple[int, str]] = {}  # FASTQ location -> (row, column)
    for row_number, fields in enumerate(rows[1:], start=2):
        if not any(f.strip() for f in fields):
            continue  # blank line
        if len(fields) != len(header):
            raise SampleSheetError(
                f"{path}: row {row_number}: has {len(fields)} fields, the header has {len(header)}"
            )
        values = {name: fields[i].strip() for name, i in index.items()}
        where = f"{path}: row {row_number}"
        if not values["sample"]:
            raise SampleSheetError(f"{where}, column sample: empty field")
        if not values["fastq_1"]:
            hint = " (single-end rows put their reads in fastq_1)" if values["fastq_2"] else ""
            raise SampleSheetError(f"{where}, column fastq_1: empty field{hint}")
        sample_id = values["sample"]
        if not SAMPLE_ID_RE.match(sample_id):
            raise SampleSheetError(
                f"{where}, column sample: sample ID {sample_id!r} is not safe in paths and names "
                "(use 1-63 letters, digits, '_' or '-', starting with a letter or digit)"
            )
        key = sample_id.lower()
        if key in first and first[key][0] != sample_id:
            raise SampleSheetError(
                f"{where}, column sample: sample ID {sample_id!r} differs only in case from "
                f"{first[key][0]!r} on row {first[key][1]} (IDs are compared ignoring case)"
            )
        first.setdefault(key, (sample_id, row_number))
        mine = lanes.setdefault(sample_id, [])
        lane_id = values.get("lane", "") or str(len(mine) + 1)
        if not SAMPLE_ID_RE.match(lane_id):
            raise SampleSheetError(
                f"{where}, column lane: lane ID {lane_id!r} is not safe in paths and names "
                "(use 1-63 letters, digits, '_' or '-', starting with a letter or digit)"
            )
        repeated = next((lane for lane in mine if lane.id == lane_id), None)
        if repeated is not None:
            column = "lane" if "lane" in index else "sample"
            raise SampleSheetError(
                f"{where}, column {column}: lane {lane_id!r} of sample {sample_id!r} repeated "
                f"(first on row {repeated.row})"
            )
        locations = {}
        for name in ("fastq_1", "fastq_2"):
            if not values[name]:
                locations[name] = ""
                continue
            try:
                locations[name] = normalise_uri(values[name], scheme, base=path.parent)
            except StorageError as exc:
                raise SampleSheetError(f"{where}, column {name}: {exc}") from None
            earlier = used.get(locations[name])
            if earlier is not None and earlier[0] == row_number:
                raise SampleSheetError(f"{where}, column {name}: same file as {earlier[1]} ({values[name]})")
            if earlier is not None:
                raise SampleSheetError(
                    f"{where}, column {name}: same file as row {earlier[0]}, column {earlier[1]} "
                    f"({values[name]}); each FASTQ belongs to one lane"
                )
            used[locations[name]] = (row_number, name)
        mine.append(Lane(lane_id, locations["fastq_1"], locations["fastq_2"], row_number))
    samples = [Sample(sid, tuple(found), found[0].row) for sid, found in lanes.items()]
    # Lane outputs are named by unit (<sample>_<lane>): sample A's lane 2 and a sample A_2 would
    # write the same files (compared ignoring case, as sample IDs are).
    units: dict[str, Lane] = {}
    for sample in samples:
        for lane in sample.lanes:
            unit = sample.unit(lane)
            other = units.setdefault(unit.lower(), lane)
            if other is not lane:
                column = "lane" if "lane" in index and len(sample.lanes) > 1 else "sample"
                raise SampleSheetError(
                    f"{path}: row {max(lane.row, other.row)}, column {column}: its files would be named "
                    f"{unit!r}, as those of row {min(lane.row, other.row)} are (rename the sample or lane)"
                )
    if not samples:
        raise SampleSheetError(f"{path}: row 2: no samples after the header")
    return samples
