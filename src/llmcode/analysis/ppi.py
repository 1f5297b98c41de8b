"""Prediction-powered inference (PPI++): valid CIs from LLM codes on every item + gold on a sample.

Owns the estimators on arrays; `llmcode.analysis.gold` feeds them from code tables. The
estimates and intervals come from ``ppi_py`` (Angelopoulos et al., Science 2023; the power-tuned
PPI++ of Angelopoulos, Duchi & Zrnic 2023), imported lazily because it pulls numba. Three
estimates of a mean, each with a 95% CI: **naive** (the LLM's values on all items, as if they
were true), **classical** (the gold sample alone) and **PPI** (the LLM's values on the items
without gold, rectified by the LLM's errors on the gold items). The gold items must be a
uniform random sample of the items; the unlabeled set is every other item.

Two pieces are our own algebra, each checked against ``ppi_py`` in the tests: the power-tuning
λ (the formula of ``ppi_py``'s ``_calc_lam_glm`` for a 1-D mean, guarded for a constant LLM
column, which there divides by zero), and the PPI standard error split into its gold and
LLM parts, which `plan_gold` extrapolates to more gold items (``ppi_py``'s power analysis
chooses the number of LLM-coded items too; ours is fixed). A mean within a category (a ratio
of two means) is a Z-estimator: its CI is the PPI interval of the influence values
``1{category}(y − θ) / share``, centred on θ (the delta method, PPI's recipe for M-estimators).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054
MIN_GROUP_GOLD = 5  # gold items in a category (by gold or LLM) before its PPI mean gets a CI


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95% confidence interval."""

    estimate: float
    low: float
    high: float

    def width(self) -> float:
        return self.high - self.low

    def to_json(self) -> dict[str, object]:
        return {"estimate": _finite(self.estimate), "ci95": [_finite(self.low), _finite(self.high)]}


@dataclass(frozen=True)
class MeanEstimates:
    """Naive, classical and PPI estimates of one mean, λ, and the PPI variance parts."""

    naive: Estimate
    classical: Estimate
    ppi: Estimate
    lam: float
    n_gold: int
    n_unlabeled: int
    rectifier_var: float  # var(y − λ ŷ) on the gold items
    imputed_var: float  # var(ŷ) on the other items

    @property
    def effective_n(self) -> float | None:
        """Gold items a classical estimate would need for the PPI CI's width (None: undefined)."""
        classical, ppi = self.classical.width(), self.ppi.width()
        if classical <= 0 or ppi <= 0:
            return None
        return self.n_gold * (classical / ppi) ** 2

    def ppi_width(self, n_gold: int, n_unlabeled: int) -> float:
        """The PPI CI's width with ``n_gold`` gold items and ``n_unlabeled`` others (same λ)."""
        var = self.rectifier_var / n_gold
        if n_unlabeled:
            var += self.lam**2 * self.imputed_var / n_unlabeled
        return 2 * Z95 * math.sqrt(var)


def power_lambda(y: np.ndarray, yhat: np.ndarray, yhat_unlabeled: np.ndarray) -> float:
    """PPI++'s variance-minimising λ for a mean, clipped to [0, 1] (0: the LLM does not help)."""
    n, big_n = len(y), len(yhat_unlabeled)
    if big_n == 0 or n < 2:
        return 0.0
    pooled = np.concatenate([yhat, yhat_unlabeled])
    spread = float(np.var(pooled, ddof=1))
    if spread <= 0:
        return 0.0
    cov = float(np.mean((y - y.mean()) * (yhat - yhat.mean())))
    return float(np.clip(cov / ((1 + n / big_n) * spread), 0.0, 1.0))


def mean_estimates(
    y: np.ndarray,
    yhat: np.ndarray,
    yhat_unlabeled: np.ndarray,
    lam: float | None = None,
    bounds: tuple[float, float] | None = None,
) -> MeanEstimates:
    """Naive, classical and PPI(++) estimates of E[y] (``bounds`` clip the CIs, e.g. (0, 1))."""
    from ppi_py import classical_mean_ci, ppi_mean_ci, ppi_mean_pointestimate

    y, yhat, unl = (np.asarray(a, dtype=float) for a in (y, yhat, yhat_unlabeled))
    everything = np.concatenate([yhat, unl])
    naive = _interval(everything.mean(), classical_mean_ci(everything, alpha=0.05), bounds)
    classical = _interval(y.mean(), classical_mean_ci(y, alpha=0.05), bounds)
    lam = power_lambda(y, yhat, unl) if lam is None else lam
    if len(unl) == 0 or lam == 0:
        ppi = classical
    else:
        point = float(np.squeeze(ppi_mean_pointestimate(y, yhat, unl, lam=lam)))
        ppi = _interval(point, ppi_mean_ci(y, yhat, unl, alpha=0.05, lam=lam), bounds)
    return MeanEstimates(
        naive,
        classical,
        ppi,
        lam,
        len(y),
        len(unl),
        rectifier_var=float(np.var(y - lam * yhat)),
        imputed_var=float(np.var(unl)) if len(unl) else 0.0,
    )


@dataclass(frozen=True)
class GroupMean:
    """A mean of ``values`` within a category: naive, classical and PPI estimates."""

    naive: Estimate | None
    classical: Estimate | None
    ppi: Estimate | None
    lam: float


def group_mean(
    values: np.ndarray,
    gold: np.ndarray,
    llm: np.ndarray,
    labeled: np.ndarray,
    lam: float | None = None,
) -> GroupMean:
    """The mean of ``values`` over items in a category (``gold`` / ``llm``: boolean membership).

    ``labeled`` marks the gold items; with fewer than `MIN_GROUP_GOLD` gold items in the
    category (by the gold or the LLM) there is no PPI estimate. The PPI estimate is
    θ = (λ·mean_N[ĉ·v] + mean_n[c·v − λĉ·v]) / (λ·mean_N[ĉ] + mean_n[c − λĉ]); its CI comes
    from the influence values.
    """
    from ppi_py import classical_mean_ci

    v, c, chat, lab = (np.asarray(a) for a in (values, gold, llm, labeled))
    v = v.astype(float)
    naive = _sample_mean(v[chat], classical_mean_ci)
    classical = _sample_mean(v[lab & c], classical_mean_ci)
    ppi, lam = _ratio(v, [(c, chat, 1.0)], lab, lam)
    return GroupMean(naive, classical, ppi, lam)


def group_difference(
    values: np.ndarray,
    gold: tuple[np.ndarray, np.ndarray],
    llm: tuple[np.ndarray, np.ndarray],
    labeled: np.ndarray,
) -> Estimate | None:
    """PPI estimate and CI of mean(values | category a) − mean(values | category b)."""
    parts = [(gold[0], llm[0], 1.0), (gold[1], llm[1], -1.0)]
    return _ratio(np.asarray(values, dtype=float), parts, np.asarray(labeled))[0]


def plan_gold(
    estimates: list[MeanEstimates], width: float, n_items: int
) -> tuple[int | None, float]:
    """Gold items in total so that every PPI CI is at most ``width`` wide (None: not reachable).

    Uses the variances seen so far and the current λ; the population stays ``n_items`` (each
    new gold item leaves the unlabeled set). Returns (items needed, widest width now).
    """
    widest = max((e.ppi.width() for e in estimates), default=0.0)
    needed = 0
    for est in estimates:
        n = est.n_gold
        if n < 2 or est.ppi.width() <= width:
            needed = max(needed, n)
            continue
        while n < n_items and est.ppi_width(n, n_items - n) > width:
            n += 1
        if est.ppi_width(n, n_items - n) > width:
            return None, widest
        needed = max(needed, n)
    return needed, widest


def _ratio(
    v: np.ndarray,
    parts: list[tuple[np.ndarray, np.ndarray, float]],
    lab: np.ndarray,
    fixed: float | None = None,
) -> tuple[Estimate | None, float]:
    """Σ sign·θ_k for θ_k = mean(v | category k), by PPI with one λ for all parts."""
    from ppi_py import ppi_mean_ci

    if any(((c | chat) & lab).sum() < MIN_GROUP_GOLD for c, chat, _ in parts):
        return None, 0.0  # the rectifier's variance rests on too few items: no honest CI

    def thetas(lam: float) -> list[tuple[float, float]] | None:
        out = []
        for c, chat, _ in parts:
            num = np.mean((c * v - lam * chat * v)[lab])
            den = np.mean((c - lam * chat)[lab])
            if lam:
                num, den = num + lam * np.mean((chat * v)[~lab]), den + lam * np.mean(chat[~lab])
            if den <= 0:
                return None
            out.append((num / den, den))
        return out

    def influence(lam: float, fitted: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
        psi = sum(s * c * (v - t) / d for (c, _, s), (t, d) in zip(parts, fitted, strict=True))
        psihat = sum(
            s * chat * (v - t) / d for (_, chat, s), (t, d) in zip(parts, fitted, strict=True)
        )
        return np.asarray(psi, dtype=float), np.asarray(psihat, dtype=float)

    lam = 0.0 if fixed is None or not (~lab).any() else fixed
    first = thetas(1.0) if fixed is None and (~lab).any() else None
    if first is not None:
        psi, psihat = influence(1.0, first)
        lam = power_lambda(psi[lab], psihat[lab], psihat[~lab])
    fitted = thetas(lam)
    if fitted is None:
        return None, lam
    psi, psihat = influence(lam, fitted)
    point = sum(s * t for (_, _, s), (t, _) in zip(parts, fitted, strict=True))
    if lam == 0:
        from ppi_py import classical_mean_ci

        low, high = classical_mean_ci(psi[lab], alpha=0.05)
    else:
        low, high = ppi_mean_ci(psi[lab], psihat[lab], psihat[~lab], alpha=0.05, lam=lam)
    centre = (float(np.squeeze(low)) + float(np.squeeze(high))) / 2
    half = (float(np.squeeze(high)) - float(np.squeeze(low))) / 2
    # the rectified mean of the influence values is 0 at θ (up to rounding): centre ≈ 0
    point = float(point + centre)
    return Estimate(point, point - half, point + half), lam


def _sample_mean(values: np.ndarray, ci) -> Estimate | None:  # type: ignore[no-untyped-def]
    if len(values) < 2:
        return None
    low, high = ci(values, alpha=0.05)
    return Estimate(float(values.mean()), float(low), float(high))


def _interval(point: float, ci: tuple, bounds: tuple[float, float] | None) -> Estimate:
    low, high = float(np.squeeze(ci[0])), float(np.squeeze(ci[1]))
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return Estimate(float(point), low, high)


def _finite(value: float) -> float | None:
    """Full precision for JSON (machines read it; people read the rounded tables), None if NaN."""
    return float(value) if math.isfinite(value) else None
