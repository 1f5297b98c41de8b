"""`llmcode.analysis.active`: the active-inference mean for gold drawn with known probabilities.

Checked against the estimator written out here from Zrnic & Candès (2024) on the same arrays,
and by simulation: with the gold drawn where the LLM is unsure, the CI covers the truth about
95% of the time while the naive one does not.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from llmcode.analysis.active import active_mean_estimates
from llmcode.errors import AnalysisError
from llmcode.quality.active_sample import inclusion_probabilities


def test_the_estimate_is_the_inverse_probability_weighted_correction() -> None:
    rng = np.random.default_rng(0)
    yhat_all = rng.random(50).round()
    labeled = np.zeros(50, dtype=bool)
    labeled[:12] = True
    y = np.where(rng.random(12) < 0.8, yhat_all[:12], 1 - yhat_all[:12])
    pi = rng.uniform(0.2, 0.6, 12)
    for lam in (0.0, 0.5, 1.0):
        est = active_mean_estimates(y, yhat_all[:12], pi, yhat_all[12:], lam=lam)
        z = lam * yhat_all.copy()
        z[:12] += (y - lam * yhat_all[:12]) / pi
        assert est.ppi.estimate == pytest.approx(z.mean(), abs=1e-12)
        half = 1.959963984540054 * z.std(ddof=1) / math.sqrt(50)
        assert est.ppi.high - est.ppi.estimate == pytest.approx(half, abs=1e-12)
    classical = active_mean_estimates(y, yhat_all[:12], pi, yhat_all[12:], lam=0.0)
    assert classical.ppi.estimate == pytest.approx((y / pi).sum() / 50)  # Horvitz–Thompson
    assert classical.classical.estimate == pytest.approx(classical.ppi.estimate)


def test_a_zero_inclusion_probability_is_refused() -> None:
    with pytest.raises(AnalysisError, match=r"1 gold item.*outside \(0, 1\]"):
        active_mean_estimates(np.ones(3), np.ones(3), np.array([0.5, 0.0, 0.5]), np.ones(5))


def test_uncertainty_sampling_keeps_coverage_where_the_naive_share_is_biased() -> None:
    """2000 items, a code with share 0.3; the LLM is right with probability 'confidence',
    which ranges from 0.55 to 1; about 150 gold items drawn by uncertainty."""
    rng = np.random.default_rng(11)
    reps, n_items, n_gold, truth_share = 300, 2000, 150, 0.3
    covered = naive_covered = 0
    for _ in range(reps):
        y = (rng.random(n_items) < truth_share).astype(float)
        confidence = rng.uniform(0.55, 1.0, n_items)
        yhat = np.where(rng.random(n_items) < confidence, y, 1 - y)
        pi = inclusion_probabilities(1 - confidence, n_gold, floor=0.05)
        labeled = rng.random(n_items) < pi
        est = active_mean_estimates(y[labeled], yhat[labeled], pi[labeled], yhat[~labeled])
        truth = y.mean()
        covered += est.ppi.low <= truth <= est.ppi.high
        naive_covered += est.naive.low <= truth <= est.naive.high
    assert 0.93 <= covered / reps <= 0.97
    assert naive_covered / reps < 0.2
