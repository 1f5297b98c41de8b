"""The streamed items reader gives what `load_items` gives: the same items in the same order,
the same skipped items, and the same errors naming the file and its rows."""

from __future__ import annotations

import csv
import io
import os
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import llmcode.item_stream as item_stream
from llmcode.errors import ItemsError
from llmcode.item_stream import ItemStream, stream_items
from llmcode.items import Item, load_items
from tests.support import DATA

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)


def outcome(loader, path: Path, **options):
    """What a loader makes of a file: its items and facts, or its error's message and hint."""
    try:
        item_set = loader(path, **options)
    except ItemsError as exc:
        return ("error", exc.message, exc.hint)
    return (
        [(i.item_id, i.text, i.metadata) for i in item_set.items],
        item_set.skipped,
        item_set.text_columns,
        item_set.sha256,
        item_set.source,
    )


def same_as_load_items(path: Path, **options) -> object:
    expected = outcome(load_items, path, **options)
    assert outcome(stream_items, path, **options) == expected
    return expected


CELLS = st.sampled_from(
    ["a", "b", " a ", "", " ", "x,y", 'say "hi"', "two\nlines", "'=1+1", "=SUM(A1)", "'-x", "-3"]
)


@FUZZ
@given(
    rows=st.lists(st.lists(CELLS, min_size=3, max_size=3), max_size=8),
    header=st.sampled_from(
        [
            ["item_id", "title", "body"],
            ["item_id", "text", "note"],
            ["item_id", "text", "text"],
            ["id", "text", "x"],
            ["item_id", " ", "text"],
            ["item_id", "'=text", "text"],
        ]
    ),
    ragged=st.booleans(),
)
def test_tables_of_any_cells_give_the_same_items_or_the_same_error(tmp_path, rows, header, ragged):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    if ragged and rows:
        writer.writerow(rows[0][:2])
    path = tmp_path / "items.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    same_as_load_items(path)
    same_as_load_items(path, text_columns=["text"])


@FUZZ
@given(text=st.text(alphabet="ab,\"\n \t'=-", max_size=60))
def test_mangled_files_give_the_same_items_or_the_same_error(tmp_path, text):
    path = tmp_path / "items.csv"
    path.write_text("item_id,text\n" + text, encoding="utf-8")
    same_as_load_items(path)
    tsv = tmp_path / "items.tsv"
    tsv.write_text("item_id\ttext\n" + text.replace(",", "\t"), encoding="utf-8")
    same_as_load_items(tsv)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", r"items\.csv: the file is empty"),
        ("item_id,text\n", r"items\.csv: no rows"),
        ("item_id,text\na,x,extra\nb,y\nc,z,more\n", r"items\.csv: line\(s\) 2, 4 have 3 fields"),
        ("item_id,text,text\na,x,y\n", r"items\.csv: duplicate column name\(s\): text"),
        ("id,text\n1,a\n", r"items\.csv: no id column 'item_id'; columns are: id, text"),
        ("item_id,note\n1,a\n", r"items\.csv: no 'text' column \(nor 'title' and 'body'\)"),
        ("item_id,text\na,x\n ,y\n", r"items\.csv: empty item_id in row\(s\) 3"),
        ("item_id,text\na,x\nb,y\na,z\nb,w\n", r"items\.csv: duplicate item_id: a, b"),
        ('item_id,text\na,"open\nb,y\n', r"items\.csv:2: a quote opened on line 2 is never closed"),
    ],
)
def test_a_bad_file_is_the_same_error_naming_the_file_and_row(tmp_path, content, message):
    path = tmp_path / "items.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ItemsError, match=message):
        stream_items(path)
    same_as_load_items(path)


def test_a_file_that_is_not_utf8_is_named_with_its_line(tmp_path):
    path = tmp_path / "items.csv"
    path.write_bytes(b"item_id,text\na,x\nb,\xff\n")
    with pytest.raises(ItemsError, match=r"items\.csv:3: not valid UTF-8"):
        stream_items(path)
    same_as_load_items(path)


def test_the_sample_items_and_their_skipped_ones_are_those_load_items_gives():
    for name in ("items.csv", "items_small.csv"):
        if (DATA / name).is_file():
            same_as_load_items(DATA / name)


def test_other_files_are_loaded_whole(tmp_path):
    path = tmp_path / "items.jsonl"
    path.write_text('{"item_id": "a", "text": "x"}\n')
    assert isinstance(stream_items(path).items, list)
    assert isinstance(stream_items(DATA / "items.csv").items, ItemStream)


def test_ids_that_share_a_hash_are_not_called_duplicates(tmp_path, monkeypatch):
    monkeypatch.setattr(item_stream, "_key", len)  # every id of one length collides
    path = tmp_path / "items.csv"
    path.write_text("item_id,text\nab,x\ncd,y\nef,z\n")
    assert [i.item_id for i in stream_items(path).items] == ["ab", "cd", "ef"]
    path.write_text("item_id,text\nab,x\ncd,y\nab,z\n")
    with pytest.raises(ItemsError) as raised:
        stream_items(path)
    assert raised.value.message.endswith("items.csv: duplicate item_id: ab")


def test_a_stream_is_sized_read_again_each_time_and_sliced_lazily(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("item_id,text\n" + "".join(f"i{n},t{n}\n" for n in range(10)) + "e,\n")
    items = stream_items(path).items
    assert len(items) == 10 and bool(items)
    assert list(items) == list(items) == list(load_items(path).items)
    first = items[:3]
    assert isinstance(first, ItemStream) and len(first) == 3
    assert [i.item_id for i in first] == ["i0", "i1", "i2"]
    assert len(items[:50]) == 10
    assert items[0] == Item("i0", "t0", {"text": "t0"}) and items[-1].item_id == "i9"
    assert [i.item_id for i in items[2:4]] == ["i2", "i3"]
    with pytest.raises(IndexError):
        items[10]


def test_a_file_changed_after_it_was_checked_is_an_error_not_other_items(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("item_id,text\na,x\nb,y\n")
    items = stream_items(path).items
    path.write_text("item_id,text\na,x\nb,y\nc,z\n")
    os.utime(path, ns=(1, 1))
    with pytest.raises(ItemsError, match=r"items\.csv: the file changed"):
        list(items)


def test_streaming_twenty_thousand_items_holds_a_fraction_of_loading_them(tmp_path):
    path = tmp_path / "items.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["item_id", "title", "body"])
        writer.writerows([f"issue-{n}", f"title {n}", "body text " * 8] for n in range(20_000))

    def peak(work) -> int:
        tracemalloc.start()
        try:
            work()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    streamed = peak(lambda: sum(1 for _ in stream_items(path).items))
    loaded = peak(lambda: len(load_items(path).items))
    assert streamed * 5 < loaded, (streamed, loaded)
