"""The one entry point of a coding run: prepare it (new or resumed), estimate it, build its
backends, code it, finish it. ``llmcode code``, ``code --batch``, ``batch prepare`` and the
notebook API (``llmcode.code``, ``llmcode.resume``, ``llmcode.estimate``) are thin layers on it.

- ``new_config`` turns flat settings into a `RunConfig` with the study's defaults: the backend
  (``local`` unless a key or base URL is configured), the evidence mode for that backend, one
  sample per model at least.
- ``prepare`` makes a `CodingJob`: for a new run it loads the taxonomy and the items (``only``,
  ``limit``); for a resumed one it reopens the run and applies or refuses each setting given now
  (`resume_changes`). It builds one backend per model (slots, rpm, tpm, timeout from the limits),
  the coder and the spending cap.
- A job is then estimated (``estimate``), written as batch requests (``write_batch``), or started
  and coded (``start``, ``code``), always finishing the run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from llmcode.coding.closed import Coder
from llmcode.coding.coders import make_unit_coder, top_down_tokens
from llmcode.coding.costs import Budget, Estimate, budget_for, estimate_items
from llmcode.coding.guidance import check_guidance
from llmcode.coding.lifecycle import code_run, pending_stream, resume_run, start_run
from llmcode.coding.resume_rules import resume_changes
from llmcode.coding.retrieval import Progress
from llmcode.errors import ConfigError
from llmcode.item_stream import stream_items
from llmcode.items import Item, ItemSet, only_items
from llmcode.llm.backends import choose_backend_name, default_model, make_backend
from llmcode.llm.backends.base import Backend
from llmcode.llm.cache import ResponseCache
from llmcode.store.config import RunConfig, make_config
from llmcode.store.models import CodingRecord, RunManifest
from llmcode.store.runs import Run, RunStore
from llmcode.taxonomy.model import Taxonomy, load_taxonomy

T = TypeVar("T")


def default_evidence(backend: str) -> str:
    """How the model gives evidence unless told: it picks the item's sentences on the embedded
    model (constrained, never invented), it writes quotes on an endpoint."""
    return "choice" if backend == "local" else "free"


def new_config(
    taxonomy: str | Path, items: str | Path, *, custom_backend: str | None = None, **settings: Any
) -> RunConfig:
    """A new run's config from flat settings, with the study's defaults filled in.

    ``model`` may be a list (the first is ``model``, the rest ``more_models``); ``backend`` is
    chosen from the environment when not given (``custom_backend`` names a backend object
    passed in instead); ``evidence`` follows the backend; ``samples`` is at least one per model.
    """
    models = settings.pop("model", None)
    if isinstance(models, list | tuple):
        models, more = (models[0], tuple(models[1:])) if models else (None, ())
        settings["more_models"] = (*more, *settings.get("more_models", ()))
    requested = settings.pop("backend", None)
    backend = custom_backend or choose_backend_name(requested, settings.get("base_url"))
    settings.setdefault("evidence", None)
    settings["evidence"] = settings["evidence"] or default_evidence(backend)
    if models:  # at least one sample per model
        n_models = 1 + len(settings.get("more_models", ()))
        settings["samples"] = max(settings.get("samples", 1), n_models)
    return make_config(
        taxonomy_path=str(taxonomy),
        items_path=str(items),
        backend=backend,
        model=models,
        **settings,
    )


def build_backends(config: RunConfig, state_dir: Path | None = None) -> list[Backend]:
    """One backend per model of ``config``, with its endpoint and limits; ``state_dir`` is where
    the embedded model keeps its codebook prefix's KV state between runs."""
    endpoint, limits = config.endpoint, config.limits
    return [
        make_backend(
            endpoint.backend,
            model=name,
            base_url=endpoint.base_url,
            model_path=endpoint.model_path,
            rpm=limits.rpm,
            tpm=limits.tpm,
            timeout=endpoint.timeout,
            parallel=limits.concurrency,
            state_dir=state_dir,
        )
        for name in (endpoint.model, *endpoint.more_models)
    ]


def backend_for(
    config: RunConfig | None,
    backend: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
    model_path: str | None = None,
) -> Backend:
    """The backend asked for, else the one ``config`` (an earlier run's) used, else the default
    (commands that ask a model outside a coding run: open coding, recode, taxonomy extension)."""
    if config is not None and backend is None:
        endpoint = config.endpoint
        return make_backend(
            endpoint.backend,
            model=model or endpoint.model,
            base_url=base_url or endpoint.base_url,
            model_path=model_path or endpoint.model_path,
        )
    name = choose_backend_name(backend, base_url)
    return make_backend(name, model=model, base_url=base_url, model_path=model_path)


def offline_backends(config: RunConfig) -> list[Backend]:
    """Stand-ins that never ask (dry runs, batch files), one per model."""
    from llmcode.coding.batch import OfflineBackend

    endpoint = config.endpoint
    return [
        OfflineBackend(name, endpoint.base_url) for name in (endpoint.model, *endpoint.more_models)
    ]


@dataclass
class CodingJob:
    """A coding run ready to go: its settings, taxonomy, items left, coder and spending cap.

    ``run`` is None for a new run until ``start``; ``notes`` are what a person should be told
    before it starts (items kept by ``only``, the sheet read, settings changed on resume).
    """

    store: RunStore
    config: RunConfig
    taxonomy: Taxonomy
    coder: Coder
    todo: Sequence[Item]
    """The items left: a sized stream (`llmcode.item_stream.ItemStream`) read when iterated."""
    item_set: ItemSet | None = None
    run: Run | None = None
    run_id: str | None = None
    budget: Budget | None = None
    prices: str | Path | None = None
    notes: list[str] = field(default_factory=list)
    examples_selected: bool = False

    @property
    def resumed(self) -> bool:
        return self.item_set is None

    @property
    def backends(self) -> list[Backend]:
        return [self.coder.backend, *self.coder.more_backends]

    def estimate(self, progress: Progress | None = None) -> Estimate:
        """Tokens and cost of coding the items left (nothing is sent); their examples are
        selected first, in bulk (``progress(done, total)``). A flat run at the leaves of a
        hierarchical codebook also says what coding top-down would send
        (``top_down_prompt_tokens``)."""
        self.coder.prepare_examples(self.todo, progress)
        model = self.config.endpoint.model or default_model(self.config.endpoint.backend)
        estimate = estimate_items(
            self.config, self.taxonomy, self.todo, model, self.prices, self.coder
        )
        other = top_down_tokens(
            self.config,
            self.taxonomy,
            self.coder.backend,
            self.todo,
            estimate.prompt_tokens,
            model,
            self.prices,
        )
        return estimate if other is None else replace(estimate, top_down_prompt_tokens=other)

    def start(self) -> Run:
        """Create the new run's directory (snapshots, manifest); a resumed job has its run."""
        if self.run is not None:
            return self.run
        assert self.item_set is not None
        examples = self.coder.examples
        self.run = start_run(
            self.store,
            self.config,
            self.item_set,
            self.taxonomy,
            Path(self.config.inputs.taxonomy_path).read_text(encoding="utf-8"),
            self.coder.prompts,
            self.coder.backend,
            self.run_id,
            extra={"examples": examples.describe()} if examples is not None else None,
        )
        self.todo = self.run.item_stream()
        return self.run

    def select_examples(self, progress: Progress | None = None) -> None:
        """Select the examples of the items left, in bulk (``progress(done, total)``); coding
        and batch requests select them first when this was not called."""
        self.start()
        if not self.examples_selected:
            self.coder.prepare_examples(self.todo, progress)
            self.examples_selected = True

    async def code(self, on_record: Callable[[CodingRecord], None] | None = None) -> RunManifest:
        """Code the items left and finish the run, however it ends (see ``code_run``)."""
        run = self.start()
        self.select_examples()
        return await code_run(run, self.coder, self.todo, on_record, self.budget, self.prices)

    def write_batch(self, max_requests: int | None = None) -> tuple[Run, Path]:
        """The items left as batch requests (``runs/<id>/batch/requests.jsonl``), not asked."""
        from llmcode.coding.batch import write_batch_requests

        run = self.start()
        self.select_examples()
        return run, write_batch_requests(run, self.coder, max_requests)

    async def aclose(self) -> None:
        for backend in self.backends:
            await backend.aclose()


def prepare(
    config: RunConfig | None = None,
    *,
    store: RunStore | None = None,
    resume: str | Path | None = None,
    changes: dict[str, Any] | None = None,
    force: bool = False,
    run_id: str | None = None,
    backends: Sequence[Backend] | None = None,
    offline: bool = False,
    cache: bool = True,
    prices: str | Path | None = None,
) -> CodingJob:
    """A new run from ``config``, or the run ``resume`` with the settings ``changes`` given now.

    ``backends`` (one per model) replace the ones the config describes (tests, notebooks);
    ``offline`` builds stand-ins that never ask (dry runs, batch requests); ``cache`` reads and
    writes the response cache beside the runs; ``prices`` is a price table (YAML path).
    """
    store = store or RunStore()
    if (config is None) == (resume is None):
        raise ConfigError("give a new run's settings or a run to resume, not both or neither")
    if resume is not None:
        return _prepare_resumed(
            store, resume, changes or {}, force, backends, offline, cache, prices
        )
    assert config is not None
    check_guidance(config.guidance)
    taxonomy = load_taxonomy(config.inputs.taxonomy_path)
    inputs = config.inputs
    item_set = stream_items(
        inputs.items_path,
        id_column=inputs.id_column,
        text_columns=list(inputs.text_columns) if inputs.text_columns else None,
        sheet=inputs.sheet,
    )
    config = config.replace(text_columns=tuple(item_set.text_columns), sheet=item_set.sheet)
    notes = [item_set.sheet_note] if item_set.sheet_note else []
    if inputs.only is not None:
        item_set = only_items(item_set, inputs.only, inputs.id_column)
        notes.append(f"only {inputs.only}: {len(item_set.items)} item(s) to code")
    todo = item_set.items[: inputs.limit] if inputs.limit else item_set.items
    llms = _backends(config, backends, offline, _states_dir(store, cache))
    coder = make_unit_coder(
        config,
        taxonomy,
        llms[0],
        item_set.items,
        cache=_cache(store, cache),
        more_backends=llms[1:],
        vectors_dir=_vectors_dir(store, cache),
    )
    return CodingJob(
        store=store,
        config=config,
        taxonomy=taxonomy,
        coder=coder,
        todo=todo,
        item_set=item_set,
        run_id=run_id,
        budget=None
        if offline
        else budget_for(config, taxonomy, todo, llms[0].model, prices, coder),
        prices=prices,
        notes=notes,
    )


def _prepare_resumed(
    store: RunStore,
    ref: str | Path,
    changes: dict[str, Any],
    force: bool,
    backends: Sequence[Backend] | None,
    offline: bool,
    cache: bool,
    prices: str | Path | None,
) -> CodingJob:
    run = resume_run(store, ref, "closed")
    try:
        manifest = run.manifest()
        config, notes = resume_changes(run, manifest, changes, force)
        taxonomy = run.taxonomy()
        llms = _backends(config, backends, offline, _states_dir(store, cache))
        started = manifest.extra.get("examples", {})
        coder = make_unit_coder(
            config,
            taxonomy,
            llms[0],
            run.iter_items(),  # read only when the run draws examples from its items
            cache=_cache(store, cache),
            more_backends=llms[1:],
            examples_sha256=started.get("sha256"),
            vectors_dir=_vectors_dir(store, cache),
        )
        todo = pending_stream(run)
        budget = (
            None if offline else budget_for(config, taxonomy, todo, llms[0].model, prices, coder)
        )
    except BaseException:
        if run.lock is not None:
            run.lock.release()
        raise
    return CodingJob(
        store=store,
        config=config,
        taxonomy=taxonomy,
        coder=coder,
        todo=todo,
        run=run,
        budget=budget,
        prices=prices,
        notes=notes,
    )


def _backends(
    config: RunConfig, given: Sequence[Backend] | None, offline: bool, state_dir: Path | None
) -> list[Backend]:
    if given:
        return list(given)
    return offline_backends(config) if offline else build_backends(config, state_dir)


def _states_dir(store: RunStore, cache: bool) -> Path | None:
    """Where the embedded model's codebook KV states are kept beside the runs (None: off)."""
    return store.root / ".cache" / "kv" if cache else None


def _vectors_dir(store: RunStore, cache: bool) -> Path | None:
    """Where embeddings are kept beside the runs (None with ``cache`` off)."""
    return store.root / ".cache" / "vectors" if cache else None


def _cache(store: RunStore, wanted: bool) -> ResponseCache | None:
    return ResponseCache(store.root / ".cache") if wanted else None


def run_sync(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to its end, also from inside a running event loop (Jupyter: in a thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()
