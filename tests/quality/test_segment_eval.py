"""evaluate_segments: systems' passages against gold passages, a human ceiling, paired F1."""

from __future__ import annotations

import pandas as pd
import pytest

from llmcode.codes import load_codes
from llmcode.errors import AgreementError
from llmcode.items import load_items
from llmcode.quality.agreement import compare_segments
from llmcode.quality.segment_eval import evaluate_segments
from tests.support import ROOT

EXAMPLE = ROOT / "examples" / "interviews"
TEXTS = {f"d{k}": "x" * 300 for k in range(6)}


def passages(coder: str, spans: dict[str, list[tuple[str, int, int]]]) -> list[tuple]:
    return [(doc, coder, code, s, e) for doc, rows in spans.items() for code, s, e in rows]


GOLD = {f"d{k}": [("cost", 10, 60), ("time", 100, 200)] for k in range(6)}
GOOD = {f"d{k}": [("cost", 12, 60), ("time", 100, 190)] for k in range(6)}  # every IoU ≥ 0.9
POOR = {  # finds cost only, and one time passage too short to match (IoU 0.2)
    **{f"d{k}": [("cost", 10, 55)] for k in range(6)},
    "d0": [("cost", 10, 55), ("time", 100, 120)],
}


def frame(*rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(
        [r for part in rows for r in part], columns=["item_id", "coder", "code", "start", "end"]
    )


def test_scores_count_passages_matched_at_the_threshold():
    codes = frame(passages("ana", GOLD), passages("poor", POOR))
    result = evaluate_segments(codes, TEXTS, gold=["ana"], bootstrap=0)
    poor = result.runs["poor"]
    assert (poor.matched, poor.support, poor.n_predicted) == (6, 12, 7)
    assert poor.precision == pytest.approx(6 / 7)
    assert poor.recall == pytest.approx(0.5)
    assert poor.f1 == pytest.approx(2 * 6 / 19)
    assert poor.per_code["time"].model_dump(exclude={"ci95"}) == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "support": 6,
        "n_predicted": 1,
        "matched": 0,
    }
    assert result.human_ceiling is None


def test_one_gold_coder_gives_what_compare_segments_gives_with_the_gold_as_reference():
    items = load_items(EXAMPLE / "transcripts")
    texts = {item.item_id: item.text for item in items.items}
    codes = load_codes(EXAMPLE / "codes.csv", texts=texts)
    evaluated = evaluate_segments(codes, texts, gold=["ana"], bootstrap=0).runs["ben"]
    compared = compare_segments(codes, texts, coders=["ana", "ben"], bootstrap=0)
    assert evaluated.f1 == compared.segments.f1
    assert evaluated.precision == compared.segments.precision
    assert evaluated.recall == compared.segments.recall
    for code, score in evaluated.per_code.items():
        assert score.f1 == compared.segments_per_code[code].f1


def test_two_gold_coders_give_a_human_ceiling_and_are_pooled():
    codes = frame(passages("ana", GOLD), passages("ben", GOOD), passages("poor", POOR))
    result = evaluate_segments(codes, TEXTS, gold=["ana", "ben"], bootstrap=0)
    assert result.systems == ["poor"]
    assert result.human_ceiling.f1 == 1.0  # ana and ben match at IoU ≥ 0.5 everywhere
    assert result.runs["poor"].support == 24  # both gold coders' passages
    assert result.runs["poor"].n_predicted == 14  # the system's, once per gold coder


def test_paired_differences_say_which_system_is_credibly_better():
    codes = frame(passages("ana", GOLD), passages("good", GOOD), passages("poor", POOR))
    result = evaluate_segments(codes, TEXTS, gold=["ana"], bootstrap=500, seed=1)
    (pair,) = result.paired
    assert pair.systems == ("good", "poor")
    assert pair.difference == pytest.approx(1.0 - 12 / 19)
    assert pair.credible
    low, high = result.runs["poor"].ci95["f1"]
    assert low <= result.runs["poor"].f1 <= high


def test_a_coder_cannot_be_gold_and_evaluated():
    codes = frame(passages("ana", GOLD), passages("poor", POOR))
    with pytest.raises(AgreementError, match="both gold and evaluated: ana"):
        evaluate_segments(codes, TEXTS, gold=["ana"], systems=["ana", "poor"])
    with pytest.raises(AgreementError, match="every coder is a gold coder"):
        evaluate_segments(codes, TEXTS, gold=["ana", "poor"])
