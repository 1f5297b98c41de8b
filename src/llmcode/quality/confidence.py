"""Confidence that means more than the model's say-so: vote shares, token probabilities, α.

Three measures, all read from a run's records:

* **vote shares** — with ``--samples K`` each item is coded K times; a code's share is the number
  of usable samples (``ok`` or ``unverified``) that chose it divided by the usable samples, so a
  single-label item's shares sum to 1 over the taxonomy's codes (plus ``none``);
* **token probability** — the joint probability of the tokens that spell a chosen code's value in
  the JSON answer (from backends that return log-probabilities);
* **self-agreement** — Krippendorff's α (from `llmcode.quality.agreement`) with the K samples
  as coders and items as units: a run's reliability against itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from llmcode.errors import AgreementError
from llmcode.quality.agreement import build_ratings, krippendorff_alpha
from llmcode.store.code_rows import KIND_NAMES
from llmcode.store.models import CodingRecord
from llmcode.store.runs import Run
from llmcode.taxonomy.model import NONE_CODE

USABLE = ("ok", "unverified")


def code_space(run: Run) -> list[str]:
    """The codes a run can assign: the taxonomy's targets at the run's level, then ``none``."""
    level = run.manifest().config.inputs.level
    return [c.id for c in run.taxonomy().targets(level)] + [NONE_CODE]


def sample_code_sets(record: CodingRecord) -> list[tuple[str, ...]]:
    """The code sets of a record's usable samples (a record without samples counts as one)."""
    if record.samples:
        return [tuple(s.codes) for s in record.samples if s.status in USABLE and s.codes]
    if record.status in USABLE and record.codes:
        return [tuple(c.code for c in record.codes)]
    return []


def vote_shares(run: Run) -> pd.DataFrame:
    """Items × codes: each code's share of an item's usable samples (index ``item_id``).

    Items without a usable sample (errors, invalid answers, skipped) are left out. With one
    sample per item the shares are 0 or 1 — draw ``--samples K`` for anything finer.
    """
    codes = code_space(run)
    column = {code: j for j, code in enumerate(codes)}
    rows: list[str] = []
    matrix: list[np.ndarray] = []
    for item_id, record in run.latest_codings().items():
        sets = sample_code_sets(record)
        if not sets:
            continue
        votes = np.zeros(len(codes))
        for code_set in sets:
            for code in set(code_set):
                if code in column:
                    votes[column[code]] += 1
        rows.append(item_id)
        matrix.append(votes / len(sets))
    data = np.vstack(matrix) if matrix else np.zeros((0, len(codes)))
    return pd.DataFrame(data, index=pd.Index(rows, name="item_id"), columns=codes)


def samples_frame(run: Run) -> pd.DataFrame:
    """The samples in long format: item_id, coder (``sample-1`` ...), code — one row per code."""
    rows: list[dict[str, str]] = []
    for item_id, record in run.latest_codings().items():
        for index, sample in enumerate(record.samples, start=1):
            if sample.status in USABLE:
                rows.extend(
                    {"item_id": item_id, "coder": f"sample-{index}", "code": code}
                    for code in sample.codes
                )
    return pd.DataFrame(rows, columns=["item_id", "coder", "code"])


def self_agreement(run: Run) -> float | None:
    """Krippendorff's α across a run's samples; None without ≥ 2 samples per item.

    Each sample index is a coder and each item a unit (`llmcode.quality.agreement`): nominal for
    single-label taxonomies, MASI distance between code sets for multi-label ones. None also
    when α is undefined — every sample of every item chose the same code (nothing to correct
    for chance) — or when no item has two usable samples.
    """
    frame = samples_frame(run)
    if frame.empty:
        return None
    return sample_alpha(frame, run.taxonomy().multi_label)


def sample_alpha(frame: pd.DataFrame, multi_label: bool = False) -> float | None:
    """Krippendorff's α of long-format codes (item_id, coder, code), or None when undefined."""
    try:
        return krippendorff_alpha(build_ratings(frame, multi_label=multi_label))
    except AgreementError:
        return None


# --- one "confidence": which kind a run's numbers are, the same everywhere --------------------

# KIND_NAMES (what each kind is called wherever one is shown: report, review, export,
# calibrate) is defined with the rows an export streams (`llmcode.store.code_rows`).


def default_kind(records: list[CodingRecord]) -> str:
    """The confidence every view shows by default: the vote share when items were coded several
    times, else the token probability when the backend gave one, else the model's stated
    number (the same choice as ``calibrate --confidence auto``)."""
    if any(len(r.samples) > 1 for r in records):
        return "vote"
    if any(r.probabilities for r in records):
        return "logprob"
    return "stated"


def confidence_of(record: CodingRecord, code: str, kind: str) -> float | None:
    """The ``kind`` confidence of one of a record's codes (None when the record has none)."""
    if kind == "logprob":
        return record.probabilities.get(code)
    assignment = next((c for c in record.codes if c.code == code), None)
    if assignment is None:
        return None
    if kind == "stated" and len(record.samples) > 1:
        return None  # the stated numbers were replaced by vote shares
    return assignment.confidence


def with_confidence(
    codes: pd.DataFrame,
    run: Run,
    kind: str | None = None,
    facts: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Long-format run codes with ``confidence`` of one kind and a ``confidence_kind`` column
    (``facts``: what `load_run_codes` kept of the records for ``codes`` (its ``confidence``):
    the run is not read again)."""
    if facts and len(facts["samples"]) == len(codes):
        kind = kind or (
            "vote"
            if facts["several_samples"]
            else "logprob"
            if facts["probabilities"]
            else "stated"
        )
        if kind == "logprob":
            values = facts["logprob"]
        else:  # the stated numbers of an item coded several times were replaced by vote shares
            stale = (facts["samples"] > 1) if kind == "stated" else False
            values = np.where(stale, np.nan, facts["first_confidence"])
        return codes.assign(confidence=values, confidence_kind=KIND_NAMES[kind])
    records = run.latest_codings()
    kind = kind or default_kind(list(records.values()))
    values = [
        confidence_of(records[item], code, kind) if item in records else None
        for item, code in zip(codes["item_id"], codes["code"], strict=True)
    ]
    return codes.assign(confidence=values, confidence_kind=KIND_NAMES[kind])
