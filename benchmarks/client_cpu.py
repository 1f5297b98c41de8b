"""Client CPU per item: `llmcode code`'s path at concurrency 64 against the test server with
no latency, so the client's own work is all that is measured (issue 24: ≤ 2 ms per item).

The test server runs in its own process; this process's CPU time (user + system) over a run,
divided by its items, is the figure: prompt rendering, the request through the openai SDK and
its HTTP transport, JSON parsing and validation, evidence verification and the record appended
to codings.jsonl. Median of --runs runs, each on new items, after a warm-up run; every run in
one go, with the load average printed (other work on the machine slows CPU time too, a little).

Transports under the SDK: ``httpx`` (the SDK's default, what llmcode uses) and ``aiohttp``
(``openai.DefaultAioHttpClient``). HTTP/2 cannot be measured here: the test server speaks
HTTP/1.1 only, as do vLLM and llama.cpp's server without a TLS proxy in front.

    python benchmarks/client_cpu.py                 # 2,000 items × 5 runs per transport
    python benchmarks/client_cpu.py --transport httpx --items 1000
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Callable
from typing import Any

import openai
import throughput

from llmcode.llm.backends.openai import OpenAIBackend

TARGET_MS = 2.0
TRANSPORTS: dict[str, Callable[[float], Any]] = {
    "httpx": lambda timeout: None,  # the SDK's own client
    "aiohttp": lambda timeout: openai.DefaultAioHttpClient(timeout=timeout),
}


def with_transport(name: str) -> type[OpenAIBackend]:
    """OpenAIBackend with the named HTTP client under the SDK."""
    make = TRANSPORTS[name]

    class Backend(OpenAIBackend):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["http_client"] = make(kwargs.get("timeout", 120.0))
            super().__init__(*args, **kwargs)

    return Backend


def measure(base_url: str, transport: str, items: int, runs: int) -> list[float]:
    throughput.OpenAIBackend = with_transport(transport)  # type: ignore[misc]
    throughput.ours(base_url, throughput.make_items(200, f"warm-{transport}-"), 64, rpm=None)
    cpus = []
    for run in range(runs):
        batch = throughput.make_items(items, f"{transport}-{run}-")
        rate, lost, cpu = throughput.ours(base_url, batch, 64, rpm=None)
        print(f"  {transport} run {run + 1}: {cpu:.2f} ms/item, {rate:.0f} items/s, lost {lost}")
        cpus.append(cpu)
    return cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--transport", action="append", choices=sorted(TRANSPORTS))
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start, {os.cpu_count()} CPUs")
    server = throughput.Server(max_seconds=3000)
    medians = {}
    try:
        for transport in args.transport or ["httpx", "aiohttp"]:
            medians[transport] = statistics.median(
                measure(server.base_url, transport, args.items, args.runs)
            )
    finally:
        server.stop()
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end")
    for transport, median in medians.items():
        used = " (llmcode's)" if transport == "httpx" else ""
        print(
            f"{transport}{used}: median {median:.2f} ms CPU per item at concurrency 64 over "
            f"{args.runs} runs of {args.items:,} items = {median / TARGET_MS:.2f} of the "
            f"{TARGET_MS:.0f} ms target"
        )
    if len(medians) == 2:
        print(f"aiohttp / httpx: {medians['aiohttp'] / medians['httpx']:.2f}")


if __name__ == "__main__":
    main()
