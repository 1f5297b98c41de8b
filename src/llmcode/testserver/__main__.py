"""``python -m llmcode.testserver``: run the test server by hand until its budget ends, Ctrl-C
or SIGTERM.

This is a shell: it parses options, prints the address and, at the end, the counts (never headers).
SIGTERM stops it like Ctrl-C does, also when it was started in the background of a script (where
the shell makes it ignore SIGINT).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
from collections.abc import Sequence

from llmcode.testserver.config import ServerConfig
from llmcode.testserver.server import TestServer


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m llmcode.testserver``: serve until the budget is spent or Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m llmcode.testserver",
        description="An OpenAI-compatible test server on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--model", default="test-model")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--rpm", type=int, default=None)
    parser.add_argument("--tpm", type=int, default=None)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument(
        "--fault-script", default="", help="kinds for the first requests, e.g. rate_limit,ok"
    )
    parser.add_argument("--timeout-sleep", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-json-schema", action="store_true")
    parser.add_argument("--batch-delay", type=float, default=0.0)
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument("--max-seconds", type=float, default=600.0)
    args = parser.parse_args(argv)
    config = ServerConfig(
        port=args.port,
        model=args.model,
        latency=args.latency,
        rpm=args.rpm,
        tpm=args.tpm,
        fault_rate=args.fault_rate,
        fault_script=[k for k in args.fault_script.split(",") if k],
        timeout_sleep=args.timeout_sleep,
        seed=args.seed,
        supports_json_schema=not args.no_json_schema,
        batch_delay=args.batch_delay,
        max_requests=args.max_requests,
        max_seconds=args.max_seconds,
    )
    signal.signal(signal.SIGTERM, _interrupt)
    with TestServer(config) as server:
        with contextlib.suppress(KeyboardInterrupt):  # entered before the line that says it runs
            print(f"serving {server.base_url} (Ctrl-C stops)", flush=True)
            server.wait_stopped()
        stats = server.stats
    print(
        f"requests={stats.requests} statuses={stats.status_counts} faults={stats.faults} "
        f"paid={stats.paid_calls} duplicates={stats.duplicate_paid_calls}"
    )
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    raise SystemExit(main())
