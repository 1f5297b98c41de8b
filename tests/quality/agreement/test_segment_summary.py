"""compare_segments: α_U on concatenated documents, character κ, IoU matching, bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from llmcode.errors import AgreementError
from llmcode.quality.agreement.overlap import iou_matches
from llmcode.quality.agreement.segment_summary import compare_segments
from llmcode.quality.agreement.unitizing import unitizing_alpha

TEXTS = {"d1": "a" * 400, "d2": "b" * 250, "d3": "c" * 600}
ROWS = [
    ("d1", "ana", "cost", 10, 120),
    ("d1", "ben", "cost", 30, 120),
    ("d1", "ana", "time", 200, 300),
    ("d1", "ben", "time", 290, 380),
    ("d2", "ana", "cost", 0, 50),
    ("d2", "ben", None, None, None),
    ("d3", "ana", "time", 100, 400),
    ("d3", "ben", "time", 120, 390),
    ("d3", "ben", "cost", 500, 600),
    ("d3", "ana", "cost", 450, 520),
]


def codes(rows=ROWS) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["item_id", "coder", "code", "start", "end"])


def test_alpha_is_computed_on_the_documents_concatenated_in_item_order():
    result = compare_segments(codes(), TEXTS, bootstrap=0)
    offsets = {"d1": 0, "d2": 400, "d3": 650}
    coded = codes().dropna(subset=["code"])
    shifted = coded.assign(
        start=coded["start"] + coded["item_id"].map(offsets),
        end=coded["end"] + coded["item_id"].map(offsets),
    )
    expected = unitizing_alpha(shifted, 1250, coders=["ana", "ben"])
    assert result.unitizing_alpha.overall == pytest.approx(expected.overall, abs=1e-12)
    assert result.unitizing_alpha.per_code == pytest.approx(expected.per_code, abs=1e-12)
    assert result.n_characters == 1250
    assert result.documents == ["d1", "d2", "d3"]


def test_character_kappa_per_code_is_cohens_kappa_over_every_character():
    result = compare_segments(codes(), TEXTS, bootstrap=0)
    for code in ("cost", "time"):
        ratings = {coder: [] for coder in ("ana", "ben")}
        for document, text in TEXTS.items():
            for coder in ratings:
                mask = np.zeros(len(text), dtype=int)
                for row in ROWS:
                    if row[0] == document and row[1] == coder and row[2] == code:
                        mask[row[3] : row[4]] = 1
                ratings[coder].extend(mask)
        assert result.char_kappa[code].kappa == pytest.approx(
            cohen_kappa_score(ratings["ana"], ratings["ben"]), abs=1e-12
        )
        assert result.char_kappa[code].coded["ana"] == sum(ratings["ana"])


def test_segments_match_one_to_one_at_the_iou_threshold():
    result = compare_segments(codes(), TEXTS, bootstrap=0)
    # cost: d1 IoU 90/110 ✓, d2 ana only, d3 IoU 20/150 ✗; time: d1 IoU 10/180 ✗, d3 270/300 ✓
    assert result.segments_per_code["cost"].model_dump() == {
        "precision": 0.5,
        "recall": 1 / 3,
        "f1": 0.4,
        "matched": 1,
        "n_reference": 3,
        "n_compared": 2,
    }
    assert result.segments.matched == 2
    assert result.segments.f1 == pytest.approx(2 * 2 / (5 + 4))
    strict = compare_segments(codes(), TEXTS, iou=0.85, bootstrap=0)
    assert strict.segments.matched == 1


def test_iou_matching_never_uses_a_passage_twice():
    a = (np.array([0, 10]), np.array([10, 20]))
    b = (np.array([0]), np.array([20]))
    assert iou_matches(a, b, 0.5) == 1
    assert iou_matches(b, a, 0.5) == 1
    assert iou_matches(a, b, 0.6) == 0


def test_bootstrap_intervals_are_seeded_and_bracket_the_estimates():
    first = compare_segments(codes(), TEXTS, bootstrap=300, seed=3)
    again = compare_segments(codes(), TEXTS, bootstrap=300, seed=3)
    assert first.ci95 == again.ci95
    low, high = first.ci95["unitizing_alpha"]["overall"]
    assert low <= first.unitizing_alpha.overall <= high
    low, high = first.ci95["segments"]["f1"]
    assert low <= first.segments.f1 <= high
    assert set(first.ci95["char_kappa"]) == {"cost", "time"}
    assert first.bootstrap.n_resamples == 300


def test_the_json_has_the_promised_unitizing_alpha_shape():
    data = compare_segments(codes(), TEXTS, bootstrap=0).model_dump(mode="json")
    assert set(data["unitizing_alpha"]) == {"overall", "per_code"}
    assert set(data["unitizing_alpha"]["per_code"]) == {"cost", "time"}


def test_a_document_one_coder_did_not_cover_is_left_out_and_said_so():
    rows = [r for r in ROWS if r[0] != "d2" or r[1] != "ben"]
    result = compare_segments(codes(rows), TEXTS, bootstrap=0)
    assert result.documents == ["d1", "d3"]
    assert result.documents_excluded == ["d2"]
    assert "d2" in result.notes[0]


def test_a_passage_past_the_end_of_its_document_is_an_error_naming_it():
    rows = [*ROWS, ("d2", "ben", "cost", 200, 260)]
    with pytest.raises(AgreementError, match=r"document 'd2' \(250 characters\).*\[200, 260\)"):
        compare_segments(codes(rows), TEXTS, bootstrap=0)


def test_a_coded_document_without_text_is_an_error():
    rows = [*ROWS, ("d9", "ben", "cost", 0, 5)]
    with pytest.raises(AgreementError, match="have no text: d9"):
        compare_segments(codes(rows), TEXTS, bootstrap=0)


def test_a_code_without_offsets_is_an_error_naming_the_row():
    rows = [*ROWS, ("d2", "ben", "time", None, None)]
    with pytest.raises(AgreementError, match=r"coder 'ben', document 'd2', code 'time': start"):
        compare_segments(codes(rows), TEXTS, bootstrap=0)
