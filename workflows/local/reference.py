"""Make sure the reference has an aligner index before a local run, building it when missing.

The align step uses ``bwa-mem2`` when it is on PATH and its index sits beside the FASTA, else
``bwa``; so the index built here is bwa-mem2's when bwa-mem2 is installed, else bwa's. It goes
into the reference's own directory when that is writable (so the next run finds it), otherwise
into a cache directory under the output directory, next to a link to the FASTA; the run then
points at that copy. Index files appear under their final names only once complete (built under
a temporary prefix, then renamed), so an interrupted build is never mistaken for an index.

An index is tied to its FASTA: the whole FASTA is read (:func:`workflows.fasta.scan_fasta`, which
also refuses a protein or text file and duplicate contig names) and its contigs' names and lengths
are compared with the index's ``.ann``, and bwa's file sizes with the ones the ``.ann`` implies.
An index that does not match (another FASTA's, or cut short) is built again when seqstack built
it (a ``<fasta>.seqstack-index`` file beside it says so), and refused otherwise, in one line
naming both files: a user's own index is not overwritten behind their back.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workflows.fasta import Contig, FastaError, index_problem, parse_ann, scan_fasta
from workflows.local.fastq import GZIP_ERRORS, InputError, open_input

#: Index files each aligner puts beside the FASTA (the align step checks the same names).
INDEX_SUFFIXES: dict[str, tuple[str, ...]] = {
    "bwa-mem2": (".0123", ".amb", ".ann", ".bwt.2bit.64", ".pac"),
    "bwa": (".amb", ".ann", ".bwt", ".pac", ".sa"),
}


@dataclass(frozen=True)
class ReferenceIndex:
    """The reference a run uses, and what was done to index it."""

    fasta: Path
    """The FASTA to pass to the run (the original, or a link in the cache directory)."""
    aligner: str
    """``bwa-mem2`` or ``bwa``: the aligner the align step will pick."""
    version: str
    """The aligner's version line, for the record."""
    built: bool
    """True when the index was built by this run."""
    where: str
    """Human-readable: where the index lives and why."""


def pick_aligner() -> str:
    """``bwa-mem2`` when on PATH, else ``bwa``; an :class:`InputError` when neither is."""
    for tool in ("bwa-mem2", "bwa"):
        if shutil.which(tool):
            return tool
    raise InputError("no aligner on PATH: install bwa-mem2 or bwa (Debian/Ubuntu: apt-get install bwa)")


def aligner_version(tool: str) -> str:
    """The aligner's version (bwa prints it in its usage text on stderr)."""
    try:
        # bwa prints its version in the usage text; bwa-mem2 has a `version` command.
        args = [tool, "version"] if tool == "bwa-mem2" else [tool]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = proc.stdout + proc.stderr
    m = re.search(r"Version:\s*(\S+)", text) or re.search(r"^(\d+\.\d+\S*)", text, re.M)
    return m.group(1) if m else "unknown"


#: Beside an index seqstack built: marks it as seqstack's own, to rebuild when it goes stale.
OWN_MARK = ".seqstack-index"


def has_index(fasta: Path, aligner: str) -> bool:
    """Every index file is there, non-empty, and not older than the FASTA."""
    mtime = fasta.stat().st_mtime
    for suffix in INDEX_SUFFIXES[aligner]:
        p = Path(f"{fasta}{suffix}")
        if not p.is_file() or p.stat().st_size == 0 or p.stat().st_mtime < mtime:
            return False
    return True


def index_mismatch(fasta: Path, contigs: tuple[Contig, ...], aligner: str) -> str | None:
    """Why the index beside ``fasta`` was not built from a FASTA of these contigs, or None.
    (File sizes are checked for bwa's index only: bwa-mem2's other files have their own layout.)"""
    try:
        ann = parse_ann(Path(f"{fasta}.ann").read_text(errors="replace"))
    except OSError as exc:
        return f"cannot read {fasta}.ann ({exc.strerror})"
    except FastaError as exc:
        return f"{fasta}.ann: {exc}"
    sizes = {}
    for suffix in (".pac", ".bwt", ".sa") if aligner == "bwa" else ():
        path = Path(f"{fasta}{suffix}")
        if path.is_file():
            sizes[suffix] = path.stat().st_size
    return index_problem(contigs, ann, sizes)


def _usable(fasta: Path, aligner: str, contigs: tuple[Contig, ...], original: Path) -> bool:
    """The index beside ``fasta`` is complete and built from it. A stale one seqstack built is
    not usable (it is built again); a stale one the user put there is an :class:`InputError`."""
    if not has_index(fasta, aligner):
        return False
    problem = index_mismatch(fasta, contigs, aligner)
    if problem is None:
        return True
    if Path(f"{fasta}{OWN_MARK}").exists():
        return False
    raise InputError(
        f"reference {original}: the index {fasta}.ann does not match it ({problem}); "
        f"it was not built by seqstack, so it is left alone: delete {fasta}.* index files or "
        "point --reference at the FASTA it was built from"
    )


def ensure_index(fasta: Path, cache_dir: Path, log: Callable[[str], None] = lambda _: None) -> ReferenceIndex:
    """Check the reference and return an indexed FASTA to run with (building the index if needed).

    Raises :class:`InputError` (naming the reference) when it is missing or not FASTA, or when
    indexing fails.
    """
    fasta = fasta.resolve() if fasta.exists() else fasta
    contigs = check_fasta(fasta)
    aligner = pick_aligner()
    version = aligner_version(aligner)
    if _usable(fasta, aligner, contigs, fasta):
        return ReferenceIndex(fasta, aligner, version, False, f"existing index beside {fasta}")
    cached = cache_dir / fasta.name
    if cached.is_symlink() and cached.resolve() == fasta and _usable(cached, aligner, contigs, fasta):
        return ReferenceIndex(cached, aligner, version, False, f"existing index in {cache_dir}")
    if _writable(fasta.parent):
        target, where = fasta, f"built beside the reference in {fasta.parent}"
    else:
        cache_dir.mkdir(parents=True, exist_ok=True)
        if cached.is_symlink() or cached.exists():
            cached.unlink()
        cached.symlink_to(fasta)
        target, where = cached, f"built in {cache_dir} (the reference's directory is not writable)"
    log(f"indexing {fasta.name} with {aligner} {version} ({where})")
    _build(target, aligner)
    problem = index_mismatch(target, contigs, aligner)
    if problem is not None:  # the aligner read the FASTA differently: say so, do not run
        raise InputError(f"reference {fasta}: the index just built does not match it ({problem})")
    return ReferenceIndex(target, aligner, version, True, where)


def _writable(directory: Path) -> bool:
    """May we add files here? As root ``os.access`` says yes to everything, so a directory whose
    mode grants nobody write access (a read-only data set) also counts as not writable."""
    if not os.access(directory, os.W_OK):
        return False
    return os.geteuid() != 0 or bool(directory.stat().st_mode & 0o222)


def _build(fasta: Path, aligner: str) -> None:
    prefix = Path(f"{fasta}.seqstack-building-{os.getpid()}")
    try:
        proc = subprocess.run(
            [aligner, "index", "-p", str(prefix), str(fasta)], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
            raise InputError(f"reference {fasta}: {aligner} index failed: {last}")
        Path(f"{fasta}{OWN_MARK}").write_text(f"built by seqstack with {aligner}\n")
        for suffix in INDEX_SUFFIXES[aligner]:
            os.replace(f"{prefix}{suffix}", f"{fasta}{suffix}")
    finally:
        for leftover in fasta.parent.glob(f"{prefix.name}*"):
            leftover.unlink(missing_ok=True)


def check_fasta(path: Path) -> tuple[Contig, ...]:
    """The reference's contigs (name, length); :class:`InputError` when it is missing or not a
    nucleotide FASTA (read whole: see :func:`workflows.fasta.scan_fasta`)."""
    if not path.exists():
        raise InputError(f"reference {path}: file not found")
    if not path.is_file():
        raise InputError(f"reference {path}: not a regular file")
    try:
        with open_input(path) as f:
            return scan_fasta(f)
    except FastaError as exc:
        raise InputError(f"reference {path}: {exc}") from None
    except EOFError:
        raise InputError(f"reference {path}: truncated gzip") from None
    except (OSError, *GZIP_ERRORS) as exc:
        raise InputError(f"reference {path}: cannot read ({exc})") from None
