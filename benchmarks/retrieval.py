"""Benchmark example retrieval at scale: 200,000 items against a pool of thousands (not a test).

    PYTHONPATH=src python benchmarks/retrieval.py [--items 200000] [--pool 3000] [--k 3]
        [--before-items 2000] [--strategy mmr] [--compare OLD_SRC] [--repeat 1] [--dry-run]

Data: synthetic issue-like texts generated here from a seed (30-120 words each from a Zipf
vocabulary of 20,000 words plus common English words; nothing committed). The pool holds
``--pool`` texts with one of six codes. Each measurement runs in its own process, so its peak
memory (``ru_maxrss``: items, pool, vectors, selection) is its own:

- ``after``: ``ExamplePool.prepare`` on every item (chunked sparse TF-IDF products, partial
  sorts, MMR on whole chunks: `llmcode.coding.retrieval`);
- ``before``: the one-item-at-a-time method as it was before issue 24 (copied below), on the
  first ``--before-items`` items, extrapolated linearly to ``--items`` (it takes ~4 ms an item).

Both select the same examples: the first ``--before-items`` items are compared one by one.
Prints times, peak memory and the ratio. Target (issue 24): 200,000 items in <= 30 s, <= 600 MB.

``--compare OLD_SRC`` also measures ``after`` with another source tree first on the path (e.g. an
earlier commit: ``git archive COMMIT src | tar -x -C /tmp/old``), alternating the two
``--repeat`` times, and prints both and their ratio from one run (best wall time of each, and its
process CPU time: the machine may be shared), plus ``after`` without the worker thread
(``examples.THREADED`` off). The load average (``uptime``) is printed before and after.

``--dry-run`` instead runs the whole ``llmcode code --dry-run --json`` in a child process on
the same items written as CSV (codebook taxonomy/ptm-reuse.yaml, gpt-4o-mini, 4 examples per
item from the pool) and prints its time, peak memory and the price table: live, Batch API and
with the codebook prefix cached.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from llmcode.coding.examples import CANDIDATES, ExamplePool, Shot
from llmcode.items import Item

CODES = ["bug", "feature", "question", "docs", "performance", "other"]
CODE_IDS = ["model_usage", "model_performance", "output_quality", "model_loading", "resources"]
DRY_RUN_KEYS = [
    *("items", "requests", "prompt_tokens", "cached_prompt_tokens", "output_tokens"),
    *("cost_usd", "batch_cost_usd", "cached_cost_usd", "price_date"),
]
COMMON = [
    *("the", "a", "to", "is", "in", "it", "of", "and", "when", "with"),
    *("on", "for", "this", "not", "error", "model", "i", "you"),
]


def texts(n: int, seed: int) -> list[str]:
    """``n`` texts; the first m of them are the same for any n >= m (blocks of 1,000)."""
    size = 20_000
    weights = 1 / np.arange(1, size + 1) ** 1.1
    weights /= weights.sum()
    words = [COMMON[i] if i < len(COMMON) else f"w{i}" for i in range(size)]
    out: list[str] = []
    for block in range(0, n, 1000):
        rng = np.random.default_rng([seed, block])
        lengths = rng.integers(30, 120, size=1000)
        picks = rng.choice(size, size=int(lengths.sum()), p=weights)
        at = 0
        for length in lengths.tolist():
            out.append(" ".join(words[i] for i in picks[at : at + length]))
            at += length
    return out[:n]


def make_pool(n: int, strategy: str) -> ExamplePool:
    shots = [Shot(f"p{i}", t, (CODES[i % len(CODES)],)) for i, t in enumerate(texts(n, 1))]
    return ExamplePool(shots, strategy=strategy)  # type: ignore[arg-type]


def before_select(pool: ExamplePool, item: Item, k: int) -> list[str]:
    """The one-item method before issue 24 (MMR), as `ExamplePool.select` did it."""
    sims = pool.similarities(item.text)
    same = pool._norms.get(re.sub(r"\s+", " ", item.text).strip().lower())
    allowed = [n for n, s in enumerate(pool.shots) if s.item_id != item.item_id and n != same]
    ranked = sorted(allowed, key=lambda n: (-sims[n], n))[: max(CANDIDATES, 10 * k)]
    rows = pool._matrix[ranked]
    pairwise = (rows @ rows.T).toarray()
    chosen: list[int] = []
    seen: set[str] = set()
    d = pool.diversity
    while len(chosen) < min(k, len(ranked)):
        best, best_score = -1, -np.inf
        for pos, n in enumerate(ranked):
            if pos in chosen:
                continue
            redundancy = float(pairwise[pos, chosen].max()) if chosen else 0.0
            novel = 0.0 if set(pool.shots[n].codes) <= seen else 1.0
            score = (1 - d) * sims[n] - d * redundancy + d * novel
            if score > best_score + 1e-12:
                best, best_score = pos, score
        chosen.append(best)
        seen.update(pool.shots[ranked[best]].codes)
    return [pool.shots[ranked[pos]].item_id for pos in chosen]


def measure(which: str, n_items: int, n_pool: int, k: int, strategy: str) -> dict[str, Any]:
    """One measurement in this process: seconds (pool fit + selection), the choices."""
    items = [Item(f"i{i}", t) for i, t in enumerate(texts(n_items, 2))]
    start = time.perf_counter()
    pool = make_pool(n_pool, strategy)
    fitted = time.perf_counter() - start
    if which == "before":
        chosen = [before_select(pool, item, k) for item in items]
    else:
        pool.prepare(items, k)
        chosen = [[s.item_id for s in pool.select(item, k)] for item in items]
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "fit_seconds": fitted, "chosen": chosen}


def child(
    which: str, n_items: int, args: argparse.Namespace, src: str | None = None, *extra: str
) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", which, "--items", str(n_items)]
    command += ["--pool", str(args.pool), "--k", str(args.k), "--strategy", args.strategy]
    done = subprocess.run(
        [*command, *extra], capture_output=True, text=True, check=True, env=environment(src)
    )
    return json.loads(done.stdout)


def environment(src: str | None) -> dict[str, str]:
    """This process's environment, with ``src`` first on the path when given."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    return env


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def compare(args: argparse.Namespace) -> None:
    """``after`` here against ``after`` with ``--compare``'s source tree, alternating."""
    print(f"load average (1, 5, 15 min) before: {load()}")
    runs: dict[str, list[dict[str, Any]]] = {"previous": [], "now": [], "now, no thread": []}
    for _ in range(args.repeat):
        runs["previous"].append(child("after", args.items, args, args.compare))
        runs["now"].append(child("after", args.items, args))
        runs["now, no thread"].append(child("after", args.items, args, None, "--no-thread"))
    print(f"load average after: {load()}")
    best = {name: min(results, key=lambda r: r["seconds"]) for name, results in runs.items()}
    print(
        f"example retrieval: {args.items:,} items, pool {args.pool:,}, k={args.k}, {args.strategy}"
    )
    for name, result in best.items():
        print(
            f"  {name:15s} {result['seconds']:7.1f} s  process CPU {result['cpu_seconds']:6.1f} s"
            f"  peak {result['peak_mb']:5.0f} MB"
        )
    ratio = best["previous"]["seconds"] / best["now"]["seconds"]
    cpu = best["previous"]["cpu_seconds"] / best["now"]["cpu_seconds"]
    same = best["previous"]["chosen"] == best["now"]["chosen"]
    print(f"  ratio previous / now: {ratio:.2f}x wall, {cpu:.2f}x process CPU")
    print(f"  same examples for the first {len(best['now']['chosen']):,} items: {same}")


def dry_run(args: argparse.Namespace) -> None:
    """The whole dry run through the CLI, with its examples, in a child process."""
    root = Path(__file__).parents[1]
    codes = CODE_IDS
    with tempfile.TemporaryDirectory() as tmp:
        items, pool, labels = (
            Path(tmp) / "items.csv",
            Path(tmp) / "pool.csv",
            Path(tmp) / "codes.csv",
        )
        for path, prefix, rows in (
            (items, "i", texts(args.items, 2)),
            (pool, "p", texts(args.pool, 1)),
        ):
            with path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["item_id", "text"])
                writer.writerows([f"{prefix}{n}", text] for n, text in enumerate(rows))
        with labels.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["item_id", "coder", "code"])
            writer.writerows([f"p{n}", "ana", codes[n % len(codes)]] for n in range(args.pool))
        command = [
            sys.executable, "-m", "llmcode", "code", "--dry-run", "--json",
            "-t", str(root / "taxonomy" / "ptm-reuse.yaml"), "-i", str(items),
            "--backend", "openai", "--model", "gpt-4o-mini",
            "--examples", str(labels), "--examples-items", str(pool), "--runs-dir", tmp,
        ]  # fmt: skip
        print(f"load average (1, 5, 15 min) before: {load()}")
        trees = [("now", None)] + ([("previous", args.compare)] if args.compare else [])
        results: dict[str, list[Measured]] = {name: [] for name, _ in trees}
        for _ in range(args.repeat):
            for name, src in trees:
                results[name].append(measured(command, environment(src)))
        print(f"load average after: {load()}")
    best = {name: min(runs, key=lambda r: r.seconds) for name, runs in results.items()}
    print(
        f"llmcode code --dry-run on {args.items:,} items, pool {args.pool:,}, "
        "4 examples per item (best of each):"
    )
    for name, result in best.items():
        print(
            f"  {name:9s} {result.seconds:6.1f} s  process CPU {result.cpu:6.1f} s  "
            f"peak {result.peak_mb:5.0f} MB"
        )
    if "previous" in best:
        now, before = best["now"], best["previous"]
        print(
            f"  ratio previous / now: {before.seconds / now.seconds:.2f}x wall, "
            f"{before.cpu / now.cpu:.2f}x CPU, {before.peak_mb / now.peak_mb:.2f}x peak memory; "
            f"same estimate: {before.output == now.output}"
        )
    estimate = json.loads(best["now"].output)
    print(json.dumps({k: estimate[k] for k in DRY_RUN_KEYS}, indent=2))


@dataclass
class Measured:
    seconds: float
    cpu: float
    peak_mb: float
    output: str


LAUNCHER = """import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:], stdout=open(sys.argv[1], "wb"))
_, status, usage = os.wait4(child.pid, 0)
print(usage.ru_maxrss, usage.ru_utime + usage.ru_stime, file=sys.stderr)
sys.exit(os.waitstatus_to_exitcode(status))
"""
"""Runs a command and says its peak memory and CPU time: a process forked from this one would
count this one's memory as its own (``ru_maxrss`` keeps the forked pages' high-water mark)."""


def measured(command: list[str], env: dict[str, str]) -> Measured:
    """Run ``command``; its wall time, CPU time and peak memory (its own ``ru_maxrss``)."""
    with tempfile.NamedTemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", LAUNCHER, out.name, *command], stderr=err, env=env, check=False
        )
        seconds = time.perf_counter() - start
        err.seek(0)
        said = err.read().decode()
        if done.returncode != 0:
            raise SystemExit(said)
        peak, cpu = said.split()[-2:]
        return Measured(seconds, float(cpu), int(peak) / 1024, Path(out.name).read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--pool", type=int, default=3000)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--before-items", type=int, default=2000)
    parser.add_argument("--strategy", default="mmr")
    parser.add_argument("--child", choices=["before", "after"])
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--compare", metavar="OLD_SRC")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-thread", action="store_true")
    args = parser.parse_args()
    if args.dry_run:
        dry_run(args)
        return
    if args.compare and not args.child:
        compare(args)
        return
    if args.child:
        if args.no_thread:
            from llmcode.coding import examples

            examples.THREADED = False
        result = measure(args.child, args.items, args.pool, args.k, args.strategy)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        result["peak_mb"] = usage.ru_maxrss / 1024
        result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
        if args.child == "after" and args.items > 5000:
            result["chosen"] = result["chosen"][:5000]
        print(json.dumps(result))
        return
    after = child("after", args.items, args)
    before = child("before", args.before_items, args)
    same = sum(a == b for a, b in zip(after["chosen"], before["chosen"], strict=False))
    per_item = (before["seconds"] - before["fit_seconds"]) / args.before_items
    before_total = before["fit_seconds"] + per_item * args.items
    print(
        f"example retrieval: {args.items:,} items, pool {args.pool:,}, k={args.k}, "
        f"{args.strategy}, TF-IDF"
    )
    print(
        f"  before (one item at a time)  {before_total:8.1f} s (extrapolated from "
        f"{args.before_items:,} items: {per_item * 1000:.2f} ms/item), "
        f"peak {before['peak_mb']:.0f} MB at {args.before_items:,} items"
    )
    print(
        f"  after  (chunked, bulk)       {after['seconds']:8.1f} s "
        f"(pool fit {after['fit_seconds']:.1f} s; process CPU {after['cpu_seconds']:.1f} s with "
        f"data generation), peak {after['peak_mb']:.0f} MB"
    )
    print(f"  speed-up {before_total / after['seconds']:.0f}x")
    print(f"  same examples for {same:,} of the first {args.before_items:,} items")


if __name__ == "__main__":
    main()
