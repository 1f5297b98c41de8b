"""The adjudication session, without any UI: one adjudicator resolving coders' disagreements.

An ``AdjudicationSession`` goes through the disagreements (human–human first) and records, for
the item under the cursor, the codes of one coder (``take``), codes of the adjudicator's own
(``change``), a memo or an undo. Every line is an adjudication decision in ``decisions.jsonl``
(flushed and fsynced before the session moves on) that names the coders' codes and memos the
adjudicator saw and whose codes were taken, so a reopened session resumes at the first open
disagreement and the final table (``store/final.py``) knows each route. With ``blind_coders``
the coders are shown as "coder 1", "coder 2" in an order shuffled per item.
"""

from __future__ import annotations

import random

from llmcode.errors import ConfigError, RunStoreError
from llmcode.items import Item
from llmcode.review.session import chosen_codes
from llmcode.store.decisions import (
    Action,
    Adjudication,
    Decision,
    Ledger,
    append_decision,
    load_decisions,
    replay,
)
from llmcode.store.final import Disagreement
from llmcode.store.jsonl import repair_jsonl
from llmcode.store.runs import DECISIONS, Run
from llmcode.taxonomy.model import NONE_CODE, Category


class AdjudicationSession:
    """One adjudicator's pass over a run's disagreements."""

    def __init__(
        self,
        run: Run,
        adjudicator: str,
        disagreements: list[Disagreement],
        *,
        blind_coders: bool = False,
    ) -> None:
        if not adjudicator.strip():
            raise ConfigError("the adjudicator's name is empty", hint="give `adjudicator`")
        if not disagreements:
            raise RunStoreError(f"{run.path}: no disagreement to adjudicate")
        self.run = run
        self.adjudicator = adjudicator.strip()
        self.blind_coders = blind_coders
        self.taxonomy = run.taxonomy()
        self.categories: list[Category] = self.taxonomy.targets(run.manifest().config.inputs.level)
        items = {item.item_id: item for item in run.items()}
        self.items: dict[str, Item] = {d.item_id: items[d.item_id] for d in disagreements}
        self.queue = disagreements
        repair_jsonl(run.path / DECISIONS)  # a kill mid-write leaves a torn line: cut it
        ledgers = replay(load_decisions(run), adjudication=True)
        self.ledger = ledgers.get(self.adjudicator) or Ledger(self.adjudicator)
        self.position = 0
        self.position = self.next_open(-1) or 0

    # --- cursor -------------------------------------------------------------------------------

    @property
    def current(self) -> Disagreement:
        return self.queue[self.position]

    def move(self, delta: int) -> None:
        self.position = max(0, min(len(self.queue) - 1, self.position + delta))

    def next_open(self, after: int | None = None) -> int | None:
        """The next disagreement (wrapping) this adjudicator has not resolved."""
        start = self.position if after is None else after
        n = len(self.queue)
        for step in range(1, n + 1):
            index = (start + step) % n
            if self.queue[index].item_id not in self.ledger.verdicts:
                return index
        return None

    # --- what the screen shows ----------------------------------------------------------------

    def coders(self, tie: Disagreement | None = None) -> list[tuple[str, str]]:
        """(label on screen, coder) in the order keys 1..9 take them: by name, or blind as
        coder 1, 2, ... in an order shuffled per item (so the position does not tell who)."""
        tie = tie or self.current
        names = list(tie.codes)
        if not self.blind_coders:
            return [(name, name) for name in names]
        random.Random(tie.item_id).shuffle(names)
        return [(f"coder {n}", name) for n, name in enumerate(names, start=1)]

    def verdict(self, item_id: str) -> Decision | None:
        return self.ledger.verdicts.get(item_id)

    def memo_of(self, item_id: str) -> str:
        return self.ledger.memos.get(item_id, "")

    def resolved(self) -> int:
        return sum(d.item_id in self.ledger.verdicts for d in self.queue)

    # --- decisions ----------------------------------------------------------------------------

    def take(self, number: int) -> Decision:
        """Take the codes of the ``number``-th coder shown (from 1)."""
        order = self.coders()
        if not 1 <= number <= len(order):
            raise ConfigError(f"there is no coder {number} here", hint=f"1 to {len(order)}")
        coder = order[number - 1][1]
        codes = [c for c in self.current.codes[coder] if c != NONE_CODE]
        return self._decide("change" if codes else "reject", codes, taken_from=coder)

    def change(self, codes: list[str]) -> Decision:
        """Codes of the adjudicator's own choosing."""
        chosen = chosen_codes(codes, self.categories, self.taxonomy, empty_hint=None)
        taken = next((c for c, v in self.current.codes.items() if set(v) == set(chosen)), None)
        return self._decide("change", chosen, taken_from=taken)

    def memo(self, text: str) -> Decision:
        """A memo on the current item (the cursor stays)."""
        item_id = self.current.item_id
        return self._record("memo", self.ledger.final_codes(item_id), text.strip(), None)

    def undo(self) -> Decision | None:
        """Take back this adjudicator's latest decision; the cursor goes to its item."""
        last = self.ledger.last()
        if last is None:
            return None
        fallback = self.ledger.fallback()
        record = Decision(
            reviewer=self.adjudicator,
            item_id=last.item_id,
            action="undo",
            undone=last.action,
            codes=list(fallback.codes) if fallback else [],
            adjudication=last.adjudication,
        )
        append_decision(self.run, record)
        self.ledger.apply(record)
        self.position = next(n for n, d in enumerate(self.queue) if d.item_id == last.item_id)
        return record

    # --- internals ----------------------------------------------------------------------------

    def _decide(self, action: Action, codes: list[str], taken_from: str | None) -> Decision:
        decision = self._record(action, codes, self.memo_of(self.current.item_id), taken_from)
        following = self.next_open()
        if following is not None:
            self.position = following
        return decision

    def _record(
        self, action: Action, codes: list[str], memo: str, taken_from: str | None
    ) -> Decision:
        tie = self.current
        decision = Decision(
            reviewer=self.adjudicator,
            item_id=tie.item_id,
            action=action,
            codes=codes,
            memo=memo,
            adjudication=Adjudication(
                coders=tie.codes,
                memos=tie.memos,
                taken_from=taken_from,
                blind_coders=self.blind_coders,
            ),
        )
        append_decision(self.run, decision)  # durable first, then the state moves on
        self.ledger.apply(decision)
        return decision
