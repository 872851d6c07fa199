"""Shell fragments that make a sample's alignment file: the aligner pipe and the finishing.

Shared by the steps that write alignments (``align``; per-lane alignment and ``merge`` reuse the
same pieces), so every path to a BAM or CRAM aligns, marks duplicates and publishes the same way.
Each function returns bash text for a step script (run under ``set -euo pipefail``; see
:func:`workflows.steps.pod.bash`). The scripts rely on these shell variables, set by the step:

* ``aligner`` (``bwa-mem2`` or ``bwa``), ``ref`` (the FASTA, its index beside it), ``rg`` (the
  ``@RG`` line, tabs written ``\\t``), ``part`` (the path prefix under ``$WORK/tmp`` of this
  step's results, e.g. ``$WORK/tmp/S1``);
* ``markdup`` and ``format``, set by :func:`run_options` from the workflow parameters
  ``markdup`` (``true``/``false``) and ``output-format`` (``bam``/``cram``).

Reproducibility: ``bwa mem`` reads ``-K`` input bases per batch and estimates the insert-size
distribution per batch; without ``-K`` a batch is 10 Mbp x threads, so the same reads aligned
with another thread count are batched, paired and flagged differently. :data:`BATCH_BASES` fixes
the batch whatever ``-t`` is (nf-core/sarek's ``-K 100000000``); ``-Y`` soft-clips supplementary
alignments, keeping the whole read sequence in every record.
"""

from __future__ import annotations

from collections.abc import Callable

from hera.workflows import Artifact, Parameter

from workflows.contract import StackOutputs
from workflows.settings import OUTPUT_FORMATS, PipelineSettings
from workflows.steps.pod import METRICS, SAMPLE, SAMPLE_DIR, WORK, is_gzip, output

#: ``bwa mem -K``: input bases per batch, whatever the thread count (nf-core/sarek's value). Not
#: smaller: bwa-mem2 (the cluster's aligner) hands its threads 512 reads at a time and waits for
#: the last one at the end of each of a batch's three phases, so a 10 Mbp batch (~66,000 reads of
#: 150 bp) gives each of 32 threads about four such blocks, and a thread's late block idles the
#: rest; at 100 Mbp each gets about forty. On 2 cores with bwa 0.7.17 (one read at a time) 10 Mbp
#: was faster: a shorter first batch read by one thread, and 2.4 CPU-s fewer page faults per 1 M
#: pairs (a 128 MB peak instead of 1.0 GB); the cluster's run must not pay for that.
BATCH_BASES = 100_000_000

#: Workflow parameters that choose what the finishing writes.
MARKDUP_PARAM = "markdup"
FORMAT_PARAM = "output-format"
MARKDUP_VALUES = ("false", "true")

#: A producer of a coordinate-sorted alignment: given whether duplicates will be marked and the
#: samtools output options to use (``-u -o -`` to stream, or a format and a file), the shell
#: command that writes it. The aligner pipe and ``samtools merge`` are producers.
Producer = Callable[[bool, str], str]

#: samtools output options that stream uncompressed BAM to the next process of a pipe.
STREAM = "-u -o -"

#: What runs the producer's ``samtools`` (sort or merge): at a niceness 5 above the step's. Once
#: the aligner is done, that process compresses the file on every thread while flagstat, stats
#: and the index read it through ``tee``, and ``samtools stats`` works in one thread: at equal
#: niceness the compression threads took turns on its core, the stream stalled on it, and cores
#: idled. At a higher niceness the compression takes what stats leaves. Niceness only weighs
#: processes competing for a core, so the producer loses nothing on an idle one; on the cluster it
#: weighs only the step container's own processes (each container is a cgroup of its own).
YIELDING = "nice -n 5"


def alignment_parameters() -> list[Parameter]:
    """The WorkflowTemplate's ``markdup`` and ``output-format`` parameters (defaults: no
    duplicate marking, BAM). Argo refuses a value outside ``enum`` at submission."""
    return [
        Parameter(
            name=MARKDUP_PARAM,
            value="false",
            enum=list(MARKDUP_VALUES),
            description="Mark duplicates (samtools fixmate -m, sort, markdup): true or false",
        ),
        Parameter(
            name=FORMAT_PARAM,
            value="bam",
            enum=list(OUTPUT_FORMATS),
            description="Alignment file format: bam, or cram (encoded against the reference)",
        ),
    ]


def alignment_arguments(settings: PipelineSettings) -> list[Parameter]:
    """A Workflow's values of :func:`alignment_parameters`, from the run's settings."""
    return [
        Parameter(name=MARKDUP_PARAM, value="true" if settings.markdup else "false"),
        Parameter(name=FORMAT_PARAM, value=settings.output_format),
    ]


def run_options() -> str:
    """Read the run's ``markdup`` and ``output-format`` parameters into ``$markdup``/``$format``.

    Both are checked here too (Argo checks the parameters' ``enum`` at submission; a hand-made
    Workflow could still pass anything), so a typo fails the step in one line instead of
    silently writing the default.
    """
    checks = []
    for var, param, values in (
        ("markdup", MARKDUP_PARAM, MARKDUP_VALUES),
        ("format", FORMAT_PARAM, OUTPUT_FORMATS),
    ):
        checks.append(
            f"""{var}="{{{{workflow.parameters.{param}}}}}"
case "${var}" in
  {"|".join(values)}) ;;
  *) echo "seqstack: workflow parameter {param} is '${var}': use {" or ".join(values)}" >&2; exit 2 ;;
esac
"""
        )
    return "".join(checks)


def aligner_pipe(threads: int, sort_mib: int, reads: str, batch_bases: int = BATCH_BASES) -> Producer:
    """The aligner into ``samtools sort``: SAM is streamed, never written to disk.

    ``reads``: one or two FASTQ paths as shell words (two: paired; one: single-end). When
    duplicates will be marked, ``samtools fixmate -m`` sits between them: it needs bwa's
    name-grouped output (mates adjacent) to add the mate score (``ms``) and mate coordinate
    (``MC``) tags ``samtools markdup`` reads, and passes uncompressed BAM (``-u``) on, as
    compressing between two processes of one pipe only costs CPU. Sort memory: ``threads`` x
    ``sort_mib`` MiB (see :class:`workflows.settings.PipelineSettings`). ``batch_bases`` is
    :data:`BATCH_BASES` in every step (tests shrink it to put small inputs over many batches).
    """

    def produce(markdup: bool, output: str) -> str:
        aligner = f'"$aligner" mem -K {batch_bases} -Y -t {threads} -R "$rg" "$ref" {reads}'
        fixmate = " \\\n  | samtools fixmate -m -u - -" if markdup else ""
        sort = f'{YIELDING} samtools sort -@ {threads} -m {sort_mib}M -T "$part.sort" {output} -'
        return f"{aligner}{fixmate} \\\n  | {sort}"

    return produce


def feed_reads() -> str:
    """Shell lines that put an ``igzip -dc`` process in front of each gzipped file of the
    ``reads`` array, writing into a FIFO ``$part.<R1|R2>.fifo``, and point ``reads`` at the FIFOs.

    bwa and bwa-mem2 read and decompress their input in one thread, and align nothing until the
    first batch is read: with zlib that read alone took about 1.8 s of one core for a 1 M-pair
    sample while the other core idled. Later batches are read while the previous one aligns, so
    on a 32-core node, where 30 threads align a batch quickly, that one reading thread can set
    the pace. igzip (ISA-L) decompresses about twice as fast as zlib, and R1 and R2 each get
    their own process, side by side. Where igzip is not installed, or a file is not gzipped,
    the aligner reads the file itself, as before. :func:`fed` must follow the producer, and the
    FIFOs are removed with ``rm -f "$part".*.fifo``.

    Every process counts on a sheet of tiny samples (a fork and exec is a few ms of CPU): the
    gzip magic is read by the shell itself, and one ``mkfifo`` makes every FIFO. No possibly
    empty array is expanded (``set -u`` refuses that before bash 4.4).
    """
    return f"""sources=() fifos=() feeders=()
if command -v igzip >/dev/null 2>&1; then
  for i in "${{!reads[@]}}"; do
    if {is_gzip('"${reads[$i]}"')}; then
      fifo="$part.${{reads[$i]##*/}}.fifo"
      sources+=("${{reads[$i]}}") fifos+=("$fifo")
      reads[$i]="$fifo"
    fi
  done
fi
if [ ${{#fifos[@]}} -gt 0 ]; then
  mkfifo "${{fifos[@]}}"
  for i in "${{!fifos[@]}}"; do
    igzip -dc "${{sources[$i]}}" > "${{fifos[$i]}}" & feeders+=($!)
  done
fi
"""


def fed() -> str:
    """Shell lines after the producer of :func:`feed_reads`: fail the step, naming the file, if
    a decompressor failed (the aligner would have taken a cut-short stream for a shorter file)."""
    return """for ((i = 0; i < ${#feeders[@]}; i++)); do
  if ! wait "${feeders[$i]}"; then
    echo "seqstack: sample $s: igzip could not decompress ${sources[$i]##*/} of lane $lane (above)" >&2
    exit 1
  fi
done
"""


def merged(threads: int, inputs: str) -> Producer:
    """``samtools merge`` of coordinate-sorted BAMs (``inputs``: shell words) as a producer.

    When duplicates are marked the inputs must come from :func:`aligner_pipe` with ``markdup``
    on (their records carry fixmate's tags); the merge itself is the same either way.
    """

    def produce(markdup: bool, output: str) -> str:
        del markdup  # the lanes were fixmate'd when aligned
        return f"{YIELDING} samtools merge -@ {threads} {output} {inputs}"

    return produce


def to_file(produce: Producer, dest: str) -> str:
    """A coordinate-sorted BAM at ``dest`` (a lane's BAM), with fixmate's tags when ``$markdup``."""
    return f"""if [ "$markdup" = true ]; then
  {produce(True, f"-O bam -o {dest}")}
else
  {produce(False, f"-O bam -o {dest}")}
fi
"""


def finish(threads: int, produce: Producer, then: str = "") -> str:
    """From a producer to the published alignment: ``$part.bam`` + ``.bam.bai`` or ``$part.cram``
    + ``.cram.crai``, ``$part.flagstat.txt``, ``$part.stats.txt`` and, when ``$markdup``,
    ``$part.markdup.txt`` (``samtools markdup -f``: what MultiQC's samtools module reads).

    Duplicates are marked on the stream (no unmarked BAM on disk). Unmarked, the producer writes
    the final file itself (``samtools sort`` and ``merge`` write CRAM given the reference). The
    CRAM is encoded against ``$ref``, and every tool that reads it is given ``--reference``:
    without one htslib would look the reference up by MD5 on the network (``REF_PATH``).

    The file is written through ``tee``, which also hands it to ``samtools flagstat`` and
    ``samtools stats`` as it is written: stats is single-threaded, and read from the finished
    file it ran alone after the sort on one core while the others idled. A BAM's index is built
    from the stream too: htslib indexes a BAM in one forward pass (``sam_index``: records and
    ``bgzf_tell`` offsets, no seek), so the ``.bai`` is byte for byte the one the finished file
    gives, and the index no longer runs alone after the file is written. A CRAM's index is built
    from the finished file: htslib's ``cram_index_build`` opens the file again by name, which a
    FIFO cannot serve. ``then``: shell lines run once the file is written and before anything
    is published (:func:`fed`).
    """
    t = threads
    return f"""# BAM or CRAM: a CRAM stores bases as differences to the reference, so it needs that FASTA to
# be read again later (the run's record says where it is).
if [ "$format" = cram ]; then
  fmt=(-O cram --reference "$ref"); index_ext=crai
else
  fmt=(-O bam); index_ext=bai
fi
out="$part.$format"
results=("$part.$format" "$part.$format.$index_ext" "$part.flagstat.txt" "$part.stats.txt")
# flagstat, stats and a BAM's index read the file while it is written (tee into a FIFO each;
# the shell opens each FIFO before the tool starts, so a tool that fails at once cannot leave
# tee waiting); the step fails if any does (`wait PID` returns that job's status; set -e acts
# on it).
readers=("$part.flagstat.fifo" "$part.stats.fifo")
if [ "$format" = bam ]; then readers+=("$part.index.fifo"); fi
mkfifo "${{readers[@]}}"
samtools flagstat -@ {t} - < "$part.flagstat.fifo" > "$part.flagstat.txt" & flagstat_pid=$!
samtools stats -@ {t} --reference "$ref" - < "$part.stats.fifo" > "$part.stats.txt" & stats_pid=$!
if [ "$format" = bam ]; then
  samtools index -@ {t} -o "$out.$index_ext" - < "$part.index.fifo" & index_pid=$!
fi
if [ "$markdup" = true ]; then
  # fixmate -m (in the producer) -> sort -> markdup, streamed; -f: the stats MultiQC reads.
  {produce(True, STREAM)} \\
  | samtools markdup -@ {t} -T "$part.markdup" -f "$part.markdup.txt" "${{fmt[@]}}" - - \\
  | tee "${{readers[@]}}" > "$out"
  results+=("$part.markdup.txt")
else
  {produce(False, '"${fmt[@]}" -o -')} \\
  | tee "${{readers[@]}}" > "$out"
fi
{then}if [ "$format" = bam ]; then
  wait "$index_pid"
else
  # A CRAM's index needs the finished file (see above).
  samtools index -@ {t} "$out" "$out.$index_ext"
fi
wait "$flagstat_pid"
wait "$stats_pid"
rm -f "$part".*.fifo
mv "${{results[@]}}" "$WORK/out/"
"""


#: What :func:`finish` publishes: output artifact name -> (file-name suffix, optional). Which of
#: BAM/CRAM exists depends on the run's ``output-format`` and the markdup stats on ``markdup``,
#: so those are optional outputs (the script itself fails unless all it made are there).
FILES: dict[str, tuple[str, bool]] = {
    "bam": (".bam", True),
    "bai": (".bam.bai", True),
    "cram": (".cram", True),
    "crai": (".cram.crai", True),
    "flagstat": (".flagstat.txt", False),
    "stats": (".stats.txt", False),
    "markdup": (".markdup.txt", True),
}
#: Of those, the small metrics MultiQC reads, also copied to the run's flat metrics folder.
METRICS_FILES = ("flagstat", "stats", "markdup")
#: Every output artifact name of a step that uses :func:`finish`.
OUTPUT_NAMES = (*FILES, *(f"metrics-{name}" for name in METRICS_FILES))


def outputs(stack: StackOutputs) -> list[Artifact]:
    """The output artifacts of a step that ends with :func:`finish`: ``samples/<s>/<s>.<ext>``
    for each file, and ``<metrics folder>/<s>.<ext>`` for :data:`METRICS_FILES`."""
    arts = []
    for name, (ext, optional) in FILES.items():
        extra = {"optional": True} if optional else {}
        arts.append(output(stack, name, f"{WORK}/out/{SAMPLE}{ext}", SAMPLE_DIR, f"{SAMPLE}{ext}", **extra))
    for name in METRICS_FILES:
        ext, optional = FILES[name]
        extra = {"optional": True} if optional else {}
        path = f"{WORK}/out/{SAMPLE}{ext}"
        arts.append(output(stack, f"metrics-{name}", path, METRICS, f"{SAMPLE}{ext}", **extra))
    return arts
