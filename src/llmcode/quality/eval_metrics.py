"""Model-vs-gold comparisons as `Ratings`, and evaluation statistics vectorised over item weights.

A comparison stacks one row per (gold item, gold coder): the run's code(s) for the item against
that coder's. With one gold coder this is the plain model-vs-human table; with several, every
figure pools the run's agreement with each of them (accuracy, κ, F1 on the stacked pairs, as
scikit-learn would on the concatenated arrays). Bootstrap resamples draw gold *items*, so an
item's pairs move together, and every run is resampled on the same draws (paired comparisons).

The coefficients come from `llmcode.quality.agreement` (percent agreement = accuracy, Cohen's κ,
Gwet's AC1, Krippendorff's α — MASI for multi-label sets); precision, recall and F1 per code are
computed here from the same weights. An item the run left without a code counts as ``none``
(single-label: its own class; multi-label: the empty set), never as missing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import numpy.typing as npt
import pandas as pd

from llmcode.quality.agreement import coefficients as coef
from llmcode.quality.agreement.ratings import Ratings, build_ratings
from llmcode.taxonomy.model import NONE_CODE

FloatArray = npt.NDArray[np.float64]
Statistic = Callable[[FloatArray], FloatArray]
MODEL, GOLD = "model", "gold"
_SEP = "\x1f"


@dataclass(frozen=True)
class Comparison:
    """Stacked (item, gold coder) pairs of one run against the gold, as two-coder ratings."""

    ratings: Ratings
    columns: npt.NDArray[np.int64]  # for each stacked pair: its item's position in the gold items
    pairs: pd.DataFrame  # item_id, gold_coder, model (set label), gold (set label)

    def weights(self, item_weights: FloatArray) -> FloatArray:
        """Item weights (B, n gold items) -> pair weights (B, n pairs)."""
        return item_weights[:, self.columns]


def build_comparison(
    run_codes: dict[str, list[str]],
    gold: pd.DataFrame,
    item_ids: Sequence[str],
    *,
    categories: Sequence[str],
    multi_label: bool,
) -> Comparison:
    """The run's codes per item vs gold long-format codes (item_id, coder, code) on ``item_ids``."""
    rows = []
    position = {item: n for n, item in enumerate(item_ids)}
    for (item_id, coder), group in gold.groupby(["item_id", "coder"], sort=False):
        if item_id not in position:
            continue
        key = f"{item_id}{_SEP}{coder}"
        rows += _rows(key, GOLD, list(group["code"].dropna()), multi_label)
        rows += _rows(key, MODEL, run_codes.get(str(item_id), []), multi_label)
    frame = pd.DataFrame(rows, columns=["item_id", "coder", "code"])
    ratings = build_ratings(
        frame,
        coders=[MODEL, GOLD],
        multi_label=multi_label,
        categories=list(categories),
    )
    split = [str(key).split(_SEP, 1) for key in ratings.item_ids]
    columns = np.array([position[item] for item, _ in split], dtype=np.int64)
    labels = np.array(ratings.labels, dtype=object)
    pairs = pd.DataFrame(
        {
            "item_id": [item for item, _ in split],
            "gold_coder": [coder for _, coder in split],
            MODEL: labels[ratings.codes[:, 0]],
            GOLD: labels[ratings.codes[:, 1]],
        }
    )
    return Comparison(ratings, columns, pairs)


def _rows(key: str, coder: str, codes: list[str], multi_label: bool) -> list[dict[str, object]]:
    chosen = [str(c) for c in dict.fromkeys(codes) if str(c).strip()]
    if multi_label:
        chosen = [c for c in chosen if c != NONE_CODE]
        if not chosen:
            return [{"item_id": key, "coder": coder, "code": None}]
    elif not chosen:
        chosen = [NONE_CODE]
    return [{"item_id": key, "coder": coder, "code": code} for code in chosen]


# --- statistics: weights over the comparison's pairs -> one value per resample ------------


def overall_statistics(comparison: Comparison) -> dict[str, Statistic]:
    """accuracy, cohen_kappa, gwet_ac1, krippendorff_alpha, macro_f1 on item weights."""
    r = comparison.ratings
    on_pairs: dict[str, Statistic] = {
        "accuracy": partial(coef.percent_agreement_batch, r),
        "cohen_kappa": partial(coef.cohen_kappa_batch, r),
        "gwet_ac1": partial(coef.gwet_ac1_batch, r),
        "krippendorff_alpha": partial(coef.krippendorff_alpha_batch, r),
        "macro_f1": partial(macro_f1_batch, r),
    }
    return {name: _on_items(comparison, stat) for name, stat in on_pairs.items()}


def code_kappa_statistic(comparison: Comparison, code: str) -> Statistic:
    """One-vs-rest Cohen's κ of ``code`` (applied or not) on item weights."""
    binary = comparison.ratings.indicator(code)
    return _on_items(comparison, partial(coef.cohen_kappa_batch, binary))


def _on_items(comparison: Comparison, statistic: Statistic) -> Statistic:
    def on_items(item_weights: FloatArray) -> FloatArray:
        return statistic(comparison.weights(item_weights))

    return on_items


def code_counts(ratings: Ratings, weights: FloatArray) -> tuple[FloatArray, ...]:
    """Per resample and code: weighted true positives, false positives, false negatives."""
    predicted = ratings.membership[ratings.codes[:, 0]].astype(np.float64)
    actual = ratings.membership[ratings.codes[:, 1]].astype(np.float64)
    tp = weights @ (predicted * actual)
    fp = weights @ (predicted * (1.0 - actual))
    fn = weights @ ((1.0 - predicted) * actual)
    return tp, fp, fn


def f1_batch(ratings: Ratings, weights: FloatArray) -> FloatArray:
    """(B, codes) F1 = 2TP / (2TP + FP + FN); NaN for a code neither side used."""
    tp, fp, fn = code_counts(ratings, weights)
    denominator = 2.0 * tp + fp + fn
    out = np.full(tp.shape, np.nan)
    np.divide(2.0 * tp, denominator, out=out, where=denominator > 0)
    return out


def macro_f1_batch(ratings: Ratings, weights: FloatArray) -> FloatArray:
    """Unweighted mean F1 over the codes the model or the gold used in the resample."""
    f1 = f1_batch(ratings, weights)
    used = ~np.isnan(f1)
    total = np.where(used, f1, 0.0).sum(axis=1)
    count = used.sum(axis=1)
    out = np.full(weights.shape[0], np.nan)
    np.divide(total, count, out=out, where=count > 0)
    return out


def per_code_scores(ratings: Ratings) -> dict[str, dict[str, float]]:
    """precision, recall, f1 and support (gold codings) per code on the sample (0 when 0/0)."""
    tp, fp, fn = (values[0] for values in code_counts(ratings, coef.ones(ratings)))
    out = {}
    for j, code in enumerate(ratings.base_codes):
        support = tp[j] + fn[j]
        if support == 0 and fp[j] == 0:
            continue  # neither side used the code
        out[code] = {
            "precision": _share(tp[j], tp[j] + fp[j]),
            "recall": _share(tp[j], support),
            "f1": _share(2 * tp[j], 2 * tp[j] + fp[j] + fn[j]),
            "support": int(support),
        }
    return out


def _share(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator > 0 else 0.0


def confusion(comparison: Comparison) -> tuple[list[str], list[list[int]]]:
    """Labels and counts: rows the run's label, columns the gold coder's (pairs, summed)."""
    r = comparison.ratings
    k = r.n_labels
    cells = r.codes[:, 0] * k + r.codes[:, 1]
    matrix = np.bincount(cells, minlength=k * k).reshape(k, k)
    used = (matrix.sum(axis=0) + matrix.sum(axis=1)) > 0
    labels = [label for label, keep in zip(r.labels, used, strict=True) if keep]
    return labels, matrix[np.ix_(used, used)].tolist()
