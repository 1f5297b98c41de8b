"""The passages of a segment run as one reviewer sees them, and the cursor over them (no UI).

A `PassageCursor` loads the run's documents with the model's passages (and human coders', when
given), replays the reviewer's passage lines from ``decisions.jsonl`` — bound to the latest
record's passages by offsets and codes (`llmcode.store.passage_binding`), so a document coded
again does not move them — and keeps the queue, the cursor and the document on screen: each
passage as it stands after the reviewer's verdict (`passage`), the next undecided one, the next
document without any passage (`next_empty_document`), and the next human coder's passage that
no passage as it stands matches (`next_missed`, kept in ``human_cursor``). ``blind``: no model
passage is shown; the queue holds the reviewer's own. `llmcode.review.passage_session` adds the
decisions on top.
"""

from __future__ import annotations

from llmcode.errors import ConfigError
from llmcode.review.passage_edits import Boundaries
from llmcode.review.passage_queues import (
    HumanPassages,
    HumanSpan,
    Passage,
    PassageDocument,
    PassageProgress,
    build_passage_queue,
    load_documents,
    missed_passages,
)
from llmcode.store.decisions import load_decisions
from llmcode.store.jsonl import repair_jsonl
from llmcode.store.passage_binding import bind_passage_decisions
from llmcode.store.passage_ledger import PassageKey, PassageLedger, key_of, replay_passages
from llmcode.store.runs import DECISIONS, Run
from llmcode.taxonomy.model import Category

__all__ = ["PassageCursor"]


class PassageCursor:
    """One reviewer's view of the passages of a segment run (see the module docstring)."""

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
