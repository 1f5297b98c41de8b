"""Embedded-model benchmark: `llmcode code`'s local backend vs a naive llama-cpp loop, one run.

The naive loop is what a user writes instead: one `create_chat_completion` per item asking for
JSON (the same codebook prompt, JSON mode, no schema). We report items/s, the share of answers
that parse and use taxonomy codes, the share with verified evidence, tokens per item, and the
speed ratio (target: ours ≥ 0.8× the naive loop).

    python benchmarks/embedded.py              # all sample items
    python benchmarks/embedded.py --items 12
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from llmcode.coding.closed import Coder, code_items
from llmcode.coding.lifecycle import start_run
from llmcode.items import ItemSet, load_items
from llmcode.llm.answers import check_answer
from llmcode.llm.backends.local import LocalBackend
from llmcode.llm.prompts import item_message, load_prompts, system_message
from llmcode.store.runs import RunConfig, RunStore
from llmcode.taxonomy.model import load_taxonomy

ROOT = Path(__file__).resolve().parents[1]
TAXONOMY = ROOT / "taxonomy" / "ptm-reuse.yaml"
SAMPLE = ROOT / "examples" / "ptm-issues.csv"


def naive(backend: LocalBackend, items, taxonomy) -> dict[str, float]:
    llama = backend._load()
    prompts = load_prompts()
    system = system_message(prompts, taxonomy)
    ids = [c.id for c in taxonomy.categories]
    parsed = verified = tokens = 0
    start = time.perf_counter()
    for item in items:
        result = llama.create_chat_completion(
            messages=[system, item_message(prompts, item.item_id, item.text)],
            response_format={"type": "json_object"},
            temperature=0.0,
            max_tokens=256,
        )
        content = result["choices"][0]["message"]["content"] or ""
        tokens += result["usage"]["total_tokens"]
        checked = check_answer(content, item.text, ids, taxonomy.multi_label)
        parsed += not checked.fatal
        verified += checked.verified
    elapsed = time.perf_counter() - start
    n = len(items)
    return {
        "items_per_s": n / elapsed,
        "valid_codes": parsed / n,
        "verified_evidence": verified / n,
        "tokens_per_item": tokens / n,
    }


def ours(backend: LocalBackend, items, taxonomy) -> dict[str, float]:
    prompts = load_prompts()
    with tempfile.TemporaryDirectory() as tmp:
        config = RunConfig(taxonomy_path=str(TAXONOMY), items_path=str(SAMPLE), evidence="choice")
        item_set = ItemSet(items, [], str(SAMPLE), "-", "item_id", ("title", "body"))
        run = start_run(
            RunStore(tmp),
            config,
            item_set,
            taxonomy,
            TAXONOMY.read_text(),
            prompts,
            backend,
            "bench",
        )
        coder = Coder(taxonomy, backend, prompts, config, cache=None)
        start = time.perf_counter()
        asyncio.run(code_items(items, coder, run))
        elapsed = time.perf_counter() - start
        records = list(run.latest_codings().values())
    n = len(items)
    valid = sum(1 for r in records if r.codes)
    verified = sum(1 for r in records if r.status == "ok")
    tokens = sum(r.prompt_tokens + r.completion_tokens for r in records)
    return {
        "items_per_s": n / elapsed,
        "valid_codes": valid / n,
        "verified_evidence": verified / n,
        "tokens_per_item": tokens / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=0, help="first N sample items (0: all)")
    args = parser.parse_args()
    items = load_items(SAMPLE).items
    items = items[: args.items] if args.items else items
    taxonomy = load_taxonomy(TAXONOMY)
    backend = LocalBackend()
    results = {
        "naive_loop": naive(backend, items, taxonomy),
        "llmcode": ours(backend, items, taxonomy),
    }
    results["speed_ratio"] = (
        results["llmcode"]["items_per_s"] / results["naive_loop"]["items_per_s"]
    )
    print(f"{len(items)} items, {backend.model}, one run")
    print(
        json.dumps(
            {
                k: (round(v, 3) if isinstance(v, float) else {a: round(b, 3) for a, b in v.items()})
                for k, v in results.items()
            },
            indent=2,
        )
    )
    asyncio.run(backend.aclose())


if __name__ == "__main__":
    main()
