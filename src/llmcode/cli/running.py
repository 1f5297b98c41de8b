"""Running a command's async work from the shell: one event loop, backends closed, signals.

``run_async`` runs a coroutine in a fresh event loop and closes the backends in that same loop
(their connections live there). SIGINT (Ctrl-C) and SIGTERM cancel the work, so the core's
``finally`` blocks close the run (status ``interrupted``, every finished coding kept); it then
raises ``Interrupted``, which the CLI turns into exit 130 (SIGINT) or 143 (SIGTERM) with the
resume command. ``interrupts_raise`` makes SIGTERM outside the event loop (start-up, loading a
model) behave like Ctrl-C.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Coroutine, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from llmcode.llm.backends import Backend

T = TypeVar("T")
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The user (SIGINT) or the system (SIGTERM) stopped the command; ``code`` is its exit code."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signum)


def run_async(work: Coroutine[Any, Any, T], backends: Iterable[Backend] = ()) -> T:
    """Run ``work``; close ``backends`` in the same loop; a signal cancels it (``Interrupted``)."""
    import asyncio  # here, not at import: `llmcode --help` stays instant

    backends = list(backends)

    async def main() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        received: list[int] = []

        def stop(signum: int) -> None:
            received.append(signum)
            if task is not None:
                task.cancel()

        installed = {}
        for signum in SIGNALS:
            previous = signal.getsignal(signum)
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                loop.add_signal_handler(signum, stop, signum)  # main thread only
                installed[signum] = previous
        try:
            return await work
        except asyncio.CancelledError:
            if received:
                raise Interrupted(received[0]) from None
            raise
        finally:
            for signum, previous in installed.items():
                loop.remove_signal_handler(signum)
                signal.signal(signum, previous)
            for backend in backends:
                with contextlib.suppress(Exception):
                    await backend.aclose()

    try:
        return asyncio.run(main())
    finally:
        work.close()  # never awaited when the loop could not start


def interrupts_raise() -> None:
    """Make SIGTERM raise ``Interrupted`` like Ctrl-C does (call once, in the main thread)."""

    def handler(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
