"""A run's codes in long format as a stream of rows: what ``llmcode export`` writes of a run
coded item by item, a chunk of rows at a time, so a run of a million items is exported in flat
memory and without validating every record.

The rows are those of `llmcode.store.runs.load_run_codes` with the confidence of
`llmcode.quality.confidence.with_confidence` (the same columns, order and values): one row per
code of each counted item's latest record (`Run.iter_counted`: a code outside the run's
taxonomy dropped, its record ``invalid``), in the order items first appear in ``codings.jsonl``.
Each latest record is read with ``json.loads`` (the facts a row needs; field defaults as the
record model's), in two passes over the file: each item's latest line, then those lines.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llmcode.csvfiles import FORMULA_STARTS, guard_cell
from llmcode.store import scan
from llmcode.store.runs import CODINGS, Run

KIND_NAMES = {"vote": "vote share", "logprob": "log-probability", "stated": "stated"}
"""What each kind of confidence is called wherever one is shown (report, review, export,
calibrate; `llmcode.quality.confidence` says which kind a run's numbers are)."""
CHUNK = 50_000
"""Rows per chunk."""


@dataclass
class CodeRows:
    """A run's code rows, streamed by `chunks`, and what was seen of them once streamed."""

    run: Run
    columns: list[str]
    rows: int = 0
    items: int = 0
    """How many items have rows."""
    rowless: dict[str, str] = field(default_factory=dict)
    """The run's items whose latest record gives no row, with its status as written."""
    unseen: set[str] = field(default_factory=set)
    """The run's items without a record."""

    def chunks(self, size: int = CHUNK, guard: bool = False) -> Iterator[list[tuple[Any, ...]]]:
        """Lists of at most ``size`` rows (tuples in the order of ``columns``), in order; with
        ``guard``, text cells formula-safe as `llmcode.csvfiles.guard_cell` makes them."""
        chunk: list[tuple[Any, ...]] = []
        for rows in _ranked_rows(self, "disputed" in self.columns, guard):
            self.rows += len(rows)
            chunk.extend(rows)
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def missing(self) -> dict[str, int]:
        """Once streamed: the run's items without rows, counted by status ("not coded" if no
        record), as `llmcode.store.export.uncoded_items` counts them."""
        counts: Counter[str] = Counter()
        if not self.rowless and not self.unseen:
            return {}
        for item_id in self.run.item_ids():
            if item_id in self.rowless:
                counts[self.rowless[item_id]] += 1
            elif item_id in self.unseen:
                counts["not coded"] += 1
        return dict(counts.most_common())


def code_rows(run: Run) -> CodeRows:
    """The code rows of a run coded item by item (not in passages: `load_run_codes`)."""
    verified = run.manifest().config.guidance.verify != "off"
    columns = ["item_id", "coder", "code", "justification", "evidence", "confidence", "status"]
    return CodeRows(run, [*columns, *(["disputed"] if verified else []), "confidence_kind"])


def _latest(run: Run) -> tuple[np.ndarray, int]:
    """The rank (the order items first appear in) of each item's latest line, by line number
    (-1: not a latest line), and how many items there are."""
    numbers = scan.latest_numbers(run.path / CODINGS)
    ranks = np.full(int(numbers.max(initial=0)) + 1, -1, dtype=np.int64)
    ranks[numbers] = np.arange(len(numbers))
    return ranks, len(numbers)


def _unplain_records(
    rows: CodeRows, ranks: np.ndarray, own: set[str] | None
) -> Iterator[dict[str, Any]]:
    """The counted latest records (`Run.iter_counted`: of the run's own items, ``own``, and
    skipped ones) that may hold samples or token probabilities."""
    path = rows.run.path / CODINGS
    for _, record in scan.iter_json(path, ranks >= 0, unplain=True):
        if own is None or record["item_id"] in own or record["status"] == "skipped":
            yield record


def _kind(rows: CodeRows, ranks: np.ndarray, own: set[str] | None) -> str:
    """The confidence every row gets (`confidence.default_kind` of the counted records), from
    the records written with samples or token probabilities (the others have neither)."""
    several = probabilities = False
    for record in _unplain_records(rows, ranks, own):
        several = several or len(record.get("samples", [])) > 1
        probabilities = probabilities or bool(record.get("probabilities"))
    return "vote" if several else "logprob" if probabilities else "stated"


def _ranked_rows(rows: CodeRows, verified: bool, guard: bool) -> Iterator[list[tuple[Any, ...]]]:
    """Each item's rows (possibly none), in rank order: a record read before one of a lower
    rank (an item coded again after later ones) waits until that one is read. The items of
    the run never met are left in ``rows.unseen``."""
    run = rows.run
    ranks, _ = _latest(run)
    own = run.own_ids()
    kind = _kind(rows, ranks, own)
    cell = _safe if guard else _same
    coder, known, name = cell(run.manifest().coder), run.code_ids(), cell(KIND_NAMES[kind])
    waiting: dict[int, list[tuple[Any, ...]]] = {}
    ready = 0
    for number, record in scan.iter_json(run.path / CODINGS, ranks >= 0):
        item_id = record["item_id"]
        counted = own is None or item_id in own or record["status"] == "skipped"
        if own is not None:
            own.discard(item_id)  # every item has one latest record
        made = _rows(record, coder, known, kind, name, verified, cell) if counted else []
        if made:
            rows.items += 1
        elif counted:
            rows.rowless[item_id] = record["status"]
        rank = int(ranks[number])
        if rank != ready:
            waiting[rank] = made
            continue
        yield made
        ready += 1
        while ready in waiting:
            yield waiting.pop(ready)
            ready += 1
    yield from (waiting[rank] for rank in sorted(waiting))  # none, unless the file changed
    rows.unseen = own or set()


_STARTS = frozenset((*FORMULA_STARTS, "'"))


def _safe(text: str) -> str:
    """`guard_cell` of a text cell, called only when it may change it."""
    return guard_cell(text) if text and text[0] in _STARTS else text


def _same(text: str) -> str:
    return text


def _rows(
    record: dict[str, Any],
    coder: str,
    known: set[str] | None,
    kind: str,
    name: str,
    verified: bool,
    cell: Callable[[str], str],
) -> list[tuple[Any, ...]]:
    """A record's rows: one per code (`Run.counted` first: codes outside ``known`` dropped),
    each text through ``cell``."""
    codes = record.get("codes", [])
    status = record["status"]
    if known is not None and any(c["code"] not in known for c in codes):
        codes, status = [c for c in codes if c["code"] in known], "invalid"
    if not codes:
        return []
    item_id, status = cell(record["item_id"]), cell(status)
    checks = record.get("checks")
    disputed = {c["code"] for c in checks if c.get("outcome") == "disputed"} if checks else ()
    stale = kind == "stated" and len(record.get("samples", ())) > 1
    probabilities = record.get("probabilities", {})
    out: list[tuple[Any, ...]] = []
    for code in codes:
        if kind == "logprob":
            confidence = probabilities.get(code["code"])
        elif stale:
            confidence = None  # the stated numbers were replaced by vote shares
        elif len(codes) == 1:
            confidence = code.get("confidence")
        else:  # a code given twice: its first confidence
            confidence = next(c for c in codes if c["code"] == code["code"]).get("confidence")
        if confidence is not None:
            confidence = float(confidence)
            if confidence != confidence:
                confidence = None  # NaN: an empty cell, as pandas writes it
        evidence = cell(" | ".join(span["quote"] for span in code.get("evidence", ())))
        row = (item_id, coder, cell(code["code"]), cell(code.get("justification", "")), evidence)
        if verified:
            out.append((*row, confidence, status, code["code"] in disputed, name))
        else:
            out.append((*row, confidence, status, name))
    return out
