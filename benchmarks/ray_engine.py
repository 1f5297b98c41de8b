"""Benchmark `llmcode batch run --engine ray` against the test server with faults (not a test).

    PYTHONPATH=src python benchmarks/ray_engine.py [--items 1000] [--fault-rate 0.2] [--endpoints 2]

Prepares a batch run of --items synthetic items (tiny taxonomy), sends it through a local Ray
instance to --endpoints test servers injecting 429s and 500s at --fault-rate, collects it, and
prints: requests, faults injected, retries, failed requests, paid calls (each request answered
once), the Ray time and the run's record statuses.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

from typer.testing import CliRunner

from llmcode.cli import get_app
from llmcode.store.runs import RunStore
from llmcode.testserver import ServerConfig, TestServer

TAXONOMY = Path(__file__).parents[1] / "tests" / "data" / "tiny.yaml"
OFFLINE = {"OPENAI_API_KEY": None, "OPENAI_BASE_URL": None, "LLMCODE_MODEL": None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--endpoints", type=int, default=2)
    args = parser.parse_args()
    cli = CliRunner()
    faults = {"rate_limit": 1.0, "server_error": 1.0}
    with tempfile.TemporaryDirectory() as tmp:
        items = Path(tmp) / "items.csv"
        rows = [f"i{n},The model runs out of memory on batch {n}." for n in range(args.items)]
        items.write_text("item_id,text\n" + "\n".join(rows) + "\n", encoding="utf-8")
        configs = [
            ServerConfig(
                fault_rate=args.fault_rate,
                fault_weights=faults,
                retry_after=0.05,
                seed=n,
                max_requests=10 * args.items,
            )
            for n in range(args.endpoints)
        ]
        servers = [TestServer(config) for config in configs]
        for server in servers:
            server.start()
        try:
            runs = ["--runs-dir", tmp]
            urls = [x for s in servers for x in ("--base-url", s.base_url)]
            prepared = cli.invoke(
                get_app(),
                ["batch", "prepare", "-t", str(TAXONOMY), "-i", str(items), "--model",
                 "test-model", "--run-id", "r", *urls[:2], *runs],
                env=OFFLINE,
            )  # fmt: skip
            assert prepared.exit_code == 0, prepared.output
            start = time.perf_counter()
            sent = cli.invoke(
                get_app(),
                ["batch", "run", "r", "--engine", "ray", "--max-retries", "8", *urls, *runs],
                env=OFFLINE,
            )
            seconds = time.perf_counter() - start
            assert sent.exit_code == 0, sent.output
            output = Path(tmp) / "r" / "batch" / "ray-output.jsonl"
            collected = cli.invoke(
                get_app(), ["batch", "collect", "r", "--file", str(output), *runs], env=OFFLINE
            )
            assert collected.exit_code == 0, collected.output
            stats = [s.stats for s in servers]
            statuses = Counter(r.status for r in RunStore(tmp).open("r").latest_codings().values())
        finally:
            for server in servers:
                server.stop()
    print(" ".join(sent.output.split()))
    print(
        f"ray engine: {args.items:,} requests to {args.endpoints} test server(s) with "
        f"{args.fault_rate:.0%} faults (429, 500): {seconds:.1f} s including Ray start-up"
    )
    print(f"  paid calls {sum(s.paid_calls for s in stats):,} (each request answered once)")
    print(f"  faults injected {sum(sum(s.faults.values()) for s in stats):,}")
    print(f"  records after collect: {dict(statuses)}")


if __name__ == "__main__":
    main()
