"""Kill campaign: `kill -9` a coding run at random moments, resume, repeat; count what was paid.

Codes N items against the test server on 127.0.0.1 (latency 50 ms, concurrency 8, no cache)
with `python -m llmcode code`, kills it with SIGKILL after a random number of records, resumes,
and repeats K times before letting the last resume finish. Then it checks the run: every item
has exactly one final record (none lost, none duplicated), and compares the server's count of
answered (paid) chat requests with the manifest's `usage.calls` (requests whose answers were
recorded) plus `usage.abandoned` (requests in flight at a kill, counted by the in-flight ledger).

    python benchmarks/kill_campaign.py                  # 120 items, 8 kills
    python benchmarks/kill_campaign.py --items 300 --kills 20 --seed 3
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from llmcode.store.runs import RunStore
from llmcode.testserver import ServerConfig, TestServer

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=120)
    parser.add_argument("--kills", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OPENAI_API_KEY": "test"}
    with tempfile.TemporaryDirectory() as tmp, TestServer(ServerConfig(latency=0.05)) as server:
        items = Path(tmp) / "items.csv"
        rows = [
            f"k{i},Issue {i},The model crashes when loading checkpoint {i}."
            for i in range(args.items)
        ]
        items.write_text("item_id,title,body\n" + "\n".join(rows) + "\n")
        runs = Path(tmp) / "runs"
        base = [sys.executable, "-m", "llmcode", "code", "--runs-dir", str(runs)]
        first = [
            *base,
            "-t",
            str(ROOT / "tests/data/tiny.yaml"),
            "-i",
            str(items),
            "--base-url",
            server.base_url,
            "--run-id",
            "k",
            "--no-cache",
            "--concurrency",
            "8",
        ]
        resume = [*base, "--resume", "k", "--no-cache"]
        codings = runs / "k" / "codings.jsonl"
        kills = 0
        for attempt in range(args.kills):
            done = codings.read_text().count("\n") if codings.exists() else 0
            if done >= args.items - 8:
                break
            target = done + rng.randint(
                1, max(1, (args.items - done) // (args.kills - attempt + 1))
            )
            command = first if attempt == 0 else resume
            child = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            deadline = time.monotonic() + 120
            while child.poll() is None and time.monotonic() < deadline:
                if codings.exists() and codings.read_text().count("\n") >= target:
                    break
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.05))  # a random moment, often mid-request
            child.send_signal(signal.SIGKILL)
            child.wait()
            kills += 1
        final = subprocess.run(resume, env=env, capture_output=True, text=True, timeout=600)
        stats = server.stats
        run = RunStore(runs).open("k")
        records = run.codings()
        manifest = run.manifest()
    per_item = Counter(r.item_id for r in records)
    lost = args.items - len(per_item)
    duplicated = sum(n - 1 for n in per_item.values())
    usage = manifest.usage
    print(
        f"items {args.items}, kills {kills}, final resume exit {final.returncode}, "
        f"status {manifest.status}"
    )
    print(f"lost records {lost}, duplicated records {duplicated}")
    print(f"server: {stats.paid_calls} paid (answered 200) of {stats.chat_requests} chat requests")
    print(
        f"manifest: calls {int(usage['calls'])} + abandoned {int(usage.get('abandoned', 0))} "
        f"= {int(usage['calls'] + usage.get('abandoned', 0))}"
    )


if __name__ == "__main__":
    main()
