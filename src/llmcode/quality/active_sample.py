"""Gold samples chosen by the model's uncertainty, with known inclusion probabilities.

`draw_uncertainty_sample` gives every item an inclusion probability that grows with the run's
uncertainty about it (u = 1 − the probability of its top code, or of its stated confidence; an
item the run did not answer counts as fully uncertain), with a floor so every item can be drawn:
π_i = min(1, c · √max(u_i, floor)), c chosen so the π sum to n. The square root is the
variance-optimal rule of Zrnic & Candès (π ∝ the root of the expected squared error, which is u
for a calibrated model's 0/1 error); in `benchmarks/active_coverage.py` it gives narrower CIs
than π ∝ u, which over-weights a few items and under-covers. Each item is then drawn on its
own with probability π_i (Poisson sampling, seeded), so the sample size is n on average, not
exactly. The π of every drawn item go into the sample file (``inclusion_probability``) and its
sidecar (``inclusion_probabilities``); `llmcode analyze --human` then uses the active-inference
estimator (Zrnic & Candès 2024: each gold item's correction weighted by 1/π), which keeps the
CIs valid while the gold items go where the model is unsure (Gligorić et al., NAACL 2025).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from llmcode.errors import ConfigError, RunStoreError
from llmcode.store.runs import Run

FLOOR = 0.05
STRATEGIES = ("uniform", "uncertainty")


def check_sample_request(
    plan: float | None, run: object, items: object, n: int | None, output: object
) -> None:
    """A plan needs the run and nothing to draw; a draw needs items, n and an output file."""
    if plan is not None:
        extra = [k for k, v in (("items", items), ("n", n), ("output", output)) if v is not None]
        if run is None:
            raise ConfigError(
                "a plan reads the run's confidences: give the run", hint="give the run (`run`)"
            )
        if extra:
            raise ConfigError(
                f"a plan draws nothing: leave out {', '.join(extra)}",
                hint="plan first, then draw with the n it gives",
            )
        return
    missing = [k for k, v in (("items", items), ("n", n), ("output", output)) if v is None]
    if missing:
        raise ConfigError(
            f"a sample needs {', '.join(missing)}",
            hint="e.g. llmcode sample items.csv -n 100 -o gold.csv (or --plan WIDTH --run RUN)",
        )


def draw_gold_sample(
    items: pd.DataFrame,
    n: int,
    *,
    seed: int,
    strategy: str = "uniform",
    run: Run | None = None,
    floor: float | None = None,
    stratify: str | None = None,
    test_share: float = 0.5,
    id_column: str = "item_id",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A gold sample by ``strategy``: ``uniform`` (`llmcode.quality.gold.draw_sample`, optionally
    stratified) or ``uncertainty`` (`draw_uncertainty_sample`, which needs the ``run``)."""
    from llmcode.quality.gold import draw_sample

    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown strategy {strategy!r}", hint=f"one of {', '.join(STRATEGIES)}")
    if strategy == "uniform":
        if run is not None or floor is not None:
            raise ConfigError(
                "run and floor are for the uncertainty strategy",
                hint="add strategy uncertainty, or leave them out",
            )
        return draw_sample(
            items, n, seed=seed, stratify=stratify, test_share=test_share, id_column=id_column
        )
    if run is None:
        raise ConfigError(
            "the uncertainty strategy needs the run whose confidences choose the items",
            hint="give the run (`run`)",
        )
    if stratify is not None:
        raise ConfigError("stratify is for the uniform strategy", hint="leave it out")
    return draw_uncertainty_sample(
        items,
        run,
        n,
        seed=seed,
        floor=FLOOR if floor is None else floor,
        test_share=test_share,
        id_column=id_column,
    )


def run_uncertainty(run: Run) -> tuple[dict[str, float], int]:
    """Item -> uncertainty in [0, 1] from a run's records; and how many items had none (1)."""
    items = [item.item_id for item in run.items()]
    records = run.latest_codings()
    out: dict[str, float] = {}
    missing = 0
    seen = 0
    for item in items:
        record = records.get(item)
        top = None
        if record is not None and record.probabilities:
            top = max(record.probabilities.values())
        elif record is not None and record.codes and record.codes[0].confidence is not None:
            top = max(c.confidence or 0.0 for c in record.codes)
        if top is None:
            missing += 1
            out[item] = 1.0
        else:
            seen += 1
            out[item] = float(np.clip(1.0 - top, 0.0, 1.0))
    if not seen:
        raise RunStoreError(
            f"run {run.run_id} has no confidences to sample by",
            hint="code with `samples` 3 (self-consistency) or a backend with log-probabilities, "
            "or use the uniform strategy",
        )
    return out, missing


def inclusion_probabilities(uncertainty: np.ndarray, n: float, floor: float = FLOOR) -> np.ndarray:
    """π_i = min(1, c · √max(u_i, floor)) with Σ π_i = n (capped at 1, the rest rescaled)."""
    if not 0 < floor <= 1:
        raise ConfigError(f"floor {floor} is outside (0, 1]", hint="e.g. 0.1")
    size = len(uncertainty)
    if not 0 < n <= size:
        raise ConfigError(f"cannot draw {n} of {size} items", hint=f"choose n from 1 to {size}")
    weight = np.sqrt(np.maximum(np.asarray(uncertainty, dtype=float), floor))
    capped = np.zeros(size, dtype=bool)
    pi = np.zeros(size)
    for _ in range(size + 1):
        rest = n - capped.sum()
        pi = np.where(capped, 1.0, rest * weight / weight[~capped].sum())
        over = (pi > 1.0) & ~capped
        if not over.any():
            break
        capped |= over
    return np.minimum(pi, 1.0)


def draw_uncertainty_sample(
    items: pd.DataFrame,
    run: Run,
    n: int,
    *,
    seed: int,
    floor: float = FLOOR,
    test_share: float = 0.5,
    id_column: str = "item_id",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The drawn items (their columns plus ``uncertainty``, ``inclusion_probability``,
    ``split``) and how they were drawn (for the sidecar)."""
    if id_column not in items.columns:
        raise ConfigError(f"no id column '{id_column}'", hint="choose it with `id_column`")
    if not 0.0 <= test_share <= 1.0:
        raise ConfigError(f"test share {test_share} is outside [0, 1]")
    uncertainty, missing = run_uncertainty(run)
    ids = items[id_column].astype(str).tolist()
    outside = [i for i in ids if i not in uncertainty]
    if outside:
        raise RunStoreError(
            f"{len(outside)} item(s) are not in run {run.run_id}: {', '.join(outside[:10])}",
            hint="sample the items the run coded",
        )
    u = np.array([uncertainty[i] for i in ids])
    pi = inclusion_probabilities(u, n, floor)
    rng = np.random.default_rng(seed)
    drawn = np.flatnonzero(rng.random(len(ids)) < pi)
    drawn = drawn[rng.permutation(len(drawn))]
    sample = items.iloc[drawn].copy()
    sample["uncertainty"] = u[drawn]
    sample["inclusion_probability"] = pi[drawn]
    n_test = round(len(drawn) * test_share)
    splits = np.array(["test"] * n_test + ["dev"] * (len(drawn) - n_test), dtype=object)
    sample["split"] = splits[rng.permutation(len(drawn))]
    info: dict[str, Any] = {
        "strategy": "uncertainty",
        "n": len(drawn),
        "expected_n": n,
        "seed": seed,
        "run": run.run_id,
        "floor": floor,
        "stratify": None,
        "test_share": test_share,
        "id_column": id_column,
        "items_without_confidence": missing,
        "counts": {s: int((sample["split"] == s).sum()) for s in ("dev", "test")},
        "strata": {},
        "method": "Poisson sampling, each item with probability min(1, c·√max(uncertainty, "
        f"{floor})) summing to {n}; uncertainty = 1 − the run's probability of its top code",
        "inclusion_probabilities": {
            ids[j]: float(pi[j]) for j in sorted(drawn, key=lambda j: ids[j])
        },
    }
    return sample.reset_index(drop=True), info
