"""Threshold table: share above each confidence threshold and the error rate of gold items."""

from __future__ import annotations

from pathlib import Path

import pytest
from statsmodels.stats.proportion import proportion_confint

from llmcode.quality.thresholds import item_confidences, threshold_table, wilson
from tests.review.test_review_session import make_run


def test_each_threshold_counts_items_above_and_gold_errors(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    frame, source = item_confidences(run, {"i1": {"usage"}, "i2": {"usage"}})
    assert source == "vote"  # vote shares: i1 1.0, i2 0.5 (split samples), i3 1.0
    assert sorted(frame["item_id"]) == ["i1", "i2", "i3"]  # i4 failed: no confidence
    rows = {r.threshold: r for r in threshold_table(frame, [0.3, 0.85])}
    assert (rows[0.3].n_above, rows[0.3].n_gold_above, rows[0.3].errors) == (2, 2, 1)
    assert rows[0.3].error_rate == 0.5  # i3 is unverified: never above
    assert rows[0.85].n_above == 1 and rows[0.85].error_rate == 0.0
    assert rows[0.85].share_above == pytest.approx(1 / 3)


def test_no_gold_item_above_gives_no_error_rate(tmp_path: Path) -> None:
    frame, _ = item_confidences(make_run(tmp_path), {"i2": {"resources"}})
    (row,) = threshold_table(frame, [0.9])
    assert row.n_above == 1 and row.n_gold_above == 0
    assert row.error_rate is None and row.interval is None


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (7, 40)])
def test_the_wilson_interval_matches_statsmodels(k: int, n: int) -> None:
    low, high = proportion_confint(k, n, method="wilson")
    assert wilson(k, n) == pytest.approx((low, high), abs=1e-6)
