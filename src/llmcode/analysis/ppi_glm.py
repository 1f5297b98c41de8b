"""Prediction-powered OLS and logistic regression when the LLM's codes are the *covariates*.

``ppi_py``'s ``ppi_ols_ci`` / ``ppi_logistic_ci`` (PPI++, Angelopoulos, Duchi & Zrnic 2023) take
covariates X known on every item and an outcome Y predicted on the unlabeled ones. A study's
regression is the other way round: the outcome (log resolution days, a binary column) is known on
every item and the codes on the right-hand side come from the LLM, with a coder's codes on the
gold sample. This module runs the same PPI++ recipe with the whole data point predicted —
``(X̂, Ŷ)`` beside the gold ``(X, Y)`` — and reduces *exactly* to ``ppi_py`` when ``X̂ = X``
(the tests call ``ppi_py`` on such arrays and compare to 1e-6):

- point estimate: OLS as ``ppi_py`` writes it, λ·θ̂(X̂ᵤ, Ŷᵤ) + θ̂(X, Y) − λ·θ̂(X̂, Ŷ) (imputed
  plus rectifier, each a least-squares fit); logistic, the minimiser of the rectified loss
  λ·Lᵤ(θ; X̂ᵤ, Ŷᵤ) + Lₙ(θ; X, Y) − λ·Lₙ(θ; X̂, Ŷ);
- variance: each part's influence ``H⁻¹·gradient``, with H for the gold loss and Ĥ for the
  predicted loss (the two coincide when X̂ = X), Σ = cov(A·g − λ·B·ĝ)/n + λ²·cov(B·ĝᵤ)/N;
  Ĥ pools the predicted covariates of all items; H is the gold Hessian rectified the same way
  (the gold items' own Hessian when that is not positive definite);
- λ: the trace-minimising power-tuning of ``ppi_py``'s ``_calc_lam_glm`` with A and B in
  place of its single inverse Hessian, clipped to [0, 1], computed in the same two steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

from llmcode.errors import AnalysisError

Kind = Literal["ols", "logistic"]
Z95 = 1.959963984540054


@dataclass(frozen=True)
class GlmFit:
    """PPI++ coefficients, their standard errors, λ, and whether H fell back to the gold's."""

    theta: np.ndarray
    se: np.ndarray
    lam: float
    gold_hessian: bool

    def ci(self) -> tuple[np.ndarray, np.ndarray]:
        return self.theta - Z95 * self.se, self.theta + Z95 * self.se


def ppi_glm(
    kind: Kind,
    x: np.ndarray,
    y: np.ndarray,
    xhat: np.ndarray,
    yhat: np.ndarray,
    xhat_unlabeled: np.ndarray,
    yhat_unlabeled: np.ndarray,
    lam: float | None = None,
) -> GlmFit:
    """PPI++ regression of y on x (gold) with (xhat, yhat) predicted on the gold items and
    (xhat_unlabeled, yhat_unlabeled) on the others; ``lam`` None tunes λ as ``ppi_py`` does."""
    arrays = [
        np.asarray(a, dtype=float) for a in (x, y, xhat, yhat, xhat_unlabeled, yhat_unlabeled)
    ]
    data = _Data(*arrays)
    if data.big_n == 0:  # every item is a gold item: nothing to impute, the classical fit
        lam = 0.0
    if lam is None:
        first = _point(kind, data, 1.0)
        tuned = _point(kind, data, _lambda(_stats(kind, data, first, True)))
        lam = _lambda(_stats(kind, data, tuned, True))
    theta = _point(kind, data, lam)
    stats = _stats(kind, data, theta, lam != 0)
    phi = stats.g @ stats.a.T - lam * stats.ghat @ stats.b.T
    phi_u = lam * stats.ghat_u @ stats.b.T
    var = _cov(phi) / data.n + (_cov(phi_u) / data.big_n if lam != 0 else 0.0)
    return GlmFit(theta, np.sqrt(np.diag(var)), float(lam), stats.gold_hessian)


def classical_glm(kind: Kind, x: np.ndarray, y: np.ndarray) -> GlmFit:
    """The fit on labeled items alone: OLS with statsmodels' HC0 (heteroskedasticity-robust)
    standard errors, as ``ppi_py``'s ``classical_ols_ci``; logistic with the sandwich of
    ``ppi_py``'s ``classical_logistic_ci`` (without its deprecated scikit-learn call)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if kind == "ols":
        from statsmodels.api import OLS

        fitted = OLS(y, x).fit()
        return GlmFit(np.asarray(fitted.params), np.asarray(fitted.HC0_se), 0.0, False)
    empty = np.empty((0, x.shape[1]))
    return ppi_glm(kind, x, y, x, y, empty, np.empty(0), lam=0.0)


@dataclass(frozen=True)
class _Data:
    x: np.ndarray
    y: np.ndarray
    xhat: np.ndarray
    yhat: np.ndarray
    xu: np.ndarray
    yu: np.ndarray

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def big_n(self) -> int:
        return len(self.yu)


@dataclass(frozen=True)
class _Stats:
    g: np.ndarray
    ghat: np.ndarray
    ghat_u: np.ndarray
    a: np.ndarray  # inverse Hessian of the gold loss
    b: np.ndarray  # inverse Hessian of the predicted loss
    gold_hessian: bool


def _point(kind: Kind, d: _Data, lam: float) -> np.ndarray:
    if kind == "ols":
        theta = _lstsq(d.x, d.y)
        if lam:
            theta = theta + lam * (_lstsq(d.xu, d.yu) - _lstsq(d.xhat, d.yhat))
        return theta
    return _logistic_point(d, lam)


def _lstsq(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.linalg.lstsq(x, y, rcond=None)[0]


def _logistic_point(d: _Data, lam: float) -> np.ndarray:
    def loss(theta: np.ndarray) -> float:
        value = _logloss(d.x, d.y, theta)
        if lam:
            value += lam * (_logloss(d.xu, d.yu, theta) - _logloss(d.xhat, d.yhat, theta))
        return value

    def grad(theta: np.ndarray) -> np.ndarray:
        value = _loggrad(d.x, d.y, theta)
        if lam:
            value = value + lam * (_loggrad(d.xu, d.yu, theta) - _loggrad(d.xhat, d.yhat, theta))
        return value

    start = _newton(d.x, d.y)
    done = minimize(
        loss, start, jac=grad, method="L-BFGS-B", tol=1e-15, options={"ftol": 1e-15, "gtol": 1e-12}
    )
    return np.asarray(done.x)


def _logloss(x: np.ndarray, y: np.ndarray, theta: np.ndarray) -> float:
    eta = x @ theta
    return float(np.mean(np.logaddexp(0.0, eta) - y * eta))


def _loggrad(x: np.ndarray, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
    return x.T @ (expit(x @ theta) - y) / len(y)


def _newton(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The gold-only logistic fit (a start for the rectified loss); no MLE -> AnalysisError."""
    theta = np.zeros(x.shape[1])
    for _ in range(100):
        mu = expit(x @ theta)
        hessian = (x * (mu * (1 - mu))[:, None]).T @ x / len(y)
        step = np.linalg.lstsq(hessian, _loggrad(x, y, theta), rcond=None)[0]
        theta = theta - step
        if np.max(np.abs(step)) < 1e-12:
            break
    if not np.all(np.isfinite(theta)) or np.max(np.abs(theta)) > 30:
        raise AnalysisError(
            "the logistic regression on the gold items has no finite estimate: a code or "
            "covariate level separates the outcome perfectly",
            hint="code more gold items, or leave the covariate out",
        )
    return theta


def _stats(kind: Kind, d: _Data, theta: np.ndarray, use_unlabeled: bool) -> _Stats:
    def parts(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-item gradients, and the mean Hessian."""
        if kind == "ols":
            return x * (x @ theta - y)[:, None], x.T @ x / len(y)
        mu = expit(x @ theta)
        return x * (mu - y)[:, None], (x * (mu * (1 - mu))[:, None]).T @ x / len(y)

    n, big_n = d.n, d.big_n
    g, h_gold = parts(d.x, d.y)
    ghat, h_hat = parts(d.xhat, d.yhat)
    if not use_unlabeled:
        a = np.linalg.inv(h_gold)
        return _Stats(g, ghat, np.zeros_like(d.xu), a, a, False)
    ghat_u, h_u = parts(d.xu, d.yu)
    pooled_hat = (big_n * h_u + n * h_hat) / (big_n + n)
    rectified = (big_n * (h_u + h_gold - h_hat) + n * h_gold) / (big_n + n)
    fallback = bool(np.linalg.eigvalsh((rectified + rectified.T) / 2).min() <= 1e-12)
    a = np.linalg.inv(h_gold if fallback else rectified)
    return _Stats(g, ghat, ghat_u, a, np.linalg.inv(pooled_hat), fallback)


def _lambda(s: _Stats) -> float:
    """``ppi_py``'s ``_calc_lam_glm`` (trace of the variance, clipped) with two inverse
    Hessians: A for the gold gradients, B for the predicted ones."""
    n, big_n = len(s.g), len(s.ghat_u)
    g_c = s.g - s.g.mean(axis=0)
    ghat_c = s.ghat - s.ghat.mean(axis=0)
    cross = g_c.T @ ghat_c / n
    num = np.trace(s.a @ cross @ s.b) + np.trace(s.b @ cross.T @ s.a)
    var_hat = _cov(np.concatenate([s.ghat, s.ghat_u], axis=0))
    denom = 2 * (1 + n / big_n) * np.trace(s.b @ var_hat @ s.b)
    if denom <= 0:
        return 0.0
    return float(np.clip(num / denom, 0.0, 1.0))


def _cov(values: np.ndarray) -> np.ndarray:
    return np.atleast_2d(np.cov(values.T))
