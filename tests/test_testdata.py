"""The committed test data is what its PROVENANCE.md says, byte for byte."""

from __future__ import annotations

import hashlib
import re

from tests.testdata import MTDNA, MTDNA_FASTA, MTDNA_R1, MTDNA_R2


def test_files_match_the_sums_and_sizes_in_provenance() -> None:
    table = re.findall(
        r"^\| `([^`]+)` \| [^|]+ \| ([\d,]+) \| ([0-9a-f]{64}) \|$",
        (MTDNA / "PROVENANCE.md").read_text(),
        re.M,
    )
    assert {name for name, _, _ in table} == {p.name for p in (MTDNA_R1, MTDNA_R2, MTDNA_FASTA)}
    for name, size, digest in table:
        data = (MTDNA / name).read_bytes()
        assert len(data) == int(size.replace(",", "")), name
        assert hashlib.sha256(data).hexdigest() == digest, name
