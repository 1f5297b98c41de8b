"""What the test server counts: thread-safe accounting, its ``ServerStats`` snapshots, and the
sliding-window rate limiter."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

WINDOW_SECONDS = 60.0


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
    calls_by_key: Mapping[str, int]  # well-formed chat requests (HTTP and batch) by message_key
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


class Accounting:
    """The server's counters behind one lock."""

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

    def count_call(self, key: str) -> None:
        with self.lock:
            self.calls[key] += 1

    def count_fault(self, kind: str) -> None:
        with self.lock:
            self.faults[kind] += 1

    def count_paid(self, key: str, usage: Mapping[str, int]) -> None:
        with self.lock:
            self.paid[key] += 1
            self.counts["prompt_tokens"] += usage["prompt_tokens"]
            self.counts["completion_tokens"] += usage["completion_tokens"]

    def record(self, request: RecordedRequest) -> None:
        with self.lock:
            self.status[request.status] += 1
            self.recent.append(request)

    def snapshot(self) -> ServerStats:
        with self.lock:
            c = self.counts
            return ServerStats(
                c["requests"],
                c["chat_requests"],
                c["batch_lines"],
                dict(self.status),
                dict(self.faults),
                dict(self.calls),
                dict(self.paid),
                sum(self.paid.values()),
                c["prompt_tokens"],
                c["completion_tokens"],
                c["handler_errors"],
                tuple(self.recent),
            )


class RateLimiter:
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
                last = len(self.window) - 1
                for index, (at, spent) in enumerate(self.window):
                    used -= spent  # an empty window admits any single request
                    if used + tokens <= self.tpm or index == last:
                        wait = max(wait, at + WINDOW_SECONDS - now)
                        break
            if wait > 0:
                return max(wait, 0.001)
            self.window.append((now, tokens))
            return 0.0
