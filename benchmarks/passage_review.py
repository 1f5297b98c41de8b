"""Passage review on a 60,000-character document with 300 passages: key-press latency (target
50 ms).

Builds a synthetic segment run (the interview taxonomy's codes; one document of sentences in
paragraphs; 300 passages of one to four sentences, some overlapping, some with two codes) in a
temporary directory, then drives the real passage screen headless with Pilot. A key press is
timed from sending the key until the last repaint it caused has been composed and encoded for
the terminal; the decision keys (a, ], ), }, u, A, the memo's enter) include appending the
decision to decisions.jsonl with flush + fsync. A human coder's 300 passages (half the model's,
half elsewhere) are given as ``--human`` passages, so the detail line matches them at every key
and ``g`` / ``A`` step to and adopt the ones the model missed. Prints each key's median and p95
and the ratio p95/target, all measured in this one run.

    PYTHONPATH=src python benchmarks/passage_review.py [--chars 60000] [--passages 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from textual._compositor import CompositorUpdate

from llmcode.coding.lifecycle import finish_run, start_run
from llmcode.items import Item, ItemSet
from llmcode.llm.backends.fake import FakeBackend
from llmcode.llm.passages import Segment, SegmentCode
from llmcode.llm.prompts import load_prompts
from llmcode.review.passage_app import PassageReviewApp
from llmcode.review.passage_edits import Boundaries
from llmcode.review.passage_session import PassageSession
from llmcode.store.models import CodingRecord, RunConfig
from llmcode.store.runs import RunStore
from llmcode.taxonomy.model import load_taxonomy

ROOT = Path(__file__).resolve().parents[1]
TAXONOMY = ROOT / "examples" / "interviews" / "ptm-interviews.yaml"
WORDS = [
    "model",
    "weights",
    "licence",
    "data",
    "training",
    "label",
    "phone",
    "battery",
    "cost",
    "cloud",
    "latency",
    "prompt",
    "card",
    "benchmark",
    "accuracy",
    "version",
    "library",
    "container",
    "update",
    "test",
    "review",
    "customer",
    "depot",
    "team",
]
KEY_TARGET = 0.050


def document(rng: random.Random, chars: int) -> str:
    """Paragraphs of sentences of 6-18 words, about ``chars`` characters."""
    paragraphs, size = [], 0
    while size < chars:
        sentences = []
        for _ in range(rng.randint(2, 6)):
            words = rng.choices(WORDS, k=rng.randint(6, 18))
            sentences.append(" ".join(words).capitalize() + ".")
        paragraph = "P1: " + " ".join(sentences)
        paragraphs.append(paragraph)
        size += len(paragraph) + 2
    return "\n\n".join(paragraphs)[:chars]


def build_run(root: Path, chars: int, passages: int):
    rng = random.Random(11)
    taxonomy = load_taxonomy(TAXONOMY)
    level = "leaves"
    codes = [c.id for c in taxonomy.targets(level)]
    text = document(rng, chars)
    item_set = ItemSet([Item("long-interview", text, {})], [], "synthetic", "0" * 64, "item_id", ())
    config = RunConfig(
        taxonomy_path=str(TAXONOMY), items_path="synthetic", backend="fake", unit="segment",
        level=level,
    )  # fmt: skip
    run = start_run(
        RunStore(root), config, item_set, taxonomy, TAXONOMY.read_text("utf-8"), load_prompts(),
        FakeBackend(model="bench-model"), run_id="bench",
    )  # fmt: skip
    starts, ends = Boundaries(text).spans("sentence")
    picked = sorted(rng.sample(range(len(starts) - 4), passages))
    segments = []
    for first in picked:
        last = first + rng.randint(0, 3)
        chosen = rng.sample(codes, 2 if rng.random() < 0.2 else 1)
        segments.append(
            Segment(
                start=starts[first], end=ends[last], quote=text[starts[first] : ends[last]],
                verified=True,
                codes=[SegmentCode(code=c, justification="because " * 5,
                                   confidence=round(rng.random(), 2)) for c in chosen],
            )
        )  # fmt: skip
    run.append_coding(CodingRecord(item_id="long-interview", status="ok", segments=segments))
    finish_run(run)
    human: list[tuple[int, int, str]] = []
    for n, segment in enumerate(segments):
        if n % 2 == 0:  # the model's own passage
            human += [(segment.start or 0, segment.end or 0, c.code) for c in segment.codes]
        else:  # a sentence the model may have coded otherwise
            first = rng.randrange(len(starts) - 2)
            human.append((starts[first], ends[first + 1], rng.choice(codes)))
    return run, len(text), {"long-interview": {"hana": human}}


async def measure(run: Any, human: Any) -> dict[str, list[tuple[float, float]]]:
    timings: dict[str, list[tuple[float, float]]] = {}
    started = time.perf_counter()
    session = PassageSession(run, "bench", human=human)
    app = PassageReviewApp(session)
    paints: list[float] = []
    display = app._display

    def display_and_time(screen: Any, update: Any) -> None:
        display(screen, update)
        if isinstance(update, CompositorUpdate):
            update.render_segments(app.console)
        paints.append(time.perf_counter())

    app._display = display_and_time  # type: ignore[method-assign]
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        timings["open: session + first screen"] = [(paints[0] - started, 0.0)]

        async def press(label: str, times: int, *keys: str, before: tuple[str, ...] = ()) -> None:
            for _ in range(times):
                if before:  # untimed keys first (g before A, the memo's text before enter)
                    await pilot.press(*before)
                    await pilot.pause()
                paints.clear()
                began, cpu = time.perf_counter(), time.process_time()
                await pilot.press(*keys)
                await pilot.pause()
                timings.setdefault(label, []).append(
                    (max(paints, default=began) - began, time.process_time() - cpu)
                )

        await press("j (next passage)", 100, "j")
        await press("k (previous passage)", 50, "k")
        await press("a (accept + fsync)", 50, "a")
        await press("] (widen a word + fsync)", 30, "right_square_bracket")
        await press(") (narrow a word + fsync)", 30, "right_parenthesis")
        await press("} (widen a sentence + fsync)", 20, "right_curly_bracket")
        await press("u (undo + fsync)", 20, "u")
        await press("n (next undecided)", 30, "n")
        session.position = len(session.queue) - 3  # the far end of the document
        await press("j at passage 298+", 5, "j")
        await press("i (start marking)", 1, "i")
        await press("→ (marker a word on)", 30, "right")
        await press("↓ (marker a sentence on)", 10, "down")
        await press("space (mark the start)", 1, "space")
        await press("→ (selection a word on)", 30, "right")
        await press("esc (stop marking)", 1, "escape")
        await press("g (next missed human passage)", 30, "g")
        await press("A (adopt it + fsync)", 20, "A", before=("g",))
        await press("m … enter (memo + fsync)", 20, "enter", before=("m", "o", "k"))
        await press("e (next document without one)", 10, "e")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=60_000)
    parser.add_argument("--passages", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run, size, human = build_run(Path(tmp), args.chars, args.passages)
        print(f"a {size:,}-character document with {args.passages} passages")
        timings = asyncio.run(measure(run, human))
    print(
        f"(load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs: wall-clock "
        "times grow with load; CPU times show the work itself)"
    )
    for label, values in timings.items():
        if label.startswith("open"):
            print(f"{label:34} {values[0][0]:6.2f} s wall")
            continue
        walls = sorted(w for w, _ in values)
        cpus = sorted(c for _, c in values)
        print(
            f"{label:34} wall median {statistics.median(walls) * 1e3:5.1f} ms "
            f"p95 {_p95(walls) * 1e3:6.1f} ms  CPU median {statistics.median(cpus) * 1e3:5.1f} ms"
            f"  (n={len(values)})  wall p95/target {_p95(walls) / KEY_TARGET:.2f}"
        )


def _p95(ordered: list[float]) -> float:
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


if __name__ == "__main__":
    main()
