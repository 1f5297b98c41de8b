"""An open-coding run in the library: the same settings, items and records as `open-code`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmcode.cli import get_app
from llmcode.coding.openrun import code_open_run, prepare_open_coding
from llmcode.errors import ConfigError
from llmcode.llm.backends import make_backend
from llmcode.llm.backends.fake import FakeBackend, item_text
from llmcode.store.runs import RunStore
from llmcode.testserver import ServerConfig, TestServer

DATA = Path(__file__).parents[1] / "data"


def naming(request) -> dict:
    words = item_text(request).split()
    return {"codes": [{"name": " ".join(words[:2]), "definition": "d", "evidence": [words[0]]}]}


def test_a_new_run_codes_every_item_in_order_with_one_worker(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    backend = FakeBackend(responder=naming)
    prepared = prepare_open_coding(
        store, backend, items=DATA / "items.csv", taxonomy=DATA / "tiny.yaml", run_id="o1"
    )
    assert prepared.seed is not None and not prepared.resumed
    manifest = asyncio.run(code_open_run(prepared))
    assert manifest.kind == "open" and manifest.status == "complete"
    assert manifest.config.limits.concurrency == 1 and manifest.config.endpoint.backend == "fake"
    assert manifest.config.sampling.evidence == "free" and manifest.extra["max_codes_per_item"] == 3
    assert len(backend.calls) == len(prepared.todo) == 4
    assert [r.item_id for r in prepared.run.codings()] == [i.item_id for i in prepared.todo]


def test_the_local_backend_picks_evidence_among_the_sentences_unless_told(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    local = prepare_open_coding(store, FakeBackend(), items=DATA / "items.csv", backend="local")
    told = prepare_open_coding(
        store, FakeBackend(), items=DATA / "items.csv", backend="local", evidence="free"
    )
    assert local.run.manifest().config.sampling.evidence == "choice"
    assert told.run.manifest().config.sampling.evidence == "free"


def test_a_resumed_run_keeps_its_settings_and_codes_only_what_is_left(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    first = prepare_open_coding(
        store, FakeBackend(responder=naming), items=DATA / "items.csv", run_id="o1", max_codes=2
    )
    asyncio.run(code_open_run(first))
    codings = first.run.path / "codings.jsonl"
    codings.write_text("".join(codings.read_text().splitlines(keepends=True)[:1]))
    again = FakeBackend(responder=naming)
    resumed = prepare_open_coding(store, again, resume="o1", max_codes=5, temperature=0.9)
    assert resumed.resumed and resumed.coder.max_codes == 2
    assert resumed.coder.config.sampling.temperature == 0.0
    assert asyncio.run(code_open_run(resumed)).status == "complete"
    assert len(again.calls) == 3


def test_no_items_and_no_run_to_resume_names_both_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        prepare_open_coding(RunStore(tmp_path), FakeBackend())
    assert "items" in (info.value.hint or "") and "resume" in (info.value.hint or "")


def test_the_cli_and_the_library_record_the_same_open_coding_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    options = {"id_column": "item_id", "text_columns": ["body"], "max_tokens": 300, "seed": 7}
    with TestServer(ServerConfig(max_seconds=60)) as server:
        cli = CliRunner().invoke(
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
                "--text-column",
                "body",
                "--max-tokens",
                "300",
                "--seed",
                "7",
                "--max-codes",
                "2",
                "--runs-dir",
                str(tmp_path / "cli"),
            ],
            env={"COLUMNS": "200", "OPENAI_API_KEY": "test"},
        )
        assert cli.exit_code == 0, cli.output
        backend = make_backend("openai", model="m", base_url=server.base_url)
        prepared = prepare_open_coding(
            RunStore(tmp_path / "lib"),
            backend,
            items=DATA / "items.csv",
            run_id="o1",
            max_codes=2,
            backend="openai",
            model="m",
            base_url=server.base_url,
            **options,
        )

        async def code_and_close():
            try:
                return await code_open_run(prepared)
            finally:
                await backend.aclose()

        library = asyncio.run(code_and_close())
    made = json.loads((tmp_path / "cli" / "o1" / "manifest.json").read_text())
    assert made["config"] == library.config.model_dump(mode="json")
    assert made["extra"] == library.extra
    assert made["status"] == library.status == "complete"
    assert made["counts"] == library.counts
