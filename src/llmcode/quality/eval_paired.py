"""Paired comparison of runs on the same gold items: run B − run A in κ and macro-F1.

Each bootstrap resample draws gold items once and evaluates every run on that same draw, so a
difference's interval reflects only how the runs differ item by item (items resampled jointly),
not the sampling noise both share. The p-value is the two-sided bootstrap p: twice the smaller
share of resampled differences on either side of 0 (capped at 1; the differences where either
run's statistic is undefined are left out). Pairs are every (A, B) with A before B in the
order the runs were given.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from llmcode.quality.eval_metrics import Comparison, Statistic, overall_statistics

if TYPE_CHECKING:
    from llmcode.quality.eval_inputs import RunInput

FloatArray = npt.NDArray[np.float64]
DELTAS = {"delta_kappa": "cohen_kappa", "delta_macro_f1": "macro_f1"}


class Delta(BaseModel):
    """B − A with its 95% CI and two-sided bootstrap p-value."""

    value: float | None
    ci95: tuple[float, float] | None = None
    p: float | None = None


class Paired(BaseModel):
    a: str
    b: str
    delta_kappa: Delta
    delta_macro_f1: Delta
    p: float | None
    """The p-value of ``delta_kappa``."""
    extra_cost_per_item_usd: float | None = None


def paired_statistics(comparisons: Sequence[Comparison]) -> dict[Hashable, Statistic]:
    """Statistic B − A per pair and delta, on item weights."""
    statistics = [overall_statistics(c) for c in comparisons]
    jobs: dict[Hashable, Statistic] = {}
    for i in range(len(comparisons)):
        for j in range(i + 1, len(comparisons)):
            for delta, name in DELTAS.items():
                jobs[("pair", i, j, delta)] = _difference(statistics[j][name], statistics[i][name])
    return jobs


def _difference(b: Statistic, a: Statistic) -> Statistic:
    return lambda weights: b(weights) - a(weights)


def bootstrap_p(replicates: FloatArray) -> float | None:
    """Two-sided bootstrap p-value of 'the difference is 0' (None when nothing is defined)."""
    defined = replicates[~np.isnan(replicates)]
    if defined.size == 0:
        return None
    below = float(np.mean(defined <= 0))
    above = float(np.mean(defined >= 0))
    return min(1.0, 2.0 * min(below, above))


def paired_results(
    runs: Sequence[RunInput], values: dict[Hashable, Any], replicates: dict[Hashable, FloatArray]
) -> list[Paired]:
    """One `Paired` per (A, B), from the evaluated statistics and their replicates."""
    out = []
    for i, first in enumerate(runs):
        for j in range(i + 1, len(runs)):
            second = runs[j]
            deltas = {}
            for delta in DELTAS:
                key = ("pair", i, j, delta)
                point = values[key]
                p = bootstrap_p(replicates[key]) if key in replicates else None
                deltas[delta] = Delta(value=point.value, ci95=point.ci95, p=p)
            cost = (
                second.cost_per_item_usd - first.cost_per_item_usd
                if second.cost_per_item_usd is not None and first.cost_per_item_usd is not None
                else None
            )
            out.append(
                Paired(
                    a=first.run,
                    b=second.run,
                    **deltas,
                    p=deltas["delta_kappa"].p,
                    extra_cost_per_item_usd=cost,
                )
            )
    return out
