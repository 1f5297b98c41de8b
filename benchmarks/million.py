"""Benchmark a million items: dry run, live coding, resume, runs show, export (not a test).

    PYTHONPATH=src python benchmarks/million.py [--sizes 10000,100000,1000000]
        [--live 10000,100000] [--left 100] [--concurrency 64]
        [--steps dry,live,resume,show,export] [--keep DIR]

For each size N, synthetic issue-like items (``item_id,title,body``, 60-200 characters, from a
seed; nothing committed) and, each command in its own process (its wall time, its CPU time
and its peak memory, ``ru_maxrss`` from ``wait4`` in a small launcher: the client only):

- ``dry run``: ``llmcode code --dry-run --json`` (tiny taxonomy, gpt-4o-mini prices);
- ``live`` (sizes in ``--live``): ``llmcode code`` against the test server (zero latency, in
  this process, so its CPU is not the client's): items/s and client CPU per item;
- ``resume``: a run of N items with all but ``--left`` coded, **synthesised** with the store's
  own writer (``start_run``, ``Run.append_codings``, ``finish_run``: records shaped like a
  coded run's, not coded live), resumed with ``llmcode code --resume`` against the test
  server: seconds until the server sees the first request, from its last request to the end
  of the command (``last→end``: finishing the run and its summary), and in all;
- ``runs show`` and ``export -o codes.csv`` of that run.

``--steps`` runs only some of the commands (the run is synthesised for ``resume``, ``show`` and
``export``); ``--keep DIR`` works in DIR instead of a temporary folder and keeps it: the items
and the synthesised run (a pristine copy, ``DIR/N/pristine``) are made once and reused by later
benchmarks with the same DIR (a 1,000,000-item synthesis takes minutes); each resume starts
from a fresh copy of the pristine run.

Targets (issue 24): dry run of 1,000,000 items <= 15 s, resume reaches its first request in
<= 10 s, runs show and export <= 30 s, memory flat with the number of items. The load average
(``uptime``) is printed before and after: the machine may be shared.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from llmcode.coding.lifecycle import finish_run, start_run
from llmcode.items import load_items
from llmcode.llm.answers import CodeAssignment
from llmcode.llm.evidence import Span
from llmcode.llm.prompts import load_prompts
from llmcode.store.config import RunConfig
from llmcode.store.models import CodingRecord
from llmcode.store.runs import RunStore
from llmcode.taxonomy.model import load_taxonomy
from llmcode.testserver import ServerConfig, TestServer

ROOT = Path(__file__).resolve().parents[1]
TAXONOMY = ROOT / "tests" / "data" / "tiny.yaml"
WORDS = [
    *("model", "checkpoint", "loading", "fails", "with", "CUDA", "error", "after", "upgrading"),
    *("transformers", "version", "memory", "leak", "slow", "inference", "batch", "size"),
    *("tokenizer", "docs", "example", "question", "feature", "request"),
]
CODES = ("usage", "performance", "resources")
STEPS = ("dry", "live", "resume", "show", "export")
ENV = {"OPENAI_API_KEY": "test", "LLMCODE_MODEL": "", "OPENAI_BASE_URL": ""}


def write_items(path: Path, n: int, seed: int = 24) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["item_id", "title", "body"])
        for i in range(n):
            title = " ".join(rng.choices(WORDS, k=rng.randint(3, 8)))
            body = " ".join(rng.choices(WORDS, k=rng.randint(8, 25)))
            writer.writerow([f"issue-{i}", title, body])


@dataclass
class Measured:
    seconds: float
    cpu: float
    peak_mb: float
    first_request: float | None = None
    last_request: float | None = None


LAUNCHER = """import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:], stdout=open(sys.argv[1], "wb"))
_, status, usage = os.wait4(child.pid, 0)
print(usage.ru_maxrss, usage.ru_utime + usage.ru_stime, file=sys.stderr)
sys.exit(os.waitstatus_to_exitcode(status))
"""
"""Runs the command and says its peak memory and CPU time: a process forked from this one
would count this one's memory as its own (``ru_maxrss`` keeps the forked pages' high-water
mark), so the command is started from this small launcher instead."""


def measured(command: list[str], server: TestServer | None = None) -> Measured:
    """Run an llmcode command; its wall and CPU time, peak memory, and (with ``server``) the
    seconds until the server saw its first chat request."""
    env = {**os.environ, **ENV}
    with tempfile.NamedTemporaryFile() as out, tempfile.TemporaryFile() as err:
        before = server.stats.chat_requests if server is not None else 0
        start = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, out.name, sys.executable, "-m", "llmcode", *command],
            stderr=err,
            env=env,
        )
        first = last = None
        seen = before
        while True:
            if process.poll() is not None:
                break
            if server is not None and server.stats.chat_requests > seen:
                seen = server.stats.chat_requests
                last = time.perf_counter() - start
                first = last if first is None else first
            time.sleep(0.005)
        seconds = time.perf_counter() - start
        err.seek(0)
        said = err.read().decode()
        if process.returncode != 0:
            raise SystemExit(f"{' '.join(command[:2])} failed:\n{said[-3000:]}")
    peak, cpu = said.split()[-2:]
    return Measured(seconds, float(cpu), int(peak) / 1024, first, last)


def synthesise_run(root: Path, items_path: Path, left: int, run_id: str, base_url: str) -> float:
    """A run of every item, all but the last ``left`` coded, written with the store's own
    writer (records shaped like a coded run's); returns the seconds it took."""
    start = time.perf_counter()
    config = RunConfig(
        taxonomy_path=str(TAXONOMY),
        items_path=str(items_path),
        backend="openai",
        model="test-model",
        base_url=base_url,
        concurrency=64,
    )
    item_set = load_items(items_path, text_columns=["title", "body"])
    config = config.replace(text_columns=("title", "body"))
    taxonomy = load_taxonomy(TAXONOMY)

    class Described:  # the backend's description, for the manifest
        def describe(self) -> dict[str, str]:
            return {"backend": "openai", "model": "test-model", "base_url": "http://127.0.0.1"}

    run = start_run(
        RunStore(root),
        config,
        item_set,
        taxonomy,
        TAXONOMY.read_text("utf-8"),
        load_prompts(),
        Described(),  # type: ignore[arg-type]
        run_id,
    )
    coded = item_set.items[: len(item_set.items) - left]
    for at in range(0, len(coded), 10_000):
        records = []
        for n, item in enumerate(coded[at : at + 10_000], start=at):
            quote = item.text.split("\n\n")[-1][:40]
            code = CodeAssignment(
                code=CODES[n % len(CODES)],
                justification="The issue says so.",
                evidence=[Span(quote=quote, start=0, end=len(quote), verified=True)],
                confidence=0.9,
            )
            records.append(
                CodingRecord(
                    item_id=item.item_id,
                    status="ok",
                    codes=[code],
                    raw='{"codes": []}',
                    attempts=1,
                    model="test-model",
                    prompt_tokens=420,
                    completion_tokens=60,
                )
            )
        run.append_codings(records)
    finish_run(run, "interrupted")
    return time.perf_counter() - start


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--live", default="10000,100000")
    parser.add_argument("--left", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--steps", default=",".join(STEPS), help="some of " + ", ".join(STEPS))
    parser.add_argument("--keep", type=Path, help="work in (and keep) this folder")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    live = {int(s) for s in args.live.split(",") if s}
    steps = set(args.steps.split(","))
    if steps - set(STEPS):
        raise SystemExit(f"--steps: unknown {', '.join(sorted(steps - set(STEPS)))}")
    print(f"load average (1, 5, 15 min) before: {load()}")
    rows: list[tuple[int, str, Measured, int]] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        TestServer(ServerConfig(max_requests=10**9, max_seconds=86_400.0)) as server,
    ):
        url = ["--base-url", server.base_url, "--backend", "openai", "--model", "test-model"]
        for n in sizes:
            folder = (args.keep or Path(tmp)) / str(n)
            folder.mkdir(parents=True, exist_ok=True)
            items, runs = folder / "items.csv", folder / "runs"
            if not items.is_file():
                write_items(items, n)
            common = ["-t", str(TAXONOMY), "-i", str(items), "--runs-dir", str(runs)]
            if "dry" in steps:
                dry = ["code", "--dry-run", "--json", *common, "--backend", "openai"]
                rows.append((n, "dry run", measured([*dry, "--model", "gpt-4o-mini"]), n))
            if n in live and "live" in steps:
                shutil.rmtree(runs / "live", ignore_errors=True)
                coding = ["code", *common, *url, "--concurrency", str(args.concurrency)]
                rows.append((n, "live", measured([*coding, "--run-id", "live"], server), n))
            if not steps & {"resume", "show", "export"}:
                continue
            pristine = folder / "pristine"
            if not (pristine / "big" / "manifest.json").is_file():
                shutil.rmtree(pristine, ignore_errors=True)
                made = synthesise_run(pristine, items, args.left, "big", server.base_url)
                print(f"  ({n:,} items: run synthesised in {made:.1f} s)", flush=True)
            if "resume" in steps or not (runs / "big").is_dir():
                shutil.rmtree(runs / "big", ignore_errors=True)
                shutil.copytree(pristine / "big", runs / "big")
                manifest = runs / "big" / "manifest.json"  # this server's port, not the first's
                text = re.sub(r"http://127\.0\.0\.1:\d+/v1", server.base_url, manifest.read_text())
                manifest.write_text(text)
            if "resume" in steps:
                resume = ["code", "--resume", "big", "--runs-dir", str(runs), "--no-cache"]
                rows.append((n, "resume", measured(resume, server), args.left))
            if "show" in steps:
                show = ["runs", "show", "big", "--runs-dir", str(runs)]
                rows.append((n, "runs show", measured(show), n))
            if "export" in steps:
                to = ["-o", str(folder / "codes.csv")]
                rows.append(
                    (n, "export", measured(["export", "big", "--runs-dir", str(runs), *to]), n)
                )
            print(f"  ({n:,} items done; load {load()})", flush=True)
    print(f"load average after: {load()}")
    print(f"{'items':>10} {'command':10} {'seconds':>8} {'first req':>9} {'last→end':>9} "
          f"{'items/s':>9} {'CPU ms/item':>11} {'peak MB':>8}")  # fmt: skip
    for n, what, m, handled in rows:
        first = f"{m.first_request:9.2f}" if m.first_request is not None else f"{'-':>9}"
        if m.last_request is not None:
            first += f" {m.seconds - m.last_request:9.2f}"
        else:
            first += f" {'-':>9}"
        rate = f"{handled / m.seconds:9,.0f}" if what == "live" else f"{'-':>9}"
        cpu = f"{m.cpu * 1000 / handled:11.3f}" if what in ("live", "dry run") else f"{'-':>11}"
        print(f"{n:>10,} {what:10} {m.seconds:8.2f} {first} {rate} {cpu} {m.peak_mb:8.0f}")


if __name__ == "__main__":
    main()
