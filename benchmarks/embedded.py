"""Embedded-engine benchmark: xllamacpp vs llama-cpp-python vs a naive loop, from one run.

Same GGUF (the bundled SmolLM2-135M-Instruct), same codebook prompt, same answer schema, same
items. Each configuration runs in its own subprocess (so peak memory is its own), one after
another:

- ``xllamacpp c=N``: ``llmcode code``'s default path (the ask loop, evidence chosen from the
  item's sentences, schema-constrained decoding) with N parallel slots;
- ``llama-cpp-python c=N``: the same path on the previous engine (calls serialised);
- ``naive loop``: what a user writes instead — one ``create_chat_completion`` per item on
  llama-cpp-python asking for JSON (JSON mode, no schema, no re-ask).

Reported per configuration: items/s, the share of answers that are schema-valid with taxonomy
codes, the share with verified evidence, tokens per item, peak RSS; then the ratios to the naive
loop (target: the default path ≥ 3x with 100% valid answers). Wrap it as
``flock /tmp/embedded.lock python benchmarks/embedded.py`` on a shared machine.

    python benchmarks/embedded.py --items 12
    python benchmarks/embedded.py --only "xllamacpp c=4"
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TAXONOMY = ROOT / "taxonomy" / "ptm-reuse.yaml"
SAMPLE = ROOT / "examples" / "ptm-issues.csv"
CONFIGS = (
    "naive loop",
    "llama-cpp-python c=1",
    "xllamacpp c=1",
    "xllamacpp c=4",
)


def naive(items, taxonomy) -> dict[str, float]:
    from llama_cpp import Llama

    from llmcode.llm.answers import check_answer
    from llmcode.llm.backends.local import bundled_model_path
    from llmcode.llm.backends.threads import default_threads
    from llmcode.llm.prompts import item_message, load_prompts, system_message

    llama = Llama(
        model_path=str(bundled_model_path()), n_ctx=4096, n_threads=default_threads(), verbose=False
    )
    prompts = load_prompts()
    system = system_message(prompts, taxonomy)
    ids = [c.id for c in taxonomy.categories]
    valid = verified = tokens = 0
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
        valid += not checked.fatal
        verified += checked.verified
    elapsed = time.perf_counter() - start
    n = len(items)
    return {
        "threads": default_threads(),
        "items_per_s": n / elapsed,
        "valid": valid / n,
        "verified": verified / n,
        "tokens_per_item": tokens / n,
    }


def ours(items, taxonomy, engine: str, concurrency: int) -> dict[str, float]:
    from llmcode.coding.closed import Coder, code_items
    from llmcode.coding.lifecycle import start_run
    from llmcode.items import ItemSet
    from llmcode.llm.backends import make_backend
    from llmcode.llm.prompts import load_prompts
    from llmcode.store.config import RunConfig
    from llmcode.store.runs import RunStore

    os.environ["LLMCODE_ENGINE"] = engine
    backend = make_backend("local", parallel=concurrency)
    prompts = load_prompts()
    with tempfile.TemporaryDirectory() as tmp:
        config = RunConfig(
            taxonomy_path=str(TAXONOMY),
            items_path=str(SAMPLE),
            evidence="choice",
            concurrency=concurrency,
        )
        item_set = ItemSet(items, [], str(SAMPLE), "-", "item_id", ("title", "body"))
        run = start_run(
            RunStore(tmp), config, item_set, taxonomy, TAXONOMY.read_text(), prompts, backend
        )
        coder = Coder(taxonomy, backend, prompts, config, cache=None)

        async def go() -> None:
            try:
                await code_items(items, coder, run)
            finally:
                await backend.aclose()

        start = time.perf_counter()
        asyncio.run(go())
        elapsed = time.perf_counter() - start
        records = list(run.latest_codings().values())
    n = len(items)
    return {
        "slots": backend.describe().get("parallel", 1),
        "threads": backend.describe().get("threads", 1),
        "items_per_s": n / elapsed,
        "valid": sum(1 for r in records if r.codes and r.status in ("ok", "unverified")) / n,
        "verified": sum(1 for r in records if r.status == "ok") / n,
        "tokens_per_item": sum(r.prompt_tokens + r.completion_tokens for r in records) / n,
    }


def one(name: str, n_items: int) -> dict[str, float]:
    from llmcode.items import load_items
    from llmcode.taxonomy.model import load_taxonomy

    items = load_items(SAMPLE).items
    items = items[:n_items] if n_items else items
    taxonomy = load_taxonomy(TAXONOMY)
    if name == "naive loop":
        result = naive(items, taxonomy)
    else:
        engine, concurrency = name.split(" c=")
        result = ours(items, taxonomy, engine, int(concurrency))
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=12, help="first N sample items (0: all)")
    parser.add_argument("--only", action="append", help="run only these configurations")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one(args.child, args.items)))
        return
    results: dict[str, dict[str, float]] = {}
    print(f"{args.items or 'all'} sample items; load average {os.getloadavg()[0]:.2f} at start")
    for name in args.only or CONFIGS:
        out = subprocess.run(
            [sys.executable, __file__, "--child", name, "--items", str(args.items)],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            print(f"{name}: failed\n{out.stderr[-2000:]}")
            continue
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
        print(name, json.dumps({k: round(v, 3) for k, v in results[name].items()}), flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    base = results.get("naive loop", {}).get("items_per_s")
    if base:
        for name, result in results.items():
            print(f"{name}: {result['items_per_s'] / base:.2f}x the naive loop's items/s")


if __name__ == "__main__":
    main()
