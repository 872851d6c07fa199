"""Check a sample's paired FASTQ files before anything runs: streaming, gzip-aware, fast.

Finds a missing or unreadable file, a truncated or corrupt gzip, a file that is not FASTQ, an
empty file, a broken record (named by its number: the first record at fault, whatever the check),
an empty read name (bwa would write a BAM of nameless reads), R1/R2 read counts that differ, R1/R2
read names out of step, and an R2 that holds R1's reads again (a copy). A last record without a
final newline is a complete record, not a truncated file.
Every problem is one line naming the sample and the file, so a user can fix it without a trace.

Each file is read in one streaming pass (large decompressed blocks, record checks done on whole
lists of lines, or, for large files in checker processes, numpy passes over whole blocks, so the
cost is close to that of decompressing). :func:`summarize` reads one file
and keeps only its read count and digests of its read names, so :func:`checking_pairs` (what
``seqstack run`` calls) reads R1 and R2 at once, in up to one checker process per core
(``python -m workflows.local.fastq --serve``), and :func:`compare_pair` compares the summaries; only
when they differ does :func:`check_pair` read both files again in lockstep, to name the first
read out of step. Asked to (:class:`PlainCopies`), the check keeps the bytes it decompresses as a
plain copy of each gzipped file, which ``seqstack run`` stages for the tools instead, so the reads
are decompressed once per run, not once more by every tool that reads them.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from operator import ne
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO, cast

from isal import igzip, isal_zlib

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

from workflows.errors import UserError
from workflows.sheet import Lane, Sample

_BLOCK = 4 << 20
#: R1 and R2 read names are compared as digests of runs of this many names.
_RUN = 1 << 16
#: Quality characters FastQC and the SAM format accept: printable ASCII, '!' (33) to '~' (126).
_QUALITY = bytes(range(33, 127))
#: An R2 whose first this-many reads have R1's sequences and qualities is a copy of R1.
_HEAD = 1000
# Errors of a corrupt gzip stream: the standard library's, and ISA-L's (its stubs type the class
# loosely, hence the cast).
GZIP_ERRORS = (gzip.BadGzipFile, zlib.error, cast(type[Exception], isal_zlib.IsalError))


class InputError(UserError, ValueError):
    """A sample's input that cannot be run; the message names the sample and the file."""


@dataclass(frozen=True)
class PairSummary:
    """What the check learnt about a good pair."""

    reads: int
    """Read pairs (records in each file)."""


@dataclass(frozen=True)
class FileSummary:
    """What reading one file of a pair learnt, enough to compare it with its mate."""

    reads: int
    """Records in the file."""
    names: tuple[str, ...]
    """BLAKE2 digests of each run of read names (mate suffix and comment removed)."""
    head: str = ""
    """BLAKE2 digest of the sequences and qualities of the first reads (up to 1000): equal in R1
    and R2 only when R2 is a copy of R1."""
    decompressed: str = ""
    """Where the check left the file's decompressed bytes (:class:`PlainCopy`); "" when it did not."""


@dataclass(frozen=True)
class PlainCopy:
    """Where the check of a gzipped file writes the bytes it decompresses, and at most how many.

    The check decompresses every byte of every input anyway; kept, those bytes spare the tools
    their own decompression (``seqstack run`` stages the copy instead of the gzipped file). The
    copy is written as ``<path>.part`` and renamed to ``path`` only once the whole file was read
    and found good; past ``limit`` bytes, or if it cannot be written, it is dropped and the check
    goes on as if none had been asked for. A file that is not gzipped gets no copy.
    """

    path: Path
    limit: int


def open_input(path: Path) -> BinaryIO:
    raw = path.open("rb")
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        # ISA-L's gzip reader: the same format and errors as the standard library's, about 2.5x
        # faster, and the check reads every byte of every FASTQ before anything runs.
        return igzip.IGzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def _name(header: bytes) -> bytes:
    # A blank after '@' is an empty name, as bwa reads it (the rest is the comment).
    name = header[1:].split(maxsplit=1)[0] if header[1:2].strip() else b""
    return name[:-2] if name.endswith((b"/1", b"/2")) else name


#: The first word of each line of a block of header lines (empty when a blank follows '@').
_WORD = re.compile(rb"^@(\S*)", re.MULTILINE)
#: What ends a name besides the end of its line (bytes.split()'s whitespace less the newline).
_BLANKS = (b" ", b"\t", b"\r", b"\x0b", b"\x0c")
_BLANK_CODES = [blank[0] for blank in _BLANKS]
_NEWLINE = ord("\n")


def _all_start_with(lines: list[bytes], lead: bytes) -> bool:
    # A line never holds a newline (blocks are split on them): count the line starts at once.
    return (b"\n" + b"\n".join(lines)).count(b"\n" + lead) == len(lines)


def _names(heads: list[bytes]) -> list[bytes]:
    """:func:`_name` of every header, in C-level passes over the block instead of a Python call
    per read (that call was a third of the check's CPU); [] when a header does not start with '@'."""
    if not _all_start_with(heads, b"@"):
        return []
    joined = b"\n".join(heads)
    commented = any(blank in joined for blank in _BLANKS)
    # Comments after the names: each line's first word; else each line is '@' and the name.
    names = _WORD.findall(joined) if commented else joined[1:].split(b"\n@")
    tails = b"\n".join(names) + b"\n"
    if b"/1\n" in tails or b"/2\n" in tails:  # mate suffixes: strip them name by name
        return [n[:-2] if n.endswith((b"/1", b"/2")) else n for n in names]
    return names


class _Reader:
    """Yields lists of read names, block by block, checking every record on the way."""

    def __init__(self, sample: str, label: str, path: Path, copy: PlainCopy | None = None) -> None:
        self.sample, self.label, self.path = sample, label, path
        self.count = 0
        self.head = ""
        self.copy = copy
        self._sink: BinaryIO | None = None
        self._spilled = 0

    def fail(self, problem: str) -> InputError:
        return InputError(f"sample {self.sample}: {self.label} {self.path}: {problem}")

    def _data(self) -> Iterator[bytes]:
        """The file's decompressed bytes, block by block; its problems as :class:`InputError`."""
        if not self.path.exists():
            raise self.fail("file not found")
        if not self.path.is_file():
            raise self.fail("not a regular file")
        try:
            stream = open_input(self.path)
        except OSError as exc:
            raise self.fail(f"cannot open ({exc.strerror})") from None
        if self.copy is not None and isinstance(stream, igzip.IGzipFile):
            with contextlib.suppress(OSError):  # no copy, the same check
                # Readable by this user only, whatever the input's mode: the reads may be private.
                fd = os.open(self._part(), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                self._sink = open(fd, "wb")  # noqa: SIM115 (keep_copy or drop_copy closes it)
        first = True
        with stream:
            while True:
                try:
                    data = stream.read(_BLOCK)
                except EOFError:
                    raise self.fail("truncated gzip (compressed data ends early)") from None
                except GZIP_ERRORS as exc:
                    raise self.fail(f"corrupt gzip ({exc})") from None
                except OSError as exc:
                    raise self.fail(f"cannot read ({exc})") from None
                if not data:
                    return
                if first:
                    first = False
                    if not data.lstrip()[:1] == b"@":
                        raise self.fail("not a FASTQ file (the first record does not start with '@')")
                    if b"\0" in data[:4096]:
                        raise self.fail("not a FASTQ file (binary data)")
                if self._sink is not None:
                    self._spill(data)
                yield data

    def _part(self) -> Path:
        assert self.copy is not None
        return self.copy.path.with_name(f"{self.copy.path.name}.part")

    def _spill(self, data: bytes) -> None:
        assert self._sink is not None and self.copy is not None
        self._spilled += len(data)
        try:
            if self._spilled > self.copy.limit:
                raise OSError("more than its allowance")
            self._sink.write(data)
        except OSError:  # a full disk, or a file that expands more than allowed: no copy
            self.drop_copy()

    def drop_copy(self) -> None:
        """Remove what was written of the plain copy, if anything."""
        if self._sink is None:
            return
        sink, self._sink = self._sink, None
        with contextlib.suppress(OSError):
            sink.close()
        with contextlib.suppress(OSError):
            self._part().unlink()

    def keep_copy(self) -> str:
        """After the whole file was read and found good: its plain copy under its final name, or
        "" when there is none."""
        if self._sink is None or self.copy is None:
            return ""
        sink, self._sink = self._sink, None
        try:
            sink.close()
            os.replace(self._part(), self.copy.path)
        except OSError:
            with contextlib.suppress(OSError):
                self._part().unlink()
            return ""
        return str(self.copy.path)

    def _last(self, carry: bytes) -> bytes:
        """What is left after the last whole record: the last record, with a newline added, when
        it lacks only its final newline; b"" when nothing is left; else the file is truncated."""
        if carry.strip():
            last = carry.split(b"\n")
            # Three lines and an unfinished one: a whole last record without a final newline
            # (unless its quality is cut short: then the file is truncated).
            if len(last) == 4 and last[3] and len(last[3]) == len(last[1]):
                return carry + b"\n"
            raise self.fail(f"truncated FASTQ (incomplete record after read {self.count})")
        return b""

    def _empty(self) -> None:
        if self.count == 0:
            raise self.fail("empty FASTQ (no reads)")

    def blocks(self) -> Iterator[list[bytes]]:
        carry = b""
        for data in self._data():
            lines = (carry + data).split(b"\n")
            tail = lines.pop()  # an unfinished line, or b"" after a final newline
            n = len(lines) // 4 * 4
            rest = lines[n:]
            carry = b"".join(line + b"\n" for line in rest) + tail
            if n:
                yield self._check(lines[:n])
        last = self._last(carry)
        if last:
            yield self._check(last.split(b"\n")[:4])
        self._empty()

    def scans(self) -> Iterator[tuple[bytes, NDArray[np.intp]]]:
        """What :meth:`blocks` checks, with whole-block array passes instead of lists of lines
        (about a third of the CPU beyond decompressing); yields each block's names, each followed
        by a newline, and where each one starts."""
        import numpy as np  # here, not at the top: the main process never imports it (see summarize)

        carry = b""
        for data in self._data():
            buf = carry + data
            ends = np.flatnonzero(np.frombuffer(buf, np.uint8) == _NEWLINE)
            n = len(ends) // 4 * 4
            cut = int(ends[n - 1]) + 1 if n else 0
            carry = buf[cut:]
            if n:
                yield self._scan(buf, ends[:n])
        last = self._last(carry)
        if last:
            yield self._scan(last, np.flatnonzero(np.frombuffer(last, np.uint8) == _NEWLINE))
        self._empty()

    def _scan(self, buf: bytes, ends: NDArray[np.intp]) -> tuple[bytes, NDArray[np.intp]]:
        """:meth:`_check` of the records ending at ``ends`` (the newlines of buf's whole records)."""
        import numpy as np

        a = np.frombuffer(buf, np.uint8, count=int(ends[-1]) + 1)
        starts = np.empty_like(ends)
        starts[0], starts[1:] = 0, ends[:-1] + 1
        heads = starts[0::4]
        name_ends = ends[0::4]  # a name ends at its header's first blank, else at the line's end
        ok = (
            bool((a[heads] == ord("@")).all())
            and bool((a[starts[2::4]] == ord("+")).all())
            and np.array_equal(ends[1::4] - starts[1::4], ends[3::4] - starts[3::4])
        )
        # Bytes outside '!'..'~' are the newlines, blanks in headers, or faults: look for where
        # they are only when there are more of them than newlines.
        if ok and (np.count_nonzero(a < ord("!")) != len(ends) or int(a.max()) > ord("~")):
            at = np.flatnonzero(((a < ord("!")) | (a > ord("~"))) & (a != _NEWLINE))
            line = np.searchsorted(ends, at)  # the line each one is on
            ok = not bool((line % 4 == 3).any())  # in a quality line: a fault
            blank = (line % 4 == 0) & np.isin(a[at], _BLANK_CODES)
            record, at = line[blank] // 4, at[blank]
            first = np.flatnonzero(np.diff(record, prepend=-1))  # the first blank of each header
            name_ends = name_ends.copy()
            name_ends[record[first]] = at[first]
        firsts = heads + 1
        lengths = name_ends - firsts
        # A mate suffix (/1, /2) is not part of the name.
        lengths -= 2 * (
            (lengths >= 2)
            & (a[name_ends - 2] == ord("/"))
            & ((a[name_ends - 1] == ord("1")) | (a[name_ends - 1] == ord("2")))
        )
        if not ok or int(lengths.min()) <= 0:
            lines = buf[: len(a) - 1].split(b"\n")
            self._fail_first(lines[0::4], lines[1::4], lines[2::4], lines[3::4])
        if not self.head:
            k = min(_HEAD, len(heads))
            lines = buf[: int(ends[4 * k - 1])].split(b"\n")
            self.head = _digest(lines[1::4] + lines[3::4])
        self.count += len(heads)
        # Every name and a newline after it, gathered in one take: each byte's index is its
        # name's first byte plus its place in the name.
        spans = lengths + 1
        offsets = np.cumsum(spans) - spans
        names = a[np.arange(int(offsets[-1] + spans[-1])) + np.repeat(firsts - offsets, spans)]
        names[offsets + lengths] = _NEWLINE
        return names.tobytes(), offsets

    def _check(self, lines: list[bytes]) -> list[bytes]:
        heads, seqs, plus, quals = lines[0::4], lines[1::4], lines[2::4], lines[3::4]
        names = _names(heads)
        if (
            not names
            or not _all_start_with(plus, b"+")
            or any(map(ne, map(len, seqs), map(len, quals)))
            or b"" in names
            or b"".join(quals).translate(None, _QUALITY)
        ):
            self._fail_first(heads, seqs, plus, quals)
        if not self.head:
            k = min(_HEAD, len(heads))
            self.head = _digest(seqs[:k] + quals[:k])
        self.count += len(heads)
        return names

    def _fail_first(
        self, heads: list[bytes], seqs: list[bytes], plus: list[bytes], quals: list[bytes]
    ) -> None:
        """Raise for the first record at fault in a block (a line missing from one record makes
        every later one look wrong in other ways: the first is the one to name)."""
        for i, (h, s, p, q) in enumerate(zip(heads, seqs, plus, quals, strict=True)):
            n = self.count + i + 1
            if h[:1] != b"@":
                raise self.fail(f"record {n}: header does not start with '@' (not FASTQ)")
            if p[:1] != b"+":
                raise self.fail(f"record {n}: third line does not start with '+' (not FASTQ)")
            if len(s) != len(q):
                raise self.fail(f"record {n}: sequence and quality lengths differ")
            if not _name(h):
                raise self.fail(f"record {n}: empty read name (the BAM would have nameless reads)")
            if bad := q.translate(None, _QUALITY):
                raise self.fail(
                    f"record {n}: quality character {chr(bad[0])!r} is not one of '!' to '~' "
                    "(Phred+33 or +64 text)"
                )
        raise AssertionError("_fail_first: no record at fault")  # pragma: no cover


def _produce(
    reader: _Reader, out: queue.Queue[list[bytes] | BaseException | None], stop: threading.Event
) -> None:
    def put(item: list[bytes] | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    try:
        for block in reader.blocks():
            if not put(block):
                return
        put(None)
    except BaseException as exc:  # handed to the consumer, which raises it
        put(exc)


def check_pair(sample: str, r1: Path, r2: Path) -> PairSummary:
    """Read both files once, side by side; raise :class:`InputError` at the first problem.

    Each file is read and checked in its own thread (decompression releases the GIL), and the
    read names are compared as blocks arrive, so the check costs about one file's read time.
    """
    readers = (_Reader(sample, "R1", r1), _Reader(sample, "R2", r2))
    queues: tuple[queue.Queue[list[bytes] | BaseException | None], ...] = (
        queue.Queue(maxsize=4),
        queue.Queue(maxsize=4),
    )
    stop = threading.Event()
    threads = [
        threading.Thread(target=_produce, args=(reader, q, stop), daemon=True)
        for reader, q in zip(readers, queues, strict=True)
    ]
    for t in threads:
        t.start()
    pending: tuple[list[bytes], list[bytes]] = ([], [])
    done = [False, False]
    compared = 0
    try:
        while not all(done):
            # Pull from the side that is behind (or the only one still going).
            side = 0 if (not done[0] and (done[1] or len(pending[0]) <= len(pending[1]))) else 1
            item = queues[side].get()
            if isinstance(item, BaseException):
                raise item
            if item is None:
                done[side] = True
            else:
                pending[side].extend(item)
            k = min(len(pending[0]), len(pending[1]))
            if k:
                a, b = pending
                if a[:k] != b[:k]:
                    i = next(i for i in range(k) if a[i] != b[i])
                    one, two = a[i].decode(errors="replace"), b[i].decode(errors="replace")
                    raise InputError(
                        f"sample {sample}: {r2}: read names out of step with R1 at read {compared + i + 1} "
                        f"({one!r} vs {two!r})"
                    )
                compared += k
                del a[:k], b[:k]
    finally:
        stop.set()  # producers still reading after an early error stop at their next block
    count1, count2 = readers[0].count, readers[1].count
    if count1 != count2:
        short = r1 if count1 < count2 else r2
        raise InputError(f"sample {sample}: {short}: R1 has {count1} reads but R2 has {count2}")
    _refuse_copy(sample, r1, r2, readers[0].head, readers[1].head)
    return PairSummary(reads=count1)


def _refuse_copy(sample: str, r1: Path, r2: Path, head1: str, head2: str) -> None:
    if head1 and head1 == head2:
        raise InputError(
            f"sample {sample}: {r2}: R2 has the same sequences and qualities as R1 {r1} (a copy of R1?)"
        )


def summarize(
    sample: str, label: str, path: Path, *, vectorized: bool = False, copy: PlainCopy | None = None
) -> FileSummary:
    """Read and check one file of a pair (``label`` R1 or R2); raise :class:`InputError`.

    ``vectorized``: check each block with array passes (numpy) rather than lists of lines: the same
    checks, messages and summary for about a third of the CPU beyond decompressing, but numpy's
    import costs about 0.15 s of CPU, more than that saves on small files. ``copy``: where to keep
    the decompressed bytes of a gzipped file (:class:`PlainCopy`); only a good file keeps one.
    """
    reader = _Reader(sample, label, path, copy)
    try:
        summary = _read(reader, vectorized)
    except BaseException:
        reader.drop_copy()
        raise
    return replace(summary, decompressed=reader.keep_copy())


def _read(reader: _Reader, vectorized: bool) -> FileSummary:
    digests: list[str] = []
    if not vectorized:
        pending: list[bytes] = []
        for block in reader.blocks():
            pending.extend(block)
            # Each name and a newline after it, as the vectorized check hands them over.
            while len(pending) >= _RUN:
                digests.append(_digest([*pending[:_RUN], b""]))
                del pending[:_RUN]
        if pending:
            digests.append(_digest([*pending, b""]))
        return FileSummary(reader.count, tuple(digests), reader.head)
    run, in_run = _new_digest(), 0
    for names, offsets in reader.scans():
        view, i, m = memoryview(names), 0, len(offsets)
        while i < m:  # a run of names may begin in one block and end in another
            j = min(m, i + _RUN - in_run)
            run.update(view[offsets[i] : offsets[j] if j < m else len(names)])
            in_run, i = in_run + j - i, j
            if in_run == _RUN:
                digests.append(run.hexdigest())
                run, in_run = _new_digest(), 0
    if in_run:
        digests.append(run.hexdigest())
    return FileSummary(reader.count, tuple(digests), reader.head)


def _new_digest() -> hashlib.blake2b:
    return hashlib.blake2b(digest_size=16)


def _digest(lines: list[bytes]) -> str:
    # A line never holds a newline: the joined form is unambiguous.
    return hashlib.blake2b(b"\n".join(lines), digest_size=16).hexdigest()


def compare_pair(sample: str, r1: Path, r2: Path, one: FileSummary, two: FileSummary) -> PairSummary:
    """Compare the summaries of a pair's two files; raise :class:`InputError` when they differ
    in read count or in read names, naming the first read out of step when there is one."""
    if one.reads == two.reads and one.names == two.names:
        _refuse_copy(sample, r1, r2, one.head, two.head)
        return PairSummary(reads=one.reads)
    # Read both again in lockstep: it raises at the first read out of step (a dropped read
    # shows there, not just as a count), else with the counts.
    check_pair(sample, r1, r2)
    raise InputError(f"sample {sample}: {r2}: R1 and R2 changed while they were checked; check again")


#: When all the files together are smaller than this, they are checked in this process: a
#: checker process's start-up (about 80 ms of CPU: Python and the modules) would cost more than
#: reading them.
IN_PROCESS_CHECK_BYTES = 4 << 20


#: A checker process checks a file at least this large (as stored) with numpy passes: numpy's
#: import (about 0.15 s of CPU) is paid back after about 50 MB of gzipped reads (0.3 CPU-s saved per
#: 1 M reads, about 100 MB), and a process pays it once for all its files.
VECTORIZED_BYTES = 32 << 20
#: A checker process's environment on top of the caller's: numpy's OpenBLAS starts a thread per
#: core at import, about 0.1 s of CPU for linear algebra the check never does.
CHECKER_ENV = {"OPENBLAS_NUM_THREADS": "1"}


_Read = Future[FileSummary | str | None]  # a file's summary, its problem, or None when stopped


@dataclass
class PairCheck:
    """The answer of :func:`checking_pairs`."""

    problems: dict[str, str]
    """Sample -> its problem, for the samples that cannot run."""
    seconds: float
    """From the first check's start to the last one's end."""
    decompressed: dict[str, Path] = field(default_factory=dict)
    """Input file (as the sheet names it) -> the plain copy the check kept of it, for the good
    samples' gzipped files that :class:`PlainCopies` had room for."""


#: A gzipped FASTQ is allowed this many times its size as a plain copy (FASTQ usually expands 3-5
#: times; a file that expands more gets no copy); the budget is counted in these allowances.
PLAIN_EXPANSION = 8


@dataclass(frozen=True)
class PlainCopies:
    """Where :func:`checking_pairs` keeps the decompressed bytes of gzipped inputs
    (:class:`PlainCopy`), and how many bytes it may allow them in all and each."""

    folder: Path
    budget: int
    """Bytes allowed to all the copies together."""
    file_limit: int
    """Bytes allowed to one copy: a task's staged inputs count against its volume's sizeLimit."""

    def plan(self, paths: Sequence[str]) -> dict[str, PlainCopy]:
        """A copy for each gzipped file, in order, while their allowances (:data:`PLAIN_EXPANSION`
        times the file's size) fit in the budget; none for a file allowed more than ``file_limit``."""
        copies: dict[str, PlainCopy] = {}
        used = 0
        for i, path in enumerate(paths):
            if path in copies or not _gzipped(path):
                continue
            try:
                allowance = os.stat(path).st_size * PLAIN_EXPANSION
            except OSError:  # gone since: the check names what is wrong with it
                continue
            if allowance > self.file_limit or used + allowance > self.budget:
                continue
            used += allowance
            name = Path(path).name
            copies[path] = PlainCopy(self.folder / f"{i:05d}.{name.removesuffix('.gz')}", allowance)
        return copies


def _gzipped(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(2) == b"\x1f\x8b"
    except OSError:  # the check names what is wrong with it
        return False


class _Checker:
    """A checker process (``python -m workflows.local.fastq --serve``): it reads one file per
    request, so a sheet of many files starts as many processes as there are cores, not one per
    file (each start costs about 80 ms of CPU)."""

    def __init__(self) -> None:
        # -P: not the current directory on sys.path, so a stray hashlib.py or workflows/ there
        # cannot stand in for the real modules.
        self.proc = subprocess.Popen(
            [sys.executable, "-P", "-m", "workflows.local.fastq", "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **CHECKER_ENV},
        )

    def summarize(self, sample: str, label: str, path: str, copy: PlainCopy | None) -> FileSummary | str:
        """The file's summary, or its problem as one line."""
        proc = self.proc
        assert proc.stdin is not None and proc.stdout is not None
        request = [sample, label, path] + ([str(copy.path), copy.limit] if copy is not None else [])
        try:
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
            answer = proc.stdout.readline()
        except OSError:
            answer = ""
        try:
            reply = json.loads(answer)
            if "problem" in reply:
                return str(reply["problem"])
            return FileSummary(
                int(reply["reads"]),
                tuple(reply["names"]),
                str(reply["head"]),
                str(reply.get("decompressed", "")),
            )
        except (ValueError, KeyError, TypeError):
            pass
        # No answer: the process died (killed, out of memory, a bug); say what it said.
        proc.kill()
        err = proc.communicate()[1] if proc.stderr is not None else ""
        last = (err.strip().splitlines() or answer.strip().splitlines() or ["no message"])[-1]
        return f"sample {sample}: {label} {path}: the check failed (exit code {proc.returncode}: {last})"

    def close(self) -> None:
        """End the process (at once: nothing it could still say is waited for)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()


@contextmanager
def checking_pairs(
    samples: Sequence[Sample], cpus: int, plain: PlainCopies | None = None
) -> Iterator[Callable[[], PairCheck]]:
    """Start checking every FASTQ file, up to ``cpus`` at a time; yields a call that waits for
    the answer. Leaving the block stops every check still running. ``plain``: keep the
    decompressed bytes of gzipped files there (:class:`PlainCopies`); the answer says which; the
    copies of a sample found bad are removed.

    Unless the files are small together (:data:`IN_PROCESS_CHECK_BYTES`), they are read by up to
    ``cpus`` checker processes (:class:`_Checker`), not threads: the record checks hold the GIL,
    and meanwhile the caller builds a missing index and imports Hera; R1 and R2 are read at once
    and compared by their summaries. Plain child processes rather than a multiprocessing pool,
    because a pool's workers re-import the parent's ``__main__``, which not every caller has (a
    script on stdin).
    """
    checkers: list[_Checker] = []
    lock = threading.Lock()
    stopping = threading.Event()
    mine = threading.local()
    started = time.monotonic()
    ended: list[float] = []
    lanes = [(s, lane) for s in samples for lane in s.lanes]
    paths = [f for _, lane in lanes for f in (lane.fastq_1, lane.fastq_2) if f]
    total = 0
    for path in paths:
        with contextlib.suppress(OSError):  # summarize() names what is wrong with it
            total += os.stat(path).st_size
    in_process = total < IN_PROCESS_CHECK_BYTES
    copies = plain.plan(paths) if plain is not None else {}
    if copies and plain is not None:
        plain.folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    def read(sample: str, label: str, path: str) -> FileSummary | str | None:
        try:
            if in_process:
                return summarize(sample, label, Path(path), copy=copies.get(path))
            return read_in_child(sample, label, path)
        except InputError as exc:
            return str(exc)
        finally:
            ended.append(time.monotonic())

    def read_in_child(sample: str, label: str, path: str) -> FileSummary | str | None:
        checker: _Checker | None = getattr(mine, "checker", None)
        if checker is None:  # this thread's own process, started on its first file
            with lock:
                if stopping.is_set():
                    return None
                try:
                    checker = _Checker()
                except OSError as exc:
                    return f"sample {sample}: {label} {path}: cannot start the check ({exc})"
                checkers.append(checker)
            mine.checker = checker
        answer = checker.summarize(sample, label, path, copies.get(path))
        if stopping.is_set():
            return None
        if checker.proc.poll() is not None:
            mine.checker = None  # it died: the next file gets a new one
        return answer

    def problem(
        s: Sample, lane: Lane, one: FileSummary | str | None, two: FileSummary | str | None
    ) -> str | None:
        if isinstance(one, str):
            return one
        if isinstance(two, str):
            return two
        if not lane.paired:  # single-end: the one file's own checks are all there is
            return None
        if one is None or two is None:  # stopped
            return None
        try:
            compare_pair(s.id, Path(lane.fastq_1), Path(lane.fastq_2), one, two)
        except InputError as exc:
            return str(exc)
        return None

    def answer(futures: list[tuple[Sample, Lane, _Read, _Read | None]]) -> PairCheck:
        problems: dict[str, str] = {}
        kept: list[tuple[str, str, str]] = []  # sample, input, its plain copy
        for s, lane, one, two in futures:
            results = (one.result(), two.result() if two is not None else None)
            p = problem(s, lane, *results)
            if p and s.id not in problems:
                problems[s.id] = p
            for path, result in zip((lane.fastq_1, lane.fastq_2), results, strict=True):
                if isinstance(result, FileSummary) and result.decompressed:
                    kept.append((s.id, path, result.decompressed))
        decompressed: dict[str, Path] = {}
        for sample, path, copy in kept:
            if sample in problems:  # not run: its copies would only take room
                with contextlib.suppress(OSError):
                    os.unlink(copy)
            else:
                decompressed[path] = Path(copy)
        return PairCheck(problems, max(ended, default=started) - started, decompressed)

    pool = ThreadPoolExecutor(max_workers=max(1, min(cpus, len(paths))))
    try:
        futures = [
            (
                s,
                lane,
                pool.submit(read, s.id, "R1", lane.fastq_1),
                pool.submit(read, s.id, "R2", lane.fastq_2) if lane.paired else None,
            )
            for s, lane in lanes
        ]
        yield lambda: answer(futures)
    finally:
        stopping.set()
        with lock:
            for checker in checkers:
                if checker.proc.poll() is None:
                    checker.proc.kill()
        pool.shutdown(wait=True, cancel_futures=True)
        for checker in checkers:
            checker.close()


def _large(path: str) -> bool:
    try:
        return os.stat(path).st_size >= VECTORIZED_BYTES
    except OSError:  # summarize() names what is wrong with it
        return False


def serve(requests: TextIO, replies: TextIO) -> None:
    """``--serve``: for each request line (JSON ``[sample, "R1"|"R2", path]``, or with a
    :class:`PlainCopy`'s path and limit after them), one reply line: the file's summary
    (``reads``, ``names``, ``head``, and ``decompressed`` when a copy was kept) or
    ``{"problem": <one line>}``."""
    for line in requests:
        sample, label, path, *keep = json.loads(line)
        copy = PlainCopy(Path(keep[0]), int(keep[1])) if keep else None
        try:
            summary = summarize(sample, label, Path(path), vectorized=_large(path), copy=copy)
        except InputError as exc:
            reply: dict[str, object] = {"problem": str(exc)}
        else:
            reply = {"reads": summary.reads, "names": summary.names, "head": summary.head}
            if summary.decompressed:
                reply["decompressed"] = summary.decompressed
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


def main(argv: list[str] | None = None) -> int:
    """``python -m workflows.local.fastq SAMPLE R1|R2 FILE``: :func:`summarize` in a process of
    its own; ``python -m workflows.local.fastq --serve``: :func:`serve` on stdin and stdout
    (what :func:`checking_pairs` runs).

    Exit 0 with the summary as JSON on stdout; exit 1 with the problem as one line on stdout;
    2 for a wrong call.
    """
    args = sys.argv[1:] if argv is None else argv
    if args == ["--serve"]:
        serve(sys.stdin, sys.stdout)
        return 0
    if len(args) != 3 or args[1] not in ("R1", "R2"):
        print("usage: python -m workflows.local.fastq SAMPLE R1|R2 FILE | --serve", file=sys.stderr)
        return 2
    sample, label, path = args
    try:
        summary = summarize(sample, label, Path(path), vectorized=_large(path))
    except InputError as exc:
        print(exc, flush=True)
        return 1
    print(json.dumps({"reads": summary.reads, "names": summary.names, "head": summary.head}), flush=True)
    return 0


if __name__ == "__main__":
    # Ctrl-C ends a check quietly: the parent reports the interruption, once.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.exit(main())
