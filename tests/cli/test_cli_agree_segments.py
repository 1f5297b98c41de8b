"""`llmcode agree --unit segment`: passages of documents through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from llmcode.cli import get_app
from llmcode.quality.agreement import compare_segments
from tests.support import ROOT

EXAMPLE = ROOT / "examples" / "interviews"
runner = CliRunner()


def invoke(*args: str | Path):
    return runner.invoke(get_app(), ["agree", *map(str, args)], env={"COLUMNS": "160"})


def test_krippendorffs_example_through_the_command_line(tmp_path):
    """Krippendorff (2004, p. 254): the continuum 150–450 as one 300-character document."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "k2004.txt").write_text("x" * 300)
    rows = [
        ("i", "c", 225, 295), ("i", "c", 370, 400), ("j", "c", 220, 300), ("j", "c", 355, 375),
        ("j", "c", 400, 420), ("i", "k", 180, 240), ("i", "k", 300, 350), ("j", "k", 180, 240),
        ("j", "k", 300, 350),
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["coder", "code", "start", "end"])
    frame = frame.assign(item_id="k2004", start=frame["start"] - 150, end=frame["end"] - 150)
    frame.to_csv(tmp_path / "codes.csv", index=False)
    result = invoke(
        tmp_path / "codes.csv", "--unit", "segment", "--items", tmp_path / "docs", "--json"
    )
    assert result.exit_code == 0, result.output
    alpha = json.loads(result.stdout)["unitizing_alpha"]
    assert alpha["overall"] == pytest.approx(0.858665, abs=1e-6)
    assert alpha["per_code"]["c"] == pytest.approx(0.728599, abs=1e-6)
    assert alpha["per_code"]["k"] == 1.0


def test_json_is_what_the_library_gives_on_the_same_inputs():
    result = invoke(
        EXAMPLE / "codes.csv", "--unit", "segment", "--items", EXAMPLE / "transcripts", "--json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    library = compare_segments(EXAMPLE / "codes.csv", items=EXAMPLE / "transcripts")
    assert data == json.loads(json.dumps(library.model_dump(mode="json")))
    assert set(data["unitizing_alpha"]) == {"overall", "per_code"}
    assert data["bootstrap"]["n_resamples"] == 1000


def test_the_table_shows_alpha_kappa_and_f1_per_code():
    result = invoke(
        EXAMPLE / "codes.csv", "--unit", "segment", "--items", EXAMPLE / "transcripts",
        "--bootstrap", "0", "--iou", "0.8",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Krippendorff's α_U" in result.stdout
    assert "0.877" in result.stdout
    assert "compute_costs" in result.stdout
    assert "IoU ≥ 0.8" in result.stdout
    assert "CI" not in result.stdout


def test_passages_without_texts_are_an_error_that_asks_for_items():
    result = invoke(EXAMPLE / "codes.csv", "--unit", "segment")
    assert result.exit_code == 1
    assert "needs the documents' texts" in result.output


@pytest.mark.parametrize(
    ("extra", "option"),
    [(["--scale", "ordinal"], "--scale"), (["--multi-label"], "--multi-label")],
)
def test_item_options_do_not_apply_to_segments(extra, option):
    result = invoke(EXAMPLE / "codes.csv", "--unit", "segment", *extra)
    assert result.exit_code == 2
    assert option in result.output


def test_segment_options_do_not_apply_to_items():
    result = invoke(EXAMPLE / "codes.csv", "--iou", "0.7")
    assert result.exit_code == 2
    assert "--iou" in result.output


def test_a_passage_past_the_end_of_its_document_names_the_row(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "d1.txt").write_text("x" * 100)
    (tmp_path / "codes.csv").write_text(
        "item_id,coder,code,start,end\nd1,ana,cost,0,50\nd1,ben,cost,40,120\n"
    )
    result = invoke(tmp_path / "codes.csv", "--unit", "segment", "--items", tmp_path / "docs")
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "codes.csv, row 3: passage [40, 120) ends past the text of item 'd1'" in said
