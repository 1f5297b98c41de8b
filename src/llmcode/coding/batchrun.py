"""A batch run: a new or resumed run's pending items written as batch requests, not asked.

Both go through the one coding job (`llmcode.coding.job.prepare`, offline: stand-in backends
that never ask, no cache) with the batch's settings (`llmcode.coding.batch.batch_config`), so
``code --batch`` and ``batch prepare`` share one path; the requests file is `batch`'s.
"""

from __future__ import annotations

from pathlib import Path

from llmcode.coding.batch import batch_config
from llmcode.coding.job import prepare
from llmcode.errors import ConfigError
from llmcode.store.config import RunConfig
from llmcode.store.runs import Run, RunStore


def prepare_batch(
    store: RunStore,
    config: RunConfig,
    run_id: str | None = None,
    max_requests: int | None = None,
) -> tuple[Run, Path]:
    """A new run whose requests are written for a batch API instead of asked online."""
    job = prepare(batch_config(config), store=store, run_id=run_id, offline=True, cache=False)
    return job.write_batch(max_requests)


def prepare_resumed_batch(
    store: RunStore, ref: str | Path, max_requests: int | None = None
) -> tuple[Run, Path]:
    """A new batch for the pending items of the batch run ``ref`` (the run stays locked)."""
    run = store.open(ref)
    config = run.manifest().config
    if config.endpoint.backend != "openai":
        raise ConfigError(
            f"run {run.run_id} uses the {config.endpoint.backend} backend",
            hint="batches need an OpenAI-compatible model",
        )
    job = prepare(store=store, resume=ref, offline=True, cache=False)
    return job.write_batch(max_requests)
