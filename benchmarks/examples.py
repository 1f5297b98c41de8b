"""Few-shot examples benchmark: κ and macro-F1 of (a) the taxonomy alone, (b) + retrieved
examples, (c) + retrieved examples + a second look (`--verify drop`), with bootstrap 95% CIs
from `llmcode eval`'s core (the same item resamples for every condition, paired differences).

Two labelled sets that ship with llmcode, each coded leave-one-out (the pool is every coded
item; an item is never shown as its own example):

- ``ptm``: the bundled sample (examples/ptm-issues.csv), ana's 54 closed codes as gold and pool,
  taxonomy/ptm-reuse.yaml (7 codes);
- ``survey``: 60 fictional answers to "What has been the hardest part of working from home?"
  (examples/remote-work.csv, 3 codes, taxonomy/remote-work.yaml), coder eva.

Backends: ``fake`` is a deterministic stand-in, not a model — without examples it picks the
code whose codebook entry shares most words with the item; with examples, the similarity-
weighted vote of the examples shown; its checker rejects a code whose codebook entry shares
no word with the item. It measures the pipeline (how good the retrieved examples are), not an
LLM. ``local`` is the embedded SmolLM2-135M (run it under ``flock /tmp/embedded.lock``).

    python benchmarks/examples.py --backend fake
    flock /tmp/embedded.lock python benchmarks/examples.py --backend local [--limit 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from llmcode.codes import load_codes
from llmcode.coding.closed import code_items, make_coder
from llmcode.coding.lifecycle import finish_run, start_run
from llmcode.items import ItemSet, load_items
from llmcode.llm.backends import make_backend
from llmcode.llm.backends.base import ChatRequest
from llmcode.llm.backends.fake import FakeBackend, item_text
from llmcode.llm.cache import ResponseCache
from llmcode.quality.eval import evaluate
from llmcode.quality.eval_inputs import run_input
from llmcode.store.config import RunConfig
from llmcode.store.runs import RunStore
from llmcode.taxonomy.model import Taxonomy, load_taxonomy

ROOT = Path(__file__).resolve().parents[1]
DATASETS = {
    "ptm": (
        "taxonomy/ptm-reuse.yaml",
        "examples/ptm-issues.csv",
        "examples/ptm-issues.codes.csv",
        "ana",
    ),
    "survey": (
        "taxonomy/remote-work.yaml",
        "examples/remote-work.csv",
        "examples/remote-work.codes.csv",
        "eva",
    ),
}
CONDITIONS = {
    "a_taxonomy": {},
    "b_examples": {"examples": True},
    "c_examples_verify": {"examples": True, "verify": "drop"},
}
CACHE = Path(tempfile.gettempdir()) / "llmcode-bench-examples-cache"
WORD = re.compile(r"[a-z]{4,}")


def words(text: str) -> set[str]:
    return set(WORD.findall(text.lower()))


def fake_responder(taxonomy: Taxonomy):
    """The deterministic stand-in described in the module docstring."""
    entries = {
        c.id: words(" ".join([c.name, c.definition, *c.include])) for c in taxonomy.categories
    }

    def lexical(text: str) -> str:
        found = words(text)
        return max(
            entries, key=lambda code: (len(entries[code] & found), -list(entries).index(code))
        )

    def respond(request: ChatRequest) -> dict[str, Any]:
        user = request.messages[-1]["content"]
        text = item_text(request)
        if request.schema_name == "check":
            code = user.split("Code to check: ", 1)[1].split(" ", 1)[0]
            keep = bool(entries.get(code, set()) & words(text))
            alternative = None if keep else lexical(text)
            return {
                "verdict": "keep" if keep else "reject",
                "reason": "word overlap",
                "alternative": alternative,
            }
        shown = re.findall(r'<example codes="([^"]+)">', user)
        votes: Counter[str] = Counter()
        for rank, codes in enumerate(shown):
            votes[codes.split(", ")[0]] += 1 / (rank + 1)
        code = votes.most_common(1)[0][0] if votes else lexical(text)
        quote = text[:20].strip() or text
        return {
            "codes": [
                {"code": code, "justification": "stand-in", "evidence": [quote], "confidence": 0.9}
            ],
            "suggested_code": None,
        }

    return respond


def run_condition(
    store: RunStore,
    name: str,
    dataset: str,
    backend_name: str,
    shots: int,
    limit: int | None,
    settings: dict[str, Any],
) -> tuple[Any, float]:
    """One run of one condition; returns the run and its seconds."""
    taxonomy_path, items_path, codes_path, coder = (
        ROOT / p if i < 3 else p for i, p in enumerate(DATASETS[dataset])
    )
    taxonomy = load_taxonomy(taxonomy_path)
    loaded = load_items(items_path)
    gold = load_codes(codes_path)
    coded = set(gold.loc[gold["coder"] == coder, "item_id"])
    items = [item for item in loaded.items if item.item_id in coded][:limit]
    item_set = ItemSet(items, [], str(items_path), loaded.sha256, "item_id", loaded.text_columns)
    condition = CONDITIONS[name]
    config = RunConfig(
        taxonomy_path=str(taxonomy_path),
        items_path=str(items_path),
        text_columns=loaded.text_columns,
        backend=backend_name,
        evidence="choice" if backend_name == "local" else "free",
        concurrency=1,
        examples=str(codes_path) if condition.get("examples") else None,
        examples_coder=coder if condition.get("examples") else None,
        shots=shots,
        verify=condition.get("verify", "off"),  # type: ignore[arg-type]
        **settings,
    )
    if backend_name == "fake":
        backend: Any = FakeBackend(responder=fake_responder(taxonomy), model="fake-stand-in")
    else:
        backend = make_backend("local")
    cache = ResponseCache(CACHE)  # a rerun (or a crash after coding) never pays twice
    coder_ = make_coder(config, taxonomy, backend, loaded.items, cache=cache)
    extra = {"examples": coder_.examples.describe()} if coder_.examples else None
    run = start_run(
        store,
        config,
        item_set,
        taxonomy,
        taxonomy_path.read_text(),
        coder_.prompts,
        backend,
        f"{dataset}-{backend_name}-{name}",
        extra=extra,
    )
    start = time.perf_counter()

    async def go() -> None:
        try:
            await code_items(run.items(), coder_, run)
        finally:
            await backend.aclose()

    asyncio.run(go())
    seconds = time.perf_counter() - start
    finish_run(run, "complete", backend)
    return run, seconds


def fmt(stat: Any) -> str:
    if stat.value is None:
        return "undefined"
    ci = f" [{stat.ci95[0]:.2f}, {stat.ci95[1]:.2f}]" if stat.ci95 else ""
    return f"{stat.value:.3f}{ci}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["fake", "local"], default="fake")
    parser.add_argument("--dataset", choices=[*DATASETS, "all"], default="all")
    parser.add_argument("--shots", type=int, default=4)
    parser.add_argument("--limit", type=int, default=None, help="First N gold items only.")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument(
        "--conditions",
        default=",".join(CONDITIONS),
        help="Comma-separated subset of " + ", ".join(CONDITIONS),
    )
    parser.add_argument(
        "--similarity",
        choices=["tfidf", "embedding"],
        default="tfidf",
        help="How examples are retrieved (embedding: the bundled model's).",
    )
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--max-reasks", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="Print the eval results as JSON.")
    args = parser.parse_args()
    datasets = list(DATASETS) if args.dataset == "all" else [args.dataset]
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp))
        for dataset in datasets:
            runs, seconds = [], {}
            settings = {
                "max_tokens": args.max_tokens,
                "max_reasks": args.max_reasks,
                "examples_similarity": args.similarity,
            }
            for name in args.conditions.split(","):
                run, took = run_condition(
                    store, name, dataset, args.backend, args.shots, args.limit, settings
                )
                runs.append(run)
                seconds[name] = took
                print(f"{dataset} {name}: {took:.1f} s", file=sys.stderr, flush=True)
            _, _, codes_path, coder = DATASETS[dataset]
            coded = sorted({i.item_id for i in runs[0].items()})
            result = evaluate(
                [run_input(r) for r in runs],
                load_codes(ROOT / codes_path),
                coders=[coder],
                items=coded,
                bootstrap=args.bootstrap,
                seed=0,
            )
            out[dataset] = {"result": result.model_dump(mode="json"), "seconds": seconds}
            print(
                f"\n{dataset} ({args.backend}, {result.gold['n_items']} gold items, "
                f"{args.shots} shots by {args.similarity}, leave-one-out)"
            )
            print(
                f"{'condition':<20} {'kappa [95% CI]':<26} {'macro-F1 [95% CI]':<26} "
                f"{'accuracy':<9} {'tokens/item':>11} {'s/item':>7}"
            )
            for run, evaluation in zip(runs, sorted(result.runs, key=lambda r: r.run), strict=True):
                name = run.run_id.rsplit("-", 1)[-1]
                usage = run.manifest().usage
                per_item = (usage["prompt_tokens"] + usage["completion_tokens"]) / max(
                    1, usage["items"]
                )
                pace = seconds[name] / max(1, usage["items"])
                print(
                    f"{name:<20} {fmt(evaluation.cohen_kappa):<26} "
                    f"{fmt(evaluation.macro_f1):<26} {evaluation.accuracy.value:<9.3f} "
                    f"{per_item:>11.0f} {pace:>7.2f}"
                )
            for pair in result.paired:
                p = "" if pair.p is None else f", p = {pair.p:.3f}"
                print(
                    f"  Δκ {pair.b} − {pair.a}: {fmt(pair.delta_kappa)}{p}; "
                    f"Δ macro-F1 {fmt(pair.delta_macro_f1)}"
                )
    if args.json:
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
