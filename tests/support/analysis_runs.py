"""A small study for the analysis and report tests: items with timestamps, a run, human codes.

The run is coded through the real pipeline by a scripted backend: each item gets the code in
``RUN_CODES`` with a verified quote (``QUOTES``), except one item answered with an invented
quote (stored ``unverified``). Human coder ana disagrees with the run on two items; ben codes
everything ``usage``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pandas as pd

from llmcode.coding.closed import Coder, code_items
from llmcode.coding.lifecycle import finish_run, start_run
from llmcode.items import load_items
from llmcode.llm.backends.fake import FakeBackend, item_id
from llmcode.llm.prompts import load_prompts
from llmcode.store.config import RunConfig
from llmcode.store.runs import Run, RunStore
from llmcode.taxonomy.model import load_taxonomy

DATA = Path(__file__).parents[1] / "data"
TEXTS = {
    "i1": "How do I pass max_length to generate()? The argument is ignored.",
    "i2": "Each request takes 12 seconds on CPU; the README promises one second.",
    "i3": "Loading the 7B checkpoint fails with CUDA out of memory on a 16GB card.",
    "i4": "Where do I set the <script>alert(1)</script> template | option?",
    "i5": "Batch inference is slow: 40 seconds for 8 images.",
    "i6": "OOM when the batch size is above 2 on a T4.",
    "i7": "The docs do not say which config key sets the beam width.",
    "i8": "The README typo says intall instead of install.",
}
RUN_CODES = {
    "i1": "usage",
    "i2": "performance",
    "i3": "resources",
    "i4": "usage",
    "i5": "performance",
    "i6": "resources",
    "i7": "usage",
    "i8": "usage",
}
QUOTES = {
    "i1": "pass max_length to generate()",
    "i2": "takes 12 seconds on CPU",
    "i3": "CUDA out of memory",
    "i4": "<script>alert(1)</script> template | option",
    "i5": "Batch inference is slow",
    "i6": "OOM when the batch size",
    "i7": "which config key",
    "i8": "INVENTED quote that is not in the text",
}
HUMAN_ANA = {**RUN_CODES, "i5": "resources", "i7": "performance"}
# item: (project, created, closed or "" when open, screening code)
META = {
    "i1": ("acme", "2024-01-01T00:00:00Z", "2024-01-03T00:00:00Z", "ptm"),
    "i2": ("acme", "2024-01-01T00:00:00Z", "2024-01-21T00:00:00Z", "ptm"),
    "i3": ("acme", "2024-01-02T00:00:00Z", "2024-01-12T00:00:00Z", "ptm"),
    "i4": ("beta", "2024-01-02T00:00:00Z", "2024-01-05T00:00:00Z", "ptm"),
    "i5": ("beta", "2024-01-03T00:00:00Z", "", "ptm"),
    "i6": ("beta", "2024-01-03T00:00:00Z", "2024-01-09T00:00:00Z", "ptm"),
    "i7": ("acme", "2024-01-04T00:00:00Z", "2024-01-05T12:00:00Z", "not_ptm"),
    "i8": ("beta", "2024-01-04T00:00:00Z", "2024-01-04T06:00:00Z", "not_ptm"),
}


def write_study(directory: Path) -> dict[str, Path]:
    """Items, human codes (ana, ben) and screening codes as CSV files in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    items = pd.DataFrame(
        [
            {
                "item_id": i,
                "title": TEXTS[i].split(".")[0][:40],
                "text": TEXTS[i],
                "project": p,
                "created_at": c,
                "closed_at": d,
            }
            for i, (p, c, d, _) in META.items()
        ]
    )
    human = pd.DataFrame(
        [{"item_id": i, "coder": "ana", "code": c} for i, c in HUMAN_ANA.items()]
        + [{"item_id": i, "coder": "ben", "code": "usage"} for i in META]
    )
    screening = pd.DataFrame(
        [{"item_id": i, "coder": "ana", "code": m[3]} for i, m in META.items()]
    )
    paths = {
        "items": directory / "items.csv",
        "human": directory / "human.csv",
        "screening": directory / "screening.csv",
    }
    items.to_csv(paths["items"], index=False)
    human.to_csv(paths["human"], index=False)
    screening.to_csv(paths["screening"], index=False)
    return paths


def make_study_run(
    tmp_path: Path,
    run_id: str = "study",
    codes: dict[str, str] | None = None,
    taxonomy_path: Path = DATA / "tiny.yaml",
) -> tuple[Run, dict[str, Path]]:
    """Write the study files and code them into ``tmp_path/runs/<run_id>`` (the scripted
    backend answers ``codes``, default `RUN_CODES`, under the taxonomy ``taxonomy_path``)."""
    paths = write_study(tmp_path / "study")
    answers = codes or RUN_CODES
    taxonomy = load_taxonomy(taxonomy_path)
    item_set = load_items(paths["items"], text_columns=["text"])

    def respond(request) -> dict:  # type: ignore[no-untyped-def]
        item = item_id(request)
        return {
            "codes": [
                {
                    "code": answers[item],
                    "justification": f"{item} is about {answers[item]}",
                    "evidence": [QUOTES[item]],
                    "confidence": 0.9,
                }
            ],
            "suggested_code": None,
        }

    backend = FakeBackend(responder=respond, model="fake-model")
    config = RunConfig(
        taxonomy_path=str(taxonomy_path),
        items_path=str(paths["items"]),
        backend="fake",
        model="fake-model",
        text_columns=("text",),
        max_reasks=0,
    )
    prompts = load_prompts()
    store = RunStore(tmp_path / "runs")
    run = start_run(
        store, config, item_set, taxonomy, taxonomy_path.read_text(), prompts, backend, run_id
    )
    coder = Coder(taxonomy=taxonomy, backend=backend, prompts=prompts, config=config)
    asyncio.run(code_items(run.items(), coder, run))
    finish_run(run)
    return run, paths
