"""Benchmark `llmcode code --dry-run` on many tiny items: loading and counting (not a test).

    PYTHONPATH=src python benchmarks/dryrun.py [--items 100000] [--repeat 3]

Data: a CSV of --items tiny items (``item_id,text``), the tiny test taxonomy. Measures the work
of a dry run in-process (load the items, render every item message, count tokens), best of
--repeat, against the reference the dry run used to be: rows walked with ``DataFrame.iterrows``
and every message rendered by Jinja in full. Prints both times and their ratio. Target (issue
16): a 100k dry run in a couple of seconds.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from llmcode.coding.costs import estimate_items, estimate_run, load_prices
from llmcode.items import load_items, read_table
from llmcode.llm.prompts import USER, load_prompts, system_message
from llmcode.store.config import RunConfig
from llmcode.taxonomy.model import load_taxonomy

TAXONOMY = Path(__file__).parents[1] / "tests" / "data" / "tiny.yaml"
MODEL = "gpt-4o-mini"


def write_items(path: Path, n: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["item_id", "text", "source"])
        writer.writerows([f"i{i}", f"tiny item {i}: it is slow", "bench"] for i in range(n))


def current(path: Path) -> int:
    """The dry run as `llmcode code --dry-run` does it now."""
    config = RunConfig(taxonomy_path=str(TAXONOMY), items_path=str(path), backend="openai")
    items = load_items(path).items
    return estimate_items(config, load_taxonomy(TAXONOMY), items, MODEL).prompt_tokens


def reference(path: Path) -> int:
    """The old way: iterrows over the rows, and Jinja rendering every item message in full."""
    frame = read_table(path)
    taxonomy = load_taxonomy(TAXONOMY)
    prompts = load_prompts()
    messages = []
    for _, row in frame.iterrows():
        text = str(row["text"]).strip()
        _metadata = {c: row[c] for c in frame.columns if c != "item_id"}
        content = prompts.render(USER, item_id=row["item_id"], text=text, examples=[])
        messages.append({"role": "user", "content": content})
    system = system_message(prompts, taxonomy)
    return estimate_run(system, messages, MODEL, load_prices()).prompt_tokens


def best(run: Callable[[Path], int], path: Path, repeat: int) -> tuple[float, int]:
    times, tokens = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        tokens = run(path)
        times.append(time.perf_counter() - start)
    return min(times), tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "items.csv"
        write_items(path, args.items)
        now, tokens_now = best(current, path, args.repeat)
        before, tokens_before = best(reference, path, 1)
    print(f"dry run of {args.items:,} tiny items (best of {args.repeat}):")
    print(f"  now        {now:7.2f} s   ({tokens_now:,} prompt tokens)")
    print(f"  reference  {before:7.2f} s   ({tokens_before:,} prompt tokens; iterrows + Jinja)")
    print(f"  ratio      {before / now:7.1f}x faster")
    assert tokens_now == tokens_before, "the fast path must count the same tokens"


if __name__ == "__main__":
    main()
