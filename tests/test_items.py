import json
import re

import pandas as pd
import pytest

from llmcode.errors import ItemsError
from llmcode.items import load_items
from tests.support import DATA


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_title_and_body_are_joined_when_there_is_no_text_column(items_csv):
    item_set = load_items(items_csv)
    first = item_set.items[0]
    assert item_set.text_columns == ("title", "body")
    assert first.text.startswith("Title: generate ignores max_length\n\nBody: Calling generate()")
    assert first.metadata["project"] == "acme/docsum"


def test_a_text_column_is_used_as_is(tmp_path):
    path = write(tmp_path, "i.csv", "item_id,text,extra\n1,  hello there ,x\n")
    item = load_items(path).items[0]
    assert (item.item_id, item.text, item.metadata) == (
        "1",
        "hello there",
        {"text": "  hello there ", "extra": "x"},
    )


def test_chosen_text_columns_and_id_column(tmp_path):
    path = write(tmp_path, "i.csv", "key,a,b\nk1,first,second\n")
    item = load_items(path, id_column="key", text_columns=["b", "a"]).items[0]
    assert item.item_id == "k1"
    assert item.text == "B: second\n\nA: first"


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ItemsError, match=r"nope\.csv: no such file"):
        load_items(tmp_path / "nope.csv")


def test_a_missing_column_lists_the_columns_that_exist(tmp_path):
    path = write(tmp_path, "i.csv", "id,text\n1,a\n")
    with pytest.raises(ItemsError, match="no id column 'item_id'; columns are: id, text"):
        load_items(path)
    with pytest.raises(ItemsError, match="no text column 'body'"):
        load_items(path, id_column="id", text_columns=["body"])


def test_duplicate_ids_are_named(tmp_path):
    path = write(tmp_path, "i.csv", "item_id,text\na,x\nb,y\na,z\nb,w\n")
    with pytest.raises(ItemsError, match="duplicate item_id: a, b"):
        load_items(path)


def test_empty_texts_are_skipped_and_reported_not_dropped_silently(tmp_path):
    path = write(tmp_path, "i.csv", "item_id,title,body\na,,\nb,T,B\n")
    item_set = load_items(path)
    assert [i.item_id for i in item_set.items] == ["b"]
    assert item_set.skipped == [("a", "empty text in title, body")]


def test_an_empty_file_and_an_unknown_type_are_clear_errors(tmp_path):
    with pytest.raises(ItemsError, match="empty"):
        load_items(write(tmp_path, "e.csv", ""))
    with pytest.raises(ItemsError, match=r"unsupported file type '\.rtf'"):
        load_items(write(tmp_path, "e.rtf", "x"))


def test_jsonl_xlsx_and_parquet_load_the_same_items(tmp_path, items_csv):
    frame = pd.read_csv(items_csv, dtype=str)
    frame.to_json(tmp_path / "i.jsonl", orient="records", lines=True)
    frame.to_excel(tmp_path / "i.xlsx", index=False)
    frame.to_parquet(tmp_path / "i.parquet", index=False)
    expected = [(i.item_id, i.text) for i in load_items(items_csv).items]
    for name in ("i.jsonl", "i.xlsx", "i.parquet"):
        assert [(i.item_id, i.text) for i in load_items(tmp_path / name).items] == expected


def test_numeric_ids_in_jsonl_become_strings(tmp_path):
    path = tmp_path / "i.jsonl"
    path.write_text("\n".join(json.dumps({"item_id": n, "text": f"t{n}"}) for n in (1, 2)))
    assert [i.item_id for i in load_items(path).items] == ["1", "2"]


# Files that pandas would read silently wrong: ragged rows, duplicate columns, sheets.


def test_rows_with_one_field_more_than_the_header_are_an_error_naming_the_rows(tmp_path):
    path = write(tmp_path, "i.csv", "item_id,text\na,x,extra\nb,y\nc,z,more\n")
    with pytest.raises(ItemsError, match=r"i\.csv: line\(s\) 2, 4 .*3 fields.*header has 2"):
        load_items(path)


def test_rows_with_fewer_fields_than_the_header_are_an_error(tmp_path):
    path = write(tmp_path, "i.csv", "item_id,text,extra\na,x,1\nb,y\n")
    with pytest.raises(ItemsError, match=r"line\(s\) 3 .*2 fields.*header has 3"):
        load_items(path)


def test_quoted_newlines_and_blank_lines_are_not_ragged_rows(tmp_path):
    path = write(tmp_path, "i.csv", 'item_id,text\na,"two\nlines"\n\nb,y\n')
    item_set = load_items(path)
    assert [i.text for i in item_set.items] == ["two\nlines", "y"]


def test_a_duplicate_column_name_is_an_error_not_text_1(tmp_path):
    path = write(tmp_path, "i.csv", "item_id,text,text\na,x,y\n")
    with pytest.raises(ItemsError, match=r"i\.csv: duplicate column name\(s\): text"):
        load_items(path)


def test_a_duplicate_column_name_in_xlsx_is_an_error(tmp_path):
    path = tmp_path / "i.xlsx"
    pd.DataFrame([["a", "x", "y"]], columns=["item_id", "text", "text "]).to_excel(
        path, index=False
    )
    with pytest.raises(ItemsError, match="duplicate column name"):
        load_items(path)


def write_book(path):
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"item_id": ["a"], "text": ["first sheet"]}).to_excel(
            writer, sheet_name="One", index=False
        )
        pd.DataFrame({"item_id": ["b", "c"], "text": ["x", "y"]}).to_excel(
            writer, sheet_name="Two", index=False
        )


def test_xlsx_says_which_sheet_was_read_and_which_others_exist(tmp_path):
    path = tmp_path / "book.xlsx"
    write_book(path)
    item_set = load_items(path)
    assert item_set.sheet == "One"
    assert item_set.sheets == ("One", "Two")
    assert [i.item_id for i in item_set.items] == ["a"]


def test_sheet_chooses_the_sheet(tmp_path):
    path = tmp_path / "book.xlsx"
    write_book(path)
    item_set = load_items(path, sheet="Two")
    assert item_set.sheet == "Two"
    assert [i.item_id for i in item_set.items] == ["b", "c"]


def test_an_unknown_sheet_names_the_sheets_there_are(tmp_path):
    path = tmp_path / "book.xlsx"
    write_book(path)
    with pytest.raises(ItemsError, match=r"book\.xlsx: no sheet 'Three'; sheets are: One, Two"):
        load_items(path, sheet="Three")


def test_sheet_on_a_csv_is_an_error(tmp_path):
    path = write(tmp_path, "i.csv", "item_id,text\na,x\n")
    with pytest.raises(ItemsError, match="--sheet"):
        load_items(path, sheet="One")


def test_code_says_which_sheet_it_read_and_sheet_chooses_another(cli, tmp_path):
    from tests.support import DATA

    path = tmp_path / "book.xlsx"
    write_book(path)
    base = [
        "code",
        "-t",
        DATA / "tiny.yaml",
        "-i",
        path,
        "--backend",
        "openai",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--dry-run",
        "--runs-dir",
        tmp_path / "runs",
    ]
    first = cli(*base)
    assert first.exit_code == 0, first.output
    said = " ".join(first.output.split())
    assert "read sheet 'One'" in said and "other sheets: Two" in said
    second = cli(*base, "--sheet", "Two")
    assert second.exit_code == 0, second.output
    assert "read sheet 'Two'" in " ".join(second.output.split())


@pytest.mark.parametrize(
    ("suffix", "where"),
    [
        (".csv", "row(s) 3"),
        (".jsonl", "line(s) 3"),
        (".parquet", "row(s) 2"),
        (".json", "record(s) 2"),
    ],
)
def test_an_empty_id_is_placed_by_the_files_own_numbering(tmp_path, suffix, where):
    frame = pd.DataFrame({"item_id": ["a", " ", "c"], "text": ["x", "y", "z"]})
    path = tmp_path / f"items{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".jsonl":
        path.write_text("\n" + frame.to_json(orient="records", lines=True))  # line 1 blank
    elif suffix == ".json":
        frame.to_json(path, orient="records")
    else:
        frame.to_parquet(path, index=False)
    with pytest.raises(ItemsError, match=rf"empty item_id in {re.escape(where)}\b"):
        load_items(path)


@pytest.mark.parametrize("content", ["item_id\n", "item_id\n \n\n", "item_id,note\n,x\n"])
def test_an_only_table_without_ids_is_an_error_not_a_run_of_nothing(tmp_path, content):
    """Issue 25, defect 13: an empty --only made a "complete" 0-item run."""
    from llmcode.items import load_items, only_items

    only = tmp_path / "only.csv"
    only.write_text(content)
    with pytest.raises(ItemsError, match=r"only\.csv: lists no item ids"):
        only_items(load_items(DATA / "items.csv"), only)


def test_code_with_an_empty_only_table_exits_1_without_a_run(cli, tmp_path):
    only = tmp_path / "only.csv"
    only.write_text("item_id\n")
    result = cli(
        "code",
        "-t",
        DATA / "tiny.yaml",
        "-i",
        DATA / "items.csv",
        "--only",
        only,
        "--runs-dir",
        tmp_path / "runs",
        "--backend",
        "openai",
        "--base-url",
        "http://127.0.0.1:9/v1",
    )
    assert result.exit_code == 1 and "lists no item ids" in result.output
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())
