"""A run's life, owned in one place: start, resume, finish and cost.

Every command that makes a run (``code``, ``open-code``, ``recode``, ``batch prepare|collect``)
goes through these functions; the CLI only parses options and displays what they return.

- ``start_run`` creates ``runs/<run_id>/``: the item and taxonomy snapshots and the manifest
  (written once, with everything known at the start), plus ``skipped`` records.
- ``resume_run`` reopens a run after checking that its snapshots still match its manifest
  (what settings given again may change is ``resume_rules``').
- Both take the run's lock (one process per run, ``store.lock``) and open a session of the
  in-flight ledger (``store.ledger``), so requests abandoned by a kill are counted.
- ``pending_items`` is what is left to code (items without a final record; errors are retried);
  ``pending_stream`` the same as a sized stream (a million-item run resumes in seconds).
- ``code_run`` codes the pending items and always finishes the run, however it ends: complete,
  budget reached, cancelled (Ctrl-C, SIGTERM) or stopped by ``StartupGuard`` when the first
  requests all fail for a reason retrying cannot fix (connection, 401, 404, model load).
- ``note_in_manifest`` records what happens between phases (a batch's id and status);
- ``finish_run`` recounts the run from its records (read as bytes, a record parsed only when it
  must be: `llmcode.store.scan.tally_records`) and writes the manifest once at
  the end of the phase: status, counts, usage (``abandoned`` requests included) and
  ``usage.cost_usd`` (computed here, so a library caller gets it too; 0 for the embedded model,
  left out when the model's price is unknown); then it releases the lock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from llmcode import __version__
from llmcode.coding.closed import Coder, code_items
from llmcode.coding.costs import Budget, Price, cost_of, load_prices, price_for
from llmcode.coding.guard import StartupGuard
from llmcode.errors import RunStoreError
from llmcode.items import Item, ItemSet
from llmcode.llm.backends.base import Backend
from llmcode.llm.prompts import PromptSet
from llmcode.store import scan
from llmcode.store.ledger import Ledger
from llmcode.store.lock import lock_run
from llmcode.store.models import FINAL_STATUSES, CodingRecord, RunConfig, RunManifest, now
from llmcode.store.pending import done_hashes, read_snapshot
from llmcode.store.runs import CODINGS, ITEMS, TAXONOMY, Run, RunStore
from llmcode.taxonomy.model import Taxonomy

STATUSES = ("ok", "unverified", "invalid", "error", "skipped")
FINAL = frozenset(FINAL_STATUSES)
CODED = ("ok", "unverified", "invalid")


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
    run.lock = lock_run(run.path, run.run_id)
    items = item_set.items[: config.inputs.limit] if config.inputs.limit else item_set.items
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
            "snapshot_sha256": run.snapshot_sha256,
        },
        extra=dict(extra or {}),
    )
    run.write_manifest(manifest)
    for item_id, reason in item_set.skipped:
        run.append_coding(CodingRecord(item_id=item_id, status="skipped", error=reason))
    Ledger(run.path).session()
    return run


def taxonomy_facts(taxonomy: Taxonomy, config: RunConfig) -> dict[str, Any]:
    """What the manifest records of a run's taxonomy."""
    return {
        "name": taxonomy.name,
        "version": taxonomy.version,
        "path": config.inputs.taxonomy_path,
        "fingerprint": taxonomy.fingerprint(),
    }


def resume_run(store: RunStore, ref: str | Path, kind: str | None = None) -> Run:
    """Reopen a run to continue it: take its lock, check its kind and snapshots.

    What the settings given again may change is `llmcode.coding.resume_rules`' to say.
    """
    run = store.open(ref)
    run.lock = lock_run(run.path, run.run_id)
    try:
        manifest = run.manifest()
        if kind is not None and manifest.kind != kind:
            raise RunStoreError(
                f"run '{run.run_id}' is a {manifest.kind} run, not a {kind} run",
                hint="resume it with the command that made it",
            )
        check_snapshot(run, manifest)
        if manifest.taxonomy.get("fingerprint"):
            check_resumable(run, run.taxonomy())
        run.config = manifest.config
    except BaseException:
        run.lock.release()
        raise
    Ledger(run.path).session()
    return run


def check_snapshot(run: Run, manifest: RunManifest) -> None:
    """Refuse a run whose item snapshot is missing or does not match its manifest (its hash,
    for runs that recorded one, and its item count)."""
    path = run.path / ITEMS
    if not path.is_file():
        raise RunStoreError(
            f"{path}: the run's item snapshot is missing",
            hint="a run cannot resume without it; start a new run from the items file",
        )
    expected = manifest.items.get("n_items")
    snapshot = read_snapshot(path)  # one read: counted, hashed, ids keyed for the resume
    run.snapshot_read = snapshot
    found, sha256 = snapshot.count, snapshot.sha256
    if expected is not None and int(expected) != found:
        raise RunStoreError(
            f"{path}: the item snapshot holds {found} item(s), the manifest says {expected}",
            hint="the snapshot was changed; start a new run instead of resuming this one",
        )
    digest = manifest.items.get("snapshot_sha256")
    if digest and sha256 != digest:
        raise RunStoreError(
            f"{path}: the item snapshot was changed since the run started (its SHA-256 differs "
            "from the manifest's)",
            hint="the snapshot is what the run codes; start a new run instead of resuming this one",
        )


def note_in_manifest(run: Run, key: str, **values: Any) -> None:
    """Merge ``values`` into the manifest's ``extra[key]`` between phases (e.g. a batch's id
    and status while the provider works on it)."""
    manifest = run.manifest()
    extra = {**manifest.extra, key: {**manifest.extra.get(key, {}), **values}}
    run.write_manifest(manifest.model_copy(update={"extra": extra}))


def pending_items(run: Run) -> list[Item]:
    """Items of the run without a final record (errors are retried), in input order."""
    run.repair()
    return run.items_left(FINAL)


def pending_stream(run: Run) -> Sequence[Item]:
    """`pending_items` as a sized stream: the items are read from the snapshot when iterated,
    and of the items done only a hash of each id is held (`llmcode.store.pending`): a resume
    of a million items reaches its first request in seconds, in flat memory."""
    if run.holds_items():
        return pending_items(run)
    codings = run.path / CODINGS
    done = done_hashes(codings, FINAL, exact=False)
    if done is None:  # a line is not one whole record: set torn ones aside, then read closely
        run.repair()
        done = done_hashes(codings, FINAL, exact=True)
    assert done is not None
    snapshot = run.snapshot_read or read_snapshot(run.path / ITEMS)
    left = snapshot.pending(done)
    return pending_items(run) if left is None else left.stream()


def finish_run(
    run: Run,
    status: str = "complete",
    backend: Backend | None = None,
    prices: str | Path | dict[str, Price] | None = None,
    extra: dict[str, Any] | None = None,
    abandoned: int = 0,
) -> RunManifest:
    """Recount the run from its records and write its manifest once: status, counts, usage, cost.

    A ``complete`` run whose every item is an error is marked ``failed``.

    ``backend`` records the backend's final state (e.g. a response format it stepped down to);
    ``prices`` is a price table or its path (default: built-in, or ``LLMCODE_PRICES``);
    ``extra`` is merged into the manifest's ``extra``; ``abandoned`` counts requests given up on
    in this phase (client timeouts) besides those the in-flight ledger finds.
    """
    run.sync()
    manifest = run.manifest()
    if backend is not None:
        manifest = manifest.model_copy(update={"backend": backend.describe()})
    if run.config is not None and run.config != manifest.config:
        manifest = manifest.model_copy(update={"config": run.config})
    abandoned += int(manifest.usage.get("abandoned", 0)) + Ledger(run.path).settle()
    totals, counts = recount(run)
    if status == "complete" and counts["error"] and not any(counts[s] for s in CODED):
        status = "failed"  # every item failed: not a run to export
    usage: dict[str, float] = {
        **{name: totals[name] for name in TOTALS[:3]},
        "calls": totals["attempts"],
        "cached_calls": totals["cached_calls"],
        "items": counts.total(),
        "abandoned": abandoned,
    }
    for name in TOTALS[5:]:  # the tokens of answers from a batch API
        if totals[name]:
            usage[name] = totals[name]
    cost = run_cost(manifest, usage, prices)
    if cost is not None:
        usage["cost_usd"] = cost
    manifest = manifest.model_copy(
        update={
            "status": status,
            "finished_at": now(),
            "counts": {s: counts.get(s, 0) for s in STATUSES},
            "usage": usage,
            "extra": {**manifest.extra, **run.notes, **(extra or {})},
        }
    )
    try:
        run.write_manifest(manifest)
    finally:
        if run.lock is not None:
            run.lock.release()
            run.lock = None
    return manifest


TOTALS = (
    *("prompt_tokens", "completion_tokens", "cached_prompt_tokens", "attempts", "cached_calls"),
    *("batch_prompt_tokens", "batch_completion_tokens"),
)


def recount(run: Run) -> tuple[Counter[str], Counter[str]]:
    """The run's usage summed over every record, and how many of its counted items have each
    status (the latest record of each of the run's own items, and of skipped ones, as
    `Run.counted_codings` counts them), read from the records' bytes a block at a time
    (`llmcode.store.scan.tally_records`): a million records in seconds, in flat memory."""
    tally = scan.tally_records(run.path / CODINGS, run.code_ids(), run.counted)
    totals: Counter[str] = Counter({name: tally.usage[name] for name in TOTALS})
    keys, statuses = tally.latest()
    if (run.path / ITEMS).is_file():  # the run's own items count, and skipped ones
        own = np.isin(keys, _item_keys(run.path / ITEMS))
        skipped = scan.STATUS_NAMES.index("skipped")
        statuses = np.concatenate([statuses[own], statuses[~own][statuses[~own] == skipped]])
    counted = np.bincount(statuses.astype(np.int64), minlength=len(scan.STATUS_NAMES))
    return totals, Counter(
        {s: int(n) for s, n in zip(scan.STATUS_NAMES, counted, strict=True) if n}
    )


def _item_keys(items: Path) -> np.ndarray:
    """The hashed ids of a snapshot's items (as `scan.tally_records` hashes them)."""
    return np.fromiter((hash(key) for key in scan.item_keys(items)), np.int64)


def run_cost(
    manifest: RunManifest,
    usage: dict[str, float],
    prices: str | Path | dict[str, Price] | None = None,
) -> float | None:
    """USD spent on ``usage``: 0 for the embedded model, None when the model has no price; the
    prompt tokens the provider reported as cached at the model's cached-input price, and the
    tokens of answers a batch API gave (``batch_*_tokens``: ``code --batch``, ``batch
    collect``, ``batch run``) at its batch price (the price's ``batch_discount`` off)."""
    if manifest.config.endpoint.backend == "local":
        return 0.0
    model = str(manifest.backend.get("model") or manifest.config.endpoint.model or "")
    table = prices if isinstance(prices, dict) else load_prices(prices)
    price = price_for(model, table) if model else None
    if price is None:
        return None
    batch = int(usage.get("batch_prompt_tokens", 0)), int(usage.get("batch_completion_tokens", 0))
    online = (
        int(usage.get("prompt_tokens", 0)) - batch[0],
        int(usage.get("completion_tokens", 0)) - batch[1],
    )
    cached = min(int(usage.get("cached_prompt_tokens", 0)), online[0])
    cost = cost_of(*online, price, cached) + cost_of(*batch, price) * (1 - price.batch_discount)
    return round(cost, 6)


def check_resumable(run: Run, taxonomy: Taxonomy) -> None:
    """Refuse to resume a run whose taxonomy snapshot no longer matches its manifest."""
    manifest = run.manifest()
    if manifest.taxonomy.get("fingerprint") != taxonomy.fingerprint():
        raise RunStoreError(
            f"{run.path}: the taxonomy snapshot does not match the manifest",
            hint="start a new run instead of resuming this one",
        )


async def code_run(
    run: Run,
    coder: Coder,
    todo: Sequence[Item],
    on_record: Callable[[CodingRecord], None] | None = None,
    budget: Budget | None = None,
    prices: str | Path | dict[str, Price] | None = None,
    guard: StartupGuard | None = None,
) -> RunManifest:
    """Code ``todo`` into ``run`` and finish it, however the coding ends.

    Status ``complete`` when every item was coded, ``interrupted`` when the budget stopped it, it
    was cancelled (Ctrl-C, SIGTERM: the cancellation propagates after the run is finished) or the
    guard stopped it (no new request is started, those in flight finish, and
    ``BackendUnavailable`` is raised after the run is finished); ``failed`` when every item
    coded is an error.
    """
    guard = guard or StartupGuard(patience=min(3, max(1, len(todo))))
    ledger = Ledger(run.path)

    def observe(record: CodingRecord) -> None:
        guard.observe(record)
        if on_record is not None:
            on_record(record)

    def before_request(item_ids: list[str]) -> bool:
        if guard.error is not None:
            return False
        ledger.started(item_ids)
        return True

    status = "interrupted"
    try:
        finished = await code_items(todo, coder, run, observe, budget, before_request)
        status = "complete" if finished and guard.error is None else "interrupted"
    finally:
        backends = (coder.backend, *coder.more_backends)
        timed_out = sum(int(getattr(backend, "timed_out", 0)) for backend in backends)
        manifest = finish_run(run, status, coder.backend, prices, abandoned=timed_out)
    if guard.error is not None:
        raise guard.error
    return manifest
