"""A run's life, owned in one place: start, resume, finish and cost.

Every command that makes a run (``code``, ``open-code``, ``recode``, ``batch prepare|collect``)
goes through these functions; the CLI only parses options and displays what they return.

- ``start_run`` creates ``runs/<run_id>/``: the item and taxonomy snapshots and the manifest
  (written once, with everything known at the start), plus ``skipped`` records.
- ``resume_run`` reopens a run after checking that its snapshots still match its manifest.
- ``pending_items`` is what is left to code (items without a final record; errors are retried).
- ``finish_run`` recounts the run from its records (parsed once) and writes the manifest once at
  the end of the phase: status, counts, usage and ``usage.cost_usd`` (computed here, so a library
  caller gets it too; 0 for the embedded model, left out when the model's price is unknown).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from llmcode import __version__
from llmcode.coding.costs import Price, cost_of, load_prices, price_for
from llmcode.errors import RunStoreError
from llmcode.items import Item, ItemSet
from llmcode.llm.backends.base import Backend
from llmcode.llm.prompts import PromptSet
from llmcode.store.runs import (
    FINAL_STATUSES,
    TAXONOMY,
    CodingRecord,
    Run,
    RunConfig,
    RunManifest,
    RunStore,
    now,
)
from llmcode.taxonomy.model import Taxonomy

STATUSES = ("ok", "unverified", "invalid", "error", "skipped")


def start_run(
    store: RunStore,
    config: RunConfig,
    item_set: ItemSet,
    taxonomy: Taxonomy | None,
    taxonomy_text: str,
    prompts: PromptSet,
    backend: Backend,
    run_id: str | None = None,
    *,
    kind: str = "closed",
    extra: dict[str, Any] | None = None,
) -> Run:
    """Create the run directory: snapshots, the manifest, and records for skipped items.

    The item snapshot stays in memory on the returned run, so ``run.items()`` does not read
    back the file just written.
    """
    label = taxonomy.name if taxonomy is not None and kind == "closed" else kind
    run = store.create(run_id or store.new_run_id(label))
    items = item_set.items[: config.limit] if config.limit else item_set.items
    if taxonomy is not None:
        (run.path / TAXONOMY).write_text(taxonomy_text, encoding="utf-8")
    run.write_items(items)
    manifest = RunManifest(
        run_id=run.run_id,
        kind=kind,
        llmcode_version=__version__,
        config=config,
        taxonomy=taxonomy_facts(taxonomy, config) if taxonomy is not None else {},
        prompts=prompts.describe(),
        backend=backend.describe(),
        items={
            "path": item_set.source,
            "sha256": item_set.sha256,
            "id_column": item_set.id_column,
            "text_columns": list(item_set.text_columns),
            "n_items": len(items),
            "n_skipped": len(item_set.skipped),
        },
        extra=dict(extra or {}),
    )
    run.write_manifest(manifest)
    for item_id, reason in item_set.skipped:
        run.append_coding(CodingRecord(item_id=item_id, status="skipped", error=reason))
    return run


def taxonomy_facts(taxonomy: Taxonomy, config: RunConfig) -> dict[str, Any]:
    """What the manifest records of a run's taxonomy."""
    return {
        "name": taxonomy.name,
        "version": taxonomy.version,
        "path": config.taxonomy_path,
        "fingerprint": taxonomy.fingerprint(),
    }


def resume_run(store: RunStore, ref: str | Path, kind: str | None = None) -> Run:
    """Reopen a run to continue it, after checking its snapshots against its manifest."""
    run = store.open(ref)
    manifest = run.manifest()
    if kind is not None and manifest.kind != kind:
        raise RunStoreError(
            f"run '{run.run_id}' is a {manifest.kind} run, not a {kind} run",
            hint="resume it with the command that made it",
        )
    if manifest.taxonomy.get("fingerprint"):
        check_resumable(run, run.taxonomy())
    return run


def pending_items(run: Run) -> list[Item]:
    """Items of the run without a final record (errors are retried), in input order."""
    run.repair()
    done = {item_id for item_id, r in run.latest_codings().items() if r.status in FINAL_STATUSES}
    return [item for item in run.items() if item.item_id not in done]


def finish_run(
    run: Run,
    status: str = "complete",
    backend: Backend | None = None,
    prices: str | Path | dict[str, Price] | None = None,
    extra: dict[str, Any] | None = None,
) -> RunManifest:
    """Recount the run from its records and write its manifest once: status, counts, usage, cost.

    ``backend`` records the backend's final state (e.g. a response format it stepped down to);
    ``prices`` is a price table or its path (default: built-in, or ``LLMCODE_PRICES``);
    ``extra`` is merged into the manifest's ``extra``.
    """
    manifest = run.manifest()
    if backend is not None:
        manifest = manifest.model_copy(update={"backend": backend.describe()})
    records = run.codings()
    latest = {record.item_id: record for record in records}
    counts = Counter(r.status for r in latest.values())
    usage: dict[str, float] = {
        "prompt_tokens": sum(r.prompt_tokens for r in records),
        "completion_tokens": sum(r.completion_tokens for r in records),
        "calls": sum(r.attempts for r in records),
        "cached_calls": sum(r.cached_calls for r in records),
        "items": len(latest),
    }
    cost = run_cost(manifest, usage, prices)
    if cost is not None:
        usage["cost_usd"] = cost
    manifest = manifest.model_copy(
        update={
            "status": status,
            "finished_at": now(),
            "counts": {s: counts.get(s, 0) for s in STATUSES},
            "usage": usage,
            "extra": {**manifest.extra, **(extra or {})},
        }
    )
    run.write_manifest(manifest)
    return manifest


def run_cost(
    manifest: RunManifest,
    usage: dict[str, float],
    prices: str | Path | dict[str, Price] | None = None,
) -> float | None:
    """USD spent on ``usage``: 0 for the embedded model, None when the model has no price."""
    if manifest.config.backend == "local":
        return 0.0
    model = str(manifest.backend.get("model") or manifest.config.model or "")
    table = prices if isinstance(prices, dict) else load_prices(prices)
    price = price_for(model, table) if model else None
    if price is None:
        return None
    tokens = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
    return round(cost_of(*tokens, price), 6)


def check_resumable(run: Run, taxonomy: Taxonomy) -> None:
    """Refuse to resume a run whose taxonomy snapshot no longer matches its manifest."""
    manifest = run.manifest()
    if manifest.taxonomy.get("fingerprint") != taxonomy.fingerprint():
        raise RunStoreError(
            f"{run.path}: the taxonomy snapshot does not match the manifest",
            hint="start a new run instead of resuming this one",
        )
