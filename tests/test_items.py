import json

import pandas as pd
import pytest

from llmcode.errors import ItemsError
from llmcode.items import load_items


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
    with pytest.raises(ItemsError, match=r"unsupported file type '\.txt'"):
        load_items(write(tmp_path, "e.txt", "x"))


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
