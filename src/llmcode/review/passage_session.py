"""The passage review session, without any UI: queue, cursor, passage decisions, undo, resume.

A `PassageSession` is one reviewer going through the passages of a segment run (``unit``
segment). Each decision — accept, reject, change the codes, widen or narrow a passage by a word
or a sentence (`llmcode.review.passage_edits`), add a passage the model missed — is one line of
``decisions.jsonl`` (flushed and fsynced by `append_decision`) before the session's state
changes; opening a session replays the reviewer's passage lines, so it resumes where they
stopped (a torn last line from a kill is cut first); lines on the model's passages are bound to
the latest record's passages by offsets and codes (`llmcode.store.passage_binding`), so a
document coded again does not move them. A memo on a passage is a line too. With human coders'
passages (``human``), `next_missed` steps to one that no passage as it stands matches and
`adopt` makes it the reviewer's (an ``add`` naming the coder, ``adopted_from``). ``blind``: the
reviewer marks passages on the bare document — no model passage, code or confidence is offered —
and the lines are marked blind; `next_empty_document` finds a document not yet marked. The
Textual screen (``review/passage_app.py``) only displays a session and forwards keys.
"""

from __future__ import annotations

from bisect import insort

from llmcode.errors import ConfigError
from llmcode.review.passage_edits import Boundaries, Edge, Unit
from llmcode.review.passage_queues import (
    HumanPassages,
    HumanSpan,
    ModelPassage,
    Passage,
    PassageDocument,
    PassageProgress,
    build_passage_queue,
    load_documents,
    missed_passages,
)
from llmcode.store.decisions import Action, Decision, append_decision, load_decisions
from llmcode.store.jsonl import repair_jsonl
from llmcode.store.passage_binding import bind_passage_decisions
from llmcode.store.passage_ledger import PassageKey, PassageLedger, key_of, replay_passages
from llmcode.store.runs import DECISIONS, Run
from llmcode.taxonomy.model import Category

__all__ = ["HumanSpan", "Passage", "PassageProgress", "PassageSession"]


class PassageSession:
    """One reviewer's pass over the passages of a segment run (see the module docstring)."""

    def __init__(
        self,
        run: Run,
        reviewer: str,
        queue: str = "all",
        human: HumanPassages | None = None,
        *,
        blind: bool = False,
    ) -> None:
        if not reviewer.strip():
            raise ConfigError("the reviewer name is empty", hint="give a reviewer name")
        if blind and (human is not None or queue != "all"):
            raise ConfigError(
                "blind review shows no other coder's passages and has one queue: all",
                hint="give no human codes and no queue when blind",
            )
        manifest = run.manifest()
        if manifest.config.inputs.unit != "segment":
            raise ConfigError(f"run {run.run_id} coded whole items, not passages")
        self.run, self.reviewer, self.blind = run, reviewer.strip(), blind
        self.model = manifest.coder
        self.taxonomy = run.taxonomy()
        self.categories: list[Category] = self.taxonomy.targets(manifest.config.inputs.level)
        repair_jsonl(run.path / DECISIONS)  # a kill mid-write leaves a torn line: cut it
        self.documents = load_documents(run, human)
        model = {p.key: (p.start, p.end, list(p.codes)) for d in self.documents for p in d.passages}
        decisions = bind_passage_decisions(load_decisions(run), model)
        ledgers = replay_passages(decisions, blind=blind)
        self.ledger = ledgers.get(self.reviewer) or PassageLedger(self.reviewer)
        if human is not None and not any(d.human for d in self.documents):
            raise ConfigError(
                "the human passages share no item_id with this run",
                hint="give the codes file of the same documents",
            )
        self._documents = {d.item_id: d for d in self.documents}
        self._order = {d.item_id: n for n, d in enumerate(self.documents)}
        self._model = {p.key: p for d in self.documents for p in d.passages}
        self._boundaries: dict[str, Boundaries] = {}
        self.human_cursor: HumanSpan | None = None
        """A human coder's passage the reviewer stepped to (`next_missed`); None on a passage."""
        self.queue_name = queue
        self.queue: list[PassageKey] = []
        self.position = 0
        self.document_id = self.documents[0].item_id
        self.set_queue(queue)

    # --- queue and cursor -------------------------------------------------------------------

    def set_queue(self, name: str) -> None:
        """Switch to queue ``name`` (the reviewer's added passages join it) and go to its first
        undecided passage."""
        model = [] if self.blind else [p.key for p in build_passage_queue(name, self.documents)]
        added = [key_of(d) for d in self.ledger.added_anywhere()]
        if name == "all" or self.blind:
            queue = sorted([*model, *added], key=self._place)
        else:
            queue = model + added
        self.queue_name, self.queue = name, queue
        self.position = self.next_undecided(-1) or 0
        self._follow()

    @property
    def current(self) -> Passage | None:
        return self.passage(self.queue[self.position]) if self.queue else None

    def move(self, delta: int) -> None:
        """Move the cursor by ``delta`` passages, stopping at either end."""
        if self.queue:
            self.position = max(0, min(len(self.queue) - 1, self.position + delta))
            self._follow()

    def go_to(self, key: PassageKey) -> bool:
        """Put the cursor on passage ``key``; False when it is not in this queue."""
        if key not in self.queue:
            return False
        self.position = self.queue.index(key)
        self._follow()
        return True

    def next_undecided(self, after: int | None = None) -> int | None:
        """The position of the next undecided passage after ``after`` (default: the cursor),
        wrapping around; None when every passage of the queue is decided."""
        start = self.position if after is None else after
        n = len(self.queue)
        for step in range(1, n + 1):
            index = (start + step) % n
            if self.queue[index] not in self.ledger.verdicts:
                return index
        return None

    def go_to_next_undecided(self) -> bool:
        """Move the cursor to the next undecided passage; False when there is none."""
        following = self.next_undecided()
        if following is None:
            return False
        self.position = following
        self._follow()
        return True

    def move_document(self, delta: int) -> None:
        """Show the next (or previous) document; the cursor goes to its first passage."""
        index = max(0, min(len(self.documents) - 1, self._order[self.document_id] + delta))
        self._show_document(self.documents[index].item_id)

    def next_empty_document(self) -> bool:
        """Show the next document (after this one, wrapping) with no passage as it stands —
        blind: none marked yet; False when every document has one."""
        start = self._order[self.document_id]
        for step in range(1, len(self.documents) + 1):
            document = self.documents[(start + step) % len(self.documents)]
            if not any(p.kept for p in self.passages_in(document.item_id)):
                self._show_document(document.item_id)
                return True
        return False

    def documents_without_passage(self) -> int:
        """How many documents have no passage as it stands (blind: none marked)."""
        if self.blind:
            marked = {key[0] for key, d in self.ledger.verdicts.items() if d.action != "reject"}
            return sum(d.item_id not in marked for d in self.documents)
        return sum(not any(p.kept for p in self.passages_in(d.item_id)) for d in self.documents)

    def next_missed(self) -> HumanSpan | None:
        """Step to the next human coder's passage (after the one shown, else after the cursor;
        document order, wrapping) that no passage as it stands matches at IoU >= 0.5; None
        (the cursor unmoved) when there is none."""
        if self.blind or not any(d.human for d in self.documents):
            raise ConfigError(
                "no human coder's passages to step to",
                hint="give --human CODES with start and end columns (not blind)",
            )
        here = self.human_cursor
        if here is not None:
            after: tuple[int, int, str] = (here.start, here.end, here.coder)
        else:
            current = self.current
            same = current is not None and current.item_id == self.document_id
            after = ((current.start or 0) - 1 if same and current else -1, 0, "")
        first = self._order[self.document_id]
        count = len(self.documents)
        for step in range(count + 1):
            document = self.documents[(first + step) % count]
            missed = missed_passages(document, self.passages_in(document.item_id))
            if step == 0:
                missed = [h for h in missed if (h.start, h.end, h.coder) > after]
            elif step == count:  # back in the first document: the spans before the cursor
                missed = [h for h in missed if (h.start, h.end, h.coder) <= after]
            if missed:
                self._show_document(document.item_id)
                self.human_cursor = missed[0]
                return missed[0]
        return None

    def _show_document(self, item_id: str) -> None:
        self.document_id = item_id
        self.human_cursor = None
        here = [n for n, key in enumerate(self.queue) if key[0] == item_id]
        if here:
            self.position = here[0]

    @property
    def document(self) -> PassageDocument:
        """The document on screen: the current passage's, or the one chosen with
        `move_document`."""
        return self._documents[self.document_id]

    # --- state --------------------------------------------------------------------------------

    def passage(self, key: PassageKey) -> Passage:
        """The passage ``key`` as it stands after this reviewer's decisions."""
        model = None if self.blind else self._model.get(key)
        verdict = self.ledger.verdicts.get(key)
        if verdict is not None:
            codes = (
                tuple(verdict.codes)
                if verdict.action != "reject"
                else (model.codes if model else ())
            )
            start = verdict.start if verdict.start is not None else (model.start if model else None)
            end = verdict.end if verdict.end is not None else (model.end if model else None)
            return Passage(key, start, end, codes, verdict.action, model)
        if model is None:
            raise ConfigError(f"no passage {key[1]} in document {key[0]}")
        return Passage(key, model.start, model.end, model.codes, None, model)

    def passages_in(self, item_id: str) -> list[Passage]:
        """Every passage of a document as it stands (the model's and the added), by offset."""
        keys: list[PassageKey] = (
            [] if self.blind else [p.key for p in self._documents[item_id].passages]
        )
        keys += [key_of(d) for d in self.ledger.added(item_id)]
        passages = [self.passage(key) for key in keys]
        return sorted(passages, key=lambda p: (p.start is None, p.start or 0, p.end or 0))

    def boundaries(self, item_id: str) -> Boundaries:
        if item_id not in self._boundaries:
            self._boundaries[item_id] = Boundaries(self._documents[item_id].text)
        return self._boundaries[item_id]

    def category(self, code: str) -> Category | None:
        return self.taxonomy.get(code)

    def memo_of(self, key: PassageKey) -> str:
        """This reviewer's memo on passage ``key`` ("" when none)."""
        return self.ledger.memos.get(key, "")

    def progress(self) -> PassageProgress:
        actions = [v.action for k in self.queue if (v := self.ledger.verdicts.get(k))]
        return PassageProgress(
            reviewed=len(actions),
            total=len(self.queue),
            accepted=actions.count("accept"),
            rejected=actions.count("reject"),
            changed=actions.count("change") + actions.count("resize"),
            added=actions.count("add"),
        )

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

    def _place(self, key: PassageKey) -> tuple[int, int, int]:
        passage = self.passage(key)
        start = passage.start if passage.start is not None else 1 << 62
        return self._order.get(key[0], len(self._order)), start, passage.end or 0

    def _follow(self) -> None:
        self.human_cursor = None
        if self.queue:
            self.document_id = self.queue[self.position][0]

    def _require_current(self) -> Passage:
        current = self.current
        if current is None:
            hint = "i marks a passage" if self.blind else "choose another queue"
            raise ConfigError(f"queue '{self.queue_name}' has no passage", hint=hint)
        return current

    def _located(self) -> Passage:
        passage = self._require_current()
        if passage.start is None or passage.end is None:
            raise ConfigError(
                f"passage {passage.key[1]} of {passage.item_id} is not in the text",
                hint="reject it (r), or mark the passage yourself (i)",
            )
        return passage

    def _check_codes(self, codes: list[str]) -> list[str]:
        allowed = [c.id for c in self.categories]
        chosen = list(dict.fromkeys(codes))
        unknown = [c for c in chosen if c not in allowed]
        if unknown:
            raise ConfigError(
                f"unknown code(s) {', '.join(unknown)}", hint=f"choose from: {', '.join(allowed)}"
            )
        if not chosen:
            raise ConfigError("choose at least one code", hint="reject (r) when no code applies")
        if len(chosen) > 1 and not self.taxonomy.multi_label:
            raise ConfigError(f"taxonomy '{self.taxonomy.name}' is single-label: choose one code")
        return chosen

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
