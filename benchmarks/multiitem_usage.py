"""Calls and tokens per item with one vs several items per request, against our test server.

Codes N synthetic items with ``llmcode code`` (in process) for each setting — K = 1 and K = 5
items per request, with and without ``--samples`` and two ``--model``s — and prints, per item,
the calls and tokens the server was paid for next to what the run's manifest counts, with the
samples, models and code probabilities each record kept. The two columns must agree: each
record counts its share of a request, never the whole request.

    python benchmarks/multiitem_usage.py              # 60 items (about a minute)
    python benchmarks/multiitem_usage.py --items 200
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from llmcode.cli import get_app
from llmcode.store.runs import RunStore
from llmcode.testserver import ServerConfig, TestServer

ROOT = Path(__file__).resolve().parents[1]
CASES = [
    ("K=1", []),
    ("K=5", ["--items-per-request", "5"]),
    ("K=1 samples=3", ["--samples", "3"]),
    ("K=5 samples=3", ["--items-per-request", "5", "--samples", "3"]),
    (
        "K=5 2 models, 2 samples",
        ["--items-per-request", "5", "--samples", "2", "--model", "m-a", "--model", "m-b"],
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=60)
    n = parser.parse_args().items
    tmp = Path(tempfile.mkdtemp())
    texts = [
        f"Item {i}: generate() ignores max_length={i}. Then CUDA out of memory." for i in range(n)
    ]
    pd.DataFrame({"item_id": [f"x{i}" for i in range(n)], "text": texts}).to_csv(
        tmp / "items.csv", index=False
    )
    app, runner = get_app(), CliRunner()
    print(f"{n} items; per item: calls and tokens paid (server) vs counted (manifest)")
    print(
        f"{'setting':26} {'paid calls':>10} {'counted':>8} {'paid tok':>9} {'counted':>8}"
        f" {'samples':>7} {'models':>8} {'probs':>6}"
    )
    for number, (label, extra) in enumerate(CASES):
        runs = tmp / f"runs{number}"
        with TestServer(ServerConfig()) as server:
            args = [
                "code",
                "-t",
                ROOT / "tests/data/tiny.yaml",
                "-i",
                tmp / "items.csv",
                "--base-url",
                server.base_url,
                "--runs-dir",
                runs,
                "--run-id",
                "r",
                "--no-cache",
                *extra,
            ]
            result = runner.invoke(app, [str(a) for a in args], env={"OPENAI_API_KEY": "sk-x"})
            stats = server.stats
        if result.exit_code != 0:
            raise SystemExit(result.output)
        run = RunStore(runs).open("r")
        usage = run.manifest().usage
        records = list(run.latest_codings().values())
        models = {s.model for r in records for s in r.samples} or {r.model for r in records}
        samples = sum(len(r.samples) or 1 for r in records) / len(records)
        probs = sum(
            bool(r.probabilities) or any(s.probabilities for s in r.samples) for r in records
        )
        paid_tokens = (stats.prompt_tokens + stats.completion_tokens) / n
        counted_tokens = (usage["prompt_tokens"] + usage["completion_tokens"]) / n
        print(
            f"{label:26} {stats.paid_calls / n:10.2f} {usage['calls'] / n:8.2f}"
            f" {paid_tokens:9.1f} {counted_tokens:8.1f} {samples:7.1f} {len(models):8d}"
            f" {probs / n:6.0%}"
        )


if __name__ == "__main__":
    main()
