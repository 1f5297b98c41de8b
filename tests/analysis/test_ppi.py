"""PPI estimators against ppi-python (the method's authors' package) on synthetic data."""

from __future__ import annotations

import numpy as np
import ppi_py
import pytest

from llmcode.analysis.ppi import (
    Z95,
    group_difference,
    group_mean,
    mean_estimates,
    plan_gold,
    power_lambda,
)


def synthetic(accuracy: float, n: int = 200, big_n: int = 3000, share: float = 0.3, seed: int = 0):
    """Truth with a known share; the LLM is right with probability ``accuracy``, else guesses."""
    rng = np.random.default_rng(seed)
    truth = rng.random(n + big_n) < share
    guess = rng.random(n + big_n) < share
    llm = np.where(rng.random(n + big_n) < accuracy, truth, guess)
    return truth.astype(float), llm.astype(float), n


def test_ppi_share_equals_ppi_python_with_power_tuning():
    truth, llm, n = synthetic(0.85)
    y, yhat, unlabeled = truth[:n], llm[:n], llm[n:]
    ours = mean_estimates(y, yhat, unlabeled)
    low, high = ppi_py.ppi_mean_ci(y, yhat, unlabeled, alpha=0.05)
    point = ppi_py.ppi_mean_pointestimate(y, yhat, unlabeled)
    assert ours.ppi.low == pytest.approx(float(low[0]), abs=1e-12)
    assert ours.ppi.high == pytest.approx(float(high[0]), abs=1e-12)
    assert ours.ppi.estimate == pytest.approx(float(point[0]), abs=1e-12)


def test_classical_and_naive_equal_ppi_python_baselines():
    truth, llm, n = synthetic(0.7, seed=3)
    ours = mean_estimates(truth[:n], llm[:n], llm[n:])
    assert (ours.classical.low, ours.classical.high) == pytest.approx(
        ppi_py.classical_mean_ci(truth[:n], alpha=0.05)
    )
    assert (ours.naive.low, ours.naive.high) == pytest.approx(
        ppi_py.classical_mean_ci(llm, alpha=0.05)
    )
    assert ours.naive.estimate == pytest.approx(llm.mean())


def test_a_good_llm_gives_a_narrower_interval_around_the_truth():
    truth, llm, n = synthetic(0.95, seed=5)
    ours = mean_estimates(truth[:n], llm[:n], llm[n:])
    assert ours.ppi.width() < 0.7 * ours.classical.width()
    assert ours.ppi.low <= 0.3 <= ours.ppi.high
    assert ours.effective_n is not None and ours.effective_n > 2 * n


def test_a_useless_llm_gets_lambda_zero_and_the_classical_interval():
    rng = np.random.default_rng(1)
    y = (rng.random(100) < 0.4).astype(float)
    unrelated = (rng.random(1100) < 0.4).astype(float)
    lam = power_lambda(y, unrelated[:100], unrelated[100:])
    assert lam == pytest.approx(0.0, abs=0.1)
    ours = mean_estimates(y, unrelated[:100], unrelated[100:], lam=0.0)
    assert ours.ppi == ours.classical


def test_a_constant_llm_column_is_lambda_zero_not_a_division_by_zero():
    y = np.array([0, 1, 0, 0, 1], dtype=float)
    assert power_lambda(y, np.zeros(5), np.zeros(20)) == 0.0
    ours = mean_estimates(y, np.zeros(5), np.zeros(20))
    assert ours.ppi == ours.classical


def test_variance_parts_reproduce_the_ppi_python_width():
    truth, llm, n = synthetic(0.8, seed=7)
    ours = mean_estimates(truth[:n], llm[:n], llm[n:])
    assert ours.ppi_width(n, len(llm) - n) == pytest.approx(ours.ppi.width(), rel=1e-9)


def test_plan_reaches_the_width_it_promises():
    truth, llm, n = synthetic(0.8, n=60, seed=11)
    est = mean_estimates(truth[:n], llm[:n], llm[n:])
    target = est.ppi.width() / 2
    needed, widest = plan_gold([est], target, len(llm))
    assert widest == pytest.approx(est.ppi.width())
    assert needed is not None and needed > n
    assert est.ppi_width(needed, len(llm) - needed) <= target
    assert est.ppi_width(needed - 1, len(llm) - needed + 1) > target


def test_plan_says_unreachable_when_even_all_items_are_not_enough():
    truth, llm, n = synthetic(0.8, n=60, big_n=200, seed=11)
    est = mean_estimates(truth[:n], llm[:n], llm[n:])
    assert plan_gold([est], 0.001, len(llm))[0] is None


def test_group_mean_with_a_perfect_llm_is_the_mean_of_the_llm_coded_items():
    rng = np.random.default_rng(2)
    category = rng.random(2000) < 0.4
    values = rng.normal(2.0, 1.0, 2000) + category
    labeled = np.zeros(2000, bool)
    labeled[:150] = True
    plain = group_mean(values, category, category, labeled, lam=1.0)
    assert plain.ppi is not None
    assert plain.ppi.estimate == pytest.approx(values[category & ~labeled].mean(), abs=1e-9)
    tuned = group_mean(values, category, category, labeled)
    assert 0.85 < tuned.lam < 0.97  # PPI++ shrinks λ by 1 / (1 + n/N) even for a perfect LLM
    assert tuned.ppi is not None
    assert tuned.ppi.low <= values[category].mean() <= tuned.ppi.high


def test_group_mean_at_lambda_one_matches_a_ppi_python_ratio_interval():
    """θ = E[c·v]/E[c]: the delta method on ppi-python's 2-D mean (λ = 1, plain PPI)."""
    rng = np.random.default_rng(4)
    total, n = 2500, 250
    category = rng.random(total) < 0.35
    predicted = np.where(rng.random(total) < 0.8, category, rng.random(total) < 0.35)
    values = rng.lognormal(2.5, 1.0, total) * np.where(category, 2.0, 1.0)
    values = np.log(values)
    labeled = np.zeros(total, bool)
    labeled[:n] = True
    y = np.column_stack([category * values, category]).astype(float)
    yhat = np.column_stack([predicted * values, predicted]).astype(float)
    mu = ppi_py.ppi_mean_pointestimate(y[:n], yhat[:n], yhat[n:], lam=1)
    theta = mu[0] / mu[1]
    psi = category * (values - theta) / mu[1]
    psihat = predicted * (values - theta) / mu[1]
    low, high = ppi_py.ppi_mean_ci(psi[:n], psihat[:n], psihat[n:], alpha=0.05, lam=1)
    ours = group_mean(values, category, predicted, labeled, lam=1.0)
    assert ours.ppi is not None
    assert ours.ppi.estimate == pytest.approx(float(theta), abs=1e-10)
    assert ours.ppi.low == pytest.approx(float(theta + low[0]), abs=1e-10)
    assert ours.ppi.high == pytest.approx(float(theta + high[0]), abs=1e-10)
    tuned = group_mean(values, category, predicted, labeled)
    assert tuned.ppi is not None and tuned.ppi.width() <= ours.ppi.width() * 1.01


def test_group_difference_covers_a_known_gap():
    rng = np.random.default_rng(9)
    total, n = 3000, 300
    a = rng.random(total) < 0.5
    values = rng.normal(0.0, 1.0, total) + np.where(a, 1.0, 0.0)
    predicted = np.where(rng.random(total) < 0.85, a, ~a)
    labeled = np.zeros(total, bool)
    labeled[:n] = True
    diff = group_difference(values, (a, ~a), (predicted, ~predicted), labeled)
    assert diff is not None
    assert diff.low <= 1.0 <= diff.high
    gap = values[a].mean() - values[~a].mean()
    assert diff.estimate == pytest.approx(gap, abs=2 * Z95 * diff.width())


def test_interval_coverage_in_a_small_simulation():
    """60 repetitions at 90% LLM accuracy: PPI covers the true share about 95% of the time."""
    covered, naive_covered = 0, 0
    for seed in range(60):
        truth, llm, n = synthetic(0.9, n=150, big_n=1500, share=0.3, seed=100 + seed)
        est = mean_estimates(truth[:n], llm[:n], llm[n:])
        true_share = 0.3
        covered += est.ppi.low <= true_share <= est.ppi.high
        naive_covered += est.naive.low <= true_share <= est.naive.high
    assert covered >= 52
    assert naive_covered < covered
