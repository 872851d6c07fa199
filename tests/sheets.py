"""Samples built in tests without a sheet file."""

from __future__ import annotations

from workflows.sheet import Lane, Sample


def paired(sample: str, fastq_1: str, fastq_2: str, row: int) -> Sample:
    """A one-lane sample (lane ``1``), as a sheet row ``sample,fastq_1,fastq_2`` reads; an empty
    ``fastq_2`` makes it single-end."""
    return Sample(sample, (Lane("1", fastq_1, fastq_2, row),), row)
