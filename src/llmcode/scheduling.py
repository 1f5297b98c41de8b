"""Rate-limit aware scheduling: request and token buckets shared by every worker of a run.

``RateLimiter`` spaces requests to ``rpm`` and prompt tokens to ``tpm`` (token buckets with a
small burst, so a sliding-window limit on the server is never tripped), and adapts to 429s:
a lone 429 only delays its own retry (it may be a transient fault), but repeated 429s pause
every worker for the server's Retry-After and lower the rate by 10% each time.
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
        self._recent_429: deque[float] = deque(maxlen=3)
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
                    return
                await self._sleep(wait)

    def rate_limited(self, retry_after: float | None) -> None:
        """Note a 429: repeated ones (3 within 10 s) pause all and slow down by 10%."""
        now = self._clock()
        self.throttled += 1
        self._recent_429.append(now)
        if len(self._recent_429) == self._recent_429.maxlen and now - self._recent_429[0] < 10:
            self._paused_until = max(self._paused_until, now + (retry_after or 1.0))
            for bucket in (self._requests, self._tokens):
                if bucket is not None:
                    bucket.rate *= 0.9
            self._recent_429.clear()
