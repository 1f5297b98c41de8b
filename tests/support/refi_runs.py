"""Runs for the REFI tests, coded through the real pipeline by a scripted backend.

The backend answers each item with a code from ``answers`` (item_id -> code), quoting the
item's first words or given words (verified), an invented sentence (unverified), or no
category at all.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from llmcode.coding.closed import Coder, code_items
from llmcode.coding.lifecycle import finish_run, start_run
from llmcode.items import load_items
from llmcode.llm.backends.fake import FakeBackend, item_id, item_text
from llmcode.llm.prompts import load_prompts
from llmcode.store.config import RunConfig
from llmcode.store.runs import Run, RunStore
from llmcode.taxonomy.model import load_taxonomy

INVENTED = "a sentence that is nowhere in the item"


def scripted_answer(code: str, text: str) -> dict:
    """One answer: ``code`` quoting the first words, ``code@words`` quoting ``words``,
    ``code!`` with an invented quote, or ``none`` with a suggested new code."""
    if code == "none":
        return {
            "codes": [
                {"code": "none", "justification": "nothing fits", "evidence": [], "confidence": 0.3}
            ],
            "suggested_code": {"name": "Docs", "definition": "Documentation problems."},
        }
    code, _, quote = code.partition("@")
    if code.endswith("!"):
        quote = INVENTED
    quote = quote or " ".join(text.split()[:6])
    return {
        "codes": [
            {
                "code": code.rstrip("!"),
                "justification": f"the reporter writes: {quote}",
                "evidence": [quote],
                "confidence": 0.8,
            }
        ],
        "suggested_code": None,
    }


def make_run(
    root: Path, taxonomy: Path, items: Path, answers: dict[str, str], run_id: str = "r1"
) -> Run:
    """Code ``items`` against ``taxonomy`` with scripted answers; returns the finished run."""
    tax = load_taxonomy(taxonomy)
    item_set = load_items(items)
    backend = FakeBackend(
        responder=lambda request: scripted_answer(answers[item_id(request)], item_text(request)),
        model="scripted-model",
    )
    config = RunConfig(
        taxonomy_path=str(taxonomy),
        items_path=str(items),
        backend="fake",
        max_reasks=0,
        concurrency=1,
    )
    prompts = load_prompts()
    store = RunStore(root)
    run = start_run(
        store,
        config,
        item_set,
        tax,
        taxonomy.read_text(encoding="utf-8"),
        prompts,
        backend,
        run_id=run_id,
    )
    coder = Coder(taxonomy=tax, backend=backend, prompts=prompts, config=config)
    asyncio.run(code_items(item_set.items, coder, run))
    finish_run(run)
    return run
