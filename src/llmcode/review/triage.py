"""Automatic accepts: the items a model is sure of are accepted so review time goes elsewhere.

``auto_accept`` records an ``accept`` decision — marked ``automatic`` with the threshold, the
item's confidence and, when human codes are given, the estimated error rate of the gold items
at or above the threshold — for every verified coded item whose codes all have confidence ≥ T,
none disputed by a second look, and which the reviewer has not decided yet. Decisions go to
``decisions.jsonl`` like any other (``decided_by`` ``automatic``); a later decision by the
reviewer overrides them.

A pass is refused — nothing written — when the gold items cannot vouch for the threshold: no
gold codes, no gold item at or above it, or an error rate whose 95% upper bound exceeds
``max_error`` (default 0.10); ``force`` records the accepts anyway, marked like any other.
``undo_automatic`` takes them back with undo lines, so the history keeps both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from llmcode.codes import load_codes
from llmcode.errors import ConfigError, RunStoreError
from llmcode.quality.calibration import Source, human_code_sets
from llmcode.quality.thresholds import ThresholdRow, item_confidences, passes, threshold_row
from llmcode.store.decisions import (
    Automatic,
    Decision,
    append_decision,
    load_decisions,
    replay,
)
from llmcode.store.runs import DECISIONS, Run

MAX_ERROR = 0.10


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
    *,
    max_error: float = MAX_ERROR,
    force: bool = False,
) -> AutoAccepted:
    """Accept the undecided items at or above ``threshold`` on the reviewer's behalf.

    ``human`` (code sets per item, or long-format codes: a file or a DataFrame, whose ``coder``
    is the gold — the only coder when there is one) gives the error-rate estimate. Refused
    (a ``ConfigError``, nothing written) when that estimate is missing or its upper bound
    exceeds ``max_error``, unless ``force``.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"threshold must lie in [0, 1], not {threshold}")
    if not 0.0 <= max_error <= 1.0:
        raise ConfigError(f"`max_error` must lie in [0, 1], not {max_error}")
    gold = human if human is None or isinstance(human, dict) else gold_sets(run, human, coder)
    frame, chosen = item_confidences(run, gold, source)
    estimate = threshold_row(frame, threshold)
    interval = estimate.interval
    if not force:
        _vouch(estimate, threshold, max_error, has_gold=gold is not None)
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


def _vouch(estimate: ThresholdRow, threshold: float, max_error: float, *, has_gold: bool) -> None:
    """Refuse a threshold the gold items cannot vouch for."""
    refused = f"no automatic accept at confidence >= {threshold:g}"
    if not has_gold:
        raise ConfigError(
            f"{refused}: no gold codes to estimate its error rate",
            hint="give the gold codes (`human`), or `force` to accept without an estimate",
        )
    interval = estimate.interval
    if interval is None:
        raise ConfigError(
            f"{refused}: no gold item is at or above the threshold, so its error rate is unknown",
            hint="code more gold items, lower the threshold, or `force`",
        )
    if interval[1] > max_error:
        raise ConfigError(
            f"{refused}: the estimated error rate above it is {estimate.error_rate:.1%} "
            f"({estimate.errors} of {estimate.n_gold_above} gold item(s)), 95% CI "
            f"{interval[0]:.1%}–{interval[1]:.1%}, whose upper bound exceeds `max_error` "
            f"{max_error:.1%}",
            hint="raise the threshold, code more gold items, or `force`",
        )


def undo_automatic(run: Run, reviewer: str | None = None) -> list[Decision]:
    """Take back the automatic accepts in effect (of ``reviewer``, or of every reviewer): one
    undo line per item, appended; the accepts stay in the history. Returns the undo lines."""
    ledgers = replay(load_decisions(run), blind=False)
    if reviewer is not None and reviewer not in ledgers:
        known = ", ".join(ledgers) or "none yet"
        raise RunStoreError(
            f"{run.path / DECISIONS}: no decisions by reviewer '{reviewer}'",
            hint=f"reviewers of this run: {known}",
        )
    undone: list[Decision] = []
    for name, ledger in ledgers.items():
        if reviewer is not None and name != reviewer:
            continue
        for item_id in dict.fromkeys(d.item_id for d in ledger.automatic()):
            record = Decision(
                reviewer=name,
                item_id=item_id,
                action="undo",
                undone="accept",
                undo_automatic=True,
                codes=ledger.codes_without_automatic(item_id),
            )
            append_decision(run, record)
            ledger.apply(record)
            undone.append(record)
    return undone
