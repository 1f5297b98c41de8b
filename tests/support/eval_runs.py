"""The evaluation worked example on the bundled sample (examples/ptm-issues.csv, ptm-reuse).

Two scripted fake-model runs code the gold items: one with the codebook as shipped (with its
examples), one with a copy of the codebook whose examples are stripped. The fake model reads
the prompt: when the codebook's examples are in it, it answers the intended code (the
examples/README truth, ana's codes) except on ~10% of items; without them, on ~35%. Wrong
answers are another code chosen by a hash of the item id, so runs are reproducible. Tokens are
priced as gpt-4o-mini (USD 0.15 / 0.60 per 1M) so the cost column means something.
Reviewers ana and ben code blind from examples/ptm-issues.codes.csv (ben falls back to ana
where he has no code); issues outside the scheme (not PTM-related) get "no code applies".
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pandas as pd
import yaml

from llmcode.coding.closed import Coder, code_items
from llmcode.coding.costs import Price
from llmcode.coding.lifecycle import finish_run, start_run
from llmcode.items import load_items, only_items
from llmcode.llm.backends.base import ChatRequest
from llmcode.llm.backends.fake import FakeBackend, item_id, item_text
from llmcode.llm.prompts import load_prompts
from llmcode.review.session import ReviewSession
from llmcode.store.config import RunConfig
from llmcode.store.runs import Run, RunStore
from llmcode.taxonomy.model import NONE_CODE, load_taxonomy
from tests.support import ROOT

ITEMS = ROOT / "examples" / "ptm-issues.csv"
TAXONOMY = ROOT / "taxonomy" / "ptm-reuse.yaml"
CODES = ROOT / "examples" / "ptm-issues.codes.csv"
PRICE = Price(input=0.15, output=0.60)


def reference_codes() -> dict[str, dict[str, str]]:
    """coder -> item_id -> code, from examples/ptm-issues.codes.csv."""
    frame = pd.read_csv(CODES, dtype=str)
    return {
        coder: dict(zip(group["item_id"], group["code"], strict=True))
        for coder, group in frame.groupby("coder")
    }


def strip_examples(source: Path, target: Path) -> Path:
    """A copy of the taxonomy without the categories' examples (a shorter codebook)."""
    data = yaml.safe_load(source.read_text(encoding="utf-8"))

    def strip(categories: list[dict]) -> None:
        for category in categories:
            category.pop("examples", None)
            strip(category.get("children", []))

    strip(data["categories"])
    data["version"] = f"{data['version']}-no-examples"
    target.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "utf-8")
    return target


def _hash(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def fake_model(truth: dict[str, str], targets: list[str]):
    """A responder that is right more often when the codebook's examples are in the prompt."""

    def respond(request: ChatRequest) -> dict:
        item = item_id(request)
        system = request.messages[0]["content"]
        noise = 0.10 if 'Example: "' in system else 0.35
        code = truth.get(item, NONE_CODE)
        if (_hash(item) % 1000) / 1000 < noise:
            others = [c for c in [*targets, NONE_CODE] if c != code]
            code = others[_hash("wrong" + item) % len(others)]
        quote = " ".join(item_text(request).split()[:6])
        return {
            "codes": [
                {
                    "code": code,
                    "justification": f"the issue reads as {code}",
                    "evidence": [] if code == NONE_CODE else [quote],
                    "confidence": 0.8,
                }
            ],
            "suggested_code": None,
        }

    return respond


def make_run(store: RunStore, taxonomy_path: Path, gold: Path, run_id: str, model: str) -> Run:
    """Code the gold items of the bundled sample with the fake model; usage priced."""
    taxonomy = load_taxonomy(taxonomy_path)
    item_set = only_items(load_items(ITEMS), gold)
    targets = [c.id for c in taxonomy.targets("top")]
    backend = FakeBackend(responder=fake_model(reference_codes()["ana"], targets), model=model)
    config = RunConfig(
        taxonomy_path=str(taxonomy_path),
        items_path=str(ITEMS),
        backend="fake",
        model=model,
        max_reasks=0,
        only=str(gold),
    )
    prompts = load_prompts()
    run = start_run(
        store, config, item_set, taxonomy, taxonomy_path.read_text(), prompts, backend, run_id
    )
    coder = Coder(taxonomy=taxonomy, backend=backend, prompts=prompts, config=config)
    asyncio.run(code_items(run.items(), coder, run))
    finish_run(run, "complete", backend, prices={model: PRICE})
    return run


def code_blind(run: Run, reviewer: str, codes: dict[str, str], gold_ids: list[str]) -> int:
    """Script a blind review: ``codes[item]`` via change, no code (reject) otherwise."""
    session = ReviewSession(run, reviewer, blind=True, only=gold_ids)
    for _ in range(len(session.queue)):
        item = session.current
        assert item is not None
        code = codes.get(item.item_id)
        session.change([code]) if code else session.reject()
    return session.progress().reviewed
