"""How many CPU threads the embedded model gets: ``LLMCODE_THREADS``, else the free CPUs.

llama.cpp's OpenMP threads spin while they wait. On free CPUs that decodes about twice as fast
as sleeping threads; on a CPU shared with other work it is about three times slower than one
thread less (benchmarks/embedded.py). So the default is the CPUs this process may use minus
those other work keeps busy *now* — sampled from ``/proc/stat`` over a tenth of a second, not
the 1-minute load average, which still counts the ``pip install`` that ran just before.
"""

from __future__ import annotations

import os
import time

from llmcode import environment
from llmcode.errors import ConfigError

MAX_THREADS = 8
SAMPLE_SECONDS = 0.1


def default_threads() -> int:
    """``LLMCODE_THREADS``, else the CPUs this process may run on that other work leaves free."""
    raw = environment.embedded_threads()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value < 1:
            raise ConfigError(
                f"LLMCODE_THREADS={raw!r}: not a positive integer", hint="e.g. LLMCODE_THREADS=2"
            )
        return value
    return free_cpus(available_cpus(), busy_cpus())


def available_cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def busy_cpus() -> float:
    """How many CPUs other work keeps busy now (this process sleeps while it measures):
    ``/proc/stat`` sampled over ``SAMPLE_SECONDS``; elsewhere the 1-minute load average."""
    try:
        before = _cpu_ticks()
        time.sleep(SAMPLE_SECONDS)
        after = _cpu_ticks()
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0]
        except (AttributeError, OSError):
            return 0.0
    busy, total = after[0] - before[0], after[1] - before[1]
    return busy / total * (os.cpu_count() or 1) if total > 0 else 0.0


def _cpu_ticks() -> tuple[int, int]:
    """Busy and total ticks of all CPUs since boot (the ``cpu`` line of ``/proc/stat``)."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(value) for value in stat.readline().split()[1:9]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields)  # user nice system idle iowait irq softirq steal
    return total - idle, total


def free_cpus(available: int, busy: float) -> int:
    """Threads that will not share a CPU with other running work: the available CPUs minus the
    busy ones (rounded), at least 1 and at most ``MAX_THREADS``."""
    return max(1, min(MAX_THREADS, available - round(busy)))
