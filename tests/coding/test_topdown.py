"""Coding a hierarchical codebook top-down: the categories first, then only their codes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

import llmcode
from llmcode.coding.job import new_config, prepare
from llmcode.coding.topdown import TopDownCoder
from llmcode.coding.topdown_segments import TopDownSegmentCoder
from llmcode.errors import ConfigError
from llmcode.items import Item
from llmcode.llm.backends.base import ChatRequest
from llmcode.llm.backends.fake import FakeBackend, item_text
from llmcode.store.runs import RunStore
from tests.support import DATA, answer
from tests.support.bigcodebook import big_codebook, write_big_codebook

ROOT = Path(__file__).resolve().parents[2]
INTERVIEWS = ROOT / "examples" / "interviews"
TAXONOMY = INTERVIEWS / "ptm-interviews.yaml"
TRANSCRIPT = INTERVIEWS / "transcripts" / "p4-mobile.txt"


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")


def first_steps(request: ChatRequest) -> bool:
    return request.schema_name == "categories"


def test_an_item_is_asked_its_categories_then_only_their_codes(tmp_path):
    chosen = {"categories": ["running"]}
    backend = FakeBackend(
        responder=lambda r: chosen if first_steps(r) else answer("compute_costs", item_text(r)[:30])
    )
    config = new_config(TAXONOMY, TRANSCRIPT, level="leaves", hierarchy="top-down")
    job = prepare(config, store=RunStore(tmp_path), backends=[backend], cache=False)
    assert isinstance(job.coder, TopDownCoder)
    asyncio.run(job.code())
    (record,) = job.run.latest_codings().values()  # type: ignore[union-attr]
    first, second = backend.calls
    assert "Valid categories: choosing, adapting, running, risks" in first.messages[0]["content"]
    assert "## benchmarks_fit" not in first.messages[0]["content"]  # no code of the leaves
    codes = second.schema["properties"]["codes"]["items"]["properties"]["code"]["enum"]
    running = [c.id for c in job.taxonomy.get("running").walk() if not c.children]  # type: ignore[union-attr]
    assert codes == [*running, "none"]
    assert "## licensing" not in second.messages[0]["content"]  # another branch's code
    assert record.status == "ok" and [c.code for c in record.codes] == ["compute_costs"]
    steps = [(s.step, s.categories, s.attempts) for s in record.steps]
    assert steps == [("categories", ["running"], 1), ("codes", ["running"], 1)]
    assert record.attempts == 2
    assert record.prompt_tokens == sum(s.prompt_tokens for s in record.steps) > 0
    assert record.completion_tokens == sum(s.completion_tokens for s in record.steps)
    assert all(s.cache_key for s in record.steps)
    assert record.steps[0].cache_key != record.steps[1].cache_key


def test_an_unknown_category_is_reasked_and_a_choice_that_never_comes_is_flagged(tmp_path):
    backend = FakeBackend([{"categories": ["banana"]}] * 3)
    config = new_config(TAXONOMY, TRANSCRIPT, level="leaves", hierarchy="top-down", max_reasks=2)
    job = prepare(config, store=RunStore(tmp_path), backends=[backend], cache=False)
    asyncio.run(job.code())
    (record,) = job.run.latest_codings().values()  # type: ignore[union-attr]
    assert len(backend.calls) == 3 and record.attempts == 3
    assert "unknown category 'banana'" in backend.calls[1].messages[-1]["content"]
    assert record.status == "invalid" and not record.codes
    assert any("choosing the categories" in p for p in record.problems)
    assert [s.step for s in record.steps] == ["categories"] and record.prompt_tokens > 0


def test_a_code_of_a_category_not_chosen_is_treated_like_a_code_outside_the_taxonomy(tmp_path):
    quote = TRANSCRIPT.read_text(encoding="utf-8")[:30]
    backend = FakeBackend(
        [{"categories": ["running"]}, answer("licensing", quote), answer("compute_costs", quote)]
    )
    config = new_config(TAXONOMY, TRANSCRIPT, level="leaves", hierarchy="top-down")
    job = prepare(config, store=RunStore(tmp_path), backends=[backend], cache=False)
    asyncio.run(job.code())
    (record,) = job.run.latest_codings().values()  # type: ignore[union-attr]
    assert "unknown code(s) 'licensing'" in backend.calls[2].messages[-1]["content"]
    assert record.status == "ok" and [c.code for c in record.codes] == ["compute_costs"]
    assert record.steps[1].attempts == 2 and record.attempts == 3


def code_over_http(server, items, runs, **settings):
    return llmcode.code(
        TAXONOMY,
        items,
        backend="openai",
        base_url=server.base_url,
        model="test-model",
        level="leaves",
        hierarchy="top-down",
        runs_dir=runs,
        **settings,
    )


def test_documents_code_in_passages_top_down_through_the_test_server_and_cache_both_steps(
    tmp_path, env
):
    from llmcode.testserver import ServerConfig, TestServer

    documents = INTERVIEWS / "transcripts"
    with TestServer(ServerConfig()) as server:
        run = code_over_http(server, documents, tmp_path / "runs", unit="segment")
        asked = server.stats.chat_requests
        again = code_over_http(server, documents, tmp_path / "runs", unit="segment")
        assert server.stats.chat_requests == asked  # both steps answered from the cache
    manifest = run.manifest()
    assert manifest.config.inputs.hierarchy == "top-down"
    assert "topdown.system.md" in manifest.prompts["templates"]
    taxonomy = run.taxonomy()
    records = run.latest_codings()
    assert asked == sum(r.attempts for r in records.values())
    for record in records.values():
        assert record.status == "ok", record.problems
        text = (documents / f"{record.item_id}.txt").read_text(encoding="utf-8")
        assert [s.step for s in record.steps] == ["categories", "codes"]  # one window each
        chosen = set(record.steps[0].categories)
        allowed = {c.id for top in chosen for c in taxonomy.get(top).walk()}  # type: ignore[union-attr]
        assert record.segments
        for segment in record.segments:
            assert segment.verified and text[segment.start : segment.end] == segment.quote
            assert {c.code for c in segment.codes} <= allowed
        assert record.prompt_tokens == sum(s.prompt_tokens for s in record.steps)
    assert manifest.usage["calls"] == asked == 2 * len(records)
    cached = again.latest_codings()
    assert all(r.cached_calls == r.attempts == 2 for r in cached.values())


def test_items_code_top_down_through_the_test_server(tmp_path, env):
    from llmcode.testserver import ServerConfig, TestServer

    with TestServer(ServerConfig()) as server:
        run = code_over_http(server, DATA / "items.csv", tmp_path / "runs", cache=False)
    taxonomy = run.taxonomy()
    for record in run.latest_codings().values():
        if record.status == "skipped":
            continue
        assert [s.step for s in record.steps] == ["categories", "codes"], record
        (top,) = record.steps[0].categories
        branch = {c.id for c in taxonomy.get(top).walk()}  # type: ignore[union-attr]
        assert {c.code for c in record.codes} <= branch | {"none"}


def big(tmp_path: Path) -> Path:
    return write_big_codebook(tmp_path / "papers-307.yaml")


def paper(tmp_path: Path, chars: int = 35_000) -> Path:
    """One document of ``chars`` characters built from the interview transcripts."""
    texts = [p.read_text(encoding="utf-8") for p in sorted((INTERVIEWS / "transcripts").iterdir())]
    text = ("\n\n".join(texts) * 2)[:chars]
    path = tmp_path / "paper.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_307_code_codebook_that_does_not_fit_flat_is_coded_top_down_in_fewer_tokens(tmp_path):
    taxonomy, document = big(tmp_path), paper(tmp_path)
    settings = {"unit": "segment", "level": "leaves", "backend": "openai", "model": "m"}
    with pytest.raises(ConfigError, match="no room for a window") as caught:
        prepare(new_config(taxonomy, document, **settings), store=RunStore(tmp_path), offline=True)
    assert "`hierarchy` top-down" in (caught.value.hint or "")
    config = new_config(taxonomy, document, hierarchy="top-down", **settings)
    job = prepare(config, store=RunStore(tmp_path), offline=True)
    assert isinstance(job.coder, TopDownSegmentCoder)
    estimate = job.estimate().as_dict()
    assert estimate["hierarchy"] == "top-down"
    assert estimate["category_requests"] == estimate["windows"]
    assert estimate["requests"] > 2 * estimate["windows"]  # the codes in groups that fit
    assert estimate["tokens_per_request"] < 8192
    wide = new_config(taxonomy, document, context_tokens=32_768, **settings)
    flat = prepare(wide, store=RunStore(tmp_path), offline=True).estimate()
    down = prepare(
        wide.replace(hierarchy="top-down"), store=RunStore(tmp_path), offline=True
    ).estimate()
    assert (flat.windows, down.windows) == (3, 1)  # the short prompts leave room for the text
    assert down.prompt_tokens < flat.prompt_tokens / 2
    assert flat.top_down_prompt_tokens == down.prompt_tokens  # the flat dry run says so


def test_the_first_step_carries_the_top_level_and_the_second_only_the_chosen_branches():
    from llmcode.coding.topdown import Branches
    from llmcode.llm.prompts import CLOSED, TOPDOWN, load_prompts, system_message

    taxonomy = big_codebook()
    prompts = load_prompts(names=CLOSED + TOPDOWN)
    branches = Branches(taxonomy, prompts, segment=False)
    assert branches.ids == [c.id for c in taxonomy.categories] and branches.most is None
    flat = system_message(prompts, taxonomy, "leaves")["content"]
    narrow = system_message(prompts, branches.narrowed(["validity"]), "leaves")["content"]
    assert len(branches.system["content"]) < len(flat) / 5
    assert len(narrow) < len(flat) / 8
    assert "validity__reliability__rationale" in narrow and "ethics__" not in narrow


@pytest.mark.parametrize(
    ("settings", "named"),
    [({"level": "top"}, "level"), ({"items_per_request": 3}, "items_per_request")],
)
def test_settings_coding_top_down_does_not_take_are_refused_by_name(tmp_path, settings, named):
    config = new_config(
        TAXONOMY, DATA / "items.csv", hierarchy="top-down", backend="openai", model="m", **settings
    )
    with pytest.raises(ConfigError, match=f"`{named}`|level"):
        prepare(config, store=RunStore(tmp_path), offline=True)


def test_a_batch_is_refused_top_down(tmp_path):
    from llmcode.coding.batch import batch_config

    config = new_config(TAXONOMY, DATA / "items.csv", level="leaves", hierarchy="top-down")
    with pytest.raises(ConfigError, match="batch cannot"):
        batch_config(config)


def test_a_resume_cannot_change_the_hierarchy(tmp_path):
    backend = FakeBackend(responder=lambda r: {"categories": ["running"]})
    config = new_config(TAXONOMY, TRANSCRIPT, level="leaves", limit=1)
    store = RunStore(tmp_path)
    job = prepare(config, store=store, backends=[backend], cache=False, run_id="r")
    job.start()
    job.run.lock.release()  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="`hierarchy`"):
        prepare(store=store, resume="r", changes={"hierarchy": "top-down"}, backends=[backend])


def test_the_cli_dry_run_counts_both_steps(cli, tmp_path):
    args = ["code", "-t", big(tmp_path), "-i", paper(tmp_path), "--unit", "segment"]
    args += ["--level", "leaves", "--backend", "openai", "--model", "m", "--dry-run", "--json"]
    env = {"OPENAI_API_KEY": "sk-test"}
    flat = cli(*args, "--runs-dir", tmp_path / "runs", env=env)
    assert flat.exit_code == 1 and "--hierarchy top-down" in flat.output
    result = cli(*args, "--hierarchy", "top-down", "--runs-dir", tmp_path / "runs", env=env)
    assert result.exit_code == 0, result.output
    estimate = json.loads(result.stdout)
    assert estimate["hierarchy"] == "top-down"
    assert estimate["requests"] >= 2 * estimate["windows"] == 2 * estimate["category_requests"]


def test_an_item_coder_estimate_counts_two_requests_per_item(tmp_path):
    config = new_config(
        big(tmp_path), DATA / "items.csv", level="leaves", backend="openai", model="m"
    )
    flat = prepare(config, store=RunStore(tmp_path), offline=True).estimate()
    job = prepare(config.replace(hierarchy="top-down"), store=RunStore(tmp_path), offline=True)
    down = job.estimate()
    assert down.requests == 2 * flat.requests == 2 * len(job.todo)
    assert down.category_requests == len(job.todo)
    assert down.prompt_tokens < flat.prompt_tokens / 3
    assert isinstance(job.coder, TopDownCoder) and job.todo and isinstance(job.todo[0], Item)


def test_on_a_4096_token_context_every_request_of_the_307_code_codebook_fits(tmp_path, env):
    from llmcode.testserver import ServerConfig, TestServer

    with TestServer(ServerConfig()) as server:
        run = llmcode.code(
            big(tmp_path),
            TRANSCRIPT,
            backend="openai",
            base_url=server.base_url,
            model="test-model",
            unit="segment",
            level="leaves",
            hierarchy="top-down",
            context_tokens=4096,
            runs_dir=tmp_path / "runs",
            cache=False,
        )
    (record,) = run.latest_codings().values()
    assert record.status == "ok", record.problems
    windows = {(s.start, s.end) for s in record.steps}
    assert len(windows) > 1  # read in windows
    assert all(s.attempts == 1 and s.prompt_tokens < 4096 for s in record.steps)
    codes = [s for s in record.steps if s.step == "codes"]
    assert any(len(s.categories) == 1 for s in codes)  # chosen categories coded in groups
    assert all(s.verified for s in record.segments)


def test_prompt_show_top_down_prints_the_first_request_the_categories(cli, tmp_path):
    args = ["prompt", "show", "-t", TAXONOMY, "-i", TRANSCRIPT, "--level", "leaves"]
    result = cli(*args, "--hierarchy", "top-down", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert "categories" in shown["schema"]["properties"]
    system, user = shown["messages"]
    assert "Valid categories: choosing, adapting, running, risks" in system["content"]
    assert "## benchmarks_fit" not in system["content"]
    assert TRANSCRIPT.read_text(encoding="utf-8")[:60] in user["content"]
    flat = json.loads(cli(*args, "--json").stdout)
    assert "## benchmarks_fit" in flat["messages"][0]["content"]


def test_with_several_samples_the_record_lists_every_samples_steps(tmp_path):
    quote = TRANSCRIPT.read_text(encoding="utf-8")[:30]
    backend = FakeBackend(
        responder=lambda r: (
            {"categories": ["running"]} if first_steps(r) else answer("compute_costs", quote)
        )
    )
    config = new_config(TAXONOMY, TRANSCRIPT, level="leaves", hierarchy="top-down", samples=3)
    job = prepare(config, store=RunStore(tmp_path), backends=[backend], cache=False)
    asyncio.run(job.code())
    (record,) = job.run.latest_codings().values()  # type: ignore[union-attr]
    assert len(backend.calls) == 6 == record.attempts == len(record.steps)
    assert [s.step for s in record.steps] == ["categories", "codes"] * 3
    assert record.prompt_tokens == sum(s.prompt_tokens for s in record.steps)
    seeds = [call.seed for call in backend.calls]
    assert seeds == [0, 0, 1, 1, 2, 2]  # each sample's two steps with its own seed
