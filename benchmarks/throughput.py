"""Throughput: a naive sequential `openai` loop vs `llmcode code`, against our test server.

Two settings, as in issue 8: rate-limited (200 ms latency, 600 RPM, 5% injected faults) and
latency-bound (200 ms latency, no limit). In the rate-limited setting the ratio is also given
with the faulted requests (every request beyond one per item: 429s, 500s, timeouts, malformed
or off-schema answers, all counted by the server against its limit) taken off the limit. The
server runs in its own process on 127.0.0.1, so the CPU time measured here is ours. Prints
items/s, the ratio to the endpoint's limit or to the naive loop, CPU ms per item, lost items
and paid duplicate calls, all from one run.

    python benchmarks/throughput.py                # 2,000 items (about 5 minutes)
    python benchmarks/throughput.py --items 500    # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import openai

from llmcode.coding.closed import Coder, code_items
from llmcode.coding.lifecycle import start_run
from llmcode.items import Item, ItemSet
from llmcode.llm.answers import check_answer
from llmcode.llm.backends.openai import OpenAIBackend
from llmcode.llm.backends.ratelimit import RateLimiter
from llmcode.llm.prompts import item_message, load_prompts, system_message
from llmcode.store.config import RunConfig
from llmcode.store.runs import RunStore
from llmcode.taxonomy.model import load_taxonomy

ROOT = Path(__file__).resolve().parents[1]
TAXONOMY = ROOT / "taxonomy" / "ptm-reuse.yaml"
WORDS = [
    "model",
    "checkpoint",
    "loading",
    "fails",
    "with",
    "CUDA",
    "error",
    "after",
    "upgrading",
    "transformers",
    "version",
]


def make_items(n: int, prefix: str = "b") -> list[Item]:
    return [
        Item(
            f"{prefix}{i}",
            f"Issue {prefix}{i}: the {WORDS[i % len(WORDS)]} step breaks. "
            + " ".join(WORDS[(i + k) % len(WORDS)] for k in range(40))
            + ".",
        )
        for i in range(n)
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`python -m llmcode.testserver` in its own process; stats parsed from its last line."""

    def __init__(self, **options: object) -> None:
        self.port = free_port()
        args = [sys.executable, "-m", "llmcode.testserver", "--port", str(self.port)]
        for key, value in options.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.process.stdout.readline()  # "serving ..."
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> dict[str, str]:
        self.process.send_signal(signal.SIGTERM)  # SIGINT is ignored in background jobs
        out, _ = self.process.communicate(timeout=30)
        return dict(re.findall(r"(\w+)=(\{[^}]*\}|\S+)", out))


def naive_loop(base_url: str, items: list[Item]) -> tuple[float, int, float]:
    """What users write: one request at a time, default SDK retries, parse or lose the item."""
    taxonomy = load_taxonomy(TAXONOMY)
    prompts = load_prompts()
    system = system_message(prompts, taxonomy)
    coder_ids = [c.id for c in taxonomy.categories]
    client = openai.OpenAI(base_url=base_url, api_key="bench", timeout=2.0)
    from llmcode.llm.answers import answer_schema

    schema = answer_schema(coder_ids, False)
    lost = 0
    start, cpu = time.perf_counter(), time.process_time()
    for item in items:
        try:
            completion = client.chat.completions.create(
                model="test-model",
                messages=[system, item_message(prompts, item.item_id, item.text)],  # type: ignore[list-item]
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "coding", "schema": schema},
                },  # type: ignore[typeddict-item]
            )
            checked = check_answer(
                completion.choices[0].message.content or "", item.text, coder_ids, False
            )
            lost += bool(checked.fatal)
        except openai.OpenAIError:
            lost += 1
    elapsed, cpu_used = time.perf_counter() - start, time.process_time() - cpu
    client.close()
    return len(items) / elapsed, lost, cpu_used / len(items) * 1000


def ours(
    base_url: str, items: list[Item], concurrency: int, rpm: float | None
) -> tuple[float, int, float]:
    taxonomy = load_taxonomy(TAXONOMY)
    prompts = load_prompts()
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(tmp)
        config = RunConfig(
            taxonomy_path=str(TAXONOMY),
            items_path="bench",
            backend="openai",
            base_url=base_url,
            concurrency=concurrency,
            rpm=rpm,
            timeout=2.0,
        )
        backend = OpenAIBackend(
            model="test-model",
            base_url=base_url,
            timeout=2.0,
            limiter=RateLimiter(rpm=rpm) if rpm else None,
        )
        item_set = ItemSet(items, [], "bench", "-", "item_id", ("text",))
        run = start_run(
            store, config, item_set, taxonomy, TAXONOMY.read_text(), prompts, backend, "bench"
        )
        coder = Coder(taxonomy, backend, prompts, config, cache=None)

        async def go() -> None:
            try:
                await code_items(items, coder, run)
            finally:
                await backend.aclose()

        start, cpu = time.perf_counter(), time.process_time()
        asyncio.run(go())
        elapsed, cpu_used = time.perf_counter() - start, time.process_time() - cpu
        latest = run.latest_codings()
        lost = sum(
            1 for i in items if i.item_id not in latest or latest[i.item_id].status == "error"
        )
        return len(items) / elapsed, lost, cpu_used / len(items) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument(
        "--naive-items",
        type=int,
        default=150,
        help="the naive loop runs on this many items (its rate does not depend on N)",
    )
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    items = make_items(args.items)
    results = {}

    print(f"rate-limited: 200 ms latency, 600 RPM, 5% faults, {args.items} items")
    server = Server(latency=0.2, rpm=600, fault_rate=0.05, timeout_sleep=5, max_seconds=3000)
    rate, lost, cpu = ours(server.base_url, items, args.concurrency, rpm=600)
    stats = server.stop()
    limit = 600 / 60
    # faulted requests (429, 500, timeouts, malformed or off-schema answers) count against the
    # server's limit but code no item: subtract their rate from the limit for the fair ratio
    requests = int(stats.get("requests", 0) or 0)
    faulted = requests - len(items) if requests else 0
    elapsed = len(items) / rate
    usable_limit = limit - faulted / elapsed
    results["rate_limited"] = {
        "items_per_s": round(rate, 2),
        "ratio_to_limit": round(rate / limit, 3),
        "faulted_requests": faulted,
        "ratio_to_limit_less_faulted": round(rate / usable_limit, 3),
        "lost_items": lost,
        "cpu_ms_per_item": round(cpu, 2),
        "paid_duplicates": stats.get("duplicates"),
        "server": stats,
    }
    print(json.dumps(results["rate_limited"], indent=2))

    print(f"latency-bound: 200 ms latency, no limit, {args.items} items vs a naive loop")
    server = Server(latency=0.2, max_seconds=3000)
    naive_rate, naive_lost, naive_cpu = naive_loop(
        server.base_url, make_items(args.naive_items, "n")
    )
    rate, lost, cpu = ours(server.base_url, items, args.concurrency, rpm=None)
    stats = server.stop()
    results["latency_bound"] = {
        "items_per_s": round(rate, 2),
        "naive_items_per_s": round(naive_rate, 2),
        "ratio_to_naive": round(rate / naive_rate, 1),
        "lost_items": lost,
        "naive_lost_items": naive_lost,
        "cpu_ms_per_item": round(cpu, 2),
        "naive_cpu_ms_per_item": round(naive_cpu, 2),
        "paid_duplicates": stats.get("duplicates"),
    }
    print(json.dumps(results["latency_bound"], indent=2))


if __name__ == "__main__":
    main()
