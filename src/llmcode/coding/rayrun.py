"""A run's prepared batch requests sent through Ray Data (``llmcode batch run RUN --engine ray``).

The requests file (`llmcode.coding.batch`, OpenAI Batch JSONL) becomes a Ray dataset; each
request goes to one of the OpenAI-compatible endpoints (round robin) from Ray tasks
(``map_batches``), each task holding ``concurrency`` requests in flight with an httpx client.
A 429, 5xx, timeout or connection error is retried ``max_retries`` times with exponential
backoff (honouring ``Retry-After``); a request that still fails becomes an error line, never a
lost one. Every answer is written as a line of the Batch API's output format
(``custom_id``, ``response.status_code``, ``response.body``, ``error``), so ``batch collect
--file`` ingests it with the same checks and re-asks as any batch.

Ray Data's own HTTP request processor (``ray.data.llm``) is not used: a request out of retries
raises there and fails the whole dataset, and a 500 is not retried. Ray is an optional extra
(``pip install 'llmcode[ray]'``), imported only here, only when a run is sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmcode.errors import BackendError, ConfigError

RETRYABLE = frozenset({408, 409, 429, 500, 502, 503, 504})
OUTPUT = "ray-output.jsonl"


@dataclass
class RaySettings:
    """Where and how fast: endpoints (base URLs), requests in flight per task, retries."""

    endpoints: list[str]
    api_key: str = "sk-none"
    concurrency: int = 8
    tasks: int = 2
    max_retries: int = 4
    timeout: float = 120.0
    backoff: float = 0.5
    address: str | None = None


@dataclass
class RayReport:
    """What the Ray run did: lines written by HTTP status, retries, failed custom ids."""

    output: Path
    requests: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0


def check_endpoints(endpoints: list[str], api_key: str) -> None:
    """Refuse early (one line with the fix) when an endpoint does not answer ``GET /models``."""
    import httpx

    if not endpoints:
        raise ConfigError(
            "no endpoint to send the requests to", hint="give --base-url (repeatable)"
        )
    for url in endpoints:
        try:
            httpx.get(
                f"{url.rstrip('/')}/models",
                headers={"Authorization": f"Bearer {api_key}"},
                timeout=5.0,
            )
        except httpx.HTTPError as exc:
            raise BackendError(
                f"endpoint {url} cannot be reached ({type(exc).__name__})",
                hint="check --base-url and that the server is running",
            ) from exc


def send_with_ray(requests: Path, output: Path, settings: RaySettings) -> RayReport:
    """Send every request of ``requests`` through Ray Data; write the answers to ``output``."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(
            "Ray is not installed", hint="pip install 'llmcode[ray]' (Ray Data)"
        ) from exc
    check_endpoints(settings.endpoints, settings.api_key)
    rows = []
    for n, line in enumerate(requests.read_text(encoding="utf-8").splitlines()):
        request = json.loads(line)
        endpoint = settings.endpoints[n % len(settings.endpoints)]
        rows.append(
            {
                "custom_id": request["custom_id"],
                "endpoint": endpoint,
                "body": json.dumps(request["body"]),
            }
        )
    started = time.monotonic()
    start_ray(ray, settings.address)
    report = RayReport(output=output, requests=len(rows))
    if rows:
        size = max(1, min(256, -(-len(rows) // max(1, settings.tasks))))
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        ray.data.DataContext.get_current().enable_progress_bars = False
        pool = getattr(ray.data, "TaskPoolStrategy", None)
        spread: dict[str, Any] = (
            {"compute": pool(size=settings.tasks)}
            if pool is not None
            else {"concurrency": settings.tasks}
        )
        dataset = ray.data.from_items(rows).map_batches(
            _Sender(settings), batch_size=size, batch_format="pandas", **spread
        )
        output.parent.mkdir(parents=True, exist_ok=True)
        with output.open("w", encoding="utf-8") as handle:
            for row in dataset.iter_rows():
                handle.write(row["line"] + "\n")
                report.retries += int(row["retries"])
                line = json.loads(row["line"])
                status = line["response"]["status_code"] if line["response"] else None
                report.statuses[str(status or "failed")] += 1
                if line["error"] is not None:
                    report.failed.append(line["custom_id"])
    report.seconds = time.monotonic() - started
    return report


class _Sender:
    """A Ray Data batch function: send one batch of requests, return their output lines."""

    def __init__(self, settings: RaySettings) -> None:
        self.settings = settings

    def __call__(self, batch: Any) -> Any:
        import pandas as pd

        answers = asyncio.run(self._send_all(batch.to_dict("records")))
        return pd.DataFrame(answers, columns=["line", "retries"])

    async def _send_all(self, rows: list[dict[str, str]]) -> list[tuple[str, int]]:
        import httpx

        limit = asyncio.Semaphore(self.settings.concurrency)
        headers = {"Authorization": f"Bearer {self.settings.api_key}"}
        async with httpx.AsyncClient(timeout=self.settings.timeout, headers=headers) as client:

            async def one(row: dict[str, str]) -> tuple[str, int]:
                async with limit:
                    return await self._send(client, row)

            return list(await asyncio.gather(*(one(row) for row in rows)))

    async def _send(self, client: Any, row: dict[str, str]) -> tuple[str, int]:
        import httpx

        url = f"{row['endpoint'].rstrip('/')}/chat/completions"
        body = json.loads(row["body"])
        status, answer, error = None, None, None
        attempt = 0
        for attempt in range(self.settings.max_retries + 1):
            wait = self.settings.backoff * 2**attempt * (0.5 + random.random())
            try:
                response = await client.post(url, json=body)
            except httpx.HTTPError as exc:
                status, answer, error = None, None, f"{type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                try:
                    answer = response.json()
                except ValueError:
                    answer = None
                error = None if status == 200 else f"HTTP {status}"
                if status not in RETRYABLE:
                    break
                wait = max(wait, _retry_after(response.headers))
            if attempt < self.settings.max_retries:
                await asyncio.sleep(wait)
        line = {
            "id": f"ray-{row['custom_id']}",
            "custom_id": row["custom_id"],
            "response": (
                {"status_code": status, "request_id": "", "body": answer}
                if status is not None
                else None
            ),
            "error": None if error is None else {"code": "ray_engine", "message": error},
        }
        return json.dumps(line, ensure_ascii=False), attempt


def _retry_after(headers: Any) -> float:
    try:
        return min(60.0, float(headers.get("retry-after") or 0.0))
    except ValueError:
        return 0.0


def start_ray(ray: Any, address: str | None) -> None:
    """Join the Ray cluster at ``address`` (or start a local instance), quietly; an unreachable
    address is a one-line error with the fix."""
    check_ray_address(address)
    try:
        ray.init(
            address=address,
            ignore_reinit_error=True,
            include_dashboard=False,
            logging_level=logging.ERROR,
            log_to_driver=False,
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise BackendError(
            f"cannot reach Ray at {address or 'a new local instance'} ({exc})",
            hint="check --address (ray://HOST:10001 or HOST:6379), or leave it out for a "
            "local Ray instance",
        ) from exc


def check_ray_address(address: str | None, timeout: float = 5.0) -> None:
    """Refuse a cluster address (``HOST:PORT`` or ``ray://HOST:PORT``) nothing listens on, in
    seconds: Ray itself retries an unreachable address for minutes, logging every attempt.
    ``auto``, ``local`` and no address are Ray's to resolve."""
    if not address or address in ("auto", "local"):
        return
    where = address.removeprefix("ray://").rstrip("/")
    host, _, port = where.rpartition(":")
    if not host or not port.isdigit():
        raise BackendError(
            f"the Ray address {address!r} is not HOST:PORT",
            hint="give --address as ray://HOST:10001 or HOST:6379, or leave it out for a "
            "local Ray instance",
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise BackendError(
            f"cannot reach Ray at {address} ({exc.strerror or exc})",
            hint="check --address (ray://HOST:10001 or HOST:6379) and that the cluster is up "
            "(`ray status` on its head node), or leave it out for a local Ray instance",
        ) from exc
