"""The report's example items: a few coded items per code, verified first, each with its
justification and its text around the evidence, the quoted spans highlighted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from llmcode.items import Item
from llmcode.quality.confidence import confidence_of
from llmcode.store.models import CodingRecord

SNIPPET_CONTEXT = 160
_BLANK_LINES = re.compile(r"\n\s*\n")


@dataclass
class Example:
    """One coded item shown under its code: justification and evidence in context."""

    item_id: str
    title: str
    status: str
    confidence: float | None
    justification: str
    segments: list[tuple[str, bool]]  # (text, is_evidence)
    unverified: list[str] = field(default_factory=list)


def examples_by_code(
    records: dict[str, CodingRecord],
    items: dict[str, Item],
    order: list[str],
    per_code: int,
    kind: str = "stated",
) -> dict[str, list[Example]]:
    """Up to ``per_code`` items per code: verified first, then by confidence."""
    out: dict[str, list[Example]] = {code: [] for code in order}
    ranked = sorted(
        records.values(),
        key=lambda r: (r.status != "ok", -(max_confidence(r, kind) or 0.0), r.item_id),
    )
    for record in ranked:
        item = items.get(record.item_id)
        for assignment in record.codes:
            shown = out.setdefault(assignment.code, [])
            if item is None or len(shown) >= per_code:
                continue
            spans = [
                (s.start, s.end)
                for s in assignment.evidence
                if s.verified and s.start is not None and s.end is not None
            ]
            shown.append(
                Example(
                    item_id=record.item_id,
                    title=item_title(item),
                    status=record.status,
                    confidence=confidence_of(record, assignment.code, kind),
                    justification=assignment.justification,
                    segments=highlight(item.text, spans),
                    unverified=[s.quote for s in assignment.evidence if not s.verified],
                )
            )
    return out


def highlight(
    text: str, spans: list[tuple[int, int]], context: int = SNIPPET_CONTEXT
) -> list[tuple[str, bool]]:
    """The text around evidence spans as (text, is_evidence) segments, elided with '…'."""
    spans = sorted((max(0, s), min(len(text), e)) for s, e in spans if e > s)
    if not spans:
        head = text[: 2 * context]
        return [(head + ("…" if len(text) > len(head) else ""), False)]
    segments: list[tuple[str, bool]] = []
    cursor = 0
    for start, end in spans:
        start = max(start, cursor)
        if end <= start:
            continue
        gap = _BLANK_LINES.sub("\n", text[cursor:start])
        if cursor == 0 and len(gap) > context:
            gap = "…" + gap[-context:]
        elif len(gap) > 2 * context:
            gap = gap[:context] + " … " + gap[-context:]
        segments += [(gap, False), (text[start:end], True)]
        cursor = end
    tail = _BLANK_LINES.sub("\n", text[cursor:])
    segments.append((tail[:context] + ("…" if len(tail) > context else ""), False))
    return [s for s in segments if s[0]]


def item_title(item: Item | None) -> str:
    """The item's title (its ``title`` metadata, else its first line), at most 100 characters."""
    if item is None:
        return ""
    title = item.metadata.get("title") or item.text.split("\n", 1)[0]
    return title if len(title) <= 100 else title[:99] + "…"


def max_confidence(record: CodingRecord, kind: str = "stated") -> float | None:
    """The highest confidence of ``kind`` among the record's codes (None when none has one)."""
    values = [v for c in record.codes if (v := confidence_of(record, c.code, kind)) is not None]
    return max(values) if values else None
