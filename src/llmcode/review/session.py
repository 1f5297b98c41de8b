"""The review session, without any UI: queue, cursor, decisions, undo, resume and progress.

A ``ReviewSession`` is one reviewer going through one queue of a run. Each decision is appended
to ``decisions.jsonl`` (flushed and fsynced) before the session's state changes, and the cursor
then moves to the next undecided item. Opening a session replays the reviewer's earlier
decisions, so it resumes at the first undecided item; other reviewers' decisions are kept
apart. The Textual app (``review/app.py``) only displays a session and forwards keys to it.
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

from llmcode.errors import ConfigError, RunStoreError
from llmcode.review.queues import HumanCodes, ReviewItem, build_queue, load_review_items
from llmcode.store.decisions import (
    Action,
    Decision,
    Ledger,
    append_decision,
    load_decisions,
    replay,
    reviewed_codes,
)
from llmcode.store.jsonl import repair_jsonl
from llmcode.store.runs import DECISIONS, Run
from llmcode.taxonomy.model import NONE_CODE, Category, Taxonomy

__all__ = ["DECISION_FILTERS", "Decision", "Progress", "ReviewSession", "reviewed_codes"]
DECISION_FILTERS = ("undecided", "accept", "reject", "change")


@dataclass(frozen=True)
class Progress:
    """How far a reviewer is through the current queue."""

    reviewed: int
    total: int
    accepted: int
    rejected: int
    changed: int

    def share(self, count: int) -> float:
        """``count`` as a percentage of the reviewed items."""
        return 100.0 * count / self.reviewed if self.reviewed else 0.0


class ReviewSession:
    """One reviewer's pass over a queue of a run's items.

    ``blind``: the reviewer codes from scratch (gold coding). The session then offers nothing
    derived from the model — no accept, no queue but ``all`` (the others order by the model's
    codes, confidence or flags), no human codes beside the item — and its decisions are marked
    blind and replayed apart from the reviewer's ordinary ones. ``only`` keeps the items whose
    ids it lists (e.g. a gold sample), in the run's order.
    """

    def __init__(
        self,
        run: Run,
        reviewer: str,
        queue: str = "all",
        human: HumanCodes | None = None,
        *,
        blind: bool = False,
        only: Collection[str] | None = None,
    ) -> None:
        if not reviewer.strip():
            raise ConfigError("the reviewer name is empty", hint="give a reviewer name")
        if blind and human is not None:
            raise ConfigError(
                "blind review shows no other coder's codes", hint="give no human codes when blind"
            )
        if blind and queue != "all":
            raise ConfigError(
                f"blind review goes through the queue 'all', not '{queue}'",
                hint="the other queues are ordered by the model's codes, confidence or flags",
            )
        self.blind = blind
        self.run = run
        self.reviewer = reviewer.strip()
        manifest = run.manifest()
        self.model = manifest.coder
        self.text_columns = tuple(manifest.items.get("text_columns") or ())
        self.taxonomy = run.taxonomy()
        self.categories: list[Category] = self.taxonomy.targets(manifest.config.inputs.level)
        repair_jsonl(run.path / DECISIONS)  # a kill mid-write leaves a torn line: cut it
        ledgers = replay(load_decisions(run), blind=blind)
        self.ledger = ledgers.get(self.reviewer) or Ledger(self.reviewer)
        self.items = load_review_items(run, human)
        if only is not None:
            self.items = _only(self.items, only, run)
        if not self.items:
            raise RunStoreError(f"{run.path}: the run has no items to review")
        self.confidence_kind = (  # the kind calibrate, report and export default to as well
            "vote"
            if manifest.config.sampling.samples > 1
            else "logprob"
            if any(item.has_probabilities for item in self.items)
            else "stated"
        )
        if human is not None and not any(item.human for item in self.items):
            raise ConfigError(
                "the human codes share no item_id with this run",
                hint="check that the human codes are the codes file for the same items",
            )
        self._lowered: str | None = None
        """The queue's ids and texts in lower case, joined by NULs (one scan finds every hit)."""
        self._starts: list[int] = []  # where each item starts in ``_lowered``
        self._searched: str | None = None  # the query ``_hits`` are for, on this queue
        self.query = ""
        self._hits: list[int] = []
        self.queue_name = ""
        self.queue: list[ReviewItem] = []
        self.position = 0
        self.set_queue(queue)

    # --- queue and cursor -------------------------------------------------------------------

    def set_queue(self, name: str, code: str | None = None, decision: str | None = None) -> None:
        """Switch to queue ``name`` and go to its first undecided item.

        ``code`` keeps the items the model or this reviewer gave that code; ``decision`` keeps
        the items whose verdict is ``accept``, ``reject``, ``change`` or ``undecided``. Both
        are applied when chosen (a decision made later does not take an item out of view).
        """
        if decision is not None and decision not in DECISION_FILTERS:
            raise ConfigError(
                f"unknown decision filter '{decision}'",
                hint=f"use one of {', '.join(DECISION_FILTERS)}",
            )
        if self.blind and name != "all":
            raise ConfigError("blind review has one queue: all")
        queue = build_queue(name, self.items, self.run)
        if code is not None:
            queue = [item for item in queue if code in self._codes_of(item)]
        if decision is not None:
            queue = [item for item in queue if self._decision_of(item.item_id) == decision]
        label = " · ".join(
            [name, *([f"code {code}"] if code else []), *([decision] if decision else [])]
        )
        self.queue_base, self.code_filter, self.decision_filter = name, code, decision
        self.queue_name, self.queue, self._lowered = label, queue, None
        self._hits, self._searched = [], None
        self._index = {item.item_id: n for n, item in enumerate(queue)}
        self._counts = Counter(
            v.action for item_id, v in self.ledger.verdicts.items() if item_id in self._index
        )
        self.position = self.next_undecided(-1) or 0

    @property
    def current(self) -> ReviewItem | None:
        return self.queue[self.position] if self.queue else None

    def move(self, delta: int) -> None:
        """Move the cursor by ``delta`` items, stopping at either end."""
        if self.queue:
            self.position = max(0, min(len(self.queue) - 1, self.position + delta))

    def go_to(self, item_id: str) -> bool:
        """Put the cursor on ``item_id``; False when it is not in this queue."""
        if item_id not in self._index:
            return False
        self.position = self._index[item_id]
        return True

    def next_undecided(self, after: int | None = None) -> int | None:
        """The position of the next undecided item after ``after`` (default: the cursor),
        wrapping around; None when every item of the queue is decided."""
        start = self.position if after is None else after
        n = len(self.queue)
        for step in range(1, n + 1):
            index = (start + step) % n
            if self.queue[index].item_id not in self.ledger.verdicts:
                return index
        return None

    def search(self, query: str) -> int | None:
        """The position of the next item (after the cursor, wrapping) whose id or text has
        ``query`` (case-insensitive); the cursor moves there."""
        needle = query.strip().lower()
        if not needle or not self.queue:
            return None
        if self._lowered is None:
            texts = [f"{item.item_id}\n{item.text}".lower() for item in self.queue]
            self._starts = list(itertools.accumulate((len(t) + 1 for t in texts), initial=0))
            self._lowered = "\0".join(texts)
        self.query = needle
        if needle != self._searched:  # the same search again (n): its hits are known
            self._searched = needle
            self._hits = self._find_all(self._lowered, needle)
        if not self._hits:
            return None
        index = next((n for n in self._hits if n > self.position), self._hits[0])
        self.position = index
        return index

    def _find_all(self, lowered: str, needle: str) -> list[int]:
        """The positions of the items whose lowered id or text holds ``needle``, in order."""
        hits: list[int] = []
        if "\0" in needle:  # the separator: no item's text can hold it across items
            return hits
        at = lowered.find(needle)
        while at >= 0:
            item = bisect.bisect_right(self._starts, at) - 1
            hits.append(item)
            at = lowered.find(needle, self._starts[item + 1])
        return hits

    def search_status(self) -> tuple[int | None, int] | None:
        """(which hit the cursor is on, counting from 1, or None; how many items are hits)
        for the last search; None before any search."""
        if not self.query or self._lowered is None:
            return None
        if self.position in self._hits:
            return self._hits.index(self.position) + 1, len(self._hits)
        return None, len(self._hits)

    def _codes_of(self, item: ReviewItem) -> set[str]:
        verdict = self.verdict(item.item_id)
        return set(item.codes) | set(verdict.codes if verdict else ())

    def _decision_of(self, item_id: str) -> str:
        verdict = self.verdict(item_id)
        return verdict.action if verdict else "undecided"

    # --- state --------------------------------------------------------------------------------

    def verdict(self, item_id: str) -> Decision | None:
        """This reviewer's accept/reject/change in effect for the item, if any."""
        return self.ledger.verdicts.get(item_id)

    def memo_of(self, item_id: str) -> str:
        return self.ledger.memos.get(item_id, "")

    def category(self, code: str) -> Category | None:
        return self.taxonomy.get(code)

    def progress(self) -> Progress:
        return Progress(
            reviewed=sum(self._counts.values()),
            total=len(self.queue),
            accepted=self._counts["accept"],
            rejected=self._counts["reject"],
            changed=self._counts["change"],
        )

    # --- decisions ------------------------------------------------------------------------------

    def accept(self) -> Decision:
        """Accept the model's codes for the current item."""
        if self.blind:
            raise ConfigError(
                "blind review: there are no model codes to accept",
                hint="c chooses the codes yourself; r records that no code applies",
            )
        item = self._require_current()
        codes = [c for c in item.codes if c != NONE_CODE]
        if not codes and NONE_CODE not in item.codes:
            raise ConfigError(
                f"item {item.item_id}: the model suggested no code ({item.status}), "
                "so there is nothing to accept",
                hint="change (c) to choose codes, or reject (r) if none applies",
            )
        return self._decide(item, "accept", codes)

    def reject(self) -> Decision:
        """No code applies to the current item."""
        return self._decide(self._require_current(), "reject", [])

    @property
    def two_levels(self) -> bool:
        """Blind coding of a taxonomy with subcategories: category and subcategory are coded
        together (the picker offers both levels; a decision records both)."""
        return self.blind and any(c.children for c in self.taxonomy.categories)

    @property
    def pickable(self) -> list[Category]:
        """The codes the reviewer may choose: the run's; coding blind a taxonomy with
        subcategories, every codable category and subcategory, each category before its own."""
        if self.two_levels:
            return [c for c in self.taxonomy.walk() if c.codable]
        return self.categories

    def change(self, codes: list[str]) -> Decision:
        """Replace the model's codes of the current item by ``codes``."""
        item = self._require_current()
        chosen = chosen_codes(codes, self.pickable, self.taxonomy)
        return self._decide(item, "change", chosen)

    def memo(self, text: str) -> Decision:
        """Attach a memo to the current item (an empty text clears it); the cursor stays."""
        item = self._require_current()
        return self._record(item, "memo", self.ledger.final_codes(item.item_id), text.strip())

    def undo(self) -> Decision | None:
        """Take back this reviewer's latest decision; the cursor goes to its item."""
        last = self.ledger.last()
        if last is None:
            return None
        fallback = self.ledger.fallback()
        record = Decision(
            reviewer=self.reviewer,
            item_id=last.item_id,
            action="undo",
            undone=last.action,
            codes=list(fallback.codes) if fallback else [],
            suggested=last.suggested,
            blind=self.blind,
        )
        before = self.verdict(last.item_id)
        append_decision(self.run, record)
        self.ledger.apply(record)
        self._count(last.item_id, before)
        self.go_to(last.item_id)
        return record

    # --- internals ------------------------------------------------------------------------------

    def _require_current(self) -> ReviewItem:
        if self.current is None:
            raise ConfigError(f"queue '{self.queue_name}' is empty", hint="switch queue with f")
        return self.current

    def _decide(self, item: ReviewItem, action: Action, codes: list[str]) -> Decision:
        decision = self._record(item, action, codes, self.memo_of(item.item_id))
        following = self.next_undecided()
        if following is not None:
            self.position = following
        return decision

    def _record(self, item: ReviewItem, action: Action, codes: list[str], memo: str) -> Decision:
        decision = Decision(
            reviewer=self.reviewer,
            item_id=item.item_id,
            action=action,
            codes=codes,
            memo=memo,
            suggested=[] if self.blind else item.codes,
            blind=self.blind,
            categories=self._categories(codes) if self.two_levels else [],
        )
        before = self.verdict(item.item_id)
        append_decision(self.run, decision)  # durable first, then the state moves on
        self.ledger.apply(decision)
        self._count(item.item_id, before)
        return decision

    def _categories(self, codes: list[str]) -> list[str]:
        """The top-level category of each code (a category is its own)."""
        parents = [self.taxonomy.parent_of(code) for code in codes]
        return [p.id if p is not None else code for p, code in zip(parents, codes, strict=True)]

    def _count(self, item_id: str, before: Decision | None) -> None:
        if item_id not in self._index:
            return
        after = self.verdict(item_id)
        if before is not None:
            self._counts[before.action] -= 1
        if after is not None:
            self._counts[after.action] += 1


def _only(items: list[ReviewItem], only: Collection[str], run: Run) -> list[ReviewItem]:
    """The items listed in ``only``; listed ids the run lacks are an error naming them."""
    wanted = {str(item_id) for item_id in only}
    known = {item.item_id for item in items}
    missing = sorted(wanted - known)
    if missing:
        raise RunStoreError(
            f"{len(missing)} listed item(s) not in run {run.run_id}: {', '.join(missing[:10])}"
            + (" ..." if len(missing) > 10 else ""),
            hint="code them first (a run with only set to that file)",
        )
    return [item for item in items if item.item_id in wanted]


def chosen_codes(
    codes: list[str],
    allowed: list[Category],
    taxonomy: Taxonomy,
    empty_hint: str | None = "reject (r) when no code applies",
) -> list[str]:
    """A reviewer's (or adjudicator's) choice of codes, checked: each one of ``allowed``, at
    least one, and one only in a single-label taxonomy (errors say what to do); in order,
    without repeats."""
    ids = [c.id for c in allowed]
    chosen = list(dict.fromkeys(codes))
    unknown = [c for c in chosen if c not in ids]
    if unknown:
        raise ConfigError(
            f"unknown code(s) {', '.join(unknown)}", hint=f"choose from: {', '.join(ids)}"
        )
    if not chosen:
        raise ConfigError("choose at least one code", hint=empty_hint)
    if len(chosen) > 1 and not taxonomy.multi_label:
        raise ConfigError(f"taxonomy '{taxonomy.name}' is single-label: choose one code")
    return chosen
