"""Significance tests and effect sizes, against scipy, scikit-posthocs and hand-worked values."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import scikit_posthocs as sp
from scipy import stats

from llmcode.analysis.significance import (
    cliffs_delta,
    cliffs_magnitude,
    dunn,
    km_median,
    kruskal_dunn,
    logrank,
    mann_whitney,
)

# Durations with ties inside and across groups, and a group with a single item.
GROUPS = {
    "usage": [3.0, 5.0, 5.0, 8.0, 13.0, 21.0],
    "loading": [1.0, 2.0, 2.0, 3.0, 5.0],
    "quality": [13.0, 21.0, 34.0, 55.0, 55.0, 89.0, 144.0],
    "single": [8.0],
}


def brute_force_delta(x: list[float], y: list[float]) -> float:
    """Cliff's δ by its definition: (#x>y − #x<y) / (n_x n_y), over all pairs."""
    pairs = list(itertools.product(x, y))
    return (sum(a > b for a, b in pairs) - sum(a < b for a, b in pairs)) / len(pairs)


def test_mann_whitney_matches_scipy_with_ties():
    x, y = GROUPS["quality"], GROUPS["usage"]
    expected = stats.mannwhitneyu(x, y, alternative="two-sided")
    result = mann_whitney(x, y)
    assert result.mannwhitney_u == pytest.approx(expected.statistic)
    assert result.p_value == pytest.approx(expected.pvalue)
    assert (result.n_x, result.n_y) == (7, 6)


@pytest.mark.parametrize(
    ("x", "y"),
    [
        (GROUPS["quality"], GROUPS["usage"]),
        (GROUPS["loading"], GROUPS["usage"]),
        (GROUPS["single"], GROUPS["usage"]),
        ([1.0, 1.0, 1.0], [1.0, 1.0]),
    ],
)
def test_cliffs_delta_equals_its_pairwise_definition(x, y):
    assert cliffs_delta(x, y) == pytest.approx(brute_force_delta(x, y))


def test_cliffs_delta_is_positive_when_the_first_group_is_larger():
    assert cliffs_delta([10, 11, 12], [1, 2, 3]) == 1.0
    assert cliffs_delta([1, 2, 3], [10, 11, 12]) == -1.0


@pytest.mark.parametrize(
    ("delta", "label"),
    [
        (0.0, "negligible"),
        (-0.146, "negligible"),
        (0.147, "small"),
        (0.329, "small"),
        (-0.33, "medium"),
        (0.473, "medium"),
        (0.474, "large"),
        (-1.0, "large"),
    ],
)
def test_cliffs_magnitude_uses_romano_thresholds(delta, label):
    assert cliffs_magnitude(delta) == label


def test_mann_whitney_with_an_empty_group_gives_no_statistic_and_says_why():
    result = mann_whitney([], [1.0, 2.0])
    assert result.mannwhitney_u is None
    assert result.p_value is None
    assert result.cliffs_delta is None
    assert "empty" in result.note


def test_kruskal_wallis_matches_scipy_with_ties_and_a_one_item_group():
    expected = stats.kruskal(*GROUPS.values())
    result = kruskal_dunn(GROUPS)
    assert result.kruskal_h == pytest.approx(expected.statistic)
    assert result.p_value == pytest.approx(expected.pvalue)
    assert result.n == sum(len(v) for v in GROUPS.values())
    assert result.groups == list(GROUPS)


def test_kruskal_wallis_leaves_out_empty_groups():
    result = kruskal_dunn({**GROUPS, "empty": []})
    assert result.kruskal_h == pytest.approx(stats.kruskal(*GROUPS.values()).statistic)
    assert "empty" not in result.groups


def posthocs_frame() -> pd.DataFrame:
    return pd.DataFrame(
        [(name, value) for name, values in GROUPS.items() for value in values],
        columns=["group", "days"],
    )


@pytest.mark.parametrize("adjust", [None, "holm"])
def test_dunn_p_values_match_scikit_posthocs(adjust):
    expected = sp.posthoc_dunn(posthocs_frame(), val_col="days", group_col="group", p_adjust=adjust)
    pairs = dunn(GROUPS, correction="holm")
    assert len(pairs) == 6
    for pair in pairs:
        ours = pair.p_adjusted if adjust else pair.p_value
        assert ours == pytest.approx(expected.loc[pair.a, pair.b], rel=1e-9)


def test_dunn_z_for_a_hand_worked_example():
    # Ranks 1,2 | 3,4: mean ranks 1.5 and 3.5; var = N(N+1)/12 · (1/2 + 1/2) = 5/3.
    (pair,) = dunn({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    assert pair.z == pytest.approx(-2.0 / np.sqrt(5.0 / 3.0))
    assert pair.p_value == pytest.approx(2 * stats.norm.sf(2.0 / np.sqrt(5.0 / 3.0)))
    assert pair.p_adjusted == pytest.approx(pair.p_value)


def test_holm_adjusted_p_values_are_never_below_the_raw_ones():
    for pair in dunn(GROUPS):
        assert pair.p_adjusted >= pair.p_value


def test_all_tied_values_give_no_kruskal_statistic_instead_of_nan():
    result = kruskal_dunn({"a": [2.0, 2.0], "b": [2.0, 2.0, 2.0]})
    assert result.kruskal_h is None
    assert result.p_value is None
    assert result.dunn == []
    assert "tied" in result.note


def test_one_group_with_data_gives_no_kruskal_statistic():
    result = kruskal_dunn({"a": [1.0, 2.0], "b": []})
    assert result.kruskal_h is None
    assert result.note == "fewer than two groups with data"


def test_kaplan_meier_median_counts_censored_items():
    # S(1) = 4/5; t=2 censored; S(3) = 0.8 · 2/3 = 0.533; S(4) = 0.533 · 1/2 = 0.267 → median 4.
    assert km_median([1, 2, 3, 4, 5], [False, True, False, False, False]) == 4.0


@pytest.mark.parametrize("values", [GROUPS["usage"], GROUPS["loading"], GROUPS["quality"], [8.0]])
def test_kaplan_meier_median_without_censoring_is_the_sample_median(values):
    assert km_median(values, [False] * len(values)) == pytest.approx(np.median(values))


def test_kaplan_meier_median_is_none_when_survival_never_reaches_one_half():
    assert km_median([1, 2, 3, 4], [False, True, True, True]) is None
    assert km_median([1, 2], [True, True]) is None
    assert km_median([], []) is None


def test_logrank_matches_a_hand_worked_example():
    # x = 1, 2; y = 3, 4 (no censoring): O−E = 2 − (1/2 + 1/3), V = 1/4 + 2/9.
    chi2, p_value = logrank([1.0, 2.0], [False, False], [3.0, 4.0], [False, False])
    expected = (2 - 5 / 6) ** 2 / (1 / 4 + 2 / 9)
    assert chi2 == pytest.approx(expected)
    assert p_value == pytest.approx(stats.chi2.sf(expected, 1))


def test_logrank_without_events_is_undefined():
    assert logrank([1.0], [True], [2.0], [True]) == (None, None)
    assert logrank([], [], [2.0], [False]) == (None, None)
