"""An OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks: latency, limits, faults.

``TestServer`` serves ``GET /v1/models``, ``POST /v1/chat/completions`` (non-streaming) and the
Files and Batches subset the ``openai`` SDK uses (``POST /v1/files``, ``GET /v1/files/{id}``,
``GET /v1/files/{id}/content``, ``POST /v1/batches``, ``GET /v1/batches/{id}``,
``POST /v1/batches/{id}/cancel``) from ``http.server`` threads with HTTP/1.1 keep-alive.
``ServerConfig`` sets the latency, the RPM/TPM limits (a sliding 60 s window; over it: 429 with
``Retry-After`` and ``retry-after-ms``), the faults (a deterministic ``fault_script`` first, then
``fault_rate`` drawn with a seeded RNG across ``fault_weights``) and the responder that writes the
message content (see ``llmcode.testserver_responder``). ``stats`` counts what happened.

The server is bounded: it stops itself after ``max_requests`` requests or ``max_seconds``, wakes
every sleeping handler and closes every connection when it stops, and binds 127.0.0.1 only::

    with TestServer(ServerConfig(fault_script=("rate_limit", "ok"))) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        ...
    server.stats.status_counts  # {429: 1, 200: 1}

``python -m llmcode.testserver --port 8099 --latency 0.2 --rpm 600 --fault-rate 0.05`` runs one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import socket
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from llmcode.errors import ConfigError
from llmcode.testserver_responder import (
    Responder,
    chat_completion,
    default_responder,
    estimate_tokens,
    malformed,
    message_text,
    wrong_schema,
)

HOST = "127.0.0.1"
FAULT_KINDS = ("rate_limit", "server_error", "timeout", "malformed_json", "wrong_schema")
WINDOW_SECONDS = 60.0
MAX_BODY_BYTES = 64 * 1024 * 1024
STOP_GRACE_SECONDS = 5.0
CHAT_PATH = "/v1/chat/completions"


@dataclass(frozen=True)
class ServerConfig:
    """How the test server behaves; every duration is in seconds."""

    host: str = HOST
    port: int = 0  # 0: an ephemeral port
    model: str = "test-model"
    latency: float = 0.0  # slept before each chat answer
    rpm: int | None = None  # requests per sliding minute; None: unlimited
    tpm: int | None = None  # prompt tokens (chars/4) per sliding minute
    fault_rate: float = 0.0
    fault_weights: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType(dict.fromkeys(FAULT_KINDS, 1.0))
    )
    fault_script: Sequence[str] = ()  # kinds (or "ok") for the first chat requests, in order
    retry_after: float = 0.5  # advertised by injected rate_limit faults
    timeout_sleep: float = 10.0  # the timeout fault's delay: make it longer than the client's
    seed: int = 0
    supports_json_schema: bool = True
    batch_delay: float = 0.0  # a batch is in_progress from delay/2 and completed at delay
    max_requests: int = 100_000
    max_seconds: float = 600.0
    recent_size: int = 50  # request bodies kept in stats.recent
    api_key: str | None = None  # when set, other Authorization headers get 401
    responder: Responder = default_responder

    def __post_init__(self) -> None:
        if self.host != HOST:
            raise ConfigError(
                f"the test server binds {HOST} only, not {self.host!r}",
                hint="it is a local test endpoint; never expose it",
            )
        object.__setattr__(self, "fault_script", tuple(self.fault_script))
        unknown = (set(self.fault_script) - {*FAULT_KINDS, "ok"}) | (
            set(self.fault_weights) - set(FAULT_KINDS)
        )
        if unknown:
            raise ConfigError(
                f"unknown fault kind(s): {', '.join(sorted(unknown))}",
                hint=f"use {', '.join(FAULT_KINDS)} (or 'ok' in a fault_script)",
            )
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ConfigError(f"fault_rate must be within 0..1, not {self.fault_rate}")
        if self.max_requests < 1 or self.max_seconds <= 0:
            raise ConfigError("max_requests and max_seconds must be positive")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received (``headers`` lower-cased and kept out of ``repr``)."""

    method: str
    path: str
    status: int
    body: Any  # the parsed JSON body, or None
    headers: Mapping[str, str] = field(repr=False)


@dataclass(frozen=True)
class ServerStats:
    """A snapshot of the server's accounting."""

    requests: int  # HTTP requests received, any path
    chat_requests: int  # chat completions asked over HTTP
    batch_lines: int  # chat completions asked inside batches
    status_counts: Mapping[int, int]  # HTTP responses by status
    faults: Mapping[str, int]  # injected faults by kind
    calls_by_key: Mapping[str, int]  # chat requests (HTTP and batch) by message_key
    paid_by_key: Mapping[str, int]  # the answered (200) ones
    paid_calls: int
    prompt_tokens: int
    completion_tokens: int
    handler_errors: int  # exceptions in handler threads (e.g. a client that went away)
    recent: tuple[RecordedRequest, ...]

    @property
    def duplicate_paid_calls(self) -> int:
        """Answers paid for a second time for the same messages."""
        return sum(n - 1 for n in self.paid_by_key.values() if n > 1)


def message_key(messages: Any) -> str:
    """The key ``calls_by_key`` counts under: a hash of the request's messages."""
    canonical = json.dumps(messages, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class _Accounting:
    def __init__(self, recent_size: int) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.status: Counter[int] = Counter()
        self.faults: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.paid: Counter[str] = Counter()
        self.recent: deque[RecordedRequest] = deque(maxlen=recent_size)

    def add(self, name: str, amount: int = 1) -> int:
        with self.lock:
            self.counts[name] += amount
            return self.counts[name]

    def record(self, request: RecordedRequest) -> None:
        with self.lock:
            self.status[request.status] += 1
            self.recent.append(request)

    def snapshot(self) -> ServerStats:
        with self.lock:
            c = self.counts
            return ServerStats(
                c["requests"], c["chat_requests"], c["batch_lines"], dict(self.status),
                dict(self.faults), dict(self.calls), dict(self.paid), sum(self.paid.values()),
                c["prompt_tokens"], c["completion_tokens"], c["handler_errors"],
                tuple(self.recent),
            )  # fmt: skip


class _RateLimiter:
    """Sliding 60 s windows of admitted requests and prompt tokens."""

    def __init__(self, rpm: int | None, tpm: int | None) -> None:
        self.rpm, self.tpm = rpm, tpm
        self.lock = threading.Lock()
        self.window: deque[tuple[float, int]] = deque()

    def admit(self, tokens: int) -> float:
        """0.0 when admitted (and counted); else the seconds until it would be."""
        if self.rpm is None and self.tpm is None:
            return 0.0
        with self.lock:
            now = time.monotonic()
            while self.window and self.window[0][0] <= now - WINDOW_SECONDS:
                self.window.popleft()
            wait = 0.0
            if self.rpm is not None and len(self.window) >= self.rpm:
                wait = self.window[len(self.window) - self.rpm][0] + WINDOW_SECONDS - now
            used = sum(t for _, t in self.window)
            if self.tpm is not None and self.window and used + tokens > self.tpm:
                for at, spent in self.window:
                    used -= spent
                    if used + tokens <= self.tpm:
                        wait = max(wait, at + WINDOW_SECONDS - now)
                        break
            if wait > 0:
                return max(wait, 0.001)
            self.window.append((now, tokens))
            return 0.0


@dataclass
class _Reply:
    status: int
    payload: Any  # JSON-able, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)


def _error(status: int, message: str, kind: str, param: str | None = None,
           code: str | None = None, headers: dict[str, str] | None = None) -> _Reply:  # fmt: skip
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return _Reply(status, body, headers or {})


def _retry_headers(seconds: float) -> dict[str, str]:
    return {"Retry-After": f"{seconds:.3f}", "retry-after-ms": str(math.ceil(seconds * 1000))}


def _new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24]}"


class TestServer:
    """The server: ``with TestServer(config) as server`` runs it on a background thread."""

    __test__ = False  # not a pytest test class

    def __init__(self, config: ServerConfig | None = None) -> None:
        from llmcode.testserver_batches import BatchStore

        self.config = config or ServerConfig()
        self._accounting = _Accounting(self.config.recent_size)
        self._limiter = _RateLimiter(self.config.rpm, self.config.tpm)
        self._rng = random.Random(self.config.seed)
        self._fault_lock = threading.Lock()
        self._script = deque(self.config.fault_script)
        self._batches = BatchStore(self)
        self._stopping = threading.Event()  # set first on stop: wakes sleeping handlers
        self._stop_requested = threading.Event()
        self._stopped = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._threads: list[threading.Thread] = []
