"""Open coding: consistent names, bounded code list, verified evidence, fallbacks, the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmcode.cli import get_app
from llmcode.coding.codelist import CodeList, OpenCode, name_key, slugify
from llmcode.coding.opencoding import (
    CODEBOOK,
    OpenCoder,
    load_code_list,
    load_open_prompts,
    open_code_items,
    start_open_run,
)
from llmcode.items import Item, load_items
from llmcode.llm.backends.base import ChatRequest
from llmcode.llm.backends.fake import FakeBackend, item_id
from llmcode.store.config import RunConfig
from llmcode.store.jsonl import read_jsonl
from llmcode.store.runs import Run, RunStore
from llmcode.taxonomy.model import load_taxonomy
from llmcode.testserver import ServerConfig, TestServer

DATA = Path(__file__).parents[1] / "data"
ITEMS = [
    Item("a", "Loading fails with CUDA out of memory on a 16GB card."),
    Item("b", "We get CUDA OOM: out of memory when batch size is 8."),
    Item("c", "Each request takes 12 seconds on CPU."),
]


def answer(name: str, quote: str, definition: str = "A short definition.") -> dict:
    return {"codes": [{"name": name, "definition": definition, "evidence": [quote]}]}


def config(**overrides) -> RunConfig:
    return RunConfig(
        **{"taxonomy_path": "", "items_path": "items.csv", "max_reasks": 1, **overrides}
    )


def coder(backend: FakeBackend, codes: CodeList | None = None) -> OpenCoder:
    return OpenCoder(backend, load_open_prompts(), config(), codes or CodeList())


def user_message(request: ChatRequest) -> str:
    return next(m["content"] for m in request.messages if m["role"] == "user")


async def test_the_prompt_carries_the_codes_found_so_far() -> None:
    backend = FakeBackend(
        [answer("CUDA out of memory", "CUDA out of memory"), answer("CUDA out of memory", "OOM")]
    )
    open_coder = coder(backend)
    await open_coder.code(ITEMS[0])
    await open_coder.code(ITEMS[1])
    assert "No codes found so far" in user_message(backend.calls[0])
    assert "- CUDA out of memory: A short definition." in user_message(backend.calls[1])


async def test_names_that_differ_only_in_form_become_one_code() -> None:
    backend = FakeBackend(
        [
            answer("CUDA out of memory", "CUDA out of memory"),
            answer("cuda out-of-memory errors", "out of memory"),
        ]
    )
    open_coder = coder(backend)
    first, created_first = await open_coder.code(ITEMS[0])
    second, created_second = await open_coder.code(ITEMS[1])
    assert first.codes[0].code == second.codes[0].code == "cuda_out_of_memory"
    assert [c.code for c in created_first] == ["cuda_out_of_memory"]
    assert created_second == []


def test_different_names_stay_different_codes() -> None:
    codes = CodeList()
    slow, _ = codes.assign("slow inference", "", "a")
    download, new = codes.assign("slow download", "", "b")
    assert new and slow.code != download.code
    assert name_key("Memory Leaks") == name_key("memory leak issue")


def test_slugs_are_valid_code_ids_and_unique() -> None:
    assert slugify("fine_tune.py: NaN loss!") == "fine_tune_py_nan_loss"
    assert slugify("8-bit quantization") == "c_8_bit_quantization"
    assert slugify("None") == "none_fits"
    assert slugify("Usage", taken={"usage"}) == "usage_2"


def test_the_code_list_in_the_prompt_is_bounded_and_most_used_first() -> None:
    codes = CodeList(
        (OpenCode(code=f"c{i}", name=f"code number {i}") for i in range(100)), limit=10
    )
    codes.counts.update({"c50": 3, "c7": 2})
    shown = codes.in_prompt()
    assert len(shown) == 10
    assert [c.code for c in shown[:2]] == ["c50", "c7"]
    long = CodeList(
        (OpenCode(code=f"c{i}", name="n", definition="d" * 300) for i in range(50)), chars=1000
    )
    assert all(len(c.definition) <= 100 for c in long.in_prompt())
    assert len(long.in_prompt()) < 50


async def test_an_invented_quote_is_reasked_then_flagged_not_dropped() -> None:
    invented = answer("CUDA out of memory", "the GPU exploded")
    backend = FakeBackend([invented, invented])
    record, _ = await coder(backend).code(ITEMS[0])
    assert record.status == "unverified"
    assert record.attempts == 2
    assert record.codes[0].code == "cuda_out_of_memory"
    assert record.codes[0].evidence[0].verified is False
    assert "not in the item text" in backend.calls[1].messages[-1]["content"]


async def test_a_quote_fixed_on_reask_is_verified_with_offsets() -> None:
    backend = FakeBackend([answer("Slow CPU", "takes 12 sec!!"), answer("Slow CPU", "12 seconds")])
    record, _ = await coder(backend).code(ITEMS[2])
    assert record.status == "ok"
    span = record.codes[0].evidence[0]
    assert ITEMS[2].text[span.start : span.end] == "12 seconds"


async def test_an_empty_name_falls_back_to_the_evidence_and_is_flagged() -> None:
    empty = answer("  ", "takes 12 seconds on CPU")
    record, created = await coder(FakeBackend([empty, empty])).code(ITEMS[2])
    assert record.status == "unverified"
    assert created[0].name == "takes 12 seconds on CPU"
    assert any("named 'takes 12 seconds on CPU'" in p for p in record.problems)


async def test_an_unparseable_answer_is_recorded_as_invalid() -> None:
    record, created = await coder(FakeBackend(["not json", "still not"])).code(ITEMS[0])
    assert (record.status, record.codes, created) == ("invalid", [], [])
    assert record.raw == "still not"


async def test_an_open_run_stores_records_codebook_and_a_manifest_of_kind_open(
    tmp_path: Path,
) -> None:
    store = RunStore(tmp_path / "runs")
    item_set = load_items(DATA / "items.csv")
    backend = FakeBackend(responder=lambda r: answer(f"topic {item_id(r)}", "the"))
    prompts = load_open_prompts()
    run = start_open_run(store, config(), item_set, prompts, backend, "open1")
    await open_code_items(run.items(), OpenCoder(backend, prompts, config(), CodeList()), run)
    assert run.manifest().kind == "open"
    latest = run.latest_codings()
    assert set(latest) == {i.item_id for i in item_set.items}
    assert len(read_jsonl(run.path / CODEBOOK)) == len(item_set.items)
    rebuilt = load_code_list(run)
    assert rebuilt.counts["topic_i1"] == 1 and rebuilt.find("Topic i1").code == "topic_i1"


async def test_a_seed_taxonomy_offers_its_categories_and_reuses_their_ids(tmp_path: Path) -> None:
    seed = load_taxonomy(DATA / "tiny.yaml")
    store = RunStore(tmp_path / "runs")
    backend = FakeBackend([answer("model usage", "Calling generate()")])
    prompts = load_open_prompts()
    run = start_open_run(
        store,
        config(taxonomy_path=str(DATA / "tiny.yaml")),
        load_items(DATA / "items.csv"),
        prompts,
        backend,
        "seeded",
        seed,
        (DATA / "tiny.yaml").read_text(),
    )
    codes = load_code_list(run)
    record, created = await OpenCoder(backend, prompts, config(), codes).code(run.items()[0])
    assert "- Model Usage: How to call or configure the model." in user_message(backend.calls[0])
    assert record.codes[0].code == "usage" and created == []


def test_open_code_command_writes_an_open_run_over_http(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    with TestServer(ServerConfig(max_seconds=60)) as server:
        result = CliRunner().invoke(
            get_app(),
            [
                "open-code",
                "--items",
                str(DATA / "items.csv"),
                "--run-id",
                "o1",
                "--base-url",
                server.base_url,
                "--model",
                "m",
                "--runs-dir",
                str(runs),
            ],
            env={"COLUMNS": "200", "OPENAI_API_KEY": "test"},
        )
    assert result.exit_code == 0, result.output
    manifest = json.loads((runs / "o1" / "manifest.json").read_text())
    assert manifest["kind"] == "open" and manifest["status"] == "complete"
    assert "open codes in o1" in result.output
    assert "next:\n  llmcode themes o1" in result.output


def test_open_code_without_items_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(get_app(), ["open-code", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "give --items" in result.output


@pytest.mark.parametrize("name", ["CUDA out of memory", "Out of memory (CUDA)"])
def test_word_order_and_punctuation_do_not_make_a_new_code(name: str) -> None:
    codes = CodeList([OpenCode(code="cuda_oom", name="CUDA out of memory")])
    assert codes.find(name).code == "cuda_oom"


async def test_a_copied_placeholder_name_is_reasked_then_replaced_from_the_evidence() -> None:
    placeholder = answer("<short label>", "12 seconds", definition="<one sentence>")
    backend = FakeBackend([placeholder, placeholder])
    record, created = await coder(backend).code(ITEMS[2])
    assert "give it a short name" in backend.calls[1].messages[-1]["content"]
    assert created[0].name == "12 seconds" and created[0].definition == ""
    assert record.status == "unverified"


async def test_with_evidence_choice_quotes_are_an_enum_of_the_items_sentences() -> None:
    backend = FakeBackend([answer("Slow CPU", "Each request takes 12 seconds on CPU.")])
    open_coder = OpenCoder(backend, load_open_prompts(), config(evidence="choice"), CodeList())
    record, _ = await open_coder.code(ITEMS[2])
    evidence = backend.calls[0].schema["properties"]["codes"]["items"]["properties"]["evidence"]
    assert evidence["items"]["enum"] == ["Each request takes 12 seconds on CPU."]
    assert record.status == "ok"


async def test_a_name_that_is_the_items_id_is_not_accepted() -> None:
    backend = FakeBackend(
        [answer("a", "CUDA out of memory"), answer("GPU memory", "out of memory")]
    )
    record, _ = await coder(backend).code(ITEMS[0])
    assert record.codes[0].code == "gpu_memory"
    assert "give it a short name" in backend.calls[1].messages[-1]["content"]


async def test_a_repeated_item_is_answered_from_the_response_cache(tmp_path: Path) -> None:
    from llmcode.llm.cache import ResponseCache

    backend = FakeBackend([answer("Slow CPU", "12 seconds")])
    cache = ResponseCache(tmp_path / "cache")
    first = OpenCoder(backend, load_open_prompts(), config(), CodeList(), cache)
    again = OpenCoder(backend, load_open_prompts(), config(), CodeList(), cache)
    await first.code(ITEMS[2])
    record, _ = await again.code(ITEMS[2])
    assert len(backend.calls) == 1
    assert record.cached_calls == 1 and record.status == "ok"


def test_open_code_resume_codes_only_the_items_left(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    env = {"COLUMNS": "200", "OPENAI_API_KEY": "test"}
    with TestServer(ServerConfig(max_seconds=60)) as server:
        args = ["--base-url", server.base_url, "--runs-dir", str(runs), "--no-cache"]
        first = CliRunner().invoke(
            get_app(),
            ["open-code", "-i", str(DATA / "items.csv"), "--run-id", "o1", *args],
            env=env,
        )
        codings = runs / "o1" / "codings.jsonl"
        lines = codings.read_text().splitlines(keepends=True)
        codings.write_text("".join(lines[:2]))
        resumed = CliRunner().invoke(get_app(), ["open-code", "--resume", "o1", *args], env=env)
        calls = server.stats.chat_requests
    assert first.exit_code == 0 and resumed.exit_code == 0, resumed.output
    assert "resuming o1: 2 item(s) left" in resumed.output
    assert calls == 6
    assert len(Run(runs / "o1").latest_codings()) == 4
