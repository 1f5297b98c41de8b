"""Item tables read without silent coercion or unbounded work (issue 25, defects 16 and 23)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from llmcode import tables
from llmcode.errors import ItemsError
from llmcode.items import load_items


def jsonl(tmp_path, rows, name="items.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    return path


def test_jsonl_ids_stay_as_written(tmp_path):
    path = jsonl(tmp_path, [{"item_id": 1, "text": "a"}, {"item_id": 1.5, "text": "b"}])
    assert [i.item_id for i in load_items(path).items] == ["1", "1.5"]


@pytest.mark.parametrize("bad", [{"a": 1}, [1, 2]])
def test_an_id_that_is_an_object_or_a_list_is_refused_naming_its_line(tmp_path, bad):
    path = jsonl(tmp_path, [{"item_id": "ok", "text": "a"}, {"item_id": bad, "text": "b"}])
    with pytest.raises(
        ItemsError, match=r"item_id holds a list, an object or bytes in line\(s\) 2"
    ):
        load_items(path)


def test_a_text_that_is_a_list_is_refused_but_list_metadata_is_joined(tmp_path):
    path = jsonl(tmp_path, [{"item_id": "a", "text": "t", "labels": ["bug", "ui"]}])
    assert load_items(path).items[0].metadata["labels"] == "bug;ui"
    path = jsonl(tmp_path, [{"item_id": "a", "text": ["t", "u"]}], "list.jsonl")
    with pytest.raises(ItemsError, match=r"text holds a list"):
        load_items(path)


def test_nested_metadata_is_kept_as_json_not_as_a_repr(tmp_path):
    path = jsonl(tmp_path, [{"item_id": "a", "text": "t", "user": {"login": "x"}}])
    assert load_items(path).items[0].metadata["user"] == '{"login": "x"}'


def test_a_jsonl_line_that_is_not_json_names_the_line_not_a_byte(tmp_path):
    path = tmp_path / "items.jsonl"
    path.write_text('{"item_id": "a", "text": "t"}\n\n{"item_id": "b", "text": \n')
    with pytest.raises(ItemsError, match=r"items\.jsonl:3: not valid JSON"):
        load_items(path)


def test_binary_and_list_cells_of_a_parquet_text_column_are_refused_naming_the_row(tmp_path):
    path = tmp_path / "items.parquet"
    pd.DataFrame({"item_id": ["a", "b"], "text": [b"bytes", b"more"]}).to_parquet(path)
    with pytest.raises(ItemsError, match=r"text holds a list, an object or bytes in row\(s\) 1, 2"):
        load_items(path)
    pd.DataFrame({"item_id": ["a"], "text": [["x", "y"]]}).to_parquet(path)
    with pytest.raises(ItemsError, match=r"text holds a list"):
        load_items(path)


def test_a_workbook_declaring_more_than_the_limit_decompressed_is_refused_unread(
    tmp_path, monkeypatch
):
    import openpyxl

    path = tmp_path / "items.xlsx"
    frame = pd.DataFrame({"item_id": [f"i{n}" for n in range(500)], "text": ["x" * 200] * 500})
    frame.to_excel(path, index=False)
    assert len(load_items(path).items) == 500
    monkeypatch.setattr(tables, "MAX_UNCOMPRESSED_BYTES", 50_000)
    opened = []
    monkeypatch.setattr(openpyxl, "load_workbook", lambda *a, **k: opened.append(1))
    with pytest.raises(ItemsError, match=r"declares [\d,]+ bytes .* more than the 50,000"):
        load_items(path)
    assert not opened


def test_a_sheet_whose_text_passes_the_limit_stops_being_read(tmp_path, monkeypatch):
    path = tmp_path / "items.xlsx"
    frame = pd.DataFrame({"item_id": [f"i{n}" for n in range(500)], "text": ["x" * 200] * 500})
    frame.to_excel(path, index=False)
    monkeypatch.setattr(tables, "check_declared_size", lambda *a: None)
    monkeypatch.setattr(tables, "MAX_UNCOMPRESSED_BYTES", 50_000)
    with pytest.raises(ItemsError, match=r"sheet 'Sheet1' holds more text, more than the 50,000"):
        load_items(path)


def test_a_parquet_file_decoding_past_the_limit_stops_being_read(tmp_path, monkeypatch):
    """A few KB of repeated values (dictionary encoded) decode to far more."""
    path = tmp_path / "items.parquet"
    n = 20_000
    pd.DataFrame({"item_id": [f"i{k}" for k in range(n)], "text": ["x" * 500] * n}).to_parquet(path)
    assert path.stat().st_size < 200_000
    monkeypatch.setattr(tables, "MAX_UNCOMPRESSED_BYTES", 2_000_000)
    with pytest.raises(ItemsError, match=r"decodes to more data, more than the 2,000,000"):
        load_items(path)
