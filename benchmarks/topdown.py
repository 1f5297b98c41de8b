"""A 307-code codebook, flat against top-down: prompt tokens and requests per document.

    PYTHONPATH=src python benchmarks/topdown.py

The codebook is our own synthetic one (`tests/support/bigcodebook.py`: 12 top-level and 55
middle categories marked not codable, 240 codable leaves with definitions, the size of the
MAXQDA codebook issue 27 reports). The documents are the five interviews of
``examples/interviews`` and one document of 35,000 characters built from them (a conference
paper's length). For each model context and each way of asking (``--hierarchy flat`` or
``top-down``), the dry run's count (what ``code --dry-run`` prints: the first step exactly, the
second with three branches of average size per window, two per multi-label item) and a run
against the test server (which chooses two categories per window by hash: its counts are
characters / 4 of what is really sent) give, per document, the requests and the prompt tokens.
"Does not fit" is the run refusing the codebook for the context. Not a test.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support.bigcodebook: the synthetic codebook

from tests.support.bigcodebook import big_codebook, write_big_codebook  # noqa: E402

import llmcode  # noqa: E402
from llmcode.coding.job import new_config, prepare  # noqa: E402
from llmcode.errors import ConfigError  # noqa: E402
from llmcode.store.runs import RunStore  # noqa: E402
from llmcode.testserver import ServerConfig, TestServer  # noqa: E402

INTERVIEWS = ROOT / "examples" / "interviews" / "transcripts"
CONTEXTS = (4_096, 8_192, 32_768, 131_072)
HIERARCHIES = ("flat", "top-down")


def paper(directory: Path, chars: int = 35_000) -> Path:
    texts = [p.read_text(encoding="utf-8") for p in sorted(INTERVIEWS.iterdir())]
    path = directory / "paper.txt"
    path.write_text(("\n\n".join(texts) * 2)[:chars], encoding="utf-8")
    return path


def estimate(taxonomy: Path, items: Path, unit: str, context: int, hierarchy: str, root: Path):
    config = new_config(
        taxonomy,
        items,
        backend="openai",
        model="gpt-4o-mini",
        unit=unit,
        level="leaves",
        hierarchy=hierarchy,
        context_tokens=context,
    )
    try:
        job = prepare(config, store=RunStore(root), offline=True)
    except ConfigError:
        return None
    return job.estimate(), len(job.todo)


def measured(server, taxonomy: Path, items: Path, context: int, hierarchy: str, root: Path):
    try:
        run = llmcode.code(
            taxonomy,
            items,
            backend="openai",
            base_url=server.base_url,
            model="test-model",
            unit="segment",
            level="leaves",
            hierarchy=hierarchy,
            context_tokens=context,
            runs_dir=root,
            cache=False,
        )
    except ConfigError:
        return None
    records = list(run.latest_codings().values())
    bad = [r.item_id for r in records if r.status != "ok"]
    if bad:
        raise SystemExit(f"not every document coded: {bad}")
    n = len(records)
    return sum(r.attempts for r in records) / n, sum(r.prompt_tokens for r in records) / n


def main() -> None:
    os.environ.setdefault("OPENAI_API_KEY", "sk-test")
    codebook = big_codebook()
    codes = sum(1 for _ in codebook.walk())
    print(
        f"codebook: {codes} codes ({len(codebook.categories)} top-level, "
        f"{len(codebook.targets('leaves'))} codable leaves)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        taxonomy = write_big_codebook(root / "papers-307.yaml")
        documents = {
            "5 interviews (3,689-4,897 chars)": INTERVIEWS,
            "35,000-char document": paper(root),
        }
        print(
            "\n| documents | unit | context | hierarchy | requests / doc (dry run) | prompt tokens "
            "/ doc (dry run) | requests / doc (test server) | prompt tokens / doc (test server) |"
        )
        print("|---|---|---:|---|---:|---:|---:|---:|")
        with TestServer(ServerConfig()) as server:
            for label, items in documents.items():
                for context in CONTEXTS:
                    for hierarchy in HIERARCHIES:
                        where = root / f"{label[:3]}-{context}-{hierarchy}"
                        est = estimate(taxonomy, items, "segment", context, hierarchy, where)
                        run = measured(server, taxonomy, items, context, hierarchy, where / "runs")
                        if est is None:
                            cells = "does not fit | – | – | –"
                        else:
                            e, n = est
                            cells = f"{e.requests / n:.1f} | {e.prompt_tokens / n:,.0f}"
                            cells += (
                                " | – | –" if run is None else f" | {run[0]:.1f} | {run[1]:,.0f}"
                            )
                        print(f"| {label} | segment | {context:,} | {hierarchy} | {cells} |")
            for label, items in documents.items():
                for hierarchy in HIERARCHIES:
                    e, n = estimate(taxonomy, items, "item", 8_192, hierarchy, root / "items")  # type: ignore[misc]
                    print(
                        f"| {label} | item (whole) | – | {hierarchy} | {e.requests / n:.1f} | "
                        f"{e.prompt_tokens / n:,.0f} | – | – |"
                    )


if __name__ == "__main__":
    main()
