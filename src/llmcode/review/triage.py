"""Automatic accepts: the items a model is sure of are accepted so review time goes elsewhere.

``auto_accept`` records an ``accept`` decision — marked ``automatic`` with the threshold, the
item's confidence and, when human codes are given, the estimated error rate of the gold items
at or above the threshold — for every verified coded item whose codes all have confidence ≥ T,
none disputed by a second look, and which the reviewer has not decided yet. Decisions go to
``decisions.jsonl`` like any other; a later decision by the reviewer overrides them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from llmcode.codes import load_codes
from llmcode.errors import ConfigError
from llmcode.quality.calibration import Source, human_code_sets
from llmcode.quality.thresholds import ThresholdRow, item_confidences, passes, threshold_row
from llmcode.store.decisions import (
    Automatic,
    Decision,
    append_decision,
    load_decisions,
    replay,
)
from llmcode.store.runs import Run


@dataclass
class AutoAccepted:
    """What an auto-accept pass did."""

    threshold: float
    source: str
    estimate: ThresholdRow
    decisions: list[Decision] = field(default_factory=list)
    already_decided: int = 0


def auto_accept(
    run: Run,
    reviewer: str,
    threshold: float,
    human: dict[str, set[str]] | pd.DataFrame | str | Path | None = None,
    source: Source = "auto",
    coder: str | None = None,
) -> AutoAccepted:
    """Accept the undecided items at or above ``threshold`` on the reviewer's behalf.

    ``human`` (code sets per item, or long-format codes: a file or a DataFrame, whose ``coder``
    is the gold — the only coder when there is one) gives the error-rate estimate.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"threshold must lie in [0, 1], not {threshold}")
    gold = human if human is None or isinstance(human, dict) else gold_sets(run, human, coder)
    frame, chosen = item_confidences(run, gold, source)
    estimate = threshold_row(frame, threshold)
    interval = estimate.interval
    ledger = replay(load_decisions(run)).get(reviewer)
    decided = set(ledger.verdicts) if ledger is not None else set()
    latest = run.latest_codings()
    result = AutoAccepted(threshold, chosen, estimate)
    above = frame[passes(frame, threshold)]
    for item_id, confidence in zip(above["item_id"], above["confidence"], strict=True):
        if item_id in decided:
            result.already_decided += 1
            continue
        codes = [c.code for c in latest[item_id].codes]
        decision = Decision(
            reviewer=reviewer,
            item_id=item_id,
            action="accept",
            codes=codes,
            suggested=codes,
            automatic=Automatic(
                threshold=threshold,
                confidence=float(confidence),
                source=chosen,
                error_rate=estimate.error_rate,
                error_high=interval[1] if interval else None,
                n_gold=estimate.n_gold_above,
            ),
        )
        append_decision(run, decision)
        result.decisions.append(decision)
    return result


def gold_sets(run: Run, human: pd.DataFrame | str | Path, coder: str | None) -> dict[str, set[str]]:
    """``coder``'s codes per item at the run's level (a leaf counts as its top category)."""
    codes = human if isinstance(human, pd.DataFrame) else load_codes(human)
    where = "the human codes" if isinstance(human, pd.DataFrame) else str(human)
    level = run.manifest().config.inputs.level
    return human_code_sets(codes, run.taxonomy(), level, coder, where)
