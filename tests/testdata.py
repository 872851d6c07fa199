"""Real test data that travels with the repository (``tests/data/``, see each PROVENANCE.md)."""

from __future__ import annotations

from pathlib import Path

#: 5,053 real human mtDNA read pairs (1000 Genomes HG00152, SRR769545) and the rCRS reference.
MTDNA = Path(__file__).resolve().parent / "data" / "human_mtDNA_HG00152"
MTDNA_R1 = MTDNA / "HG00152_SRR769545_mt_R1.fastq.gz"
MTDNA_R2 = MTDNA / "HG00152_SRR769545_mt_R2.fastq.gz"
MTDNA_FASTA = MTDNA / "rCRS_NC_012920.1.fasta"
