"""Two coders' passages compared character by character and passage by passage.

Owns the counts, per document and code, that add up over documents (so a bootstrap over
documents only reweights them):

- **character-level Cohen's κ** per code, the figure QualCoder's coder comparison reports: every
  character of the document is coded with the code or not, by each coder, and κ is Cohen's on
  those two binary ratings (uncoded text counts as agreement, as it does in QualCoder; its dialog
  uses its own chance term, Pe = P(yes)·P(no) over the characters either coder coded, so its
  numbers differ — this is the textbook κ, checked against scikit-learn);
- **segment matching**: a passage of one coder matches one of the other's with the same code when
  their intersection over union (IoU) is at least the threshold (default 0.5); each passage
  matches at most once, best IoU first. With the first coder as the reference, precision is
  matched / the second coder's passages, recall matched / the first coder's, F1 their harmonic
  mean (swap the coders and precision and recall swap).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from llmcode.quality.agreement.unitizing import Spans

FloatArray = npt.NDArray[np.float64]
DEFAULT_IOU = 0.5


def character_counts(first: Spans, second: Spans, length: int) -> tuple[int, int, int, int]:
    """Characters (coded by the first, by the second, by both, in all) of one document and code."""
    masks = []
    for starts, ends in (first, second):
        change = np.zeros(length + 1, dtype=np.int64)
        np.add.at(change, starts, 1)
        np.add.at(change, ends, -1)
        masks.append(np.cumsum(change[:-1]) > 0)
    a, b = masks
    return int(a.sum()), int(b.sum()), int((a & b).sum()), length


def kappa_from_counts(
    coded_a: FloatArray, coded_b: FloatArray, both: FloatArray, total: FloatArray
) -> FloatArray:
    """Cohen's κ of two binary ratings from their counts (arrays: one value per resample)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p_a, p_b = coded_a / total, coded_b / total
        observed = (total - coded_a - coded_b + 2 * both) / total
        chance = p_a * p_b + (1 - p_a) * (1 - p_b)
        kappa = (observed - chance) / (1 - chance)
    return np.where(np.isclose(chance, 1.0), np.nan, kappa)


def iou_matches(reference: Spans, compared: Spans, threshold: float = DEFAULT_IOU) -> int:
    """How many passages pair one-to-one with IoU ≥ threshold (greedy, best IoU first)."""
    (b1, e1), (b2, e2) = reference, compared
    if b1.size == 0 or b2.size == 0:
        return 0
    inter = np.minimum(e1[:, None], e2[None, :]) - np.maximum(b1[:, None], b2[None, :])
    inter = np.maximum(inter, 0).astype(np.float64)
    union = (e1 - b1)[:, None] + (e2 - b2)[None, :] - inter
    iou = inter / union
    rows, cols = np.nonzero(iou >= threshold - 1e-12)
    if rows.size == 0:
        return 0
    order = np.argsort(-iou[rows, cols], kind="stable")
    used_rows: set[int] = set()
    used_cols: set[int] = set()
    for k in order:
        r, c = int(rows[k]), int(cols[k])
        if r not in used_rows and c not in used_cols:
            used_rows.add(r)
            used_cols.add(c)
    return len(used_rows)


def precision_recall_f1(
    matched: FloatArray, n_reference: FloatArray, n_compared: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Precision, recall and F1 from counts (NaN where a denominator is zero)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(n_compared > 0, matched / n_compared, np.nan)
        recall = np.where(n_reference > 0, matched / n_reference, np.nan)
        both = n_reference + n_compared
        f1 = np.where(both > 0, 2 * matched / both, np.nan)
    return precision, recall, f1
