"""Active inference: PPI for a gold sample drawn with unequal, known inclusion probabilities.

When `llmcode sample --strategy uncertainty` draws the gold items (each item i on its own with
probability π_i, more likely where the model is unsure), the PPI estimate of a mean weights
each gold item's correction by 1/π_i (Zrnic & Candès, "Active Statistical Inference", ICML
2024): over all N items, z_i = λ·ŷ_i + (y_i − λ·ŷ_i)·ξ_i/π_i with ξ_i = 1 for a gold item, and
θ̂ = mean(z), its 95% CI θ̂ ± 1.96·sd(z)/√N. The z_i are independent under Poisson sampling, so
this holds whatever the LLM's errors. λ is chosen to minimise var(z) (clipped to [0, 1]);
λ = 0 is the classical, design-weighted (Horvitz–Thompson) estimate from the gold items alone,
which is what **classical** means for such a sample. Naive is the LLM's mean as before.
"""

from __future__ import annotations

import math

import numpy as np

from llmcode.analysis.ppi import Z95, Estimate, MeanEstimates
from llmcode.errors import AnalysisError


def active_mean_estimates(
    y: np.ndarray,
    yhat: np.ndarray,
    pi: np.ndarray,
    yhat_unlabeled: np.ndarray,
    bounds: tuple[float, float] | None = None,
    lam: float | None = None,
) -> MeanEstimates:
    """Naive, classical (Horvitz–Thompson) and active PPI estimates of E[y] over all items.

    ``y``, ``yhat``, ``pi``: the gold items' values, LLM values and inclusion probabilities;
    ``yhat_unlabeled``: the LLM's values on the other items."""
    y, yhat, pi, unl = (np.asarray(a, dtype=float) for a in (y, yhat, pi, yhat_unlabeled))
    if (pi <= 0).any() or (pi > 1).any():
        raise AnalysisError(
            f"{int(((pi <= 0) | (pi > 1)).sum())} gold item(s) have an inclusion probability "
            "outside (0, 1]",
            hint="an item that could not be drawn has no weight: redraw with a floor above 0",
        )
    weight = np.concatenate([1.0 / pi, np.zeros(len(unl))])
    truth = np.concatenate([y, np.zeros(len(unl))])
    llm = np.concatenate([yhat, unl])
    a = truth * weight  # ξ·y/π
    b = llm * (1.0 - weight)  # ŷ·(1 − ξ/π)
    if lam is None:
        spread = float(np.var(b, ddof=1))
        lam = 0.0 if spread <= 0 else float(np.clip(-_cov(a, b) / spread, 0.0, 1.0))
    naive = _estimate(llm, bounds)
    classical = _estimate(a, bounds)
    ppi = _estimate(a + lam * b, bounds)
    return MeanEstimates(
        naive,
        classical,
        ppi,
        lam,
        len(y),
        len(unl),
        rectifier_var=math.nan,  # no extrapolation (`plan_gold`) for unequal probabilities
        imputed_var=math.nan,
    )


def _cov(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.cov(a, b, ddof=1)[0, 1])


def _estimate(z: np.ndarray, bounds: tuple[float, float] | None) -> Estimate:
    point = float(np.mean(z))
    half = Z95 * float(np.std(z, ddof=1)) / math.sqrt(len(z))
    low, high = point - half, point + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return Estimate(point, low, high)
