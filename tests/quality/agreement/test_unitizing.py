"""Krippendorff's unitizing α (α_U) against the published worked example and a literal reading.

Worked example: Krippendorff, K. (2004), Content Analysis: An Introduction to Its Methodology,
2nd ed., Sage, p. 254 (the example DKPro cites as "Measuring the reliability of qualitative text
analysis data", Quality & Quantity 38, 2004): two observers i and j, the continuum 150–450 (L =
300), codes c and k. Published: α_U = 0.859, α_c = 0.729, α_k = 1.0. The same segments are the
test study of DKPro Statistics (``StudyFactory.getKrippendorfSampleStudy``), whose
``KrippendorffAlphaUnitizingAgreement`` computes 0.858665… overall and 0.728599… for c (its
tests: D_O,c = 0.0144, D_E,c = 0.0532, D_E,k = 0.0490).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmcode.errors import AgreementError
from llmcode.quality.agreement.unitizing import (
    expected_disagreement,
    gaps_of,
    observed_disagreement,
    unitizing_alpha,
)

KRIPPENDORFF_2004 = pd.DataFrame(
    [
        ("i", "c", 225, 295),
        ("i", "c", 370, 400),
        ("j", "c", 220, 300),
        ("j", "c", 355, 375),
        ("j", "c", 400, 420),
        ("i", "k", 180, 240),
        ("i", "k", 300, 350),
        ("j", "k", 180, 240),
        ("j", "k", 300, 350),
    ],
    columns=["coder", "code", "start", "end"],
)


def test_krippendorffs_example_reproduces_the_published_values():
    result = unitizing_alpha(KRIPPENDORFF_2004, 300, begin=150)
    assert round(result.overall, 3) == 0.859
    assert round(result.per_code["c"], 3) == 0.729
    assert result.per_code["k"] == 1.0


def test_krippendorffs_example_matches_dkpro_statistics_to_1e_6():
    result = unitizing_alpha(KRIPPENDORFF_2004, 300, begin=150)
    assert result.overall == pytest.approx(0.858665, abs=1e-6)
    assert result.per_code["c"] == pytest.approx(0.728599, abs=1e-6)
    assert result.observed["c"] == pytest.approx(0.0144, abs=1e-4)
    assert result.observed["k"] == 0.0
    assert result.expected["c"] == pytest.approx(0.0532, abs=1e-4)
    assert result.expected["k"] == pytest.approx(0.0490, abs=1e-4)


def test_shifting_the_continuum_changes_nothing():
    shifted = KRIPPENDORFF_2004.assign(
        start=KRIPPENDORFF_2004["start"] - 150, end=KRIPPENDORFF_2004["end"] - 150
    )
    assert unitizing_alpha(shifted, 300) == unitizing_alpha(KRIPPENDORFF_2004, 300, begin=150)


def test_identical_unitizations_agree_perfectly_and_a_code_nobody_used_is_undefined():
    rows = KRIPPENDORFF_2004[KRIPPENDORFF_2004["coder"] == "i"]
    both = pd.concat([rows, rows.assign(coder="j")])
    result = unitizing_alpha(both, 300, begin=150, coders=["i", "j"])
    assert result.overall == 1.0
    assert unitizing_alpha(both.iloc[:0], 300, begin=150, coders=["i", "j"]).overall is None


def test_a_coder_without_units_still_counts_as_one_long_gap():
    rows = KRIPPENDORFF_2004[KRIPPENDORFF_2004["coder"] == "i"]
    result = unitizing_alpha(rows, 300, begin=150, coders=["i", "j"])
    assert result.overall is not None
    assert result.overall < 0.5


def test_overlapping_units_of_one_coder_and_code_are_an_error_naming_them():
    rows = pd.concat(
        [KRIPPENDORFF_2004, pd.DataFrame([("i", "c", 290, 310)], columns=KRIPPENDORFF_2004.columns)]
    )
    with pytest.raises(
        AgreementError, match=r"'i', code 'c': segments \[225, 295\) and \[290, 310\)"
    ):
        unitizing_alpha(rows, 300, begin=150)


def test_a_unit_outside_the_continuum_is_an_error():
    with pytest.raises(AgreementError, match=r"\[225, 295\) is empty or outside"):
        unitizing_alpha(KRIPPENDORFF_2004, 100, begin=150)


def test_one_coder_is_not_enough():
    with pytest.raises(AgreementError, match="at least two coders"):
        unitizing_alpha(KRIPPENDORFF_2004, 300, begin=150, coders=["i"])


# --- a literal reading of the definitions, section by section, against the vectorised code ---


def _sections(starts, ends, length):
    """A coder's units (True) and gaps (False) as (begin, length, is_unit), in order."""
    found, position = [], 0
    for b, e in zip(starts, ends, strict=True):
        if b > position:
            found.append((position, b - position, False))
        found.append((b, e - b, True))
        position = e
    if position < length:
        found.append((position, length - position, False))
    return found


def _delta(u, v):
    """Krippendorff's δ of two sections (DKPro's case analysis, written out)."""
    (bu, lu, unit_u), (bv, lv, unit_v) = u, v
    diff = bu - bv
    if unit_u and unit_v and -lu < diff < lv:
        return diff**2 + (bu + lu - bv - lv) ** 2
    if unit_u and not unit_v and lv - lu >= diff >= 0:
        return lu**2
    if not unit_u and unit_v and lv - lu <= diff <= 0:
        return lv**2
    return 0


def _literal_observed(spans, length):
    m, total = len(spans), 0
    for i, j in itertools.permutations(range(m), 2):
        for u in _sections(*spans[i], length):
            for v in _sections(*spans[j], length):
                total += _delta(u, v)
    return total / (m * (m - 1) * length**2)


def _literal_expected(spans, length):
    m = len(spans)
    units = [e - b for s in spans for b, e in zip(*s, strict=True)]
    gaps = [g for s in spans for (_, g, is_unit) in _sections(*s, length) if not is_unit]
    n = len(units)
    numerator = sum(
        (n - 1) / 3 * (2 * ell**3 - 3 * ell**2 + ell)
        + ell**2 * sum(g - ell + 1 for g in gaps if g >= ell)
        for ell in units
    )
    denominator = m * length * (m * length - 1) - sum(ell * (ell - 1) for ell in units)
    return 2 / length * numerator / denominator if units else 0.0


@st.composite
def unitizations(draw):
    length = draw(st.integers(5, 60))
    m = draw(st.integers(2, 3))
    spans = []
    for _ in range(m):
        cuts = sorted(draw(st.lists(st.integers(0, length), max_size=8)))  # units may touch
        pairs = [(b, e) for b, e in zip(cuts[::2], cuts[1::2], strict=False) if b < e]
        starts = np.array([b for b, _ in pairs], dtype=np.int64)
        ends = np.array([e for _, e in pairs], dtype=np.int64)
        spans.append((starts, ends))
    return spans, length


@settings(max_examples=150, deadline=None)
@given(unitizations())
def test_observed_and_expected_disagreement_follow_the_definitions_literally(case):
    spans, length = case
    assert observed_disagreement(spans, length) == pytest.approx(_literal_observed(spans, length))
    assert expected_disagreement(spans, 0, length) == pytest.approx(
        _literal_expected(spans, length)
    )
    for s in spans:
        assert gaps_of(s, 0, length).sum() + (s[1] - s[0]).sum() == length
