"""The real embedded model (llama.cpp + bundled SmolLM2-135M) — offline default, in CI."""

import pytest

from llmcode.store.runs import RunStore
from llmcode.taxonomy.model import load_taxonomy
from tests.support import ROOT, needs_llama
from tests.support.embedded_server import embedded_server

pytestmark = [pytest.mark.slow, needs_llama]
TAXONOMY = ROOT / "taxonomy" / "ptm-reuse.yaml"
SAMPLE = ROOT / "examples" / "ptm-issues.csv"


def assert_codes_are_from_the_taxonomy_with_verified_evidence(run):
    allowed = {c.id for c in load_taxonomy(TAXONOMY).categories} | {"none"}
    latest = run.latest_codings()
    assert len(latest) == run.manifest().items["n_items"]
    for record in latest.values():
        assert record.status != "error", record.error
        for code in record.codes:
            assert code.code in allowed
    return latest


def test_the_embedded_model_codes_sample_items_offline(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    result = cli(
        "code",
        "-t",
        TAXONOMY,
        "-i",
        SAMPLE,
        "--limit",
        "2",
        "--runs-dir",
        tmp_path,
        "--run-id",
        "local",
    )
    assert result.exit_code == 0, result.output
    run = RunStore(tmp_path).open("local")
    manifest = run.manifest()
    assert manifest.backend["backend"] == "local"
    assert manifest.backend["model"].startswith("SmolLM2-135M-Instruct")
    assert manifest.config.sampling.evidence == "choice"
    latest = assert_codes_are_from_the_taxonomy_with_verified_evidence(run)
    coded = [r for r in latest.values() if r.codes]
    assert coded, "the model should code at least one of two items"
    for record in coded:  # choice mode: quotes are the item's own sentences
        assert all(span.verified for code in record.codes for span in code.evidence)


def test_the_openai_backend_codes_over_http_against_llama_cpp_server(cli, tmp_path):
    """llama.cpp's own server with the bundled 135M model and default options: the openai
    backend's answers must be valid JSON with taxonomy codes (the length caps keep them short)."""
    with embedded_server("smollm2") as base_url:
        result = cli(
            "code",
            "-t",
            TAXONOMY,
            "-i",
            SAMPLE,
            "--limit",
            "2",
            "--base-url",
            base_url,
            "--model",
            "smollm2",
            "--runs-dir",
            tmp_path,
            "--run-id",
            "http",
        )
    assert result.exit_code == 0, result.output
    run = RunStore(tmp_path).open("http")
    assert run.manifest().backend["backend"] == "openai"
    latest = assert_codes_are_from_the_taxonomy_with_verified_evidence(run)
    assert all(record.status != "invalid" for record in latest.values()), [
        record.problems for record in latest.values()
    ]


def test_embedded_answers_are_compact_json_within_the_schema_bounds():
    """llguidance compiles the schema: no indentation tokens, confidence within [0, 1]."""
    import asyncio
    import json

    from llmcode.items import load_items
    from llmcode.llm.answers import answer_schema
    from llmcode.llm.backends.base import ChatRequest
    from llmcode.llm.backends.local import LocalBackend
    from llmcode.llm.prompts import item_message, load_prompts, system_message

    taxonomy = load_taxonomy(TAXONOMY)
    prompts = load_prompts()
    item = load_items(SAMPLE).items[1]
    request = ChatRequest(
        messages=(
            system_message(prompts, taxonomy),
            item_message(prompts, item.item_id, item.text),
        ),
        schema=answer_schema([c.id for c in taxonomy.categories], False),
        max_tokens=256,
    )
    backend = LocalBackend()
    try:
        response = asyncio.run(backend.complete(request))
    finally:
        backend.close()
    assert response.finish_reason == "stop"
    assert "\n" not in response.content
    assert response.content.startswith('{"codes": [{"code": "')
    answer = json.loads(response.content)
    assert 0 <= answer["codes"][0]["confidence"] <= 1
