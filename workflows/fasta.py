"""What a reference FASTA holds, and whether an aligner index was built from it.

A FASTA is read once, streaming (:func:`scan_fasta`): every sequence byte must be a nucleotide
(IUPAC) letter, most of them A, C, G, T/U or N (a protein or a text file fails here), every
contig has a name seen once and at least one base. The result, the contigs' names and lengths, is
compared with the index's ``.ann`` (bwa and bwa-mem2 write the same one) by :func:`index_problem`,
and the sizes of bwa's ``.pac``/``.sa``/``.bwt`` with the sizes the ``.ann`` implies (a truncated
file shows here), so an index of another FASTA, or a cut one, is named before anything runs.

Object storage cannot afford reading a genome before each submit: :func:`remote_problem` checks
the index against the FASTA's first bytes and its size instead (the first contig's name, and the
size the ``.ann`` predicts for a FASTA of evenly wrapped lines).

Lengths are counted as bwa counts them: every byte of a sequence line but the line break (and a
carriage return before it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

_BLOCK = 4 << 20
#: Bytes a sequence line may hold (IUPAC nucleotide codes, gaps), besides line breaks.
_ALLOWED = b"ACGTUNRYKMSWBDHVacgtunrykmswbdhv-*."
#: The plain bases: a nucleotide FASTA is mostly these; a protein made of IUPAC letters is not.
_PLAIN = b"ACGTUNacgtun"
#: The share of plain bases is measured on this many first bases (a genome is read whole anyway,
#: but this count is a third of the cost).
_SAMPLE = 64 << 20
#: A header longer than this is not a FASTA header (a binary file that starts with '>').
_MAX_HEADER = 1 << 20

Contig = tuple[str, int]


class FastaError(ValueError):
    """The reference, or its index, cannot be used; the message is one line without the path
    (the caller puts ``reference <path>: `` before it)."""


def contig_name(header: bytes) -> str:
    """The contig's name as bwa reads it: up to the first blank after ``>`` (``> x``: none)."""
    header = header.rstrip(b"\r")
    return header.split(maxsplit=1)[0].decode(errors="replace") if header[:1].strip() else ""


def scan_fasta(stream: BinaryIO) -> tuple[Contig, ...]:
    """Read a whole FASTA; return its contigs (name, length) or raise :class:`FastaError`."""
    contigs: list[Contig] = []
    seen: dict[str, int] = {}
    header: bytearray | None = None  # the header being read, while inside one
    length = plain = sampled = 0
    line_start = True

    def close() -> None:
        if contigs and length == 0:
            raise FastaError(f"not FASTA (contig {contigs[-1][0]} has no sequence)")
        if contigs:
            contigs[-1] = (contigs[-1][0], length)

    def open_contig(raw: bytes) -> None:
        name = contig_name(raw)
        number = len(contigs) + 1
        if not name:
            raise FastaError(f"contig {number} has no name (a blank right after '>')")
        if name in seen:
            raise FastaError(f"contig name {name} appears twice (contigs {seen[name]} and {number})")
        seen[name] = number
        contigs.append((name, 0))

    while True:
        buf = stream.read(_BLOCK)
        if not buf:
            break
        pos = 0
        while pos < len(buf):
            if header is not None:
                nl = buf.find(b"\n", pos)
                header += buf[pos : nl if nl >= 0 else len(buf)]
                if len(header) > _MAX_HEADER:
                    raise FastaError("not FASTA (a header line longer than 1 MiB)")
                if nl < 0:
                    break
                close()
                open_contig(bytes(header))
                header, length, pos, line_start = None, 0, nl + 1, True
                continue
            if line_start and buf[pos : pos + 1] == b">":
                header, pos = bytearray(), pos + 1
                continue
            # '>' is never a sequence byte: the next one starts a header (or is an error).
            nxt = buf.find(b">", pos)
            if nxt >= 0 and (buf[nxt - 1 : nxt] != b"\n" if nxt > pos else not line_start):
                where = f"contig {contigs[-1][0]}: " if contigs else ""
                raise FastaError(f"not FASTA ({where}'>' inside a line)")
            end = nxt if nxt >= 0 else len(buf)
            seg = buf[pos:end]
            rest = seg.translate(None, _ALLOWED)  # line breaks, and whatever is not a base
            if rest.strip(b"\r\n"):
                if not contigs:
                    raise FastaError("not FASTA (the first line does not start with '>')")
                bad = rest.translate(None, b"\r\n")[:1].decode(errors="replace")
                raise FastaError(
                    f"not FASTA (contig {contigs[-1][0]}: non-nucleotide character {bad!r} in its sequence)"
                )
            if not contigs and seg.strip():
                raise FastaError("not FASTA (the first line does not start with '>')")
            length += len(seg) - len(rest)
            if sampled < _SAMPLE:
                plain += len(seg) - len(seg.translate(None, _PLAIN))
                sampled += len(seg) - len(rest)
            line_start = seg.endswith(b"\n") if seg else line_start
            pos = end
    if header is not None:
        close()
        open_contig(bytes(header))
        length = 0
    if not contigs:
        raise FastaError("empty file (not FASTA)")
    close()
    if plain * 2 < sampled:
        raise FastaError(
            f"not a nucleotide FASTA (only {plain} of {sampled} bases are A, C, G, T or N: a protein?)"
        )
    return tuple(contigs)


@dataclass(frozen=True)
class AnnIndex:
    """What an index's ``.ann`` file says about the FASTA it was built from."""

    total: int
    """Bases in all contigs (bwa's ``l_pac``)."""
    contigs: tuple[Contig, ...]
    """Name and length of each contig, in order."""
    headers: tuple[int, ...]
    """Bytes of each contig's header line without its line break, as bwa saw it."""


def parse_ann(text: str) -> AnnIndex:
    """Read a bwa/bwa-mem2 ``.ann`` file; :class:`FastaError` when it is not a whole one."""
    lines = text.splitlines()
    try:
        total, count = (int(x) for x in lines[0].split()[:2])
        contigs: list[Contig] = []
        headers: list[int] = []
        for i in range(count):
            named = lines[1 + 2 * i].split(" ", 2)
            name, anno = named[1], named[2] if len(named) > 2 else "(null)"
            length = int(lines[2 + 2 * i].split()[1])
            contigs.append((name, length))
            headers.append(1 + len(name) + (1 + len(anno) if anno != "(null)" else 0))
    except (IndexError, ValueError):
        raise FastaError("cut short or not a bwa .ann file") from None
    if sum(n for _, n in contigs) != total:
        raise FastaError("cut short or not a bwa .ann file (contig lengths do not add up)")
    return AnnIndex(total, tuple(contigs), tuple(headers))


def bwa_file_sizes(total: int) -> dict[str, int]:
    """The sizes of bwa's ``.pac``, ``.bwt`` and ``.sa`` for a reference of ``total`` bases
    (both strands are indexed; the suffix array is sampled every 32 positions; bwa 0.7)."""
    both = 2 * total
    occurrences = (both + 127) // 128 + 1  # one count block per 128 positions, and one more
    return {
        ".pac": total // 4 + 2,
        ".bwt": 40 + 4 * ((both + 15) // 16 + 8 * occurrences),
        ".sa": 56 + 8 * ((both + 32) // 32 - 1),
    }


def index_problem(fasta: tuple[Contig, ...], ann: AnnIndex, sizes: dict[str, int]) -> str | None:
    """What shows the index was not built from this FASTA (or is cut short), or None.

    ``sizes`` are the index files' actual sizes by suffix (those not given are not checked).
    """
    if len(fasta) != len(ann.contigs):
        return f"{len(fasta)} contig(s) in the FASTA, {len(ann.contigs)} in the index"
    for (name, length), (iname, ilength) in zip(fasta, ann.contigs, strict=True):
        if name != iname:
            return f"contig {name} in the FASTA is {iname} in the index"
        if length != ilength:
            return f"contig {name} has {length} bases in the FASTA, {ilength} in the index"
    return size_problem(ann, sizes)


def size_problem(ann: AnnIndex, sizes: dict[str, int]) -> str | None:
    """Which index file is not the size the ``.ann`` implies (cut short, or of another build)."""
    for suffix, expected in bwa_file_sizes(ann.total).items():
        if suffix in sizes and sizes[suffix] != expected:
            return f"index file {suffix} is {sizes[suffix]} bytes, {expected} for this reference (cut short?)"
    return None


def remote_problem(head: bytes, size: int, ann: AnnIndex) -> str | None:
    """Check an index against a FASTA known only by its first bytes and its size.

    The first contig's name must be the index's; when the lines in ``head`` are evenly wrapped
    (what ``samtools faidx`` requires of a FASTA), the FASTA's size must be the one the index's
    contigs give with that wrapping. A gzipped FASTA is only checked by the index's own sizes.
    """
    if head[:2] == b"\x1f\x8b" or not head.startswith(b">") or b"\n" not in head:
        return None
    first, _, body = head.partition(b"\n")
    name = contig_name(first[1:])
    if name != ann.contigs[0][0]:
        return f"the FASTA's first contig is {name}, the index's is {ann.contigs[0][0]}"
    eol = 2 if first.endswith(b"\r") else 1
    lines = body.split(b"\n")[:-1]  # whole lines only
    seq: list[bytes] = []
    for line in lines:
        if line.startswith(b">"):
            break
        seq.append(line)
    if not seq or not seq[0].rstrip(b"\r"):
        return None
    width = len(seq[0].rstrip(b"\r"))
    whole = len(seq) < len(lines)  # the first contig ended within the head
    even = all(len(s.rstrip(b"\r")) == width for s in (seq[:-1] if whole else seq))
    if not even:
        return None
    predicted = sum(
        header + eol + length + -(-length // width) * eol
        for header, (_, length) in zip(ann.headers, ann.contigs, strict=True)
    )
    if size not in (predicted - eol, predicted, predicted + eol):  # no final break, one, a blank line
        return (
            f"the FASTA is {size} bytes, {predicted} for the contigs in the index "
            f"({len(ann.contigs)} contig(s), {ann.total} bases, {width} per line)"
        )
    return None
