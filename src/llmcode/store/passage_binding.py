"""Which model passage a passage decision is about, once the document has been coded again.

A line on a model passage names it ``m<k>``: the k-th passage of the document's latest record
when the line was written. Coding the document again (a new record) can reorder, add or drop
passages, so ``m<k>`` alone would silently move a decision onto another passage. The rule:

- a line is about the model passage with the *same offsets and codes* — its ``model_span`` and
  ``suggested``; a line written before ``model_span`` existed takes the offsets and codes of its
  reviewer's first ``accept``, ``reject`` or ``change`` of that passage (which were the model's);
- `bind_passage_decisions` gives each line the id of that passage in the latest record: its own
  ``m<k>`` when that passage still matches, else the first passage of the same offsets and codes;
- a line whose passage the latest record no longer has is set apart under an id of its own,
  ``m<k>@<start>-<end>`` (the model's offsets it was made on): the reviewer's verdict stays on
  record and in the exports, with its ``model_start``/``model_end``, and the latest record's
  passages wait undecided for review;
- an old line whose offsets cannot be known (its passage's first line a ``resize``) stays on
  ``m<k>`` when that passage still has the codes it suggested, else it is set apart
  (``m<k>@earlier``).
"""

from __future__ import annotations

import re

from llmcode.store.decisions import Decision
from llmcode.store.passage_ledger import PassageKey, model_passage_id
from llmcode.store.runs import Run

ModelPassages = dict[PassageKey, tuple[int | None, int | None, list[str]]]
"""(item_id, ``m<k>``) -> the model's start, end and codes in the latest record."""
Anchor = tuple[int | None, int | None, tuple[str, ...]]
_MODEL_ID = re.compile(r"m\d+")


def model_passages(run: Run) -> ModelPassages:
    """(item_id, ``m<k>``) -> the model's start, end and codes, from each latest record."""
    out: ModelPassages = {}
    for record in run.counted_codings().values():
        for index, segment in enumerate(record.segments):
            codes = [c.code for c in segment.codes]
            out[(record.item_id, model_passage_id(index))] = (segment.start, segment.end, codes)
    return out


def bind_passage_decisions(decisions: list[Decision], model: ModelPassages) -> list[Decision]:
    """``decisions`` with each model passage line renamed to the passage it is about in the
    latest record (see the module docstring); other lines as they are."""
    index: dict[tuple[str, Anchor], list[str]] = {}
    for (item_id, passage), (start, end, codes) in model.items():
        index.setdefault((item_id, (start, end, tuple(sorted(codes)))), []).append(passage)
    anchors: dict[tuple[str, str, str], Anchor | None] = {}  # (reviewer, item, old id)
    out = []
    for decision in decisions:
        old = decision.passage
        if old is None or not _MODEL_ID.fullmatch(old):
            out.append(decision)
            continue
        anchor = _anchor(decision, anchors)
        if anchor is None:  # an old line with no known offsets: trust the id if codes agree
            codes = model.get((decision.item_id, old), (None, None, []))[2]
            kept = sorted(codes) == sorted(decision.suggested)
            passage = old if kept else f"{old}@earlier"
        else:
            candidates = index.get((decision.item_id, anchor), [])
            if old in candidates:
                passage = old
            elif candidates:
                passage = candidates[0]
            else:
                passage = f"{old}@{_offset(anchor[0])}-{_offset(anchor[1])}"
        out.append(decision if passage == old else decision.model_copy(update={"passage": passage}))
    return out


def _anchor(
    decision: Decision, anchors: dict[tuple[str, str, str], Anchor | None]
) -> Anchor | None:
    """The passage a line is about: its own ``model_span``, else what the first line of its
    reviewer on that passage tells (the model's bounds on an accept, reject or change)."""
    key = (decision.reviewer, decision.item_id, decision.passage or "")
    codes = tuple(sorted(decision.suggested))
    if decision.model_span is not None:
        anchors[key] = (decision.model_span[0], decision.model_span[1], codes)
        return anchors[key]
    if key not in anchors:
        first = decision.action in ("accept", "reject", "change")
        anchors[key] = (decision.start, decision.end, codes) if first else None
    return anchors[key]


def _offset(value: int | None) -> str:
    return "?" if value is None else str(value)
