"""Themes: clustering open codes, naming groups with fallbacks, a draft taxonomy that loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmcode.cli import get_app
from llmcode.coding.codelist import OpenCode
from llmcode.coding.opencoding import CODEBOOK
from llmcode.coding.themes import (
    build_themes,
    default_n_themes,
    draft_taxonomy,
    group_codes,
    summarize_open_codes,
)
from llmcode.errors import ConfigError, RunStoreError
from llmcode.items import Item
from llmcode.llm.answers import CodeAssignment
from llmcode.llm.backends.base import ChatRequest
from llmcode.llm.backends.fake import FakeBackend
from llmcode.llm.evidence import locate
from llmcode.store.jsonl import append_line
from llmcode.store.models import CodingRecord, RunConfig, RunManifest
from llmcode.store.runs import Run
from llmcode.taxonomy.model import load_taxonomy
from llmcode.testserver import ServerConfig, TestServer

runner = CliRunner()
CODED = {  # item_id: (open code name, item text; the quote is the whole text)
    "m1": ("CUDA out of memory", "CUDA out of memory when loading"),
    "m2": ("GPU memory exhausted", "GPU memory exhausted at batch 8"),
    "m3": ("out of memory on GPU", "out of memory on GPU with fp16"),
    "s1": ("slow CPU inference", "inference on CPU is slow"),
    "s2": ("inference latency too slow", "latency is too slow for inference"),
    "s3": ("slow inference on CPU", "slow inference with CPU threads"),
}


def make_open_run(root: Path, coded: dict[str, tuple[str, str]], run_id: str = "open1") -> Run:
    path = root / run_id
    path.mkdir(parents=True)
    run = Run(path)
    config = RunConfig(taxonomy_path="", items_path="items.csv", model="coder-model")
    backend = {"backend": "fake", "model": "coder-model"}
    run.write_manifest(RunManifest(run_id=run_id, kind="open", config=config, backend=backend))
    run.write_items(Item(i, text) for i, (_, text) in coded.items())
    seen = set()
    for item_id, (name, text) in coded.items():
        code = name.lower().replace(" ", "_")
        if code not in seen:
            seen.add(code)
            entry = OpenCode(code=code, name=name, definition=f"Items about {name}.")
            append_line(path / CODEBOOK, entry.model_dump_json())
        assignment = CodeAssignment(code=code, justification="x", evidence=[locate(text, text)])
        run.append_coding(CodingRecord(item_id=item_id, status="ok", codes=[assignment]))
    return run


def namer(request: ChatRequest) -> dict:
    """Names a group after its first open code, with criteria and the second quote."""
    user = request.messages[1]["content"]
    first = user.split("<group>", 1)[1].split("\n- ", 1)[1].split(":", 1)[0]
    return {
        "name": f"Theme {first}",
        "definition": f"Problems like {first}.",
        "include": ["Reports of " + first],
        "exclude": ["none"],
        "examples": [2],
    }


def test_tfidf_clustering_puts_similar_codes_together(tmp_path: Path) -> None:
    codes = summarize_open_codes(make_open_run(tmp_path, CODED))
    groups = group_codes(codes, n_themes=2)
    assert sorted(sorted(c.code[:4] for c in g) for g in groups) == [
        ["cuda", "gpu_", "out_"],
        ["infe", "slow", "slow"],
    ]


def test_the_default_number_of_themes_is_about_the_square_root_of_codes() -> None:
    assert [default_n_themes(n) for n in (1, 3, 16, 50, 400)] == [1, 2, 4, 7, 12]


async def test_the_draft_taxonomy_loads_and_says_how_it_was_made(tmp_path: Path) -> None:
    run = make_open_run(tmp_path, CODED)
    backend = FakeBackend(responder=namer, model="namer-model")
    themes = await build_themes(run, backend, n_themes=2)
    taxonomy, text = draft_taxonomy(themes, run, backend)
    assert len(taxonomy.categories) == 2
    assert "open-coding run: open1 (model coder-model)" in text
    assert "themes named by: namer-model (backend fake)" in text
    out = tmp_path / "draft.yaml"
    out.write_text(text)
    assert load_taxonomy(out).categories[0].include[0].startswith("Reports of")
    assert all(c.exclude == [] for c in taxonomy.categories), "'none' is not a criterion"
    check = runner.invoke(get_app(), ["taxonomy", "check", str(out)])
    assert check.exit_code == 0, check.output


async def test_the_examples_are_the_quotes_the_llm_picked(tmp_path: Path) -> None:
    run = make_open_run(tmp_path, CODED)
    themes = await build_themes(run, FakeBackend(responder=namer), n_themes=2)
    for theme in themes:
        quotes = [q for c in theme.codes for _, q in c.quotes]
        assert [e.text for e in theme.category.examples] == [quotes[1]]
        assert theme.category.examples[0].why.startswith("item ")


async def test_an_empty_name_is_reasked_then_taken_from_the_top_code_and_flagged(
    tmp_path: Path,
) -> None:
    run = make_open_run(tmp_path, {"m1": CODED["m1"]})
    empty = {"name": "", "definition": "", "include": [], "exclude": [], "examples": []}
    backend = FakeBackend([empty, empty, empty])
    [theme] = await build_themes(run, backend)
    assert len(backend.calls) == 3
    assert "give the category a short name" in backend.calls[1].messages[-1]["content"]
    assert (theme.category.id, theme.category.name) == ("cuda_out_of_memory", "CUDA out of memory")
    assert theme.category.definition == "Items coded CUDA out of memory."
    assert any("named after its most used open code" in f for f in theme.flags)


async def test_two_groups_with_the_same_name_get_distinct_ids(tmp_path: Path) -> None:
    run = make_open_run(tmp_path, CODED)
    same = {"name": "Memory", "definition": "d", "include": [], "exclude": [], "examples": [1]}
    themes = await build_themes(run, FakeBackend(responder=lambda r: same), n_themes=2)
    assert [t.category.id for t in themes] == ["memory", "memory_2"]


async def test_themes_refuse_a_run_that_is_not_open_coding(tmp_path: Path) -> None:
    run = make_open_run(tmp_path, CODED)
    manifest = run.manifest().model_copy(update={"kind": "closed"})
    run.write_manifest(manifest)
    with pytest.raises(RunStoreError, match="not an open-coding run"):
        await build_themes(run, FakeBackend())


def test_sentence_transformers_is_never_downloaded(tmp_path: Path) -> None:
    from llmcode.llm.vectors import text_vectors

    with pytest.raises(ConfigError):
        text_vectors(["a"], "sentence-transformers", str(tmp_path / "no-such-model"))


def test_themes_command_writes_a_draft_that_passes_taxonomy_check(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    make_open_run(runs, CODED)
    out = tmp_path / "taxonomy" / "draft.yaml"
    with TestServer(ServerConfig(max_seconds=60)) as server:
        result = runner.invoke(
            get_app(),
            [
                "themes",
                "open1",
                "-o",
                str(out),
                "--n-themes",
                "2",
                "--backend",
                "openai",
                "--base-url",
                server.base_url,
                "--runs-dir",
                str(runs),
            ],
            env={"COLUMNS": "200", "OPENAI_API_KEY": "test"},
        )
    assert result.exit_code == 0, result.output
    assert "2 themes from open1" in result.output
    check = runner.invoke(get_app(), ["taxonomy", "check", str(out)])
    assert check.exit_code == 0, check.output
    assert json.dumps(load_taxonomy(out).version) == '"0.1.0"'
