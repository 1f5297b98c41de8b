"""Progress of a coding run: rates and ETA from elapsed time, plain lines off a terminal, and
the first line of an embedded run."""

import io

from rich.console import Console

from llmcode.cli.progress import (
    CodingProgress,
    RunStats,
    embedded_seconds,
    expectation,
    format_seconds,
)
from llmcode.store.models import CodingRecord


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def record(status: str = "ok") -> CodingRecord:
    return CodingRecord(item_id="x", status=status, prompt_tokens=10, completion_tokens=5)


def test_rate_and_eta_keep_moving_while_no_item_finishes():
    clock = Clock()
    stats = RunStats(10, clock=clock)
    assert stats.eta is None
    clock.now += 10
    stats.add(record())
    assert stats.rate == 0.1
    assert stats.eta == 90
    clock.now += 10  # a slow item: nothing finished, the rate falls and the ETA grows
    assert stats.rate == 0.05
    assert stats.eta == 180


def test_off_a_terminal_a_plain_line_is_printed_every_n_items():
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    with CodingProgress(console, 40) as progress:
        for _ in range(40):
            progress.on_record(record("error"))
    lines = out.getvalue().splitlines()
    assert len(lines) == 20  # every 2 items (40 // 20)
    assert lines[-1].startswith("coded 40/40 | ")
    assert "ETA" in lines[0] and "items/s" in lines[0] and "40 errors" in lines[-1]


def test_a_rate_limit_pause_is_shown():
    class Limiter:
        current_limit = "600 rpm, paused 4.2s"

    out = io.StringIO()
    with CodingProgress(Console(file=out, force_terminal=False), 1, Limiter()) as progress:
        progress.on_record(record())
    assert "paused 4.2s" in out.getvalue()


def test_an_embedded_run_says_what_to_expect(tmp_path):
    weights = tmp_path / "m.gguf"
    weights.write_bytes(b"0" * 2_000_000)
    text = expectation(
        {
            "backend": "local",
            "model": "SmolLM2-135M-Instruct.Q4_1",
            "model_path": str(weights),
            "threads": 2,
            "parallel": 4,
        },
        72,
    )
    assert text is not None
    assert "(2 MB)" in text and "72 item(s)" in text and "about " in text
    assert "trying the pipeline" in text and "real endpoint" in text
    assert expectation({"backend": "openai", "model": "gpt-4o-mini"}, 72) is None


def test_the_estimate_grows_with_items_and_slots_and_shrinks_with_free_threads():
    base = embedded_seconds(72, threads=1, slots=1, free_cpus=2)
    assert embedded_seconds(144, threads=1, slots=1, free_cpus=2) > base
    assert embedded_seconds(72, threads=1, slots=2, free_cpus=2) > base
    assert embedded_seconds(72, threads=2, slots=1, free_cpus=2) < base
    # two spinning threads on one free CPU are slower than one thread
    assert embedded_seconds(72, threads=2, slots=1, free_cpus=1) > base


def test_durations_read_as_clock_times():
    assert format_seconds(59.6) == "1:00"
    assert format_seconds(3725) == "1:02:05"
    assert format_seconds(None) == "-:--"
