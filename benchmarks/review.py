"""Review TUI on a 50,000-item run: time to open, and key-press latency (targets: 2 s, 50 ms).

Builds a synthetic coded run (ptm-reuse taxonomy, GitHub-issue-sized texts with verified
evidence spans) in a temporary directory, then drives the real app headless with Pilot. A key
press is timed from sending the key until the last repaint it caused has been composed and
encoded for the terminal; ``a`` (accept) includes appending the decision to decisions.jsonl
with flush + fsync. Open time runs from creating the session to the first painted screen.

    PYTHONPATH=src python benchmarks/review.py [--items 50000]
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
from llmcode.llm.answers import CodeAssignment
from llmcode.llm.backends.fake import FakeBackend
from llmcode.llm.evidence import Span
from llmcode.llm.prompts import load_prompts
from llmcode.review.app import ReviewApp
from llmcode.review.session import ReviewSession
from llmcode.store.jsonl import atomic_write
from llmcode.store.models import CodingRecord, RunConfig
from llmcode.store.runs import CODINGS, Run, RunStore
from llmcode.taxonomy.model import load_taxonomy

ROOT = Path(__file__).resolve().parents[1]
TAXONOMY = ROOT / "taxonomy" / "ptm-reuse.yaml"
WORDS = [
    "model",
    "load",
    "checkpoint",
    "cuda",
    "memory",
    "tokenizer",
    "fine-tune",
    "loss",
    "nan",
    "version",
    "install",
    "error",
    "slow",
    "inference",
    "output",
    "wrong",
    "label",
    "batch",
    "gpu",
    "config",
    "weights",
    "download",
    "hub",
    "api",
]
OPEN_TARGET, KEY_TARGET = 2.0, 0.050


def build_run(root: Path, n: int) -> Run:
    """A complete run of ``n`` coded items, written in bulk (not one fsync per record)."""
    rng = random.Random(7)
    taxonomy = load_taxonomy(TAXONOMY)
    codes = [c.id for c in taxonomy.targets()]
    items = []
    for i in range(n):
        title = " ".join(rng.choices(WORDS, k=8))
        body = " ".join(rng.choices(WORDS, k=rng.randint(40, 160)))
        items.append(Item(f"issue-{i}", f"Title: {title}\n\nBody: {body}", {"project": "acme/x"}))
    item_set = ItemSet(items, [], "synthetic.csv", "0" * 64, "item_id", ("title", "body"))
    config = RunConfig(taxonomy_path=str(TAXONOMY), items_path="synthetic.csv", backend="fake")
    run = start_run(
        RunStore(root),
        config,
        item_set,
        taxonomy,
        TAXONOMY.read_text("utf-8"),
        load_prompts(),
        FakeBackend(model="bench-model"),
        run_id="bench",
    )
    lines = []
    for item in items:
        start = rng.randint(7, 40)
        span = Span(quote=item.text[start : start + 25], start=start, end=start + 25, verified=True)
        record = CodingRecord(
            item_id=item.item_id,
            status=rng.choice(["ok"] * 9 + ["unverified"]),
            codes=[
                CodeAssignment(
                    code=rng.choice(codes),
                    justification="because " * 6,
                    evidence=[span],
                    confidence=round(rng.random(), 2),
                )
            ],
        )
        lines.append(record.model_dump_json() + "\n")
    atomic_write(run.path / CODINGS, "".join(lines))
    finish_run(run)
    return run


async def measure(run: Run) -> dict[str, list[tuple[float, float]]]:
    """Wall-clock and CPU seconds of opening, and of each key press."""
    timings: dict[str, list[tuple[float, float]]] = {}
    started, cpu = time.perf_counter(), time.process_time()
    session = ReviewSession(run, "bench")
    timings["open: session"] = [(time.perf_counter() - started, time.process_time() - cpu)]
    app = ReviewApp(session)
    paints: list[float] = []
    display = app._display

    def display_and_time(screen: Any, update: Any) -> None:
        """Headless apps skip encoding for the terminal: do it here, then note the time."""
        display(screen, update)
        if isinstance(update, CompositorUpdate):
            update.render_segments(app.console)
        paints.append(time.perf_counter())

    app._display = display_and_time  # type: ignore[method-assign]
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        timings["open: session + first screen"] = [(paints[0] - started, time.process_time() - cpu)]

        async def press(label: str, key: str, times: int) -> None:
            for _ in range(times):
                paints.clear()
                began, cpu = time.perf_counter(), time.process_time()
                await pilot.press(key)
                await pilot.pause()  # idle: every repaint the key caused is done
                timings.setdefault(label, []).append(
                    (max(paints, default=began) - began, time.process_time() - cpu)
                )

        await press("j (next)", "j", 200)
        await press("k (previous)", "k", 100)
        await press("a (accept + fsync)", "a", 100)
        await press("u (undo + fsync)", "u", 30)
        session.position = len(session.queue) - 3  # jump to the far end of the list
        await press("j at item 49,997+", "j", 20)
        await press("d (definitions)", "d", 20)
        app.screen.query_text = "no such phrase anywhere"  # type: ignore[attr-defined]
        await press("n (search 50,000 texts, no match)", "n", 5)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50_000)
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start")
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        run = build_run(Path(tmp), args.items)
        size = (run.path / CODINGS).stat().st_size + (run.path / "items.jsonl").stat().st_size
        print(
            f"built a {args.items:,}-item run ({size / 1e6:.0f} MB) "
            f"in {time.perf_counter() - began:.1f} s"
        )
        timings = asyncio.run(measure(run))
    print(
        f"(load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs: wall-clock "
        "times grow with load; CPU times show the work itself)"
    )
    for label, values in timings.items():
        if label.startswith("open"):
            wall, cpu = values[0]
            print(
                f"{label:36} {wall:6.2f} s wall  {cpu:6.2f} s CPU   target {OPEN_TARGET:.0f} s  "
                f"wall/target {wall / OPEN_TARGET:.2f}"
            )
            continue
        walls = sorted(w for w, _ in values)
        cpus = sorted(c for _, c in values)
        print(
            f"{label:36} wall median {statistics.median(walls) * 1e3:5.1f} ms "
            f"p95 {_p95(walls) * 1e3:6.1f} ms  CPU median {statistics.median(cpus) * 1e3:5.1f} ms "
            f"p95 {_p95(cpus) * 1e3:5.1f} ms  (n={len(values)})  "
            f"wall median/target {statistics.median(walls) / KEY_TARGET:.2f}  "
            f"p95/target {_p95(walls) / KEY_TARGET:.2f}"
        )


def _p95(ordered: list[float]) -> float:
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


if __name__ == "__main__":
    main()
