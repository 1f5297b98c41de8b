"""CSV as llmcode writes and reads it (issue 25, defects 5 and 7): formula-safe cells that read
back exactly, and strict parsing that names the line of an unterminated quote."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmcode.codes import load_codes
from llmcode.csvfiles import guard_cell, restore_cell, write_csv
from llmcode.errors import CodesError, ItemsError
from llmcode.items import load_items
from llmcode.quality.gold import write_sample
from llmcode.store.export import codes_to_bytes

FORMULAS = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "=", "-"]


@pytest.mark.parametrize("cell", FORMULAS)
def test_a_cell_a_spreadsheet_would_run_is_written_with_an_apostrophe(cell):
    assert guard_cell(cell) == "'" + cell
    assert restore_cell(guard_cell(cell)) == cell


@pytest.mark.parametrize("cell", ["-0.25", "+3", "-1e-3", "plain", "a=b", "", " =x", "'quoted"])
def test_numbers_and_other_cells_are_left_as_they_are(cell):
    assert guard_cell(cell) == cell
    assert restore_cell(cell) == cell


@given(st.text())
def test_every_text_reads_back_exactly_after_guarding(text):
    guarded = guard_cell(text)
    assert restore_cell(guarded) == text
    if guarded[:1] and guarded[0] in "=+-@\t\r":
        assert re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", guarded)


def test_exported_codes_are_formula_safe_and_read_back_exactly(tmp_path):
    frame = pd.DataFrame(
        {
            "item_id": ["-x", "i2"],
            "coder": ["gpt", "gpt"],
            "code": ["usage", "usage"],
            "justification": ['=HYPERLINK("http://evil","click")', "@cmd"],
            "confidence": [0.5, -0.25],
        }
    )
    path = tmp_path / "codes.csv"
    path.write_bytes(codes_to_bytes(frame, "csv"))
    text = path.read_text()
    assert "'=HYPERLINK" in text and "\n'-x," in text and "'@cmd" in text and "-0.25" in text
    back = load_codes(path)
    assert list(back.item_id) == ["-x", "i2"]
    assert back.justification.iloc[0] == '=HYPERLINK("http://evil","click")'


def test_a_sample_with_formula_texts_reads_back_as_the_same_items(tmp_path):
    sample = pd.DataFrame({"item_id": ["a", "=b"], "text": ["+cmd|' /C calc'!A0", "fine"]})
    (tmp_path / "items.csv").write_text("item_id,text\n")
    for name in ("s.csv", "s.tsv", "s.xlsx"):
        path = tmp_path / name
        write_sample(sample, {}, path, tmp_path / "items.csv")
        raw = pd.read_excel(path, dtype=str) if name == "s.xlsx" else None
        written = raw.to_csv() if raw is not None else path.read_text()
        assert "'+cmd" in written and "'=b" in written
        items = load_items(path).items
        assert [(i.item_id, i.text) for i in items] == [("a", sample.text[0]), ("=b", "fine")]


def test_write_csv_guards_column_names_too():
    text = write_csv(pd.DataFrame({"=cmd": ["x"]}))
    assert text is not None and text.startswith("'=cmd")


# 7. One unterminated CSV quote swallowed the rest of the file.


def unterminated(tmp_path, header):
    rows = [f"i{n},text {n}" for n in range(100)]
    rows[3] = 'i3,"this quote is never closed'
    path = tmp_path / "items.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_an_unterminated_quote_in_items_is_an_error_naming_the_line_it_opened(tmp_path):
    with pytest.raises(ItemsError, match=r"items\.csv:5: a quote opened on line 5"):
        load_items(unterminated(tmp_path, "item_id,text"))


def test_an_unterminated_quote_in_codes_is_an_error_naming_the_line_it_opened(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text('item_id,coder,code\ni1,ana,usage\ni2,ana,"usage\ni3,ana,usage\n')
    with pytest.raises(CodesError, match=r"codes\.csv:3: a quote opened on line 3"):
        load_codes(path)


def test_quoted_fields_with_newlines_and_doubled_quotes_still_read(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text('item_id,text\ni1,"two\nlines"\ni2,"say ""hi"""\n')
    items = load_items(path).items
    assert [i.text for i in items] == ["two\nlines", 'say "hi"']
