"""A small segment run for the passage review tests: two interview transcripts of
examples/interviews coded in passages (ana's passages of codes.csv as the model's), plus one
passage the model invented (not in the text)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from llmcode.coding.lifecycle import start_run
from llmcode.items import ItemSet, load_items
from llmcode.llm.backends.fake import FakeBackend
from llmcode.llm.passages import Segment, SegmentCode
from llmcode.llm.prompts import load_prompts
from llmcode.store.models import CodingRecord, RunConfig
from llmcode.store.runs import Run, RunStore
from llmcode.taxonomy.model import dump_taxonomy, load_taxonomy

INTERVIEWS = Path(__file__).resolve().parents[2] / "examples" / "interviews"
TAXONOMY = INTERVIEWS / "ptm-interviews.yaml"
TRANSCRIPTS = INTERVIEWS / "transcripts"
HUMANS = INTERVIEWS / "codes.csv"
DOCUMENTS = ("p1-logistics", "p4-mobile")
INVENTED = "We trained our own model from scratch on a thousand GPUs."


def make_segment_run(
    root: Path, run_id: str = "seg", documents: tuple[str, ...] = DOCUMENTS
) -> Run:
    """The run: each document's passages are ana's (codes merged per passage), confidence
    falling by 0.1 per passage from 0.95; p1 has an invented passage last."""
    every = load_items(TRANSCRIPTS)
    items = [item for item in every.items if item.item_id in documents]
    item_set = ItemSet(items, [], str(TRANSCRIPTS), every.sha256, "item_id", ())
    taxonomy = load_taxonomy(TAXONOMY)
    config = RunConfig(
        taxonomy_path=str(TAXONOMY),
        items_path=str(TRANSCRIPTS),
        backend="fake",
        unit="segment",
        level="leaves",
    )
    run = start_run(
        RunStore(root), config, item_set, taxonomy, dump_taxonomy(taxonomy), load_prompts(),
        FakeBackend(model="fake-model"), run_id=run_id,
    )  # fmt: skip
    codes = pd.read_csv(HUMANS, dtype=str, keep_default_na=False)
    ana = codes[codes["coder"] == "ana"]
    for item in items:
        rows = ana[ana["item_id"] == item.item_id]
        spans: dict[tuple[int, int], list[str]] = {}
        for row in rows.itertuples():
            spans.setdefault((int(row.start), int(row.end)), []).append(row.code)
        segments = []
        for n, ((start, end), names) in enumerate(sorted(spans.items())):
            confidence = round(0.95 - 0.1 * n, 2)
            segments.append(
                Segment(
                    start=start, end=end, quote=item.text[start:end], verified=True,
                    codes=[SegmentCode(code=c, justification=f"about {c}", confidence=confidence)
                           for c in names],
                )
            )  # fmt: skip
        if item.item_id == "p1-logistics":
            segments.append(
                Segment(quote=INVENTED, codes=[SegmentCode(code="compute_costs", confidence=0.9)])
            )
        codes_of = sorted({c.code for s in segments for c in s.codes})
        from llmcode.llm.answers import CodeAssignment

        run.append_coding(
            CodingRecord(
                item_id=item.item_id,
                status="unverified" if item.item_id == "p1-logistics" else "ok",
                codes=[CodeAssignment(code=c, justification="") for c in codes_of],
                segments=segments,
                model="fake-model",
            )
        )
    return run
