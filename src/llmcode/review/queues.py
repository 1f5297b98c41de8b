"""What a review goes through: the items of a run with their codings, and the queues over them.

A queue is a named function that orders and filters a run's ``ReviewItem`` list. The registry
``QUEUES`` holds ``all``, ``low-confidence``, ``disagreement``, ``unverified``, ``errors``,
``audit``, ``uncertain`` and ``disputed``; add one with ``@register_queue("name")``. Human codes
(``--human``) are read from a long-format file (item_id, coder, code) and shown beside the
model's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from llmcode.errors import CodesError, ConfigError, RunStoreError
from llmcode.items import read_table
from llmcode.llm.checks import REJECTED
from llmcode.store.jsonl import read_jsonl
from llmcode.store.models import CodingRecord
from llmcode.store.runs import CODINGS, ITEMS, Run
from llmcode.taxonomy.model import NONE_CODE

AUDIT = "audit.json"
HumanCodes = dict[str, dict[str, list[str]]]  # item_id -> coder -> codes


class ReviewItem:
    """One item under review: its text, the model's coding (if any) and human codes.

    The coding record is kept as read from ``codings.jsonl`` and validated only when shown, so
    opening a 50,000-item run does not validate 50,000 records.
    """

    __slots__ = ("_raw", "_record", "human", "item_id", "metadata", "source", "text")

    def __init__(
        self,
        item_id: str,
        text: str,
        metadata: dict[str, str],
        raw: dict[str, Any] | None,
        human: dict[str, list[str]] | None = None,
        source: str = CODINGS,
    ) -> None:
        self.item_id, self.text, self.metadata = item_id, text, metadata
        self.human = human or {}
        self.source = source
        self._raw = raw
        self._record: CodingRecord | None = None

    @property
    def record(self) -> CodingRecord | None:
        """The validated coding record (None when the item is not coded yet)."""
        if self._record is None and self._raw is not None:
            try:
                self._record = CodingRecord.model_validate(self._raw)
            except ValidationError as exc:
                raise RunStoreError(
                    f"{self.source}: the record of item {self.item_id} is invalid "
                    f"({exc.errors()[0]['msg']})"
                ) from exc
        return self._record

    @property
    def status(self) -> str:
        """The coding status: ok, unverified, invalid, error, skipped, or pending (not coded)."""
        return str(self._raw.get("status", "pending")) if self._raw else "pending"

    @property
    def codes(self) -> list[str]:
        """The model's suggested codes."""
        return [str(c.get("code")) for c in self._codes()]

    @property
    def confidence(self) -> float | None:
        """The lowest confidence among the suggested codes."""
        values = [c["confidence"] for c in self._codes() if c.get("confidence") is not None]
        return float(min(values)) if values else None

    def confidence_as(self, kind: str) -> float | None:
        """The lowest confidence of the given kind (``logprob``: token probability; else the
        record's own number: the vote share with samples, the stated one without)."""
        if kind != "logprob":
            return self.confidence
        given = (self._raw or {}).get("probabilities") or {}
        values = [float(given[code]) for code in self.codes if code in given]
        return min(values) if values else None

    @property
    def has_probabilities(self) -> bool:
        return bool((self._raw or {}).get("probabilities"))

    @property
    def unverified(self) -> bool:
        """Flagged by coding, or some evidence quote was not found in the text."""
        if self.status == "unverified":
            return True
        return any(
            c.get("code") != NONE_CODE
            and not (c.get("evidence") and all(s.get("verified") for s in c["evidence"]))
            for c in self._codes()
        )

    @property
    def disputed(self) -> bool:
        """A second look (``--verify``) rejected one of the model's codes (kept and flagged,
        dropped or replaced)."""
        checks = (self._raw.get("checks") or []) if self._raw else []
        return any(c.get("disputed") for c in self._codes()) or any(
            check.get("outcome") in REJECTED for check in checks
        )

    @property
    def disagrees(self) -> bool:
        """A human coder's codes differ from the model's, or the model's samples disagree."""
        model = set(self.codes)
        if any(set(codes) != model for codes in self.human.values()):
            return True
        samples = self._raw.get("samples", []) if self._raw else []
        return len({tuple(sorted(s.get("codes", []))) for s in samples}) > 1

    @property
    def humans_disagree(self) -> bool:
        """Two human coders gave this item different codes."""
        sets = {frozenset(codes) for codes in self.human.values()}
        return len(sets) > 1

    def _codes(self) -> list[dict[str, Any]]:
        return (self._raw.get("codes") or []) if self._raw else []


QueueFunction = Callable[[list[ReviewItem], Run], list[ReviewItem]]
QUEUES: dict[str, QueueFunction] = {}


def register_queue(name: str) -> Callable[[QueueFunction], QueueFunction]:
    """Decorator: make ``function(items, run) -> items`` available as queue ``name``."""

    def register(function: QueueFunction) -> QueueFunction:
        QUEUES[name] = function
        return function

    return register


def build_queue(name: str, items: list[ReviewItem], run: Run) -> list[ReviewItem]:
    """The items of queue ``name``, in review order."""
    if name not in QUEUES:
        raise ConfigError(f"unknown queue '{name}'", hint=f"use one of: {', '.join(QUEUES)}")
    return QUEUES[name](items, run)


@register_queue("all")
def all_items(items: list[ReviewItem], run: Run) -> list[ReviewItem]:
    """Every item, in input order."""
    return list(items)


@register_queue("low-confidence")
def low_confidence(items: list[ReviewItem], run: Run) -> list[ReviewItem]:
    """Every item, least confident first (items without a confidence lead)."""
    return sorted(items, key=lambda i: -1.0 if i.confidence is None else i.confidence)


@register_queue("disagreement")
def disagreement(items: list[ReviewItem], run: Run) -> list[ReviewItem]:
    """Every item, human–human disagreements first, then the model's.

    Items whose human coders disagree among themselves come first, then those where a human
    disagrees with the model (or the model's samples disagree)."""
    has_human = any(i.human for i in items)
    has_samples = any(i.record is not None and len(i.record.samples) > 1 for i in items)
    if not (has_human or has_samples):
        raise ConfigError(
            "the disagreement queue needs something to disagree with",
            hint="give human codes, or code the run with samples 3",
        )
    return sorted(items, key=lambda i: (not i.humans_disagree, not i.disagrees))


@register_queue("unverified")
def unverified(items: list[ReviewItem], run: Run) -> list[ReviewItem]:
    """Items with evidence not found verbatim in the text."""
    return [i for i in items if i.unverified]


@register_queue("errors")
def errors(items: list[ReviewItem], run: Run) -> list[ReviewItem]:
    """Items whose coding failed or has not run yet."""
    return [i for i in items if i.status in ("error", "invalid", "pending")]


@register_queue("audit")
def audit(items: list[ReviewItem], run: Run) -> list[ReviewItem]:
    """Items listed by `llmcode audit` (runs/<id>/audit.json), in rank order.

    The file holds ``{"items": [{"item_id": ...}, ...]}``; an entry's ``coder`` and
    ``human_code`` are shown as human codes when none were given with ``--human``.
    """
    path = run.path / AUDIT
    try:
        entries = json.loads(path.read_text("utf-8"))["items"]
        listed = [(str(entry["item_id"]), entry) for entry in entries]
    except FileNotFoundError:
        raise RunStoreError(f"{path}: no audit list", hint="run `llmcode audit` first") from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise RunStoreError(
            f'{path}: not an audit list ({{"items": [{{"item_id": ...}}]}})'
        ) from exc
    by_id = {i.item_id: i for i in items}
    missing = [item_id for item_id, _ in listed if item_id not in by_id]
    if missing:
        raise RunStoreError(f"{path}: item(s) not in the run: {', '.join(missing[:10])}")
    out: dict[str, ReviewItem] = {}
    for item_id, entry in listed:
        item = out.get(item_id, by_id[item_id])
        if "coder" in entry and "human_code" in entry and not by_id[item_id].human:
            human = item.human | {str(entry["coder"]): [str(entry["human_code"])]}
            item = ReviewItem(item.item_id, item.text, item.metadata, item._raw, human, item.source)
        out[item_id] = item
    return list(out.values())


@register_queue("uncertain")
def uncertain(items: list[ReviewItem], run: Run) -> list[ReviewItem]:
    """Every item, most uncertain first: a disputed code, samples or models that disagree, and
    low confidence each add to the uncertainty (1 - confidence; 1 without one)."""

    def score(item: ReviewItem) -> float:
        confidence = item.confidence
        samples = item._raw.get("samples", []) if item._raw else []
        split = len({tuple(sorted(s.get("codes", []))) for s in samples}) > 1
        return (1.0 if confidence is None else 1.0 - confidence) + item.disputed + split

    return sorted(items, key=lambda i: -score(i))


@register_queue("disputed")
def disputed(items: list[ReviewItem], run: Run) -> list[ReviewItem]:
    """Items whose code a second look (``--verify``) disputed, dropped or replaced."""
    if run.manifest().config.guidance.verify == "off":
        raise ConfigError(
            f"run {run.run_id} was coded without a second look: nothing is disputed",
            hint="code with --verify flag (or drop) to have each code checked",
        )
    return [i for i in items if i.disputed]


def load_review_items(run: Run, human: HumanCodes | None = None) -> list[ReviewItem]:
    """The run's items in input order, each with its latest coding record and human codes."""
    human = human or {}
    source = str(run.path / CODINGS)
    try:
        records = {row["item_id"]: row for row in read_rows(run.path / CODINGS)}
        return [
            ReviewItem(
                row["item_id"],
                row["text"],
                row.get("metadata") or {},
                records.get(row["item_id"]),
                human.get(row["item_id"]),
                source,
            )
            for row in read_rows(run.path / ITEMS)
        ]
    except (KeyError, TypeError) as exc:
        raise RunStoreError(f"{run.path}: a record without item_id or text ({exc})") from exc


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSONL file, parsed in one go (falls back to ``read_jsonl`` line by line,
    which skips a torn last line and names a bad one)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    try:
        rows = json.loads("[" + ",".join(line for line in text.split("\n") if line.strip()) + "]")
    except json.JSONDecodeError:
        rows = read_jsonl(path)
    return rows if isinstance(rows, list) else []


def load_human_codes(path: str | Path) -> HumanCodes:
    """Human codes from a long-format file (item_id, coder, code), by item and coder."""
    frame = read_table(path, error=CodesError)
    missing = [c for c in ("item_id", "coder", "code") if c not in frame.columns]
    if missing:
        raise CodesError(
            f"{path}: no column {', '.join(repr(c) for c in missing)}; "
            f"columns are: {', '.join(frame.columns)}",
            hint="human codes are long format: one row per item_id, coder, code",
        )
    out: HumanCodes = {}
    for number, (item_id, coder, code) in enumerate(
        frame[["item_id", "coder", "code"]].itertuples(index=False), start=2
    ):
        if not item_id.strip() or not coder.strip():
            raise CodesError(f"{path}: row {number}: empty item_id or coder")
        codes = out.setdefault(item_id.strip(), {}).setdefault(coder.strip(), [])
        if code.strip() and code.strip() not in codes:
            codes.append(code.strip())
    return out
