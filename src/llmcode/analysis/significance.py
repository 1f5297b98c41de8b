"""Significance tests and effect sizes for comparing groups of durations (pure functions).

Two groups: Mann–Whitney U (scipy) with Cliff's δ and its magnitude label (Romano et al., 2006).
Several groups: Kruskal–Wallis H (scipy) and Dunn's post-hoc z tests on the pooled mid-ranks with
the tie correction, p-values adjusted by Holm (statsmodels). Right-censored durations (open
issues): Kaplan–Meier medians and the log-rank test (statsmodels). Degenerate inputs (an empty
group, all values tied) give ``None`` statistics with a ``note`` saying why, never NaN.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.duration.survfunc import SurvfuncRight, survdiff
from statsmodels.stats.multitest import multipletests

Values: TypeAlias = Sequence[float] | np.ndarray | pd.Series
Flags: TypeAlias = Sequence[bool] | np.ndarray | pd.Series

# |δ| thresholds of Romano et al. (2006), the ones software-engineering studies use.
CLIFF_THRESHOLDS = ((0.147, "negligible"), (0.33, "small"), (0.474, "medium"))


@dataclass(frozen=True)
class TwoGroupTest:
    """Mann–Whitney U of x vs y (U is x's statistic), Cliff's δ (> 0: x tends to be larger)."""

    n_x: int
    n_y: int
    mannwhitney_u: float | None
    p_value: float | None
    cliffs_delta: float | None
    magnitude: str | None
    note: str = ""


@dataclass(frozen=True)
class DunnPair:
    """One pairwise comparison of Dunn's test."""

    a: str
    b: str
    z: float
    p_value: float
    p_adjusted: float


@dataclass(frozen=True)
class ManyGroupTest:
    """Kruskal–Wallis H over groups with data, and Dunn's pairwise comparisons."""

    kruskal_h: float | None
    p_value: float | None
    n: int
    groups: list[str]
    dunn: list[DunnPair] = field(default_factory=list)
    note: str = ""


def mann_whitney(x: Values, y: Values) -> TwoGroupTest:
    """Two-sided Mann–Whitney U test of ``x`` vs ``y`` with Cliff's δ."""
    xs, ys = _array(x), _array(y)
    if len(xs) == 0 or len(ys) == 0:
        return TwoGroupTest(len(xs), len(ys), None, None, None, None, note="a group is empty")
    result = stats.mannwhitneyu(xs, ys, alternative="two-sided")
    delta = cliffs_delta(xs, ys)
    return TwoGroupTest(
        n_x=len(xs),
        n_y=len(ys),
        mannwhitney_u=float(result.statistic),
        p_value=float(result.pvalue),
        cliffs_delta=delta,
        magnitude=cliffs_magnitude(delta),
    )


def cliffs_delta(x: Values, y: Values) -> float:
    """Cliff's δ = P(x > y) − P(x < y), from the Mann–Whitney U of x (ties count half)."""
    xs, ys = _array(x), _array(y)
    if len(xs) == 0 or len(ys) == 0:
        raise ValueError("Cliff's delta needs two non-empty groups")
    u = stats.mannwhitneyu(xs, ys, alternative="two-sided").statistic
    return float(2.0 * u / (len(xs) * len(ys)) - 1.0)


def cliffs_magnitude(delta: float) -> str:
    """negligible / small / medium / large, by |δ| (Romano et al., 2006)."""
    size = abs(delta)
    for limit, label in CLIFF_THRESHOLDS:
        if size < limit:
            return label
    return "large"


def kruskal_dunn(groups: Mapping[str, Values], correction: str = "holm") -> ManyGroupTest:
    """Kruskal–Wallis over the non-empty groups, then Dunn's test with ``correction``."""
    arrays = {name: _array(values) for name, values in groups.items()}
    usable = {name: values for name, values in arrays.items() if len(values)}
    n = sum(len(v) for v in usable.values())
    names = list(usable)
    if len(usable) < 2:
        return ManyGroupTest(None, None, n, names, note="fewer than two groups with data")
    pooled = np.concatenate(list(usable.values()))
    if np.all(pooled == pooled[0]):
        return ManyGroupTest(None, None, n, names, note="all values are tied")
    result = stats.kruskal(*usable.values())
    return ManyGroupTest(
        kruskal_h=float(result.statistic),
        p_value=float(result.pvalue),
        n=n,
        groups=names,
        dunn=dunn(usable, correction),
    )


def dunn(groups: Mapping[str, Values], correction: str = "holm") -> list[DunnPair]:
    """Dunn's (1964) pairwise z tests on pooled mid-ranks, tie-corrected; p adjusted."""
    arrays = {name: _array(values) for name, values in groups.items() if len(values)}
    names = list(arrays)
    pooled = np.concatenate(list(arrays.values()))
    n = len(pooled)
    ranks = stats.rankdata(pooled)
    mean_rank, size, start = {}, {}, 0
    for name in names:
        size[name] = len(arrays[name])
        mean_rank[name] = ranks[start : start + size[name]].mean()
        start += size[name]
    _, tie_counts = np.unique(pooled, return_counts=True)
    ties = float(np.sum(tie_counts**3 - tie_counts)) / (12.0 * (n - 1))
    variance = n * (n + 1) / 12.0 - ties
    pairs = list(itertools.combinations(names, 2))
    z_values = [
        (mean_rank[a] - mean_rank[b]) / np.sqrt(variance * (1 / size[a] + 1 / size[b]))
        for a, b in pairs
    ]
    raw = [float(2 * stats.norm.sf(abs(z))) for z in z_values]
    adjusted = multipletests(raw, method=correction)[1] if raw else []
    return [
        DunnPair(a=a, b=b, z=float(z), p_value=p, p_adjusted=float(q))
        for (a, b), z, p, q in zip(pairs, z_values, raw, adjusted, strict=True)
    ]


def km_median(durations: Values, censored: Flags) -> float | None:
    """Kaplan–Meier median, counting censored (still open) items; None if never reached.

    The first time the survival curve drops to 0.5 or below; where it sits exactly at 0.5, the
    midpoint to the next event time (R's ``survival`` convention, so that without censoring it
    equals the sample median). The curve is statsmodels'.
    """
    times = _array(durations)
    events = ~np.asarray(censored, dtype=bool)
    if len(times) == 0 or not events.any():
        return None
    curve = SurvfuncRight(times, events.astype(int))
    survival, at = np.asarray(curve.surv_prob), np.asarray(curve.surv_times)
    reached = np.flatnonzero(survival <= 0.5 + 1e-12)
    if len(reached) == 0:
        return None
    first = int(reached[0])
    if np.isclose(survival[first], 0.5) and first + 1 < len(at):
        return float((at[first] + at[first + 1]) / 2)
    return float(at[first])


def logrank(
    x: Values, x_censored: Flags, y: Values, y_censored: Flags
) -> tuple[float | None, float | None]:
    """Log-rank χ² and p-value comparing two censored samples (None when undefined)."""
    xs, ys = _array(x), _array(y)
    if len(xs) == 0 or len(ys) == 0:
        return None, None
    times = np.concatenate([xs, ys])
    events = ~np.concatenate([np.asarray(x_censored, bool), np.asarray(y_censored, bool)])
    if not events.any():
        return None, None
    group = np.concatenate([np.zeros(len(xs)), np.ones(len(ys))])
    chi2, p_value = survdiff(times, events.astype(int), group)
    if not np.isfinite(chi2):
        return None, None
    return float(chi2), float(p_value)


def _array(values: Values) -> np.ndarray:
    return np.asarray(values, dtype=float)
