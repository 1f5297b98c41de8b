"""`export` counts that match the run: items without codes are counted by their status."""

import pytest

from llmcode.errors import ConfigError
from llmcode.items import Item
from llmcode.llm.answers import CodeAssignment
from llmcode.store.export import TABLE_FORMATS, table_format, uncoded_items
from llmcode.store.models import CodingRecord, RunConfig, RunManifest
from llmcode.store.runs import RunStore, load_run_codes


def make_run(root):
    """A 10-item run: 6 coded, 3 invalid, 1 error (and nothing else)."""
    run = RunStore(root).create("r10")
    run.write_manifest(
        RunManifest(run_id="r10", config=RunConfig(taxonomy_path="t", items_path="i"))
    )
    run.write_items(Item(item_id=f"i{n}", text=f"text {n}") for n in range(10))
    for n in range(10):
        status = "ok" if n < 6 else "invalid" if n < 9 else "error"
        codes = [CodeAssignment(code="usage")] if status == "ok" else []
        run.append_coding(CodingRecord(item_id=f"i{n}", status=status, codes=codes))
    return run


def test_uncoded_items_are_counted_by_status(tmp_path):
    run = make_run(tmp_path)
    assert uncoded_items(run, load_run_codes(run)) == {"invalid": 3, "error": 1}


def test_export_says_how_many_items_of_the_run_have_no_codes(cli, tmp_path):
    make_run(tmp_path)
    result = cli("export", "r10", "-o", tmp_path / "out.csv", "--runs-dir", tmp_path)
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "wrote 6 code(s) of 6 item(s)" in said
    assert "4 of the run's 10 item(s) have no codes: 3 invalid, 1 error" in said


def test_a_file_name_asks_for_one_of_the_table_formats():
    names = ("codes.csv", "codes.JSONL", "c.parquet")
    assert [table_format(n) for n in names] == list(TABLE_FORMATS)
    with pytest.raises(ConfigError, match=r"write \.csv, \.jsonl or \.parquet"):
        table_format("codes.xlsx")
