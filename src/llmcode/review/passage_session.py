"""The passage review session, without any UI: passage decisions, undo, resume.

A `PassageSession` is one reviewer going through the passages of a segment run (``unit``
segment). Each decision — accept, reject, change the codes, widen or narrow a passage by a word
or a sentence (`llmcode.review.passage_edits`), add a passage the model missed — is one line of
``decisions.jsonl`` (flushed and fsynced by `append_decision`) before the session's state
changes; opening a session replays the reviewer's passage lines, so it resumes where they
stopped (a torn last line from a kill is cut first); lines on the model's passages are bound to
the latest record's passages by offsets and codes (`llmcode.store.passage_binding`), so a
document coded again does not move them. A memo on a passage is a line too. The queue, the
cursor and each passage as it stands are `llmcode.review.passage_cursor`'s. With human coders'
passages (``human``), `next_missed` steps to one that no passage as it stands matches and
`adopt` makes it the reviewer's (an ``add`` naming the coder, ``adopted_from``). ``blind``: the
reviewer marks passages on the bare document — no model passage, code or confidence is offered —
and the lines are marked blind; `next_empty_document` finds a document not yet marked. The
Textual screen (``review/passage_app.py``) only displays a session and forwards keys.
"""

from __future__ import annotations

from bisect import insort

from llmcode.errors import ConfigError
from llmcode.review.passage_cursor import PassageCursor
from llmcode.review.passage_edits import Edge, Unit
from llmcode.review.passage_queues import HumanSpan, ModelPassage, Passage, PassageProgress
from llmcode.review.session import chosen_codes
from llmcode.store.decisions import Action, Decision, append_decision
from llmcode.store.passage_ledger import PassageKey, key_of

__all__ = ["HumanSpan", "Passage", "PassageProgress", "PassageSession"]


class PassageSession(PassageCursor):
    """One reviewer's pass over the passages of a segment run: the decisions (see the module
    docstring); the queue, cursor and state are `PassageCursor`'s."""

    # --- decisions ------------------------------------------------------------------------------

    def accept(self) -> Decision:
        """Accept the current passage as it stands (the model's, or as resized)."""
        if self.blind:
            raise ConfigError(
                "blind review: there are no model passages to accept",
                hint="i marks a passage yourself",
            )
        passage = self._located()
        return self._decide(passage, "accept", passage.codes, move=True)

    def reject(self) -> Decision:
        """The current passage is not a passage of these codes (blind: remove your passage)."""
        passage = self._require_current()
        return self._decide(passage, "reject", (), move=True)

    def change(self, codes: list[str]) -> Decision:
        """Give the current passage ``codes`` instead."""
        passage = self._located()
        return self._decide(passage, "change", tuple(self._check_codes(codes)), move=True)

    def widen(self, edge: Edge, unit: Unit) -> Decision:
        """Grow the current passage by a word or a sentence at ``edge``; the cursor stays."""
        return self._resize(edge, unit, widen=True)

    def narrow(self, edge: Edge, unit: Unit) -> Decision:
        """Shrink the current passage by a word or a sentence at ``edge``; the cursor stays."""
        return self._resize(edge, unit, widen=False)

    def memo(self, text: str) -> Decision:
        """Write a memo on the current passage (an empty text clears it); the cursor stays."""
        passage = self._require_current()
        model = None if self.blind else passage.model
        return self._write(
            passage.key, "memo", passage.start, passage.end, passage.codes,
            self._suggested(passage), model=model, memo=text.strip(),
        )  # fmt: skip

    def adopt(self) -> Decision:
        """Make the human coder's passage under the cursor (`next_missed`) the reviewer's own:
        an ``add`` of its offsets and of the codes no passage matched there (the others are
        already coded), naming the coder (``adopted_from``)."""
        span = self.human_cursor
        if span is None:
            raise ConfigError(
                "no human passage under the cursor",
                hint="g steps to the next human passage no passage matches",
            )
        allowed = {c.id for c in self.categories}
        codes = [c for c in span.missed if c in allowed]
        if not codes:
            raise ConfigError(
                f"{span.coder}'s passage has no code of this run's codebook level "
                f"({', '.join(span.missed)})",
                hint="mark the passage yourself (i) and choose its codes",
            )
        return self.add(span.item_id, span.start, span.end, codes, adopted_from=span.coder)

    def add(
        self, item_id: str, start: int, end: int, codes: list[str], adopted_from: str | None = None
    ) -> Decision:
        """Add a passage the model missed, ``[start, end)`` of document ``item_id`` (or a human
        coder's, ``adopted_from``); the cursor goes to it."""
        document = self._documents.get(item_id)
        if document is None:
            raise ConfigError(f"no document {item_id} in run {self.run.run_id}")
        if not 0 <= start < end <= len(document.text):
            raise ConfigError(
                f"[{start}, {end}) is not a passage of {item_id} ({len(document.text)} characters)",
                hint="mark its start, then its end after it",
            )
        chosen = tuple(self._check_codes(codes))
        taken = {key_of(d)[1] for d in self.ledger.added_anywhere()}
        number = 1
        while f"{self.reviewer}-{number}" in taken:
            number += 1
        key = (item_id, f"{self.reviewer}-{number}")
        decision = self._write(key, "add", start, end, chosen, (), adopted_from=adopted_from)
        if self.queue_name == "all" or self.blind:
            insort(self.queue, key, key=self._place)
        else:
            self.queue.insert(self.position + 1 if self.queue else 0, key)
        self.go_to(key)
        return decision

    def undo(self) -> Decision | None:
        """Take back this reviewer's latest passage decision; the cursor goes to its passage."""
        last = self.ledger.last()
        if last is None:
            return None
        fallback = self.ledger.fallback()
        record = Decision(
            reviewer=self.reviewer,
            item_id=last.item_id,
            passage=last.passage,
            action="undo",
            undone=last.action,
            codes=list(fallback.codes) if fallback else [],
            start=fallback.start if fallback else None,
            end=fallback.end if fallback else None,
            blind=self.blind,
        )
        append_decision(self.run, record)
        self.ledger.apply(record)
        key = key_of(last)
        if last.action == "add" and key not in self.ledger.verdicts and key in self.queue:
            self.queue.remove(key)
            self.position = min(self.position, max(0, len(self.queue) - 1))
            self.document_id = key[0]
        else:
            self.go_to(key)
        return record

    # --- internals ------------------------------------------------------------------------------

    # --- internals ------------------------------------------------------------------------------

    def _located(self) -> Passage:
        passage = self._require_current()
        if passage.start is None or passage.end is None:
            raise ConfigError(
                f"passage {passage.key[1]} of {passage.item_id} is not in the text",
                hint="reject it (r), or mark the passage yourself (i)",
            )
        return passage

    def _check_codes(self, codes: list[str]) -> list[str]:
        return chosen_codes(codes, self.categories, self.taxonomy)

    def _resize(self, edge: Edge, unit: Unit, *, widen: bool) -> Decision:
        passage = self._located()
        if passage.action == "reject":
            raise ConfigError(
                "this passage is rejected", hint="accept (a) or change (c) it before resizing"
            )
        assert passage.start is not None and passage.end is not None
        edits = self.boundaries(passage.item_id)
        step = edits.widen if widen else edits.narrow
        start, end = step(passage.start, passage.end, edge, unit)
        return self._write(
            passage.key, "resize", start, end, passage.codes, self._suggested(passage),
            model=passage.model,
        )  # fmt: skip

    def _decide(
        self, passage: Passage, action: Action, codes: tuple[str, ...], *, move: bool
    ) -> Decision:
        decision = self._write(
            passage.key, action, passage.start, passage.end, codes, self._suggested(passage),
            model=None if self.blind else passage.model,
        )  # fmt: skip
        if move:
            self.go_to_next_undecided()
        return decision

    def _suggested(self, passage: Passage) -> tuple[str, ...]:
        return () if self.blind or passage.model is None else passage.model.codes

    def _write(
        self,
        key: PassageKey,
        action: Action,
        start: int | None,
        end: int | None,
        codes: tuple[str, ...],
        suggested: tuple[str, ...],
        *,
        model: ModelPassage | None = None,
        adopted_from: str | None = None,
        memo: str = "",
    ) -> Decision:
        decision = Decision(
            model_span=None if model is None else (model.start, model.end),
            adopted_from=adopted_from,
            memo=memo,
            reviewer=self.reviewer,
            item_id=key[0],
            passage=key[1],
            action=action,
            codes=list(codes),
            start=start,
            end=end,
            suggested=list(suggested),
            blind=self.blind,
        )
        append_decision(self.run, decision)  # durable first, then the state moves on
        self.ledger.apply(decision)
        return decision
