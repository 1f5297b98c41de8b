"""The interview example (examples/interviews/): its offsets are right and its figures as stated."""

from __future__ import annotations

import pandas as pd
import pytest

from llmcode.codes import load_codes
from llmcode.items import load_items
from llmcode.quality.agreement import compare_segments
from llmcode.taxonomy.model import load_taxonomy
from tests.support import ROOT

EXAMPLE = ROOT / "examples" / "interviews"


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    items = load_items(EXAMPLE / "transcripts")
    assert items.skipped == []
    return {item.item_id: item.text for item in items.items}


def test_five_transcripts_of_3000_to_8000_characters(texts):
    assert list(texts) == ["p1-logistics", "p2-bank", "p3-hospital", "p4-mobile", "p5-agency"]
    assert all(3000 <= len(text) <= 8000 for text in texts.values())


def test_every_passage_quotes_its_offsets_and_codes_a_subcategory(texts):
    codes = load_codes(EXAMPLE / "codes.csv", texts=texts)
    leaves = {c.id for c in load_taxonomy(EXAMPLE / "ptm-interviews.yaml").targets("leaves")}
    assert set(codes["code"]) <= leaves
    assert set(codes["coder"]) == {"ana", "ben"}
    for row in codes.itertuples():
        assert texts[row.item_id][row.start : row.end] == row.quote, row


def test_the_readme_figures_are_what_compare_segments_gives(texts):
    codes = load_codes(EXAMPLE / "codes.csv", texts=texts)
    result = compare_segments(codes, texts, coders=["ana", "ben"])
    assert result.n_characters == 21686
    assert round(result.unitizing_alpha.overall, 3) == 0.877
    low, high = result.ci95["unitizing_alpha"]["overall"]
    assert (round(low, 3), round(high, 3)) == (0.791, 0.941)
    per_code = pd.Series(result.unitizing_alpha.per_code)
    assert per_code.idxmin() == "compute_costs"
    assert round(per_code.min(), 3) == 0.428
    assert round(per_code.max(), 3) == 0.983
    assert (result.segments.matched, result.segments.n_reference) == (36, 46)
    assert result.segments.n_compared == 50
    assert round(result.segments.f1, 3) == 0.750
