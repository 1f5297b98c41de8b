"""`llmcode.analysis.ppi_glm`: PPI++ regressions with predicted covariates.

With X̂ = X the estimator is ``ppi_py``'s: the same arrays go to ``ppi_ols_ci`` /
``ppi_logistic_ci`` (and their point estimates) and must agree to 1e-6, for a tuned λ and for
fixed ones. With predicted covariates (the study's case) a simulation checks the CI's coverage
of the true coefficient while the naive fit on the LLM's codes misses it.
"""

from __future__ import annotations

import numpy as np
import pytest
from ppi_py import (
    ppi_logistic_ci,
    ppi_logistic_pointestimate,
    ppi_ols_ci,
    ppi_ols_pointestimate,
)

from llmcode.analysis.ppi_glm import ppi_glm


def study(seed: int, n: int = 150, big_n: int = 600):
    rng = np.random.default_rng(seed)

    def design(m: int) -> np.ndarray:
        return np.column_stack([np.ones(m), rng.integers(0, 2, m), rng.normal(size=m)])

    x, xu = design(n), design(big_n)
    beta = np.array([0.3, 1.0, -0.5])
    y = x @ beta + rng.normal(size=n)
    yhat = y + rng.normal(scale=0.7, size=n) + 0.2
    yu = xu @ beta + rng.normal(size=big_n) + rng.normal(scale=0.7, size=big_n) + 0.2
    b = (rng.random(n) < 1 / (1 + np.exp(-(x @ beta)))).astype(float)
    bhat = np.where(rng.random(n) < 0.8, b, 1 - b)
    bu = (rng.random(big_n) < 1 / (1 + np.exp(-(xu @ beta)))).astype(float)
    return x, xu, (y, yhat, yu), (b, bhat, bu)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("lam", [None, 0.0, 0.4, 1.0])
def test_ols_with_known_covariates_is_ppi_py_ppi_ols_ci(seed, lam) -> None:
    x, xu, (y, yhat, yu), _ = study(seed)
    low, high = ppi_ols_ci(x, y, yhat, xu, yu, alpha=0.05, lam=lam)
    point = ppi_ols_pointestimate(x, y, yhat, xu, yu, lam=lam)
    fit = ppi_glm("ols", x, y, x, yhat, xu, yu, lam=lam)
    ours_low, ours_high = fit.ci()
    np.testing.assert_allclose(ours_low, low, atol=1e-6, rtol=0)
    np.testing.assert_allclose(ours_high, high, atol=1e-6, rtol=0)
    if lam is not None:  # ppi_py's tuned point estimate stops one λ step before its CI's
        np.testing.assert_allclose(fit.theta, point, atol=1e-6, rtol=0)


# ppi_py starts its logistic fit with scikit-learn's deprecated ``penalty=None``
@pytest.mark.filterwarnings("ignore:'penalty' was deprecated:FutureWarning")
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("lam", [None, 0.0, 0.4, 1.0])
def test_logistic_with_known_covariates_is_ppi_py_ppi_logistic_ci(seed, lam) -> None:
    x, xu, _, (b, bhat, bu) = study(seed)
    low, high = ppi_logistic_ci(x, b, bhat, xu, bu, alpha=0.05, lam=lam)
    fit = ppi_glm("logistic", x, b, x, bhat, xu, bu, lam=lam)
    ours_low, ours_high = fit.ci()
    np.testing.assert_allclose(ours_low, low, atol=1e-6, rtol=0)
    np.testing.assert_allclose(ours_high, high, atol=1e-6, rtol=0)
    if lam is not None:
        point = ppi_logistic_pointestimate(x, b, bhat, xu, bu, lam=lam)
        np.testing.assert_allclose(fit.theta, point, atol=1e-6, rtol=0)


@pytest.mark.filterwarnings("ignore:'penalty' was deprecated:FutureWarning")
def test_classical_fits_are_ppi_py_classical_cis_and_statsmodels() -> None:
    import statsmodels.api as sm
    from ppi_py import classical_logistic_ci, classical_ols_ci

    from llmcode.analysis.ppi_glm import classical_glm

    x, _, (y, _, _), (b, _, _) = study(3)
    ols = classical_glm("ols", x, y)
    np.testing.assert_allclose(ols.ci(), classical_ols_ci(x, y, alpha=0.05), atol=1e-9)
    logit = classical_glm("logistic", x, b)
    np.testing.assert_allclose(logit.ci(), classical_logistic_ci(x, b, alpha=0.05), atol=1e-6)
    reference = sm.Logit(b, x).fit(disp=0, cov_type="HC0")
    np.testing.assert_allclose(logit.theta, reference.params, atol=1e-6)
    # ppi_py's sandwich takes the gradients' covariance with ddof 1, statsmodels' HC0 with n
    n = len(b)
    np.testing.assert_allclose(logit.se, reference.bse * np.sqrt(n / (n - 1)), atol=1e-6)


def test_predicted_codes_as_covariates_keep_coverage_where_the_naive_fit_fails() -> None:
    """log days = 1 + 0.8·code + noise; the LLM flips the code on 20% of items. The naive
    coefficient is attenuated (about 0.8·0.6 here); the PPI CI covers 0.8 about 95% of the time."""
    rng = np.random.default_rng(7)
    reps, n, big_n, beta = 300, 120, 600, 0.8
    covered, naive_covered = 0, 0
    for _ in range(reps):
        code = (rng.random(n + big_n) < 0.4).astype(float)
        llm = np.where(rng.random(n + big_n) < 0.2, 1 - code, code)
        y = 1 + beta * code + rng.normal(size=n + big_n)
        x = np.column_stack([np.ones(n + big_n), code])
        xhat = np.column_stack([np.ones(n + big_n), llm])
        fit = ppi_glm("ols", x[:n], y[:n], xhat[:n], y[:n], xhat[n:], y[n:])
        low, high = fit.ci()
        covered += low[1] <= beta <= high[1]
        naive = np.linalg.lstsq(xhat, y, rcond=None)[0][1]
        naive_covered += abs(naive - beta) < 0.1
    assert 0.92 <= covered / reps <= 0.98
    assert naive_covered / reps < 0.05
