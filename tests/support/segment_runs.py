"""Segment runs without a model, for the REFI round-trip tests: texts made of awkward pieces
(emoji, ZWJ sequences, combining accents, CRLF, lone CR, U+FEFF) and passages written straight
into a finished run's records."""

from __future__ import annotations

from pathlib import Path

from llmcode.coding.lifecycle import finish_run, start_run
from llmcode.items import Item, ItemSet
from llmcode.llm.answers import CodeAssignment
from llmcode.llm.backends.fake import FakeBackend
from llmcode.llm.passages import Segment, SegmentCode
from llmcode.llm.prompts import load_prompts
from llmcode.store.config import RunConfig
from llmcode.store.models import CodingRecord
from llmcode.store.runs import Run, RunStore
from llmcode.taxonomy.model import load_taxonomy
from tests.support import DATA

TINY = DATA / "tiny.yaml"
CODES = [c.id for c in load_taxonomy(TINY).walk()]
MODEL = "scripted-model"
PIECES = [
    "a", "Z", "é", "e\u0301", "o\u0308\u0304", "😀", "👩\u200d👩\u200d👧", "🇩🇪", "中文", " ",
    "\n", "\r\n", "\r", "\t", "\u00a0", "\u2028", "ß", "İ", "\ufeff", "x",
]  # fmt: skip


def apart(spans):
    """Keep only passages whose codes do not overlap an earlier kept passage with that code."""
    kept, taken = [], {}
    for start, end, codes in spans:
        free = [c for c in codes if all(e <= start or end <= s for s, e in taken.get(c, []))]
        if free:
            kept.append((start, end, free))
            for code in free:
                taken.setdefault(code, []).append((start, end))
    return kept


def segment_run(root: Path, docs) -> Run:
    """A finished segment run holding exactly the model passages of ``docs``."""
    items = [Item(item_id, text) for item_id, text, _ in docs]
    item_set = ItemSet(items, [], "mem", "0" * 64, "item_id", ("text",))
    config = RunConfig(
        taxonomy_path=str(TINY), items_path="mem", backend="fake", unit="segment", concurrency=1
    )
    backend = FakeBackend(responder=lambda request: {}, model=MODEL)
    run = start_run(
        RunStore(root), config, item_set, load_taxonomy(TINY), TINY.read_text(encoding="utf-8"),
        load_prompts(), backend, run_id="rt",
    )  # fmt: skip
    for item_id, text, coded in docs:
        segments = [
            Segment(
                start=start,
                end=end,
                quote=text[start:end],
                codes=[SegmentCode(code=c, justification="because", confidence=0.5) for c in codes],
                verified=True,
            )
            for start, end, codes in coded[MODEL]
        ]
        used = list(dict.fromkeys(c.code for s in segments for c in s.codes))
        run.append_coding(
            CodingRecord(
                item_id=item_id,
                status="ok",
                codes=[CodeAssignment(code=c, justification="") for c in used],
                segments=segments,
                model=MODEL,
            )
        )
    finish_run(run)
    return run
