"""Sample sheets: accepted forms, and one test per rejection naming the row and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflows.sheet import Lane, Sample, SampleSheetError, read_sample_sheet

HEADER = "sample,fastq_1,fastq_2\n"


def sheet(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sheet.csv"
    path.write_text(text)
    return path


def rejected(tmp_path: Path, text: str, scheme: str = "s3") -> str:
    with pytest.raises(SampleSheetError) as info:
        read_sample_sheet(sheet(tmp_path, text), scheme)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(tmp_path / "sheet.csv"))
    return message


def test_reads_cloud_uris_in_order(tmp_path: Path) -> None:
    text = HEADER + "S1,s3://b/r/S1_1.fq.gz,s3://b/r/S1_2.fq.gz\nS-2,s3://b/S2_1.fq.gz,s3://b/S2_2.fq.gz\n"
    assert read_sample_sheet(sheet(tmp_path, text), "s3") == [
        Sample("S1", (Lane("1", "s3://b/r/S1_1.fq.gz", "s3://b/r/S1_2.fq.gz", 2),), 2),
        Sample("S-2", (Lane("1", "s3://b/S2_1.fq.gz", "s3://b/S2_2.fq.gz", 3),), 3),
    ]


def test_extra_columns_blank_lines_and_bom_are_fine(tmp_path: Path) -> None:
    text = "\ufeffsample,fastq_1,fastq_2,strandedness\n\nS1,gs://b/1.fq,gs://b/2.fq,auto\n\n"
    assert read_sample_sheet(sheet(tmp_path, text), "gs") == [
        Sample("S1", (Lane("1", "gs://b/1.fq", "gs://b/2.fq", 3),), 3)
    ]


def test_local_paths_resolve_against_the_sheet(tmp_path: Path) -> None:
    text = HEADER + f"S1,reads/a_1.fq.gz,{tmp_path}/b_2.fq.gz\nS2,file://{tmp_path}/c_1.fq,d_2.fq\n"
    samples = read_sample_sheet(sheet(tmp_path, text), "file")
    assert samples[0].lanes[0].fastq_1 == str(tmp_path / "reads" / "a_1.fq.gz")
    assert samples[0].lanes[0].fastq_2 == str(tmp_path / "b_2.fq.gz")
    assert samples[1].lanes[0].fastq_1 == str(tmp_path / "c_1.fq")
    assert samples[1].lanes[0].fastq_2 == str(tmp_path / "d_2.fq")


def test_missing_header(tmp_path: Path) -> None:
    message = rejected(tmp_path, "S1,s3://b/1.fq,s3://b/2.fq\n")
    assert "row 1" in message and "missing header" in message


def test_empty_file(tmp_path: Path) -> None:
    assert "row 1: missing header" in rejected(tmp_path, "")


def test_missing_column(tmp_path: Path) -> None:
    message = rejected(tmp_path, "sample,fastq_1\nS1,s3://b/1.fq\n")
    assert "row 1, column fastq_2: missing column" in message


def test_duplicate_column(tmp_path: Path) -> None:
    assert "row 1, column fastq_1: column appears twice" in rejected(
        tmp_path, "sample,fastq_1,fastq_1,fastq_2\n"
    )


def test_a_quoted_line_break_is_named_not_joined(tmp_path: Path) -> None:
    text = HEADER + 'S1,"s3://b/1.fq\n.gz",s3://b/2.fq\n'
    assert "row 2, column fastq_1: a quoted field holds a line break" in rejected(tmp_path, text)


def test_a_field_over_the_csv_limit_is_one_line(tmp_path: Path) -> None:
    text = HEADER + "S0,s3://b/0_1.fq,s3://b/0_2.fq\n" + f"S1,s3://b/{'x' * 200_000}.fq,s3://b/2.fq\n"
    assert "row 3: cannot read the CSV (field larger than field limit" in rejected(tmp_path, text)


def test_wrong_number_of_fields(tmp_path: Path) -> None:
    assert "row 2: has 2 fields, the header has 3" in rejected(tmp_path, HEADER + "S1,s3://b/1.fq\n")


@pytest.mark.parametrize("column", ["sample", "fastq_1"])
def test_empty_field(tmp_path: Path, column: str) -> None:
    values = {"sample": "S1", "fastq_1": "s3://b/1.fq", "fastq_2": "s3://b/2.fq"}
    values[column] = "  "
    text = HEADER + "S0,s3://b/0_1.fq,s3://b/0_2.fq\n" + ",".join(values.values()) + "\n"
    assert f"row 3, column {column}: empty field" in rejected(tmp_path, text)


def test_a_single_end_row_with_its_reads_in_fastq_2_is_named(tmp_path: Path) -> None:
    message = rejected(tmp_path, HEADER + "S0,s3://b/0_1.fq,\nS1,,s3://b/1.fq\n")
    assert "row 3, column fastq_1: empty field (single-end rows put their reads in fastq_1)" in message


def test_rows_of_one_sample_are_its_lanes_numbered_in_order(tmp_path: Path) -> None:
    text = HEADER + "S1,s3://b/1.fq,s3://b/2.fq\nS2,s3://b/3.fq,\nS1,s3://b/5.fq,s3://b/6.fq\n"
    s1, s2 = read_sample_sheet(sheet(tmp_path, text), "s3")
    assert s1 == Sample(
        "S1", (Lane("1", "s3://b/1.fq", "s3://b/2.fq", 2), Lane("2", "s3://b/5.fq", "s3://b/6.fq", 4)), 2
    )
    assert [s1.unit(lane) for lane in s1.lanes] == ["S1_1", "S1_2"]
    # Single-end: an empty fastq_2; a one-lane sample's unit is its ID (today's file names).
    assert s2 == Sample("S2", (Lane("1", "s3://b/3.fq", "", 3),), 3)
    assert not s2.lanes[0].paired and s1.lanes[0].paired
    assert s2.unit(s2.lanes[0]) == "S2"


def test_the_lane_column_names_lanes_and_an_empty_cell_is_numbered(tmp_path: Path) -> None:
    text = "sample,lane,fastq_1,fastq_2\nS1,L001,s3://b/1.fq,s3://b/2.fq\nS1,,s3://b/3.fq,\n"
    (s1,) = read_sample_sheet(sheet(tmp_path, text), "s3")
    assert [(lane.id, lane.paired) for lane in s1.lanes] == [("L001", True), ("2", False)]
    assert [s1.unit(lane) for lane in s1.lanes] == ["S1_L001", "S1_2"]


def test_a_repeated_lane_names_both_rows(tmp_path: Path) -> None:
    text = "sample,lane,fastq_1,fastq_2\nS1,1,s3://b/1.fq,s3://b/2.fq\nS1,1,s3://b/3.fq,s3://b/4.fq\n"
    message = rejected(tmp_path, text)
    assert "row 3, column lane: lane '1' of sample 'S1' repeated (first on row 2)" in message


def test_an_explicit_lane_clashing_with_a_numbered_one_is_a_repeat(tmp_path: Path) -> None:
    text = "sample,lane,fastq_1,fastq_2\nS1,,s3://b/1.fq,s3://b/2.fq\nS1,1,s3://b/3.fq,s3://b/4.fq\n"
    assert "row 3, column lane: lane '1' of sample 'S1' repeated" in rejected(tmp_path, text)


@pytest.mark.parametrize("lane", ["../x", "a b", "-1", "{{x}}", "x" * 64])
def test_unsafe_lane_id(tmp_path: Path, lane: str) -> None:
    text = f'sample,lane,fastq_1,fastq_2\nS1,"{lane}",s3://b/1.fq,s3://b/2.fq\n'
    assert "row 2, column lane: lane ID" in rejected(tmp_path, text)


def test_r1_of_one_lane_equal_to_r2_of_another_names_both(tmp_path: Path) -> None:
    text = HEADER + "S1,s3://b/1.fq,s3://b/2.fq\nS1,s3://b/3.fq,s3://b/1.fq\n"
    message = rejected(tmp_path, text)
    assert "row 3, column fastq_2: same file as row 2, column fastq_1 (s3://b/1.fq)" in message


def test_a_file_shared_by_two_samples_is_refused(tmp_path: Path) -> None:
    text = HEADER + "S1,s3://b/1.fq,\nS2,s3://b/1.fq,\n"
    assert "row 3, column fastq_1: same file as row 2, column fastq_1" in rejected(tmp_path, text)


def test_sample_ids_differing_only_in_case_are_duplicates(tmp_path: Path) -> None:
    text = HEADER + "abc,s3://b/1.fq,s3://b/2.fq\nABC,s3://b/3.fq,s3://b/4.fq\n"
    assert "row 3, column sample: sample ID 'ABC' differs only in case from 'abc' on row 2" in rejected(
        tmp_path, text
    )


@pytest.mark.parametrize(
    "sample_id",
    ["../etc", "a/b", "a b", ".hidden", "-lead", "x" * 64, "s'q", "{{x}}", "tab\tid", "ümlaut"],
)
def test_unsafe_sample_id(tmp_path: Path, sample_id: str) -> None:
    text = HEADER + f'"{sample_id}",s3://b/1.fq,s3://b/2.fq\n'
    assert "row 2, column sample: sample ID" in rejected(tmp_path, text)


def test_longest_safe_sample_id_is_accepted(tmp_path: Path) -> None:
    sample_id = "A" + "b_-" * 20 + "zz"
    assert len(sample_id) == 63
    (s,) = read_sample_sheet(sheet(tmp_path, HEADER + f"{sample_id},s3://b/1.fq,s3://b/2.fq\n"), "s3")
    assert s.id == sample_id


def test_same_file_as_r1_and_r2(tmp_path: Path) -> None:
    text = HEADER + "S1,s3://b/1.fq,s3://b/1.fq\n"
    assert "row 2, column fastq_2: same file as fastq_1" in rejected(tmp_path, text)


def test_same_local_file_written_two_ways(tmp_path: Path) -> None:
    text = HEADER + f"S1,reads/1.fq,{tmp_path}/reads/1.fq\n"
    assert "row 2, column fastq_2: same file as fastq_1" in rejected(tmp_path, text, scheme="file")


@pytest.mark.parametrize(
    ("scheme", "value"),
    [("s3", "gs://b/1.fq"), ("gs", "s3://b/1.fq"), ("s3", "/data/1.fq"), ("file", "s3://b/1.fq")],
)
def test_scheme_not_matching_the_stack(tmp_path: Path, scheme: str, value: str) -> None:
    text = HEADER + f"S1,{value},s3://b/2.fq\n"
    message = rejected(tmp_path, text, scheme=scheme)
    assert "row 2, column fastq_1:" in message
    assert value in message


def test_uri_without_key(tmp_path: Path) -> None:
    assert "row 2, column fastq_2: 's3://bucket' needs a bucket and an object key" in rejected(
        tmp_path, HEADER + "S1,s3://b/1.fq,s3://bucket\n"
    )


def test_unreadable_sheet(tmp_path: Path) -> None:
    with pytest.raises(SampleSheetError, match="cannot read sample sheet"):
        read_sample_sheet(tmp_path / "absent.csv", "s3")


def test_header_only(tmp_path: Path) -> None:
    assert "no samples" in rejected(tmp_path, HEADER)


def test_a_lane_whose_files_would_clash_with_another_sample_is_refused(tmp_path: Path) -> None:
    # Sample A's lane 2 writes A_2_R1_fastqc.zip, as sample A_2 would.
    text = "sample,lane,fastq_1,fastq_2\nA,1,s3://b/1.fq,\nA,2,s3://b/2.fq,\nA_2,,s3://b/3.fq,\n"
    assert "row 4, column sample: its files would be named 'A_2', as those of row 3 are" in rejected(
        tmp_path, text
    )


def test_every_unit_starts_with_its_sample_id(tmp_path: Path) -> None:
    # What keeps a sample's metrics files in its own namespace (tests/test_output_namespaces.py).
    text = "sample,lane,fastq_1,fastq_2\nA,L1,s3://b/1.fq,\nA,L2,s3://b/2.fq,\nB,,s3://b/3.fq,\n"
    for s in read_sample_sheet(sheet(tmp_path, text), "s3"):
        assert all(s.unit(lane).startswith(s.id) for lane in s.lanes)
