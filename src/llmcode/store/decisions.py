"""Review decisions: the ``Decision`` record, reading ``decisions.jsonl`` and replaying it.

``runs/<id>/decisions.jsonl`` is append-only and shared by every reviewer of a run; each line
is one ``Decision`` (flushed and fsynced before the review moves on). Replaying a reviewer's
lines in order gives their state: the verdict (accept, reject, change) and memo of each item.
An ``undo`` line takes back that reviewer's latest decision still in effect, so nothing is
ever rewritten and every step stays on record; an undo marked ``automatic`` (``review
--undo-automatic``) takes back the automatic accepts of its item instead.

A document coded in passages (``unit`` segment) is reviewed passage by passage: such a line
names the ``passage`` (``m<k>``: the model's k-th passage of the document's latest record; an
added one: ``<reviewer>-<n>``) with its ``start``, ``end`` and ``codes`` after the decision, and
the actions ``resize`` (its bounds moved) and ``add`` (a passage the model missed, or a human
coder's passage adopted: ``adopted_from``), and ``memo`` (a note on the passage). A line on a
model passage carries ``model_span``, the passage's offsets when it was decided, so it stays
with that passage when the document is coded again. Those lines replay apart, per passage
(`llmcode.store.passage_ledger`); ``replay`` here skips them.

Every decision says who made it (``decided_by``): ``human`` (a person at the keyboard),
``automatic`` (an accept above a confidence threshold, no one looked) or ``model`` (a model
resolving a disagreement). Lines written before the field existed read as ``automatic`` when
they carry the ``automatic`` details and ``human`` otherwise.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Literal, TypeVar

import pandas as pd
from pydantic import BaseModel, Field, ValidationError, model_validator

from llmcode.errors import RunStoreError
from llmcode.store.jsonl import append_line, read_jsonl
from llmcode.store.models import now
from llmcode.store.runs import DECISIONS, Run
from llmcode.taxonomy.model import NONE_CODE

Action = Literal["accept", "reject", "change", "memo", "undo", "resize", "add"]
DecidedBy = Literal["human", "automatic", "model"]
VERDICTS = ("accept", "reject", "change")
COLUMNS = ["item_id", "coder", "code", "memo", "action", "decided_by", "blind"]


class Automatic(BaseModel):
    """How an automatic accept was made (``review --auto-accept-above T``)."""

    threshold: float
    confidence: float
    source: str = "stated"
    error_rate: float | None = None
    """Error rate of the gold items at or above the threshold (None without gold items)."""
    error_high: float | None = None
    n_gold: int = 0


class Adjudication(BaseModel):
    """What an adjudicator (a person, or a model as tie-breaker) saw and chose from: each
    coder's codes and memo, whose code was taken, and a model's reasons."""

    coders: dict[str, list[str]]
    memos: dict[str, str] = Field(default_factory=dict)
    taken_from: str | None = None
    """The coder whose codes the adjudicator took (None: codes of their own)."""
    blind_coders: bool = False
    """The coders were shown without their names."""
    justification: str = ""
    evidence: list[str] = Field(default_factory=list)
    """Verified quotes from the item (a model's evidence for its choice)."""


class Decision(BaseModel):
    """One line of ``decisions.jsonl``: who decided what about which item, and when.

    ``codes`` are the item's final codes after this line (empty after a reject, or after an
    undo that leaves the item undecided); ``suggested`` are the model's codes the reviewer saw.
    """

    reviewer: str = Field(min_length=1)
    decided_at: datetime = Field(default_factory=now)
    item_id: str
    action: Action
    codes: list[str] = Field(default_factory=list)
    memo: str = ""
    suggested: list[str] = Field(default_factory=list)
    undone: Action | None = None  # for an undo: the action it took back
    automatic: Automatic | None = None  # set when no person looked at the item
    blind: bool = False
    """Made in blind mode (``review --blind``): the reviewer coded from scratch, seeing no model
    code, justification, evidence or confidence; ``suggested`` is then empty."""
    categories: list[str] = Field(default_factory=list)
    """Blind coding of a taxonomy with subcategories, both levels at once: the top-level
    category of each code in ``codes``, in order (a code that is a category is its own)."""
    decided_by: DecidedBy = "human"
    """Who made the decision: a person, an automatic accept, or a model (tie-breaker)."""
    adjudication: Adjudication | None = None
    """Set on the lines of an adjudication (``llmcode adjudicate``): they resolve coders'
    disagreements and replay apart from review decisions."""
    undo_automatic: bool = False
    """For an undo: it takes back every automatic accept of its item still in effect (not the
    reviewer's latest decision)."""
    passage: str | None = None
    """For a document coded in passages: which passage of ``item_id`` (see the module docstring)."""
    start: int | None = None
    """The passage's first character after this decision (documents coded in passages)."""
    end: int | None = None
    """The passage's end after this decision, exclusive (documents coded in passages)."""
    model_span: tuple[int | None, int | None] | None = None
    """For a line on a model passage: that passage's offsets in the record reviewed (its codes
    are ``suggested``), so the line stays with it when the document is coded again
    (`llmcode.store.passage_binding`)."""
    adopted_from: str | None = None
    """For an ``add``: the human coder whose passage the reviewer adopted (``review --human``)."""

    @model_validator(mode="after")
    def _automatic_is_not_human(self) -> Decision:
        if self.automatic is not None and self.decided_by == "human":
            self.decided_by = "automatic"  # a line written before decided_by existed
        return self


class Ledger:
    """One reviewer's decisions replayed: verdict and memo per item, and what undo would undo."""

    def __init__(self, reviewer: str) -> None:
        self.reviewer = reviewer
        self.history: list[Decision] = []  # decisions in effect, oldest first
        self.verdicts: dict[str, Decision] = {}  # item_id -> latest accept/reject/change
        self.memos: dict[str, str] = {}
        self._per_item: dict[str, list[Decision]] = defaultdict(list)

    def apply(self, decision: Decision) -> Decision | None:
        """Take one decision into account; for an undo, returns the decision it took back."""
        if decision.action != "undo":
            self.history.append(decision)
            self._per_item[decision.item_id].append(decision)
            self._settle(decision.item_id)
            return None
        if decision.undo_automatic:
            return self._undo_automatic(decision.item_id)
        if not self.history:
            return None
        undone = self.history.pop()
        self._per_item[undone.item_id].pop()
        self._settle(undone.item_id)
        return undone

    def _undo_automatic(self, item_id: str) -> Decision | None:
        taken = [d for d in self._per_item[item_id] if d.decided_by == "automatic"]
        if not taken:
            return None
        self.history = [d for d in self.history if not any(d is t for t in taken)]
        kept = [d for d in self._per_item[item_id] if d.decided_by != "automatic"]
        self._per_item[item_id] = kept
        self._settle(item_id)
        return taken[-1]

    def codes_without_automatic(self, item_id: str) -> list[str]:
        """The item's final codes once its automatic accepts are taken back."""
        stack = [d for d in self._per_item[item_id] if d.decided_by != "automatic"]
        verdict = next((d for d in reversed(stack) if d.action in VERDICTS), None)
        return list(verdict.codes) if verdict else []

    def automatic(self) -> list[Decision]:
        """The automatic decisions in effect (on record, not undone), oldest first."""
        return [d for d in self.history if d.decided_by == "automatic"]

    def last(self) -> Decision | None:
        """The decision an undo would take back."""
        return self.history[-1] if self.history else None

    def fallback(self) -> Decision | None:
        """The verdict the latest decision's item falls back to if that decision is undone."""
        if not self.history:
            return None
        stack = self._per_item[self.history[-1].item_id][:-1]
        return next((d for d in reversed(stack) if d.action in VERDICTS), None)

    def final_codes(self, item_id: str) -> list[str]:
        verdict = self.verdicts.get(item_id)
        return list(verdict.codes) if verdict else []

    def _settle(self, item_id: str) -> None:
        stack = self._per_item[item_id]
        verdict = next((d for d in reversed(stack) if d.action in VERDICTS), None)
        memo = next((d.memo for d in reversed(stack) if d.action == "memo"), None)
        if verdict is None:
            self.verdicts.pop(item_id, None)
        else:
            self.verdicts[item_id] = verdict
        if memo is None:
            self.memos.pop(item_id, None)
        else:
            self.memos[item_id] = memo


def load_decisions(run: Run) -> list[Decision]:
    """Every decision of a run in file order (a torn last line from a kill is ignored)."""
    path = run.path / DECISIONS
    out = []
    for number, row in enumerate(read_jsonl(path), start=1):
        try:
            out.append(Decision.model_validate(row))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise RunStoreError(
                f"{path}:{number}: invalid decision ({where}: {first['msg']})",
                hint="decisions.jsonl is written by `llmcode review`: restore or remove that line",
            ) from exc
    return out


def append_decision(run: Run, decision: Decision) -> None:
    """Append one decision and make it durable (flush + fsync) before returning."""
    exclude = set()  # a person's ordinary decisions keep the old line shape, plus decided_by
    if decision.automatic is None:
        exclude.add("automatic")
    if not decision.blind:
        exclude.add("blind")
    if not decision.undo_automatic:
        exclude.add("undo_automatic")
    if decision.adjudication is None:
        exclude.add("adjudication")
    if decision.passage is None:  # an item's decision: no passage fields
        exclude.update(("passage", "start", "end"))
    if decision.model_span is None:
        exclude.add("model_span")
    if decision.adopted_from is None:
        exclude.add("adopted_from")
    if not decision.categories:  # only blind coding of two levels records the categories
        exclude.add("categories")
    append_line(run.path / DECISIONS, decision.model_dump_json(exclude=exclude))


def replay(
    decisions: list[Decision], blind: bool | None = None, *, adjudication: bool = False
) -> dict[str, Ledger]:
    """Each reviewer's ledger, in order of their first decision; ``blind`` True or False keeps
    only the blind (or only the ordinary) decisions, which form separate ledgers.
    ``adjudication`` keeps the adjudication lines instead of the review lines."""
    ledgers: dict[str, Ledger] = {}
    for decision in decisions:
        if decision.passage is not None:  # a passage's line: `passage_ledger` replays those
            continue
        if blind is not None and decision.blind != blind:
            continue
        if (decision.adjudication is not None) != adjudication:
            continue
        ledger = ledgers.setdefault(decision.reviewer, Ledger(decision.reviewer))
        ledger.apply(decision)
    return ledgers


def reviewed_codes(
    run: Run, reviewer: str | None = None, *, include_rejected: bool = False
) -> pd.DataFrame:
    """Final codes after review in long format: item_id, coder (the reviewer), code, memo, action,
    decided_by (human, automatic or model: who made the verdict in effect) and blind.

    Only items with a verdict in effect. A reject has no code: it gives no row, or with
    `include_rejected` (what `export --reviewed` writes) one row with an empty code and action
    ``reject``, so every decision is in the export.

    Blind decisions (``review --blind``) replay apart from ordinary ones and give rows with
    ``blind`` true; a blind reject is a coding — no code applies — so it gives one row with the
    code ``none``. A reviewer who also reviewed blind is exported from the blind decisions only.
    The ``blind`` column is there only when the run has blind decisions, and a ``category``
    column (each code's top-level category) only when a blind decision coded both levels.
    """
    decisions = load_decisions(run)
    blind_ledgers = replay(decisions, blind=True)
    ledgers = reviewers_ledgers(replay(decisions, blind=False), blind_ledgers, reviewer, run)
    order = {item.item_id: n for n, item in enumerate(run.items())} if ledgers else {}
    rows: list[dict[str, str | bool]] = []
    for name, ledger in ledgers.items():
        items = sorted(ledger.verdicts, key=lambda i: (order.get(i, len(order)), i))
        for item_id in items:
            verdict = ledger.verdicts[item_id]
            memo = ledger.memos.get(item_id, "")
            blind = name in blind_ledgers
            if blind and verdict.action == "reject":
                codes = [NONE_CODE]
            else:
                codes = verdict.codes or ([""] if include_rejected else [])
            category = dict(zip(verdict.codes, verdict.categories, strict=False))
            rows.extend(
                {
                    "item_id": item_id,
                    "coder": name,
                    "code": code,
                    "memo": memo,
                    "action": verdict.action,
                    "decided_by": verdict.decided_by,
                    "blind": blind,
                    "category": category.get(code, code),
                }
                for code in codes
            )
    two_levels = any(
        bool(v.categories) for ledger in blind_ledgers.values() for v in ledger.verdicts.values()
    )
    columns = [*COLUMNS, "category"] if two_levels else COLUMNS
    if not blind_ledgers:  # the column appears once someone coded blind
        return pd.DataFrame(rows, columns=COLUMNS[:-1]).drop(columns="blind", errors="ignore")
    return pd.DataFrame(rows, columns=columns)


AnyLedger = TypeVar("AnyLedger")


def reviewers_ledgers(
    ordinary: dict[str, AnyLedger],
    blind: dict[str, AnyLedger],
    reviewer: str | None,
    run: Run,
    what: str = "",
) -> dict[str, AnyLedger]:
    """Each reviewer's ledger, one who also reviewed blind taken from the blind lines only;
    ``reviewer`` keeps one (an error naming the others when absent). ``what``: the kind of
    decisions the error names (``"passage "``), empty for item decisions."""
    ledgers = {name: ledger for name, ledger in ordinary.items() if name not in blind}
    ledgers.update(blind)
    if reviewer is None:
        return ledgers
    if reviewer not in ledgers:
        known = ", ".join(ledgers) or "none yet"
        whose = "this run's passages" if what else "this run"
        raise RunStoreError(
            f"{run.path / DECISIONS}: no {what}decisions by reviewer '{reviewer}'",
            hint=f"reviewers of {whose}: {known}",
        )
    return {reviewer: ledgers[reviewer]}
