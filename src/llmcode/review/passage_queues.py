"""What a passage review goes through: the documents of a segment run, their passages, queues.

A `PassageDocument` is one document with the model's passages (``m<k>``, from its latest
record's ``segments``); a `Passage` is one as a reviewer sees it (the model's with their verdict
applied, or one they added). A passage queue orders the passages of every document: ``all``
(document order, then by offset), ``low-confidence`` (least confident first), ``unverified``
(passages not found in the text), ``disagreement`` (passages a human coder's passages do not
match: no passage of the same code at IoU >= 0.5; needs ``--human`` codes with ``start, end``)
and ``uncertain`` (1 - confidence, plus 1 for a passage not in the text, plus 1 where a human
coder does not match it; most uncertain first). `missed_passages` are a document's human
passages that no passage as it stands matches (the reviewer steps to them and may adopt them).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path

from llmcode.codes import load_codes
from llmcode.errors import CodesError, ConfigError, RunStoreError
from llmcode.store.passage_ledger import PassageKey, model_passage_id
from llmcode.store.runs import Run

PASSAGE_QUEUES = ("all", "low-confidence", "unverified", "disagreement", "uncertain")
MATCH_IOU = 0.5
HumanPassage = tuple[int, int, str]  # start, end, code
HumanPassages = dict[str, dict[str, list[HumanPassage]]]  # item_id -> coder -> passages


@dataclass(frozen=True)
class ModelPassage:
    """One of the model's passages: offsets (None when not found in the text), codes, why."""

    key: PassageKey
    start: int | None
    end: int | None
    codes: tuple[str, ...]
    quote: str
    justification: str
    confidence: float | None
    verified: bool


@dataclass
class PassageDocument:
    """A document under review: its text, the model's passages and the human coders'."""

    item_id: str
    text: str
    status: str
    passages: list[ModelPassage] = field(default_factory=list)
    human: dict[str, list[HumanPassage]] = field(default_factory=dict)


@dataclass(frozen=True)
class Passage:
    """A passage as the reviewer sees it now: the model's (``model``; None for one the reviewer
    added) with the reviewer's verdict in effect (``action``; None while undecided)."""

    key: PassageKey
    start: int | None
    end: int | None
    codes: tuple[str, ...]
    action: str | None
    model: ModelPassage | None

    @property
    def item_id(self) -> str:
        return self.key[0]

    @property
    def kept(self) -> bool:
        """Shown as coded: not rejected, with offsets and codes."""
        return self.action != "reject" and self.start is not None and bool(self.codes)


@dataclass(frozen=True)
class PassageProgress:
    """How far a reviewer is through the current queue of passages."""

    reviewed: int
    total: int
    accepted: int
    rejected: int
    changed: int
    added: int


def load_documents(run: Run, human: HumanPassages | None = None) -> list[PassageDocument]:
    """The run's documents in input order, each with the model's passages and human ones."""
    human = human or {}
    records = run.counted_codings()
    out = []
    for item in run.items():
        record = records.get(item.item_id)
        document = PassageDocument(item.item_id, item.text, record.status if record else "pending")
        document.human = human.get(item.item_id, {})
        for index, segment in enumerate(record.segments if record else []):
            values = [c.confidence for c in segment.codes if c.confidence is not None]
            document.passages.append(
                ModelPassage(
                    key=(item.item_id, model_passage_id(index)),
                    start=segment.start,
                    end=segment.end,
                    codes=tuple(c.code for c in segment.codes),
                    quote=segment.quote,
                    justification=next((c.justification for c in segment.codes), ""),
                    confidence=min(values) if values else None,
                    verified=segment.verified and segment.start is not None,
                )
            )
        out.append(document)
    if not out:
        raise RunStoreError(f"{run.path}: the run has no documents to review")
    return out


def build_passage_queue(name: str, documents: list[PassageDocument]) -> list[ModelPassage]:
    """The model's passages of queue ``name``, in review order."""
    passages = [p for d in documents for p in sorted(d.passages, key=_position)]
    if name == "all":
        return passages
    if name == "low-confidence":
        return sorted(passages, key=lambda p: -1.0 if p.confidence is None else p.confidence)
    if name == "unverified":
        return [p for p in passages if not p.verified]
    if name == "disagreement":
        by_id = {d.item_id: d for d in documents}
        if not any(d.human for d in documents):
            raise ConfigError(
                "the disagreement queue needs a human coder's passages",
                hint="give --human CODES with start and end columns",
            )
        return sorted(passages, key=lambda p: not disagrees(p, by_id[p.key[0]].human))
    if name == "uncertain":
        human = {d.item_id: d.human for d in documents}

        def score(p: ModelPassage) -> float:
            doubt = 1.0 if p.confidence is None else 1.0 - p.confidence
            return doubt + (not p.verified) + disagrees(p, human[p.key[0]])

        return sorted(passages, key=lambda p: -score(p))
    raise ConfigError(
        f"queue '{name}' does not apply to passages",
        hint=f"passage queues: {', '.join(PASSAGE_QUEUES)}",
    )


def disagrees(passage: ModelPassage, human: dict[str, list[HumanPassage]]) -> bool:
    """Some human coder has, for some code of the passage, no passage at IoU >= 0.5."""
    return any(
        best_match(passage, code, coded)[1] < MATCH_IOU
        for coded in human.values()
        for code in passage.codes
    )


def best_match(
    passage: ModelPassage, code: str, coded: list[HumanPassage]
) -> tuple[HumanPassage | None, float]:
    """The human passage of ``code`` that overlaps ``passage`` most, and its IoU."""
    best: tuple[HumanPassage | None, float] = (None, 0.0)
    if passage.start is None or passage.end is None:
        return best
    for span in coded:
        if span[2] != code:
            continue
        inter = min(passage.end, span[1]) - max(passage.start, span[0])
        if inter <= 0:
            continue
        union = max(passage.end, span[1]) - min(passage.start, span[0])
        if inter / union > best[1]:
            best = (span, inter / union)
    return best


@dataclass(frozen=True)
class HumanSpan:
    """One human coder's passage of a document: its offsets, every code they gave it, and
    those (``missed``) no passage matches."""

    item_id: str
    coder: str
    start: int
    end: int
    codes: tuple[str, ...]
    missed: tuple[str, ...] = ()


def missed_passages(document: PassageDocument, passages: list[Passage]) -> list[HumanSpan]:
    """The human coders' passages of ``document`` (one per coder and span, with all its codes)
    with a code that no passage of ``passages`` (as they stand: kept ones only) has at
    IoU >= 0.5 (``missed``), by offset."""
    by_code: dict[str, list[tuple[int, int]]] = {}
    for passage in passages:
        if passage.kept and passage.start is not None and passage.end is not None:
            for code in passage.codes:
                by_code.setdefault(code, []).append((passage.start, passage.end))
    index = {code: _SpanIndex(spans) for code, spans in by_code.items()}
    empty = _SpanIndex([])
    spans: dict[tuple[str, int, int], list[str]] = {}
    for coder, coded in document.human.items():
        for start, end, code in coded:
            spans.setdefault((coder, start, end), []).append(code)
    out = []
    for (coder, start, end), given in spans.items():
        codes = tuple(dict.fromkeys(given))
        missed = tuple(c for c in codes if index.get(c, empty).best_iou(start, end) < MATCH_IOU)
        if missed:
            out.append(HumanSpan(document.item_id, coder, start, end, codes, missed))
    return sorted(out, key=lambda h: (h.start, h.end, h.coder))


class _SpanIndex:
    """Spans sorted by start, with the longest span's length: the spans that can overlap
    ``[start, end)`` start in ``[start - longest, end)`` (two binary searches)."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        self.spans = sorted(spans)
        self.starts = [s for s, _ in self.spans]
        self.longest = max((e - s for s, e in self.spans), default=0)

    def best_iou(self, start: int, end: int) -> float:
        best = 0.0
        first = bisect_left(self.starts, start - self.longest)
        for other_start, other_end in self.spans[first : bisect_left(self.starts, end)]:
            inter = min(end, other_end) - max(start, other_start)
            if inter > 0:
                best = max(best, inter / (max(end, other_end) - min(start, other_start)))
        return best


def load_human_passages(path: str | Path, texts: dict[str, str]) -> HumanPassages:
    """Human coders' passages from a codes file with ``start, end`` (offsets checked)."""
    frame = load_codes(path, texts=texts)
    if "start" not in frame.columns:
        raise CodesError(
            f"{path}: no start and end columns: these are not passages",
            hint="passage review compares passages: give codes with start, end",
        )
    out: HumanPassages = {}
    for row in frame.itertuples(index=False):
        item_id, coder = str(row.item_id), str(row.coder)
        per_coder = out.setdefault(item_id, {}).setdefault(coder, [])
        if row.code and not _missing(row.start):
            per_coder.append((int(row.start), int(row.end), str(row.code)))
    return out


def _missing(value: object) -> bool:
    return value is None or value != value or str(value) in ("", "<NA>")


def _position(passage: ModelPassage) -> tuple[int, int]:
    return (
        passage.start if passage.start is not None else 1 << 62,
        passage.end if passage.end is not None else 1 << 62,
    )
