"""Code a file of items in one call, from a notebook or a script: ``llmcode.code_file``.

The CLI's ``llmcode code`` with its defaults, as a function: load the taxonomy and items, start
a run in ``runs_dir``, code every item through the one ask loop and finish the run (manifest,
cost). Pass a ``backend`` object (any `Backend`, e.g. a fake one in tests) or let the settings
build one (``backend="openai"``, ``model=...``, ``base_url=...``; the key from the environment).
Works inside Jupyter's running event loop too (the coding then runs in a worker thread).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from llmcode.coding.closed import make_coder
from llmcode.coding.lifecycle import code_run, pending_items, start_run
from llmcode.items import load_items
from llmcode.llm.backends import choose_backend_name, make_backend
from llmcode.llm.backends.base import Backend
from llmcode.store.models import RunConfig
from llmcode.store.runs import Run, RunStore
from llmcode.taxonomy.model import load_taxonomy


def code_file(
    taxonomy: str | Path,
    items: str | Path,
    *,
    backend: Backend | str | None = None,
    runs_dir: str | Path = "runs",
    run_id: str | None = None,
    **settings: Any,
) -> Run:
    """Code every item of ``items`` against ``taxonomy`` into a new run and return it.

    ``settings`` are `RunConfig` fields (``model``, ``base_url``, ``samples``, ``level``...).
    """
    tax = load_taxonomy(taxonomy)
    item_set = load_items(items)
    if isinstance(backend, str) or backend is None:
        name = choose_backend_name(backend, settings.get("base_url"))
        llm: Backend = make_backend(
            name, model=settings.get("model"), base_url=settings.get("base_url")
        )
        settings.setdefault("evidence", "choice" if name == "local" else "free")
    else:
        name, llm = getattr(backend, "name", "custom"), backend
    settings.setdefault("model", getattr(llm, "model", None))
    config = RunConfig(
        taxonomy_path=str(taxonomy),
        items_path=str(items),
        text_columns=tuple(item_set.text_columns),
        backend=name,
        **settings,
    )
    coder = make_coder(config, tax, llm, item_set.items)
    text = Path(taxonomy).read_text(encoding="utf-8")
    run = start_run(
        RunStore(Path(runs_dir)), config, item_set, tax, text, coder.prompts, llm, run_id
    )

    async def work() -> None:
        try:
            await code_run(run, coder, pending_items(run))
        finally:
            await llm.aclose()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(work())
    else:  # a notebook's loop is running: code in a thread with a loop of its own
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(asyncio.run, work()).result()
    return run
