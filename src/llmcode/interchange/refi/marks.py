"""What a run and a codes file put into a REFI-QDA project: each coder's passages and notes.

Three readings, all giving `Passage`s (`llmcode.interchange.refi.selections`):

- ``segment_passages``: a run coded in passages (``unit`` segment) gives each verified passage
  as it is stored, ``[start, end)`` and its codes, under the model's name, with a note holding
  each code's justification and confidence and the evidence check (the passage is a verbatim
  quote found at those offsets). A passage not found in the text has no offsets: it is listed
  in a note on its source, never silently dropped.
- ``item_passages``: a run coded whole gives, for each code, its verified evidence spans (or
  the whole text, when none was verified) and a note on the code with its rationale.
- ``table_passages``: long-format codes (human coders, reviewed codes) give a passage per row:
  its ``start, end`` when the row has them, else its evidence quotes located in the text, else
  the whole text.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from llmcode.errors import InterchangeError
from llmcode.interchange.refi.selections import Passage
from llmcode.llm.evidence import locate
from llmcode.store.models import CodingRecord
from llmcode.taxonomy.model import NONE_CODE, Taxonomy

_NOTE_COLUMNS = ("action", "decided_by", "adopted_from", "suggested", "memo", "justification")
"""Columns of a codes table whose values a passage's note repeats (review provenance)."""


@dataclass
class Unplaced:
    """A passage the model quoted that is not in the text (no offsets): noted on its source."""

    item_id: str
    coder: str
    text: str


def segment_passages(
    records: dict[str, CodingRecord], texts: dict[str, str], taxonomy: Taxonomy, model: str
) -> tuple[list[Passage], list[Unplaced]]:
    """The passages of a segment run (see the module docstring)."""
    passages: list[Passage] = []
    unplaced: list[Unplaced] = []
    for record in records.values():
        text = texts.get(record.item_id)
        if text is None or record.status not in ("ok", "unverified"):
            continue
        lost: list[str] = []
        for segment in record.segments:
            codes = [c for c in segment.codes if taxonomy.get(c.code) is not None]
            if not codes:
                continue
            if not segment.verified or segment.start is None or segment.end is None:
                names = ", ".join(c.code for c in codes)
                lost.append(f'- "{segment.quote}" ({names})')
                continue
            lines = [
                f"coder: {model} (model)",
                "evidence check: verified (the passage is a verbatim quote of the text)",
                f"status: {record.status}",
            ]
            for code in codes:
                confidence = (
                    f", confidence {code.confidence:.2f}" if code.confidence is not None else ""
                )
                lines.append(f"code: {code.code}{confidence}")
                if code.justification:
                    lines.append(f"justification: {code.justification}")
            passages.append(
                Passage(
                    record.item_id,
                    model,
                    segment.start,
                    segment.end,
                    [c.code for c in codes],
                    note="\n".join(lines),
                    when=record.finished_at,
                )
            )
        if lost:
            body = "\n".join(
                [f"coder: {model} (model)", "passages not found in the text (no offsets):", *lost]
            )
            unplaced.append(Unplaced(record.item_id, model, body))
    return passages, unplaced


def item_passages(
    records: dict[str, CodingRecord], texts: dict[str, str], taxonomy: Taxonomy, model: str
) -> list[Passage]:
    """The model's codes of whole items: verified spans (or the whole text) and a rationale."""
    out = []
    for record in records.values():
        text = texts.get(record.item_id)
        if text is None:
            continue
        for assignment in record.codes:
            if assignment.code == NONE_CODE or taxonomy.get(assignment.code) is None:
                continue
            spans = [
                (s.start, s.end)
                for s in assignment.evidence
                if s.verified and s.start is not None and s.end is not None and s.end > s.start
            ]
            lines = [
                f"coder: {model} (model)",
                f"code: {assignment.code}",
                f"status: {record.status}",
            ]
            if assignment.confidence is not None:
                lines.append(f"confidence: {assignment.confidence:.2f}")
            if assignment.justification:
                lines.append(f"justification: {assignment.justification}")
            for span in assignment.evidence:
                where = f"[{span.start}, {span.end})" if span.verified else "not found in the text"
                lines.append(f'evidence: "{span.quote}" {where}')
            if not spans:
                lines.append("no verified evidence span: coded on the whole text")
            note = {assignment.code: "\n".join(lines)}
            for start, end in dict.fromkeys(spans or [(0, len(text))]):
                out.append(
                    Passage(
                        record.item_id,
                        model,
                        start,
                        end,
                        [assignment.code],
                        code_notes=note,
                        when=record.finished_at,
                    )
                )
    return out


def table_passages(
    frame: pd.DataFrame, texts: dict[str, str], taxonomy: Taxonomy, source: str
) -> tuple[list[Passage], int]:
    """Passages of long-format codes (see the module docstring) and how many rows name items
    not in ``texts`` (left out)."""
    missing = [c for c in ("item_id", "coder", "code") if c not in frame.columns]
    if missing:
        raise InterchangeError(f"{source}: no column {', '.join(missing)}")
    out, skipped = [], 0
    for number, row in enumerate(frame.to_dict("records"), start=2):
        code = row["code"]
        if not isinstance(code, str) or not code.strip() or code.strip() == NONE_CODE:
            memo = _memo_only(row, texts, source, number)
            if memo is not None:
                out.append(memo)
            continue
        item_id, coder, code = str(row["item_id"]), str(row["coder"]), code.strip()
        if taxonomy.get(code) is None:
            raise InterchangeError(
                f"{source}: row {number} (item {item_id}, coder {coder}): code '{code}' is not "
                f"in taxonomy {taxonomy.name} {taxonomy.version}",
                hint="use the category ids of the run's taxonomy",
            )
        text = texts.get(item_id)
        if text is None:
            skipped += 1
            continue
        where = f"{source}: row {number} (item {item_id}, coder {coder})"
        spans, offsets = _row_spans(row, text, where)
        lines = [f"coder: {coder}", f"code: {code}"]
        for column in _NOTE_COLUMNS:
            value = row.get(column)
            if isinstance(value, str) and value.strip():
                lines.append(f"{column.replace('_', ' ')}: {value.strip()}")
        model_start, model_end = row.get("model_start"), row.get("model_end")
        if offsets and not (_missing(model_start) or _missing(model_end)):
            lines.append(f"model's passage: [{model_start}, {model_end})")
        note = "\n".join(lines) if len(lines) > 2 else ""
        for start, end in dict.fromkeys(spans or [(0, len(text))]):
            if offsets:  # a passage of its own: the note is the passage's
                out.append(Passage(item_id, coder, start, end, [code], note=note))
            else:  # a code of the item: one note on the code
                notes = {code: note} if note else {}
                out.append(Passage(item_id, coder, start, end, [code], code_notes=notes))
    return out, skipped


def _memo_only(row: dict, texts: dict[str, str], source: str, number: int) -> Passage | None:
    """A row with a memo but no code (a reviewer's memo on a passage they rejected or did not
    decide): a selection on the passage (its own offsets, else the model's) with the memo as its
    note and no coding."""
    memo = row.get("memo")
    text = texts.get(str(row["item_id"]))
    if not isinstance(memo, str) or not memo.strip() or text is None:
        return None
    if _missing(row.get("start")) or _missing(row.get("end")):
        row = row | {"start": row.get("model_start"), "end": row.get("model_end")}
    item_id, coder = str(row["item_id"]), str(row["coder"])
    spans, offsets = _row_spans(
        row, text, f"{source}: row {number} (item {item_id}, coder {coder})"
    )
    if not offsets:
        return None
    ((start, end),) = spans
    action = row.get("action")
    said = f"action: {action}\n" if isinstance(action, str) and action not in ("", "memo") else ""
    return Passage(
        item_id, coder, start, end, [], note=f"coder: {coder}\n{said}memo: {memo.strip()}"
    )


def _missing(value: object) -> bool:
    return value is None or bool(pd.isna(value))  # type: ignore[call-overload]


def _row_spans(row: dict, text: str, where: str) -> tuple[list[tuple[int, int]], bool]:
    """A row's offsets (``start, end``; True), else its evidence quotes found in the text."""
    start, end = row.get("start"), row.get("end")
    if start is not None and end is not None and not (pd.isna(start) or pd.isna(end)):
        start, end = int(start), int(end)
        if not 0 <= start < end <= len(text):
            raise InterchangeError(
                f"{where}: passage [{start}, {end}) is not inside the item's text "
                f"({len(text)} characters)",
                hint="offsets count characters of the item's text, end exclusive",
            )
        return [(start, end)], True
    spans = []
    for quote in str(row.get("evidence") or "").split(" | "):
        span = locate(quote, text) if quote.strip() else None
        if span is None or not span.verified or span.start is None or span.end is None:
            continue
        if span.end > span.start:
            spans.append((span.start, span.end))
    return spans, False
