"""Item-level bootstrap: seeded resampling weights and percentile confidence intervals.

A resample draws n items with replacement from the n pairable items; it is represented by how
often each item was drawn (a row of weights), so every coefficient of one resample is computed
from the same draw and without copying data. The categories (and so q for AC1 and
Brennan–Prediger) stay those of the whole sample in every resample. Resamples are generated in
chunks to bound memory. Intervals are percentile intervals over the resamples where the
coefficient is defined; how many resamples left it undefined is reported, never hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from llmcode.errors import AgreementError

FloatArray = npt.NDArray[np.float64]
Statistic = Callable[[FloatArray], FloatArray]
Key = TypeVar("Key", bound=Hashable)
_CELLS_PER_CHUNK = 4_000_000


@dataclass(frozen=True)
class Interval:
    """A percentile interval and how many resamples could not contribute to it."""

    low: float | None
    high: float | None
    n_resamples: int
    n_undefined: int


def resample_weights(n_items: int, n_resamples: int, rng: np.random.Generator) -> FloatArray:
    """(n_resamples, n_items) draw counts: row b says how often each item is in resample b."""
    draws = rng.integers(0, n_items, size=(n_resamples, n_items))
    draws += (np.arange(n_resamples) * n_items)[:, None]
    counts = np.bincount(draws.ravel(), minlength=n_resamples * n_items)
    return counts.reshape(n_resamples, n_items).astype(np.float64)


def bootstrap_replicates(
    n_items: int,
    statistics: Mapping[Key, Statistic],
    *,
    n_resamples: int,
    seed: int = 0,
) -> dict[Key, FloatArray]:
    """Evaluate every statistic (weights -> values) on the same seeded resamples."""
    if n_resamples < 1:
        raise AgreementError(
            f"the number of bootstrap resamples must be positive, not {n_resamples}"
        )
    if n_items < 2:
        raise AgreementError("bootstrapping needs at least two compared items")
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_resamples, _CELLS_PER_CHUNK // n_items))
    parts: dict[Key, list[FloatArray]] = {name: [] for name in statistics}
    done = 0
    while done < n_resamples:
        size = min(chunk, n_resamples - done)
        weights = resample_weights(n_items, size, rng)
        for name, statistic in statistics.items():
            parts[name].append(statistic(weights))
        done += size
    return {name: np.concatenate(values) for name, values in parts.items()}


def percentile_interval(replicates: FloatArray, confidence: float = 0.95) -> Interval:
    """The central `confidence` percentile interval of the defined (non-NaN) replicates."""
    defined = replicates[~np.isnan(replicates)]
    undefined = int(replicates.size - defined.size)
    if defined.size == 0:
        return Interval(None, None, int(replicates.size), undefined)
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(defined, [tail, 100.0 - tail])
    return Interval(float(low), float(high), int(replicates.size), undefined)
