"""Coding from a notebook or a script: ``llmcode.code``, ``llmcode.resume``, ``llmcode.estimate``.

The same run as ``llmcode code`` with the same settings (flat keyword arguments with the CLI's
names: ``model``, ``more_models``, ``base_url``, ``samples``, ``id_column``, ``text_columns``,
``max_cost``...; see `RunConfig`), through the same entry point (`llmcode.coding.job`): the same
defaults, backends, budget and checks. A misspelt setting is an error naming it. Pass
``backend`` as a `Backend` object (e.g. a fake one in tests) to code with it instead of the one
the settings describe. Works inside Jupyter's running event loop too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from llmcode.coding.costs import Estimate
from llmcode.coding.job import new_config, prepare, run_sync
from llmcode.llm.backends.base import Backend
from llmcode.store.models import CodingRecord
from llmcode.store.runs import Run, RunStore


def code(
    taxonomy: str | Path,
    items: str | Path,
    *,
    backend: Backend | str | None = None,
    runs_dir: str | Path | None = None,
    run_id: str | None = None,
    cache: bool = True,
    prices: str | Path | None = None,
    on_record: Callable[[CodingRecord], None] | None = None,
    **settings: Any,
) -> Run:
    """Code ``items`` against ``taxonomy`` into a new run, finish it and return it.

    ``runs_dir`` defaults to ``LLMCODE_RUNS_DIR`` or ``./runs``; ``cache`` reads and writes the
    response cache beside the runs; ``prices`` is a price table (YAML) for costs and ``max_cost``.
    """
    given, custom = None, None
    if isinstance(backend, str) or backend is None:
        settings["backend"] = backend
    else:
        given, custom = [backend], str(getattr(backend, "name", "custom"))
        settings.setdefault("model", getattr(backend, "model", None))
    config = new_config(taxonomy, items, custom_backend=custom, **settings)
    job = prepare(
        config,
        store=RunStore(runs_dir),
        run_id=run_id,
        backends=given,
        cache=cache,
        prices=prices,
    )
    return _finish(job, on_record)


def resume(
    run: str | Path | Run,
    *,
    backend: Backend | None = None,
    runs_dir: str | Path | None = None,
    force: bool = False,
    cache: bool = True,
    prices: str | Path | None = None,
    on_record: Callable[[CodingRecord], None] | None = None,
    **changes: Any,
) -> Run:
    """Continue a run: its pending items and its errors, with its own settings.

    ``changes`` are settings given again: limits apply, endpoint changes need ``force``, others
    are refused (see `llmcode.coding.resume_rules`).
    """
    ref = run.path if isinstance(run, Run) else run
    job = prepare(
        store=RunStore(runs_dir),
        resume=ref,
        changes=changes,
        force=force,
        backends=[backend] if backend is not None else None,
        cache=cache,
        prices=prices,
    )
    return _finish(job, on_record)


def estimate(
    taxonomy: str | Path, items: str | Path, *, prices: str | Path | None = None, **settings: Any
) -> Estimate:
    """Tokens, requests and cost of coding ``items`` with these settings; nothing is sent."""
    job = prepare(new_config(taxonomy, items, **settings), offline=True, cache=False, prices=prices)
    return job.estimate()


def _finish(job: Any, on_record: Callable[[CodingRecord], None] | None) -> Run:
    async def work() -> None:
        try:
            await job.code(on_record)
        finally:
            await job.aclose()

    run_sync(work())
    assert job.run is not None
    return job.run


code_file = code
"""The earlier name of `code`."""
