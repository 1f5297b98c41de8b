"""The batch file format, the provider round trip, and ingesting output (failed lines, re-asks)."""

from __future__ import annotations

import asyncio
import json
import re

import openai
import pytest

from llmcode.coding.batch import (
    ENDPOINT,
    BatchState,
    OfflineBackend,
    custom_id,
    read_custom_ids,
    read_state,
    status,
    submit,
    write_batch_requests,
    write_state,
)
from llmcode.coding.batch_ingest import collect, ingest_output_file, parse_line
from llmcode.coding.closed import Coder
from llmcode.coding.lifecycle import pending_items
from llmcode.errors import ConfigError, RunStoreError
from llmcode.llm.backends.fake import FakeBackend
from llmcode.llm.backends.openai import OpenAIBackend
from llmcode.llm.cache import ResponseCache
from llmcode.llm.prompts import load_prompts
from llmcode.store.runs import Run
from llmcode.testserver import ServerConfig, TestServer, default_responder
from llmcode.testserver.responder import item_blocks
from tests.support import answer, quoting
from tests.support.batch_runs import (
    ok_line,
    prepared_run,
    request_lines,
    run_batch_like_vllm,
    write_lines,
)


def coder_for(run: Run, backend=None, cache=None) -> Coder:
    config = run.manifest().config
    return Coder(
        taxonomy=run.taxonomy(),
        backend=backend or OfflineBackend(config.endpoint.model, config.endpoint.base_url),
        prompts=load_prompts(),
        config=config,
        cache=cache,
    )


def client_for(server: TestServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)


def ingest(run: Run, coder: Coder, *paths, reask: bool = True):
    return asyncio.run(ingest_output_file(run, coder, list(paths), reask=reask))


def code_online(coder: Coder, items: list) -> list:
    """Code items one by one through the coder's backend, then close it."""

    async def code_all() -> list:
        try:
            return [await coder.code(item) for item in items]
        finally:
            await coder.backend.aclose()

    return asyncio.run(code_all())


# -- the requests file -------------------------------------------------------------------------


def test_each_request_line_has_custom_id_method_url_and_body(tmp_path):
    run, path = prepared_run(tmp_path)
    lines = request_lines(path)
    assert len(lines) == 4
    for line in lines:
        assert set(line) == {"custom_id", "method", "url", "body"}
        assert line["method"] == "POST" and line["url"] == ENDPOINT == "/v1/chat/completions"
        assert line["body"]["model"] == "test-model"
        assert line["body"]["response_format"]["type"] == "json_schema"
    assert [line["custom_id"] for line in lines] == ["item-i1", "item-i2", "item-i3", "item-i4"]
    assert read_custom_ids(run) == {f"item-i{n}": (f"i{n}", 0) for n in range(1, 5)}


@pytest.mark.parametrize(("evidence", "seed"), [("free", 0), ("choice", None)])
def test_the_body_is_exactly_what_the_openai_backend_sends(tmp_path, evidence, seed):
    with TestServer(ServerConfig()) as server:
        run, path = prepared_run(tmp_path, evidence=evidence, seed=seed, base_url=server.base_url)
        written = {line["custom_id"]: line["body"] for line in request_lines(path)}
        backend = OpenAIBackend(model="test-model", base_url=server.base_url)
        code_online(coder_for(run, backend), run.items())
        sent = [r.body for r in server.stats.recent if r.path == "/v1/chat/completions"]
    assert sent == [written[custom_id(item.item_id)] for item in run.items()]
    assert ("seed" in sent[0]) is (seed is not None)


def test_unusual_item_ids_get_safe_custom_ids_that_map_back(tmp_path):
    ids = ["a b/ü", "x" * 65, "ok_id-1.2:3", "item-#1"]
    items = tmp_path / "odd.csv"
    rows = [f'"{i}",text number {n}. It matters.' for n, i in enumerate(ids)]
    items.write_text("item_id,text\n" + "\n".join(rows) + "\n", encoding="utf-8")
    run, path = prepared_run(tmp_path / "runs", items=items)
    cids = [line["custom_id"] for line in request_lines(path)]
    assert cids[2] == "item-ok_id-1.2:3"
    assert all(re.fullmatch(r"item-sha256-[0-9a-f]{16}", c) for c in (cids[0], cids[1], cids[3]))
    assert [read_custom_ids(run)[c][0] for c in cids] == ids


def test_each_sample_is_its_own_request_with_its_own_seed(tmp_path):
    run, path = prepared_run(tmp_path, samples=3, seed=7)
    lines = [
        line for line in request_lines(path) if read_custom_ids(run)[line["custom_id"]][0] == "i1"
    ]
    assert [line["custom_id"] for line in lines] == ["item-i1", "item-i1#1", "item-i1#2"]
    assert [line["body"]["seed"] for line in lines] == [7, 8, 9]


def test_several_items_per_request_are_refused_for_a_batch(tmp_path):
    with pytest.raises(ConfigError, match="one item each"):
        prepared_run(tmp_path, items_per_request=5)
    assert not (tmp_path / "b1").exists()


def test_preparing_again_before_the_batch_is_collected_is_refused(tmp_path):
    run, _ = prepared_run(tmp_path)
    write_state(run, BatchState(batch_id="batch_1", status="in_progress", n_requests=4))
    with pytest.raises(RunStoreError, match="was not collected"):
        write_batch_requests(run, coder_for(run))


# -- the provider round trip -------------------------------------------------------------------


def test_submit_status_collect_codes_every_item_with_verified_evidence(tmp_path):
    run, _ = prepared_run(tmp_path)
    with TestServer(ServerConfig()) as server:
        client = client_for(server)
        submitted = submit(run, client)
        assert submitted.batch_id and submitted.input_file_id and submitted.status == "validating"
        assert status(run, client).status == "completed"
        report = asyncio.run(collect(run, client, coder_for(run)))
        stats = server.stats
    assert report.statuses == {"ok": 4} and report.failed == [] and report.reasked == 0
    assert stats.batch_lines == 4 and stats.chat_requests == 0
    latest = run.latest_codings()
    assert all(c.verified for r in latest.values() for c in r.codes)
    manifest = run.manifest()
    assert manifest.status == "complete" and manifest.counts["ok"] == 4
    assert manifest.extra["batch"]["batch_id"] == submitted.batch_id
    assert (run.path / "batch" / "output.jsonl").is_file()
    assert read_state(run).collected_at is not None


def test_submitting_the_same_file_twice_is_refused(tmp_path):
    run, _ = prepared_run(tmp_path)
    with TestServer(ServerConfig()) as server:
        submit(run, client_for(server))
        with pytest.raises(RunStoreError, match="submitted already"):
            submit(run, client_for(server))
        creates = [r for r in server.stats.recent if r.path == "/v1/batches"]
    assert len(creates) == 1


def test_a_batch_over_the_provider_limits_is_refused_before_uploading(tmp_path, monkeypatch):
    monkeypatch.setattr("llmcode.coding.batch.OPENAI_MAX_REQUESTS", 3)
    run, _ = prepared_run(tmp_path)
    with TestServer(ServerConfig()) as server:
        with pytest.raises(ConfigError, match="at most 3 requests"):
            submit(run, client_for(server))
        uploads = [r for r in server.stats.recent if r.path == "/v1/files"]
    assert uploads == []


def test_max_requests_writes_only_the_first_pending_items_whole_with_their_samples(tmp_path):
    run, _ = prepared_run(tmp_path, samples=2)
    path = write_batch_requests(run, coder_for(run), max_requests=5)
    assert [line["custom_id"] for line in request_lines(path)] == [
        "item-i1",
        "item-i1#1",
        "item-i2",
        "item-i2#1",
    ]
    assert read_state(run).n_requests == 4


def test_collecting_an_unfinished_batch_says_it_is_still_running(tmp_path):
    run, _ = prepared_run(tmp_path)
    with TestServer(ServerConfig(batch_delay=60)) as server:
        client = client_for(server)
        submit(run, client)
        with pytest.raises(RunStoreError, match="still validating"):
            asyncio.run(collect(run, client, coder_for(run)))
    assert run.latest_codings() == {}


def test_lines_the_provider_failed_become_listed_error_records(tmp_path):
    def fail_i2(body):
        if item_blocks(body)[-1].item_id == "i2":
            raise RuntimeError("GPU fell over")
        return default_responder(body)

    run, _ = prepared_run(tmp_path)
    with TestServer(ServerConfig(responder=fail_i2)) as server:
        client = client_for(server)
        submit(run, client)
        report = asyncio.run(collect(run, client, coder_for(run)))
    assert [(f.item_id, f.custom_id) for f in report.failed] == [("i2", "item-i2")]
    assert (
        report.failed[0].error.startswith("HTTP 500: ")
        and "GPU fell over" in report.failed[0].error
    )
    assert (run.path / "batch" / "errors.jsonl").is_file()
    record = run.latest_codings()["i2"]
    assert record.status == "error" and "GPU fell over" in record.error
    assert [item.item_id for item in pending_items(run)] == ["i2"]
    assert run.manifest().status == "interrupted"


def test_a_new_batch_after_failures_holds_only_the_pending_items(tmp_path):
    run, _ = prepared_run(tmp_path)
    output = write_lines(
        tmp_path / "out.jsonl",
        [
            ok_line("item-i1", json.dumps(answer("usage", "Calling generate()"))),
            {
                "id": "x",
                "custom_id": "item-i2",
                "response": None,
                "error": {"code": "batch_expired", "message": "This request could not be executed"},
            },
        ],
    )
    ingest(run, coder_for(run), output)
    path = write_batch_requests(run, coder_for(run))
    assert [line["custom_id"] for line in request_lines(path)] == ["item-i2", "item-i3", "item-i4"]
    assert not (run.path / "batch" / "ingested.jsonl").exists()


# -- ingesting output files (vLLM run_batch and others) -------------------------------------------


def test_failed_lines_of_every_shape_are_listed_and_recorded_as_errors(tmp_path):
    run, _ = prepared_run(tmp_path)
    output = write_lines(
        tmp_path / "results.jsonl",
        [
            ok_line("item-i1", json.dumps(answer("usage", "Calling generate()"))),
            {
                "id": "a",
                "custom_id": "item-i2",
                "response": None,
                "error": {"code": "batch_expired", "message": "not executed in time"},
            },
            {
                "id": "b",
                "custom_id": "item-i3",
                "error": "context length exceeded",
                "response": {"status_code": 400, "request_id": "r", "body": None},
            },
            {
                "id": "c",
                "custom_id": "item-i4",
                "error": None,
                "response": {
                    "status_code": 429,
                    "request_id": "r",
                    "body": {"error": {"message": "slow down", "code": "rate_limit_exceeded"}},
                },
            },
            {"id": "d", "custom_id": "item-nobody", "response": None, "error": "?"},
            "this is not json",
        ],
    )
    report = ingest(run, coder_for(run), output)
    errors = {f.item_id: f.error for f in report.failed}
    assert errors == {
        "i2": "batch_expired: not executed in time",
        "i3": "HTTP 400: context length exceeded",
        "i4": "HTTP 429: rate_limit_exceeded: slow down",
    }
    assert report.statuses == {"ok": 1, "error": 3} and report.lines == 6
    assert [u.split(":")[1] for u in report.unreadable] == ["5", "6"]
    latest = run.latest_codings()
    assert {i: r.status for i, r in latest.items()} == {
        "i1": "ok",
        "i2": "error",
        "i3": "error",
        "i4": "error",
    }
    assert latest["i3"].error == "batch request failed: HTTP 400: context length exceeded"


def test_an_answer_without_message_content_is_a_failed_line():
    line = ok_line("item-i1", "")
    line["response"]["body"]["choices"][0]["message"] = {"content": None, "refusal": "I can't"}
    assert parse_line(line) == "refused: I can't"


def test_an_unverified_answer_is_reasked_online_from_the_batch_answer(tmp_path):
    run, _ = prepared_run(tmp_path)
    invented = json.dumps(answer("usage", "a quote that is nowhere in the item"))
    output = write_lines(tmp_path / "results.jsonl", [ok_line("item-i1", invented)])
    backend = FakeBackend(responder=quoting("usage"))
    report = ingest(run, coder_for(run, backend), output)
    record = run.latest_codings()["i1"]
    assert record.status == "ok" and record.attempts == 2 and report.reasked == 1
    assert record.codes[0].verified
    (request,) = backend.calls
    assert [m["role"] for m in request.messages] == ["system", "user", "assistant", "user"]
    assert request.messages[2]["content"] == invented
    assert "not in the item text" in request.messages[3]["content"]


def test_an_answer_outside_the_taxonomy_is_reasked_until_the_limit_then_invalid(tmp_path):
    run, _ = prepared_run(tmp_path, max_reasks=2)
    wrong = json.dumps(answer("not_a_code", "Calling generate()"))
    output = write_lines(tmp_path / "results.jsonl", [ok_line("item-i1", wrong)])
    backend = FakeBackend(responder=lambda request: wrong)
    ingest(run, coder_for(run, backend), output)
    record = run.latest_codings()["i1"]
    assert record.status == "invalid" and record.attempts == 3 and len(backend.calls) == 2
    assert record.raw == wrong and record.codes == []


def test_without_reasks_a_flagged_answer_is_kept_and_nothing_is_asked(tmp_path):
    run, _ = prepared_run(tmp_path)
    invented = json.dumps(answer("usage", "a quote that is nowhere in the item"))
    output = write_lines(tmp_path / "results.jsonl", [ok_line("item-i1", invented)])
    backend = FakeBackend()
    ingest(run, coder_for(run, backend), output, reask=False)
    record = run.latest_codings()["i1"]
    assert record.status == "unverified" and record.attempts == 1 and backend.calls == []


def test_a_reask_without_an_endpoint_is_an_error_the_next_run_retries(tmp_path):
    run, _ = prepared_run(tmp_path)
    invented = json.dumps(answer("usage", "a quote that is nowhere in the item"))
    output = write_lines(tmp_path / "results.jsonl", [ok_line("item-i1", invented)])
    ingest(run, coder_for(run, OfflineBackend("test-model")), output)
    record = run.latest_codings()["i1"]
    assert record.status == "error" and record.error.startswith("re-ask failed: no online endpoint")
    assert "i1" in [item.item_id for item in pending_items(run)]


def test_collecting_the_same_output_twice_adds_no_records(tmp_path):
    run, requests = prepared_run(tmp_path)
    output = tmp_path / "results.jsonl"
    run_batch_like_vllm(requests, output)
    lines = output.read_text().splitlines()
    failed = {"id": "e", "custom_id": "item-i4", "response": None, "error": "boom"}
    write_lines(output, [*lines[:3], failed])
    first = ingest(run, coder_for(run), output)
    n_records = len(run.codings())
    second = ingest(run, coder_for(run), output)
    assert first.statuses == {"ok": 3, "error": 1} and n_records == 4
    assert len(run.codings()) == n_records
    assert second.statuses == {} and second.failed == [] and second.skipped == 4


def test_items_without_any_line_stay_pending_and_are_listed_missing(tmp_path):
    run, requests = prepared_run(tmp_path)
    output = tmp_path / "results.jsonl"
    run_batch_like_vllm(requests, output)
    write_lines(output, output.read_text().splitlines()[:2])
    report = ingest(run, coder_for(run), output)
    assert report.missing == ["i3", "i4"] and report.statuses == {"ok": 2}
    assert sorted(run.latest_codings()) == ["i1", "i2"]
    assert run.manifest().status == "interrupted"


def test_samples_are_merged_into_one_record_with_vote_shares(tmp_path):
    run, requests = prepared_run(tmp_path, samples=3)
    answers = {
        "item-i1": json.dumps(answer("usage", "Calling generate()")),
        "item-i1#1": json.dumps(answer("usage", "Calling generate()")),
        "item-i1#2": json.dumps(answer("resources", "Calling generate()")),
    }
    output = tmp_path / "results.jsonl"
    run_batch_like_vllm(requests, output, answers)
    ingest(run, coder_for(run), output)
    record = run.latest_codings()["i1"]
    assert [s.codes for s in record.samples] == [["usage"], ["usage"], ["resources"]]
    assert record.codes[0].code == "usage" and record.codes[0].confidence == pytest.approx(2 / 3)
    assert len(run.codings()) == 4


def test_batch_answers_fill_the_cache_so_coding_online_later_pays_nothing(tmp_path):
    with TestServer(ServerConfig()) as server:  # the batch's endpoint, later asked online
        run, requests = prepared_run(tmp_path, base_url=server.base_url)
        output = tmp_path / "results.jsonl"
        run_batch_like_vllm(requests, output)
        cache = ResponseCache(tmp_path / "cache")
        ingest(run, coder_for(run, cache=cache), output)
        backend = OpenAIBackend(model="test-model", base_url=server.base_url)
        (record,) = code_online(coder_for(run, backend, cache), run.items()[:1])
        chat = server.stats.chat_requests
    assert record.status == "ok" and record.cached_calls == 1 and chat == 0


def test_a_batch_answer_makes_the_same_record_as_the_same_answer_online(tmp_path):
    run, requests = prepared_run(tmp_path)
    output = tmp_path / "results.jsonl"
    run_batch_like_vllm(requests, output)  # the test server's answers, with log-probs
    ingest(run, coder_for(run), output)
    with TestServer(ServerConfig()) as server:
        backend = OpenAIBackend(model="test-model", base_url=server.base_url)
        online = code_online(coder_for(run, backend), run.items())
    batch = run.latest_codings()
    fields = ("status", "codes", "probabilities", "attempts", "model")
    for record in online:
        assert record.probabilities  # the answer's codes, from token log-probs
        assert batch[record.item_id].model_dump(include=set(fields)) == record.model_dump(
            include=set(fields)
        )


def test_an_output_file_that_does_not_exist_is_a_clear_error(tmp_path):
    run, _ = prepared_run(tmp_path)
    with pytest.raises(RunStoreError, match="no such batch output file"):
        ingest(run, coder_for(run), tmp_path / "nope.jsonl")


def test_a_run_without_a_prepared_batch_cannot_be_collected(tmp_path):
    run, _ = prepared_run(tmp_path)
    (run.path / "batch" / "custom_ids.json").unlink()
    output = write_lines(tmp_path / "r.jsonl", [ok_line("item-i1", "{}")])
    with pytest.raises(RunStoreError, match="no batch was prepared"):
        ingest(run, coder_for(run), output)


def test_an_unexpected_failure_while_reasking_one_item_does_not_stop_the_others(tmp_path):
    run, requests = prepared_run(tmp_path)
    output = tmp_path / "results.jsonl"
    invented = json.dumps(answer("usage", "a quote that is nowhere in the item"))
    run_batch_like_vllm(requests, output, {"item-i2": invented})
    backend = FakeBackend([RuntimeError("the GPU melted")])
    report = ingest(run, coder_for(run, backend), output)
    latest = run.latest_codings()
    assert latest["i2"].status == "error" and "the GPU melted" in latest["i2"].error
    assert report.statuses == {"ok": 3, "error": 1}


def test_an_output_file_that_is_not_text_is_a_clear_error(tmp_path):
    run, _ = prepared_run(tmp_path)
    output = tmp_path / "results.jsonl"
    output.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(RunStoreError, match="cannot read the batch output"):
        ingest(run, coder_for(run), output)


# -- cost at the batch price -------------------------------------------------------------------

PRICES = "test-model: {input: 2.0, output: 8.0, cached_input: 1.0, batch_discount: 0.5}\n"


def priced(tmp_path, monkeypatch) -> None:
    """test-model at $2 / $8 per million tokens, half price through a batch API."""
    path = tmp_path / "prices.yaml"
    path.write_text(PRICES, encoding="utf-8")
    monkeypatch.setenv("LLMCODE_PRICES", str(path))


def test_a_run_coded_through_a_batch_records_its_cost_at_the_batch_price(tmp_path, monkeypatch):
    priced(tmp_path, monkeypatch)
    run, requests = prepared_run(tmp_path)
    output = tmp_path / "results.jsonl"
    run_batch_like_vllm(requests, output)
    ingest(run, coder_for(run), output)
    usage = run.manifest().usage
    assert usage["batch_prompt_tokens"] == usage["prompt_tokens"] > 0
    assert usage["batch_completion_tokens"] == usage["completion_tokens"] > 0
    live = (usage["prompt_tokens"] * 2.0 + usage["completion_tokens"] * 8.0) / 1_000_000
    assert usage["cost_usd"] == pytest.approx(live * 0.5, abs=1e-6)


def test_online_reasks_of_a_batch_answer_cost_the_live_price(tmp_path, monkeypatch):
    priced(tmp_path, monkeypatch)
    run, requests = prepared_run(tmp_path)
    (body,) = [r["body"] for r in request_lines(requests) if r["custom_id"] == "item-i1"]
    invented = json.dumps(answer("usage", "a quote that is nowhere in the item"))
    output = write_lines(tmp_path / "results.jsonl", [ok_line("item-i1", invented, request=body)])
    ingest(run, coder_for(run, FakeBackend(responder=quoting("usage"))), output)
    record = run.latest_codings()["i1"]
    assert record.attempts == 2 and 0 < record.batch_prompt_tokens < record.prompt_tokens
    online = (record.prompt_tokens - record.batch_prompt_tokens) * 2.0 + (
        record.completion_tokens - record.batch_completion_tokens
    ) * 8.0
    batch = (record.batch_prompt_tokens * 2.0 + record.batch_completion_tokens * 8.0) * 0.5
    assert run.manifest().usage["cost_usd"] == pytest.approx((online + batch) / 1e6, abs=1e-6)
