"""Progress of a coding run: a live bar on a terminal, a plain line per N items otherwise.

Both show items done, items/s and the ETA computed from the time elapsed — so they keep moving
while an item is slow — errors, tokens and what limits the run (a rate-limit pause shows as
``paused 4.2s``). ``expectation`` is the first line of an embedded run: model size, an estimate
for this many items on this machine, and that a 135M model is for trying the pipeline.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn
from rich.text import Text

from llmcode.cli.terminal import Console
from llmcode.llm.backends.threads import busy_cpus

if TYPE_CHECKING:
    from llmcode.store.models import CodingRecord

# the bundled 135M model on an idle 2-core x86-64 VM (benchmarks/embedded.py, ptm-reuse
# codebook, choice evidence, compact answers): 0.33 items/s on one thread, 0.54 on two after
# the model is loaded and each slot has evaluated the codebook (about 11 s on one thread); more
# slots add little on few cores; threads sharing a CPU with other work spin, about 3x slower
EMBEDDED_ITEMS_PER_S_ONE_THREAD = 0.33
THREAD_SCALING = 0.72  # items/s grow as threads ** 0.72
SLOT_WARMUP_SECONDS_ONE_THREAD = 11.0
OVERSUBSCRIBED_SLOWDOWN = 3.0


def format_seconds(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "-:--"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def expectation(described: dict[str, Any], n_items: int) -> str | None:
    """What to expect from an embedded run (None for other backends)."""
    if described.get("backend") != "local":
        return None
    path = described.get("model_path")
    size = os.path.getsize(path) / 1e6 if path and os.path.isfile(path) else None
    threads = int(described.get("threads") or 1)
    slots = int(described.get("parallel") or 1)
    cpus = os.cpu_count() or 1
    busy = busy_cpus()
    seconds = embedded_seconds(n_items, threads, slots, free_cpus=cpus - busy)
    model = described.get("model", "the model")
    sized = f"{model} ({size:.0f} MB)" if size else model
    small = "135m" in str(model).lower() or (size is not None and size < 300)
    note = (
        "a 135M-parameter model is for trying the pipeline offline; for research, code with a "
        "real endpoint (OPENAI_API_KEY, or --base-url for vLLM/Ollama/llama.cpp)"
        if small
        else "embedded model"
    )
    return (
        f"embedded {sized}, {slots} slot(s), {threads} thread(s): about "
        f"{format_seconds(seconds)} for {n_items} item(s) "
        "on this machine "
        f"({busy:.1f} of {cpus} CPUs busy with other work). {note}."
    )


def embedded_seconds(n_items: int, threads: int, slots: int, free_cpus: float) -> float:
    """Estimated wall time of an embedded run of the bundled model: each slot's codebook
    warm-up plus the items at the measured rate for this many threads."""
    speed = threads**THREAD_SCALING
    if threads > free_cpus + 0.5:
        speed /= OVERSUBSCRIBED_SLOWDOWN
    warmup = slots * SLOT_WARMUP_SECONDS_ONE_THREAD / speed
    return warmup + n_items / (EMBEDDED_ITEMS_PER_S_ONE_THREAD * speed)


class RunStats:
    """Counts and rates of a run in progress, from the records as they finish."""

    def __init__(self, total: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.done = 0
        self.errors = 0
        self.tokens = 0
        self._clock = clock
        self.started = clock()

    def add(self, record: CodingRecord) -> None:
        self.done += 1
        self.tokens += record.prompt_tokens + record.completion_tokens
        self.errors += record.status in ("error", "invalid")

    @property
    def elapsed(self) -> float:
        return max(1e-9, self._clock() - self.started)

    @property
    def rate(self) -> float:
        """Items per second so far (falls while an item takes long: it keeps moving)."""
        return self.done / self.elapsed

    @property
    def eta(self) -> float | None:
        if self.done == 0:
            return None
        return (self.total - self.done) / self.rate

    def line(self, limit: str = "") -> str:
        return (
            f"coded {self.done}/{self.total} | {self.rate:.2f} items/s | "
            f"ETA {format_seconds(self.eta)} | elapsed {format_seconds(self.elapsed)} | "
            f"{self.errors} errors | {self.tokens} tokens" + (f" | {limit}" if limit else "")
        )


class _LiveColumn(ProgressColumn):
    """Rate, ETA, errors and limit, recomputed at every refresh (not only per record)."""

    def __init__(self, stats: RunStats, limit: Callable[[], str]) -> None:
        super().__init__()
        self.stats = stats
        self.limit = limit

    def render(self, task: Any) -> Text:
        stats = self.stats
        text = Text(f"{stats.rate:.2f} items/s  ETA {format_seconds(stats.eta)}  ")
        text.append(f"{format_seconds(stats.elapsed)} elapsed  ")
        text.append(f"{stats.tokens} tokens  ")
        text.append(f"{stats.errors} errors", style="red" if stats.errors else "dim")
        limit = self.limit()
        if limit:
            text.append(f"  {limit}", style="yellow" if "paused" in limit else "dim")
        return text


class CodingProgress:
    """Context manager; call ``on_record`` per finished record."""

    def __init__(self, console: Console, total: int, limiter: Any = None) -> None:
        self.console = console
        self.stats = RunStats(total)
        self.limiter = limiter
        self.every = max(1, min(25, total // 20 or 1))
        self._progress: Progress | None = None
        self._task: Any = None

    def limit(self) -> str:
        return self.limiter.current_limit if self.limiter is not None else ""

    def __enter__(self) -> CodingProgress:
        if self.console.is_terminal:
            self._progress = Progress(
                TextColumn("[bold]coding"),
                BarColumn(),
                MofNCompleteColumn(),
                _LiveColumn(self.stats, self.limit),
                console=self.console,
                transient=False,
                refresh_per_second=2,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("coding", total=self.stats.total)
        return self

    def on_record(self, record: CodingRecord) -> None:
        self.stats.add(record)
        if self._progress is not None:
            self._progress.update(self._task, advance=1)
        elif self.stats.done % self.every == 0 or self.stats.done == self.stats.total:
            self.console.print(self.stats.line(self.limit()), markup=False, highlight=False)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(None, None, None)


class StepProgress:
    """Context manager for a step before coding (selecting examples): a bar on a terminal, a
    line per tenth otherwise; ``update(done, total)`` is the library's progress callback."""

    def __init__(self, console: Console, label: str) -> None:
        self.console = console
        self.label = label
        self.started = time.monotonic()
        self._progress: Progress | None = None
        self._task: Any = None
        self._shown = 0

    def __enter__(self) -> StepProgress:
        if self.console.is_terminal:
            self._progress = Progress(
                TextColumn(f"[bold]{self.label}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=self.console,
                transient=True,
                refresh_per_second=4,
            )
            self._progress.__enter__()
        return self

    def update(self, done: int, total: int) -> None:
        if self._progress is not None:
            if self._task is None:
                self._task = self._progress.add_task(self.label, total=total)
            self._progress.update(self._task, completed=done)
        elif total >= 1000 and (done * 10 // total > self._shown or done == total):
            self._shown = done * 10 // total
            elapsed = format_seconds(time.monotonic() - self.started)
            self.console.print(f"{self.label} {done}/{total} ({elapsed})", markup=False)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(None, None, None)
