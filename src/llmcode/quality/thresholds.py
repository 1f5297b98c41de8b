"""Confidence thresholds: how many items a threshold lets through, and how often those are wrong.

For each threshold t, an item is *above* it when every code it got has confidence ≥ t, its
evidence is verified (status ``ok``) and no code is ``disputed`` by a second look
(``--verify``). The table gives the share of the run's usable items above t and, among the
gold items (human-coded) above t, the error rate — the model's code set differs from the
human's — with a Wilson 95% interval. ``review --auto-accept-above T`` quotes it as its
estimate when human codes are given.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from llmcode.quality.calibration import calibration_pairs
from llmcode.store.runs import Run

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)
COLUMNS = ["item_id", "confidence", "disputed", "verified", "gold", "correct"]


def item_confidences(
    run: Run,
    human: dict[str, set[str]] | None = None,
    source: str = "auto",
    at_level: Callable[[str], str] | None = None,
) -> tuple[pd.DataFrame, str]:
    """One row per usable coded item: its lowest code confidence, whether a code is disputed,
    whether it is a gold item and (if so) whether its code set equals the human's."""
    human = human or {}
    latest = run.latest_codings()
    everyone: dict[str, set[str]] = {item_id: set() for item_id in latest}
    pairs, chosen = calibration_pairs(run, everyone, source)
    lowest = pairs.groupby("item_id")["confidence"].min() if not pairs.empty else pd.Series()
    rows = []
    for item_id, confidence in lowest.items():
        record = latest[str(item_id)]
        codes = {(at_level or str)(c.code) for c in record.codes}
        gold = str(item_id) in human
        rows.append(
            {
                "item_id": str(item_id),
                "confidence": float(confidence),
                "disputed": any(c.disputed for c in record.codes),
                "verified": record.status == "ok",
                "gold": gold,
                "correct": gold and codes == human[str(item_id)],
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS), chosen


@dataclass(frozen=True)
class ThresholdRow:
    """What one threshold lets through and its estimated error rate on the gold items."""

    threshold: float
    n_items: int
    n_above: int
    n_gold_above: int
    errors: int

    @property
    def share_above(self) -> float:
        return self.n_above / self.n_items if self.n_items else 0.0

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.n_gold_above if self.n_gold_above else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson(self.errors, self.n_gold_above) if self.n_gold_above else None

    def to_dict(self) -> dict[str, object]:
        interval = self.interval
        return {
            "threshold": self.threshold,
            "n_items": self.n_items,
            "n_above": self.n_above,
            "share_above": self.share_above,
            "n_gold_above": self.n_gold_above,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "error_low": interval[0] if interval else None,
            "error_high": interval[1] if interval else None,
        }


def threshold_row(frame: pd.DataFrame, threshold: float) -> ThresholdRow:
    """One threshold over ``item_confidences`` output."""
    above = frame[passes(frame, threshold)]
    gold = above[above["gold"]]
    return ThresholdRow(
        threshold=threshold,
        n_items=len(frame),
        n_above=len(above),
        n_gold_above=len(gold),
        errors=int((~gold["correct"].astype(bool)).sum()),
    )


def passes(frame: pd.DataFrame, threshold: float) -> pd.Series:
    """Rows of ``item_confidences`` above ``threshold``: confident, verified, undisputed."""
    return (
        (frame["confidence"] >= threshold - 1e-12)
        & ~frame["disputed"].astype(bool)
        & frame["verified"].astype(bool)
    )


def threshold_table(
    frame: pd.DataFrame, thresholds: Sequence[float] = THRESHOLDS
) -> list[ThresholdRow]:
    """One row per threshold, ascending."""
    return [threshold_row(frame, t) for t in sorted(thresholds)]


def wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a proportion (95% by default)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))
