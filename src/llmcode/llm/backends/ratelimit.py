"""Rate-limit aware scheduling: request and token buckets shared by every worker of a run.

``RateLimiter`` spaces requests to ``rpm`` and prompt tokens to ``tpm`` (token buckets with a
small burst, so a sliding-window limit on the server is never tripped), and adapts to 429s:
a lone 429 only delays its own retry (it may be a transient fault), but a burst of 429s (at
least 3 and over 20% of the requests of the last 10 s) pauses every worker for the server's
Retry-After and lowers the rate by 10%; after 30 s without a burst the rate recovers by 10%
steps up to the configured limit.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class Bucket:
    """A token bucket: ``rate`` per second, at most ``capacity`` saved up."""

    rate: float
    capacity: float
    level: float = field(default=0.0)
    updated: float = field(default=0.0)

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    def wait_for(self, amount: float, now: float) -> float:
        """Seconds until ``amount`` is available (0 when it is; then it is taken)."""
        self.refill(now)
        amount = min(amount, self.capacity)
        if self.level >= amount - 1e-9:  # float refills land a hair short
            self.level = max(0.0, self.level - amount)
            return 0.0
        return max(1e-6, (amount - self.level) / self.rate)


class RateLimiter:
    """Spaces requests to ``rpm`` and tokens to ``tpm``; pauses everyone on repeated 429s."""

    def __init__(
        self,
        rpm: float | None = None,
        tpm: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        burst_seconds: float = 0.0,
    ) -> None:
        self.rpm = rpm
        self.tpm = tpm
        self._clock = clock
        self._sleep = sleep
        start = clock()
        self._requests = (
            Bucket(rpm / 60, max(1.0, rpm / 60 * burst_seconds), 1.0, start) if rpm else None
        )
        self._tokens = Bucket(tpm / 60, max(1.0, tpm / 60), tpm / 60, start) if tpm else None
        self._paused_until = 0.0
        self._recent_429: deque[float] = deque(maxlen=10_000)
        self._sent: deque[float] = deque(maxlen=10_000)
        self._last_burst = -1e9
        self._lock = asyncio.Lock()
        self.throttled = 0

    @property
    def current_limit(self) -> str:
        """What limits the run now, for the progress display."""
        parts = []
        if self._requests:
            parts.append(f"{self._requests.rate * 60:.0f} rpm")
        if self._tokens:
            parts.append(f"{self._tokens.rate * 60:.0f} tpm")
        paused = self._paused_until - self._clock()
        if paused > 0:
            parts.append(f"paused {paused:.1f}s")
        return ", ".join(parts) or "no limit"

    async def acquire(self, tokens: int = 0) -> None:
        """Wait until one request of ``tokens`` prompt tokens may be sent."""
        async with self._lock:  # one waiter at a time keeps the spacing exact
            while True:
                now = self._clock()
                wait = max(0.0, self._paused_until - now)
                if wait == 0 and self._requests is not None:
                    wait = self._requests.wait_for(1, now)
                if wait == 0 and self._tokens is not None:
                    wait = self._tokens.wait_for(tokens, now)
                    if wait > 0 and self._requests is not None:
                        self._requests.level += 1  # give the request slot back
                if wait == 0:
                    self._sent.append(now)
                    self._recover(now)
                    return
                await self._sleep(wait)

    def rate_limited(self, retry_after: float | None) -> None:
        """Note a 429; a burst of them pauses all workers and slows down by 10%."""
        now = self._clock()
        self.throttled += 1
        self._recent_429.append(now)
        recent = sum(1 for t in self._recent_429 if now - t < 10)
        sent = sum(1 for t in self._sent if now - t < 10)
        if recent >= max(3, 0.2 * sent):
            self._paused_until = max(self._paused_until, now + (retry_after or 1.0))
            for bucket in (self._requests, self._tokens):
                if bucket is not None:
                    bucket.rate *= 0.9
            self._recent_429.clear()
            self._last_burst = now

    def _recover(self, now: float) -> None:
        if now - self._last_burst < 30:
            return
        for bucket, limit in ((self._requests, self.rpm), (self._tokens, self.tpm)):
            if bucket is not None and limit and bucket.rate < limit / 60:
                bucket.rate = min(limit / 60, bucket.rate / 0.9)
                self._last_burst = now - 20  # the next step after 10 more quiet seconds
