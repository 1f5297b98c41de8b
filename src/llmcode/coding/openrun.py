"""An open-coding run from start to finish: the rules of ``llmcode open-code``, in one place.

`prepare_open_coding` starts a new run or resumes one and returns what is left to code:

- a new run freezes its settings (`open_run_config`): one worker, because each item is shown
  the codes found before it; evidence as a ``choice`` among the item's sentences for the local
  backend, ``free`` otherwise, unless given; a seed taxonomy's categories start the code list;
- a resumed run keeps its own settings and its ``max_codes_per_item``, and codes only the items
  without a finished record.

`code_open_run` codes the pending items in order and finishes the run however the coding ends
(``complete``, or ``interrupted`` when it is cancelled). The CLI and a notebook call the same two.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmcode.coding.job import default_evidence
from llmcode.coding.lifecycle import finish_run, pending_items, resume_run
from llmcode.coding.opencoding import (
    MAX_CODES_PER_ITEM,
    OpenCoder,
    load_code_list,
    load_open_prompts,
    open_code_items,
    start_open_run,
)
from llmcode.errors import ConfigError
from llmcode.items import Item, ItemSet, load_items
from llmcode.llm.backends.base import Backend
from llmcode.llm.cache import ResponseCache
from llmcode.store.models import CodingRecord, RunConfig, RunManifest
from llmcode.store.runs import Run, RunStore
from llmcode.taxonomy.model import Taxonomy, load_taxonomy

BackendFor = Callable[[RunConfig], Backend]
"""Builds the backend a run's config asks for (the CLI applies its endpoint options here)."""


@dataclass
class OpenCoding:
    """A prepared open-coding run: the run, its coder and the items still to code."""

    run: Run
    coder: OpenCoder
    todo: list[Item]
    seed: Taxonomy | None = None
    resumed: bool = False
    sheet_note: str = ""

    @property
    def backend(self) -> Backend:
        return self.coder.backend


def open_run_config(
    item_set: ItemSet,
    *,
    backend: str,
    taxonomy_path: str | Path | None = None,
    evidence: str | None = None,
    **settings: Any,
) -> RunConfig:
    """The settings of a new open-coding run (``settings``: other `RunConfig` fields; the items'
    path, id column, text columns and sheet default to the item set's)."""
    facts: dict[str, Any] = {
        "items_path": item_set.source,
        "id_column": item_set.id_column,
        "text_columns": tuple(item_set.text_columns),
        "sheet": item_set.sheet,
    }
    return RunConfig(
        **{
            **facts,
            **settings,
            "taxonomy_path": str(taxonomy_path) if taxonomy_path else "",
            "backend": backend,
            "concurrency": 1,
            "evidence": evidence or default_evidence(backend),
        }
    )


def prepare_open_coding(
    store: RunStore,
    backend_for: BackendFor | Backend,
    *,
    items: str | Path | None = None,
    resume: str | None = None,
    taxonomy: str | Path | None = None,
    run_id: str | None = None,
    max_codes: int = MAX_CODES_PER_ITEM,
    cache: ResponseCache | None = None,
    **settings: Any,
) -> OpenCoding:
    """Start a new open-coding run over ``items``, or ``resume`` one; see the module docstring.

    ``backend_for`` is a backend, or a function from the run's config to one. ``settings`` are
    `RunConfig` fields: how the items are read (``id_column``, ``text_columns``, ``sheet``), the
    backend's kind (``backend``; default: the backend's name, else ``local``), model, endpoint,
    sampling and limits. A resumed run keeps its own and ignores them.
    """
    build = backend_for if callable(backend_for) else (lambda _config: backend_for)
    if resume:
        run = resume_run(store, resume, kind="open")
        manifest = run.manifest()
        llm = build(manifest.config)
        max_codes = int(manifest.extra.get("max_codes_per_item", max_codes))
        codes = load_code_list(run)
        coder = OpenCoder(llm, load_open_prompts(), manifest.config, codes, cache, max_codes)
        return OpenCoding(run, coder, pending_items(run), resumed=True)
    if items is None:
        raise ConfigError(
            "nothing to open-code: no items given and no run to resume",
            hint="give the items file (items), or the run to resume (resume)",
        )
    item_set = load_items(
        items,
        id_column=settings.get("id_column", "item_id"),
        text_columns=settings.pop("text_columns", None),
        sheet=settings.pop("sheet", None),
    )
    settings["backend"] = settings.get("backend") or getattr(backend_for, "name", None) or "local"
    config = open_run_config(item_set, taxonomy_path=taxonomy, items_path=str(items), **settings)
    llm = build(config)
    seed = load_taxonomy(taxonomy) if taxonomy else None
    seed_text = Path(taxonomy).read_text(encoding="utf-8") if taxonomy else ""
    prompts = load_open_prompts()
    run = start_open_run(store, config, item_set, prompts, llm, run_id, seed, seed_text, max_codes)
    coder = OpenCoder(llm, prompts, config, load_code_list(run), cache, max_codes)
    return OpenCoding(run, coder, run.items(), seed=seed, sheet_note=item_set.sheet_note or "")


async def code_open_run(
    prepared: OpenCoding, on_record: Callable[[CodingRecord], None] | None = None
) -> RunManifest:
    """Code the pending items in order and finish the run (``interrupted`` if cancelled)."""
    status = "interrupted"
    try:
        await open_code_items(prepared.todo, prepared.coder, prepared.run, on_record)
        status = "complete"
    finally:
        manifest = finish_run(prepared.run, status, prepared.backend)
    return manifest
