import asyncio

import pytest

from llmcode.llm.backends.ratelimit import RateLimiter


class FakeTime:
    """A clock that only moves when someone sleeps."""

    def __init__(self):
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self):
        return self.now

    async def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_requests_are_spaced_to_the_rpm_limit():
    t = FakeTime()
    limiter = RateLimiter(rpm=600, clock=t.clock, sleep=t.sleep)

    async def go():
        for _ in range(11):
            await limiter.acquire()

    asyncio.run(go())
    assert t.now - 100.0 == pytest.approx(1.0)  # 10 req/s: the 11th starts 1 s after the 1st
    assert limiter.current_limit == "600 rpm"


def test_tokens_per_minute_hold_back_large_prompts():
    t = FakeTime()
    limiter = RateLimiter(tpm=6000, clock=t.clock, sleep=t.sleep)  # 100 tokens/s

    async def go():
        await limiter.acquire(100)
        await limiter.acquire(100)
        await limiter.acquire(50)

    asyncio.run(go())
    assert t.now - 100.0 == pytest.approx(1.5)


def test_a_lone_429_does_not_pause_everyone_but_repeated_ones_do():
    t = FakeTime()
    limiter = RateLimiter(rpm=600, clock=t.clock, sleep=t.sleep)
    limiter.rate_limited(2.0)
    assert "paused" not in limiter.current_limit
    limiter.rate_limited(2.0)
    limiter.rate_limited(2.0)
    assert "paused 2.0s" in limiter.current_limit
    assert limiter.current_limit.startswith("540 rpm")  # slowed by 10%

    async def go():
        await limiter.acquire()

    asyncio.run(go())
    assert t.now >= 102.0


def test_no_limits_means_no_waiting():
    t = FakeTime()
    limiter = RateLimiter(clock=t.clock, sleep=t.sleep)

    async def go():
        for _ in range(100):
            await limiter.acquire(10_000)

    asyncio.run(go())
    assert t.sleeps == [] and limiter.current_limit == "no limit"


def test_scattered_429s_among_many_requests_do_not_slow_the_run():
    t = FakeTime()
    limiter = RateLimiter(rpm=600, clock=t.clock, sleep=t.sleep)

    async def go():
        for n in range(100):
            await limiter.acquire()
            if n % 25 == 0:
                limiter.rate_limited(0.5)

    asyncio.run(go())
    assert limiter.current_limit == "600 rpm"


def test_the_rate_recovers_after_a_quiet_spell():
    t = FakeTime()
    limiter = RateLimiter(rpm=600, clock=t.clock, sleep=t.sleep)
    for _ in range(3):
        limiter.rate_limited(1.0)
    assert limiter.current_limit.startswith("540 rpm")

    async def go():
        for _ in range(500):
            await limiter.acquire()

    asyncio.run(go())
    assert limiter.current_limit == "600 rpm"
