"""load_codes: long-format code files in every format, as strings, with errors that point."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from llmcode.codes import load_codes
from llmcode.errors import CodesError

DATA = Path(__file__).parent / "data" / "agreement"
ROWS = [
    {"item_id": "007", "coder": "ana", "code": "cost", "justification": ""},
    {"item_id": "007", "coder": "ana", "code": "stigma", "justification": ""},
    {"item_id": "12", "coder": "gpt-4o", "code": "", "justification": "no code applies"},
]


def write(path: Path, rows: list[dict[str, str]] = ROWS) -> Path:
    frame = pd.DataFrame(rows)
    suffix = path.suffix
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".tsv":
        frame.to_csv(path, sep="\t", index=False)
    elif suffix == ".jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    elif suffix == ".xlsx":
        frame.to_excel(path, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".xlsx", ".parquet"])
def test_every_format_loads_to_the_same_string_table(tmp_path, suffix):
    codes = load_codes(write(tmp_path / f"codes{suffix}"))
    assert list(codes.columns) == ["item_id", "coder", "code", "justification"]
    assert codes["item_id"].tolist() == ["007", "007", "12"]
    assert codes["code"].iloc[:2].tolist() == ["cost", "stigma"]
    assert pd.isna(codes["code"].iloc[2])
    assert codes["justification"].iloc[2] == "no code applies"


def test_the_fixtures_load(tmp_path):
    codes = load_codes(DATA / "interviews_llm.jsonl")
    assert set(codes["coder"]) == {"gpt-4o-mini"}
    assert codes["justification"].notna().all()


def test_numeric_ids_in_json_and_parquet_become_plain_strings(tmp_path):
    jsonl = tmp_path / "codes.jsonl"
    jsonl.write_text(
        '{"item_id": 12, "coder": "ana", "code": 3}\n'
        '{"item_id": 13.0, "coder": "ben", "code": null}\n'
    )
    codes = load_codes(jsonl)
    assert codes["item_id"].tolist() == ["12", "13"]
    assert codes["code"].iloc[0] == "3"
    parquet = tmp_path / "codes.parquet"
    pd.DataFrame({"item_id": [1.0, 2.0], "coder": ["a", "b"], "code": [1, 2]}).to_parquet(parquet)
    assert load_codes(parquet)["item_id"].tolist() == ["1", "2"]


def test_whitespace_around_values_and_column_names_is_ignored(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text(" Item_ID , Coder ,Code\n 1 , ana , cost \n")
    codes = load_codes(path)
    assert codes.iloc[0].tolist() == ["1", "ana", "cost"]


def test_a_missing_column_is_named_with_the_file_and_the_columns_found(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("item_id,rater,code\n1,ana,cost\n")
    with pytest.raises(
        CodesError, match=r"codes\.csv: missing column coder \(found: item_id, rater, code\)"
    ):
        load_codes(path)


def test_an_empty_file_is_refused(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("")
    with pytest.raises(CodesError, match="empty"):
        load_codes(path)


def test_a_header_without_rows_is_refused(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("item_id,coder,code\n")
    with pytest.raises(CodesError, match="no rows"):
        load_codes(path)


def test_a_row_without_coder_is_named_by_its_file_row(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("item_id,coder,code\n1,ana,cost\n2,,cost\n")
    with pytest.raises(CodesError, match=r"empty coder in row 3"):
        load_codes(path)


def test_a_jsonl_error_is_named_by_its_line(tmp_path):
    path = tmp_path / "codes.jsonl"
    path.write_text(
        '{"item_id": "1", "coder": "a", "code": "x"}\n\n{"item_id": "2", "coder": "a"\n'
    )
    with pytest.raises(CodesError, match="line 3: not valid JSON"):
        load_codes(path)
    path.write_text(
        '{"item_id": "1", "coder": "a", "code": "x"}\n\n'
        '{"coder": "a", "code": "x", "item_id": null}\n'
    )
    with pytest.raises(CodesError, match="empty item_id in line 3"):
        load_codes(path)


def test_a_jsonl_line_that_is_not_an_object_is_refused(tmp_path):
    path = tmp_path / "codes.jsonl"
    path.write_text('["1", "a", "x"]\n')
    with pytest.raises(CodesError, match="line 1: expected a JSON object"):
        load_codes(path)


def test_a_missing_file_and_an_unknown_suffix_are_refused(tmp_path):
    with pytest.raises(CodesError, match="no such file"):
        load_codes(tmp_path / "nope.csv")
    other = tmp_path / "codes.txt"
    other.write_text("item_id,coder,code\n")
    with pytest.raises(CodesError, match=r"unsupported file type '\.txt'") as info:
        load_codes(other)
    assert info.value.hint is not None and ".parquet" in info.value.hint


def test_a_corrupt_workbook_is_a_codes_error(tmp_path):
    path = tmp_path / "codes.xlsx"
    path.write_bytes(b"not a zip file")
    with pytest.raises(CodesError, match="cannot read as xlsx"):
        load_codes(path)


def test_rows_with_a_field_count_other_than_the_header_are_an_error_naming_the_lines(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("item_id,coder,code\n1,ana,usage,extra\n2,ana,usage\n3,ben\n")
    with pytest.raises(CodesError, match=r"c\.csv: line\(s\) 2, 4 .*header has 3"):
        load_codes(path)


def test_a_duplicate_column_name_in_a_codes_file_is_an_error(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("item_id,coder,code,code\n1,ana,usage,x\n")
    with pytest.raises(CodesError, match="duplicate column name"):
        load_codes(path)


# --- passages: start, end ---


def passages(tmp_path: Path, body: str, name: str = "codes.csv") -> Path:
    path = tmp_path / name
    path.write_text("item_id,coder,code,start,end\n" + body)
    return path


def test_start_and_end_become_nullable_integer_offsets(tmp_path):
    path = passages(tmp_path, "d1,ana,cost,10,42\nd1,ana,cost,42,50\nd2,ana,,,\n")
    codes = load_codes(path, texts={"d1": "x" * 50})
    assert codes["start"].tolist()[:2] == [10, 42]
    assert codes["end"].tolist()[:2] == [42, 50]
    assert pd.isna(codes["start"].iloc[2])
    assert str(codes["start"].dtype) == "Int64"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("d1,ana,cost,10,10\n", r"row 2: start 10 is not before end 10"),
        ("d1,ana,cost,12,9\n", r"row 2: start 12 is not before end 9"),
        ("d1,ana,cost,-1,9\n", r"row 2: start -1 is negative"),
        ("d1,ana,cost,a,9\n", r"row 2: start 'a' is not a character offset"),
        ("d1,ana,cost,1,\n", r"row 2: a passage without end"),
        ("d1,ana,,1,5\n", r"row 2: a passage \[1, 5\) without a code"),
        ("d1,ana,cost,1,5\nd1,ana,cost,40,61\n", r"row 3: passage \[40, 61\) ends past the text"),
        (
            "d1,ana,cost,1,20\nd1,ben,cost,5,9\nd1,ana,cost,15,30\n",
            r"rows 2 and 4: passages \[1, 20\) and \[15, 30\) of coder 'ana' with code 'cost'",
        ),
    ],
)
def test_a_bad_passage_is_an_error_naming_its_row(tmp_path, body, message):
    with pytest.raises(CodesError, match=message):
        load_codes(passages(tmp_path, body), texts={"d1": "x" * 60})


def test_passages_of_different_codes_or_coders_may_overlap(tmp_path):
    path = passages(tmp_path, "d1,ana,cost,1,20\nd1,ana,time,5,9\nd1,ben,cost,15,30\n")
    assert len(load_codes(path)) == 3


def test_a_start_column_without_an_end_column_is_an_error(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("item_id,coder,code,start\nd1,ana,cost,3\n")
    with pytest.raises(CodesError, match=r"no end column \(start and end come together\)"):
        load_codes(path)


def test_jsonl_passages_name_the_line(tmp_path):
    path = tmp_path / "codes.jsonl"
    path.write_text(
        '{"item_id": "d1", "coder": "ana", "code": "cost", "start": 1, "end": 5}\n\n'
        '{"item_id": "d1", "coder": "ana", "code": "cost", "start": 7, "end": 7}\n'
    )
    with pytest.raises(CodesError, match=r"line 3: start 7 is not before end 7"):
        load_codes(path)
