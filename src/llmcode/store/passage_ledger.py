"""Passage decisions replayed: one reviewer's verdict on each passage of each document.

A document coded in passages is reviewed passage by passage; its lines in ``decisions.jsonl``
carry ``passage``, ``start``, ``end`` and ``codes`` (`llmcode.store.decisions`). Replaying one
reviewer's passage lines in order gives, per ``(item_id, passage)``, the verdict in effect: the
latest ``accept``, ``reject``, ``change`` (codes), ``resize`` (bounds) or ``add`` (a passage the
model missed), and the latest ``memo`` (a note on the passage; an empty one clears it). An
``undo`` takes back the reviewer's latest passage decision still in effect.
Blind passage lines (``review --blind``) replay apart from ordinary ones, as for items.
"""

from __future__ import annotations

from collections import defaultdict

from llmcode.store.decisions import Decision

PassageKey = tuple[str, str]
"""(item_id, passage id)."""
PASSAGE_VERDICTS = ("accept", "reject", "change", "resize", "add")


class PassageLedger:
    """One reviewer's passage decisions replayed: the verdict per passage, what undo undoes."""

    def __init__(self, reviewer: str) -> None:
        self.reviewer = reviewer
        self.history: list[Decision] = []  # decisions in effect, oldest first
        self.verdicts: dict[PassageKey, Decision] = {}
        self.memos: dict[PassageKey, str] = {}
        self._per_key: dict[PassageKey, list[Decision]] = defaultdict(list)

    def apply(self, decision: Decision) -> Decision | None:
        """Take one passage decision into account; for an undo, returns what it took back."""
        if decision.action != "undo":
            key = key_of(decision)
            self.history.append(decision)
            self._per_key[key].append(decision)
            self._settle(key)
            return None
        if not self.history:
            return None
        undone = self.history.pop()
        key = key_of(undone)
        self._per_key[key].pop()
        self._settle(key)
        return undone

    def last(self) -> Decision | None:
        """The decision an undo would take back."""
        return self.history[-1] if self.history else None

    def fallback(self) -> Decision | None:
        """The verdict the latest decision's passage falls back to if that decision is undone."""
        if not self.history:
            return None
        stack = self._per_key[key_of(self.history[-1])][:-1]
        return next((d for d in reversed(stack) if d.action in PASSAGE_VERDICTS), None)

    def added(self, item_id: str) -> list[Decision]:
        """The passages this reviewer added to a document (in effect), in the order added."""
        return [
            verdict
            for (item, _), verdict in self.verdicts.items()
            if item == item_id and self._per_key[key_of(verdict)][0].action == "add"
        ]

    def added_anywhere(self) -> list[Decision]:
        """Every passage this reviewer added (in effect), in the order added."""
        return [v for k, v in self.verdicts.items() if self._per_key[k][0].action == "add"]

    def _settle(self, key: PassageKey) -> None:
        stack = self._per_key[key]
        verdict = next((d for d in reversed(stack) if d.action in PASSAGE_VERDICTS), None)
        if verdict is None:
            self.verdicts.pop(key, None)
        else:
            self.verdicts[key] = verdict
        memo = next((d.memo for d in reversed(stack) if d.action == "memo"), "")
        if memo:
            self.memos[key] = memo
        else:
            self.memos.pop(key, None)


def key_of(decision: Decision) -> PassageKey:
    """The passage a decision is about."""
    return decision.item_id, decision.passage or ""


def replay_passages(
    decisions: list[Decision], blind: bool | None = None
) -> dict[str, PassageLedger]:
    """Each reviewer's passage ledger, in order of their first passage decision; ``blind`` True
    or False keeps only the blind (or only the ordinary) lines. Item lines and adjudications
    are left out."""
    ledgers: dict[str, PassageLedger] = {}
    for decision in decisions:
        if decision.passage is None or decision.adjudication is not None:
            continue
        if blind is not None and decision.blind != blind:
            continue
        ledgers.setdefault(decision.reviewer, PassageLedger(decision.reviewer)).apply(decision)
    return ledgers


def model_passage_id(index: int) -> str:
    """The id of the model's ``index``-th passage of a document (its latest record's order)."""
    return f"m{index}"
