"""The OpenAI-compatible test server, driven by the real ``openai`` client over real HTTP."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import openai
import pytest

from llmcode.errors import ConfigError
from llmcode.llm.answers import answer_schema, check_answer
from llmcode.testserver import ServerConfig, TestServer, default_responder, message_key
from llmcode.testserver.__main__ import main
from llmcode.testserver.responder import quote_of

CODES = ["price", "service", "quality"]
TEXT = "The waiter was rude and slow. The soup was cold, but the bread was lovely."
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "codes": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1,
            "items": {"$ref": "#/$defs/code"},
        },
        "suggested_code": {"anyOf": [{"$ref": "#/$defs/suggestion"}, {"type": "null"}]},
    },
    "required": ["codes", "suggested_code"],
    "$defs": {
        "code": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "enum": [*CODES, "none"]},
                "justification": {"type": "string"},
                "evidence": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            },
        },
        "suggestion": {"type": "object", "properties": {"name": {"type": "string"}}},
    },
}


def messages(text: str = TEXT, item_id: str = "r1") -> list[dict[str, str]]:
    system = f"Code the item.\nValid codes: {', '.join(CODES)}, none"
    user = f'Code this item.\n\n<item id="{item_id}">\n{text}\n</item>'
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def json_schema_format(schema: dict[str, Any] = SCHEMA) -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": schema, "strict": True},
    }


@contextmanager
def running(timeout: float = 5.0, **config: Any) -> Iterator[tuple[TestServer, openai.OpenAI]]:
    """A started server and a client for it, both closed on exit."""
    with (
        TestServer(ServerConfig(**config)) as server,
        openai.OpenAI(
            base_url=server.base_url, api_key="test", max_retries=0, timeout=timeout
        ) as client,
    ):
        yield server, client


def ask(client: openai.OpenAI, **kwargs: Any) -> Any:
    kwargs.setdefault("messages", messages())
    return client.chat.completions.create(model="test-model", **kwargs)


def test_default_answer_is_schema_valid_json_with_a_verbatim_quote() -> None:
    with running() as (server, client):
        completion = ask(client, response_format=json_schema_format())
    answer = json.loads(completion.choices[0].message.content)
    (code,) = answer["codes"]
    assert code["code"] in CODES
    assert code["evidence"] == ["The waiter was rude and slow."]
    assert code["evidence"][0] in TEXT
    assert code["confidence"] == 0.8
    assert code["justification"].startswith("The item reports that the waiter")
    assert answer["suggested_code"] is None
    assert completion.usage.prompt_tokens == -(-sum(len(m["content"]) for m in messages()) // 4)
    assert completion.usage.completion_tokens > 0
    assert server.stats.paid_calls == 1


def test_default_answer_passes_llmcode_answer_checks() -> None:
    schema = answer_schema(CODES, multi_label=True)
    with running() as (_, client):
        completion = ask(client, response_format=json_schema_format(schema))
    checked = check_answer(completion.choices[0].message.content, TEXT, CODES, multi_label=True)
    assert checked.problems == []
    assert checked.verified


def test_same_item_always_gets_the_same_code_and_items_spread_over_codes() -> None:
    def code_for(text: str) -> str:
        body = {"messages": messages(text), "response_format": json_schema_format()}
        return json.loads(default_responder(body))["codes"][0]["code"]

    assert code_for(TEXT) == code_for(TEXT)
    assert len({code_for(f"Item number {n} says something.") for n in range(30)}) == len(CODES)


def test_each_item_block_gets_its_own_element_id_and_quote() -> None:
    element = {
        "type": "object",
        "properties": {"item_id": {"type": "string"}, "quote": {"type": "string"}},
    }
    schema = {"type": "object", "properties": {"items": {"type": "array", "items": element}}}
    user = '<item id="a">First one. More.</item>\n<item id="b">Second one! Yes.</item>'
    body = {
        "messages": [{"role": "user", "content": user}],
        "response_format": json_schema_format(schema),
    }
    answer = json.loads(default_responder(body))
    assert answer["items"] == [
        {"item_id": "a", "quote": "First one."},
        {"item_id": "b", "quote": "Second one!"},
    ]


def test_a_reask_still_quotes_the_item_of_the_earlier_user_message() -> None:
    conversation = [
        *messages(),
        {"role": "assistant", "content": "{}"},
        {"role": "user", "content": "Your answer has problems. Answer again."},
    ]
    body = {"messages": conversation, "response_format": json_schema_format()}
    assert json.loads(default_responder(body))["codes"][0]["evidence"] == [
        "The waiter was rude and slow."
    ]


def test_a_long_quote_is_cut_at_a_word_boundary_within_120_characters() -> None:
    text = "word " * 40 + "end."
    quote = quote_of(text)
    assert len(quote) <= 120
    assert quote.endswith("word")
    assert quote in text
    assert quote_of("No full stop here\nsecond line") == "No full stop here"


def test_json_schema_unsupported_answers_400_and_json_object_works() -> None:
    with running(supports_json_schema=False) as (server, client):
        with pytest.raises(openai.BadRequestError) as caught:
            ask(client, response_format=json_schema_format())
        completion = ask(client, response_format={"type": "json_object"})
    assert caught.value.status_code == 400
    assert caught.value.body == {
        "message": "response_format json_schema is not supported",
        "type": "invalid_request_error",
        "param": "response_format",
        "code": None,
    }
    answer = json.loads(completion.choices[0].message.content)
    assert answer["codes"][0]["code"] in CODES
    assert answer["codes"][0]["evidence"] == ["The waiter was rude and slow."]
    assert server.stats.status_counts == {400: 1, 200: 1}


def test_json_object_without_a_codebook_answers_no_codes() -> None:
    body = {"messages": [{"role": "user", "content": "Hello."}]}
    assert json.loads(default_responder(body)) == {"codes": []}


def test_fault_script_answers_429_with_retry_after_then_200() -> None:
    with running(fault_script=["rate_limit", "ok"], retry_after=0.25) as (server, client):
        with pytest.raises(openai.RateLimitError) as caught:
            ask(client)
        ask(client)
    headers = caught.value.response.headers
    assert float(headers["retry-after"]) == 0.25
    assert headers["retry-after-ms"] == "250"
    assert caught.value.code == "rate_limit_exceeded"
    assert server.stats.status_counts == {429: 1, 200: 1}
    assert server.stats.faults == {"rate_limit": 1}


def test_fault_script_answers_500_then_200() -> None:
    with running(fault_script=["server_error"]) as (server, client):
        with pytest.raises(openai.InternalServerError):
            ask(client)
        ask(client)
    assert server.stats.status_counts == {500: 1, 200: 1}
    assert server.stats.paid_calls == 1


def test_malformed_json_fault_answers_200_with_content_that_is_not_json() -> None:
    with running(fault_script=["malformed_json"]) as (_, client):
        content = ask(client, response_format=json_schema_format()).choices[0].message.content
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)


def test_wrong_schema_fault_answers_a_code_outside_the_enum() -> None:
    with running(fault_script=["wrong_schema"]) as (_, client):
        content = ask(client, response_format=json_schema_format()).choices[0].message.content
    assert json.loads(content)["codes"][0]["code"] not in [*CODES, "none"]


def test_timeout_fault_outlasts_the_client_and_does_not_delay_shutdown() -> None:
    with running(timeout=0.3, fault_script=["timeout"], timeout_sleep=30) as (server, client):
        with pytest.raises(openai.APITimeoutError):
            ask(client)
        started = time.monotonic()
    assert time.monotonic() - started < 3
    assert server.wait_stopped(0)
    assert server.stats.faults == {"timeout": 1}


def test_latency_is_slept_before_each_answer() -> None:
    with running(latency=0.2) as (_, client):
        started = time.monotonic()
        ask(client)
    assert time.monotonic() - started >= 0.2


def test_rpm_limit_answers_429_past_the_limit() -> None:
    with running(rpm=2) as (server, client):
        ask(client)
        ask(client)
        with pytest.raises(openai.RateLimitError) as caught:
            ask(client)
    assert 55 < float(caught.value.response.headers["retry-after"]) <= 60
    assert server.stats.status_counts == {200: 2, 429: 1}
    assert server.stats.faults == {}


def test_tpm_limit_answers_429_when_the_prompt_tokens_would_exceed_it() -> None:
    with running(tpm=30) as (server, client):
        ask(client)  # about 27 tokens: the window now holds them
        with pytest.raises(openai.RateLimitError):
            ask(client)
    assert server.stats.status_counts == {200: 1, 429: 1}


def test_random_faults_repeat_with_the_same_seed() -> None:
    def statuses() -> list[int]:
        seen = []
        config = {"fault_rate": 0.5, "seed": 7, "fault_weights": {"server_error": 1.0}}
        with running(**config) as (_, client):
            for _ in range(12):
                try:
                    ask(client)
                    seen.append(200)
                except openai.InternalServerError:
                    seen.append(500)
        return seen

    first = statuses()
    assert first == statuses()
    assert set(first) == {200, 500}


def test_server_stops_itself_after_max_requests() -> None:
    with running(max_requests=2) as (server, client):
        ask(client)
        ask(client)
        assert server.wait_stopped(5)
        assert not server.is_running
        with pytest.raises(openai.APIConnectionError):
            ask(client)


def test_stopping_ends_every_handler_thread_even_with_kept_alive_connections() -> None:
    before = set(threading.enumerate())
    with running(latency=0.05) as (server, client):
        ask(client)  # the client keeps its connection open
        server.stop()
        assert not server.is_running
        assert set(threading.enumerate()) <= before


def test_server_stops_itself_after_max_seconds() -> None:
    with running(max_seconds=0.2) as (server, _):
        assert server.wait_stopped(5)


def test_only_127_0_0_1_is_accepted() -> None:
    for host in ("0.0.0.0", "localhost", "::1"):
        with pytest.raises(ConfigError, match=r"127\.0\.0\.1 only"):
            ServerConfig(host=host)
    with running() as (server, _):
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        with socket.create_connection(("127.0.0.1", server.port), timeout=2):
            pass


def test_unknown_fault_kinds_are_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown fault kind"):
        ServerConfig(fault_script=["rate_limit", "explode"])


def test_api_key_is_enforced_when_configured() -> None:
    with running(api_key="secret") as (server, client), pytest.raises(openai.AuthenticationError):
        ask(client)
    assert server.stats.status_counts == {401: 1}


def test_stats_count_duplicate_calls_by_key_and_keep_headers_out_of_repr() -> None:
    with running() as (server, client):
        ask(client, response_format=json_schema_format())
        ask(client)
        ask(client, messages=messages("Another item."))
    stats = server.stats
    assert stats.calls_by_key[message_key(messages())] == 2
    assert stats.duplicate_paid_calls == 1
    assert stats.paid_calls == 3
    first = stats.recent[0]
    assert first.body["response_format"]["type"] == "json_schema"
    assert first.headers["authorization"] == "Bearer test"
    assert "Bearer" not in repr(stats)


def test_logprobs_and_n_give_token_entries_that_spell_each_choice() -> None:
    with running() as (_, client):
        completion = ask(client, n=2, logprobs=True, top_logprobs=3)
    assert len(completion.choices) == 2
    for choice in completion.choices:
        tokens = choice.logprobs.content
        assert "".join(t.token for t in tokens) == choice.message.content
        assert all(t.logprob <= 0 and len(t.top_logprobs) == 3 for t in tokens)
        assert tokens[0].top_logprobs[0].token == tokens[0].token


def test_batch_round_trip_through_files_and_batches() -> None:
    lines = [
        {
            "custom_id": "r1",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {
                "model": "test-model",
                "messages": messages(),
                "response_format": json_schema_format(),
            },
        },
        {
            "custom_id": "r2",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "test-model"},
        },
    ]
    content = "".join(json.dumps(line) + "\n" for line in lines).encode()
    with running(latency=5, fault_rate=1.0) as (server, client):  # batches skip both
        uploaded = client.files.create(file=("in.jsonl", content), purpose="batch")
        batch = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        assert batch.status == "validating"
        done = client.batches.retrieve(batch.id)
        assert client.files.retrieve(uploaded.id).bytes == len(content)
        assert client.files.content(uploaded.id).content == content
        output = client.files.content(done.output_file_id).text
        errors = client.files.content(done.error_file_id).text
    assert done.status == "completed"
    assert (done.request_counts.completed, done.request_counts.failed) == (1, 1)
    (ok,) = [json.loads(line) for line in output.splitlines()]
    assert ok["custom_id"] == "r1"
    assert ok["response"]["status_code"] == 200
    answer = json.loads(ok["response"]["body"]["choices"][0]["message"]["content"])
    assert answer["codes"][0]["evidence"] == ["The waiter was rude and slow."]
    (failed,) = [json.loads(line) for line in errors.splitlines()]
    assert (failed["custom_id"], failed["response"]["status_code"]) == ("r2", 400)
    assert server.stats.batch_lines == 2
    assert server.stats.faults == {}


def test_batch_goes_through_in_progress_when_delayed() -> None:
    line = {
        "custom_id": "r1",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"messages": messages()},
    }
    with running(batch_delay=0.4) as (_, client):
        uploaded = client.files.create(
            file=("in.jsonl", json.dumps(line).encode()), purpose="batch"
        )
        batch = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        seen = [client.batches.retrieve(batch.id).status]
        time.sleep(0.25)
        seen.append(client.batches.retrieve(batch.id).status)
        time.sleep(0.25)
        seen.append(client.batches.retrieve(batch.id).status)
    assert seen == ["validating", "in_progress", "completed"]


def test_cli_serves_until_its_budget_ends(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--port", "0", "--max-seconds", "0.2", "--fault-script", "rate_limit,ok"]) == 0
    printed = capsys.readouterr().out
    assert "serving http://127.0.0.1:" in printed
    assert "requests=0" in printed


def test_a_multi_item_schema_with_an_id_enum_gets_each_item_under_its_own_id() -> None:
    element = {
        "type": "object",
        "properties": {
            "item_id": {"type": "string", "enum": ["b", "c"]},
            "quote": {"type": "string"},
        },
    }
    schema = {"type": "object", "properties": {"items": {"type": "array", "items": element}}}
    user = "".join(f'<item id="{i}">Item {i} here. More.</item>\n' for i in "abc")
    body = {
        "messages": [{"role": "user", "content": user}],
        "response_format": json_schema_format(schema),
    }
    assert json.loads(default_responder(body))["items"] == [
        {"item_id": "b", "quote": "Item b here."},
        {"item_id": "c", "quote": "Item c here."},
    ]


# Fault kinds for hostile probes: invented quotes, codes outside the taxonomy, echoed keys.


def test_invented_quote_fault_answers_a_quote_that_is_not_in_the_item() -> None:
    with running(fault_script=["invented_quote"]) as (server, client):
        content = ask(client, response_format=json_schema_format()).choices[0].message.content
    answer = json.loads(content)
    assert answer["codes"][0]["code"] in CODES
    assert all(quote not in TEXT for quote in answer["codes"][0]["evidence"])
    assert server.stats.faults == {"invented_quote": 1}


def test_unknown_code_fault_answers_a_code_outside_the_taxonomy_with_a_real_quote() -> None:
    with running(fault_script=["unknown_code"]) as (_, client):
        content = ask(client, response_format={"type": "json_object"}).choices[0].message.content
    code = json.loads(content)["codes"][0]
    assert code["code"] not in [*CODES, "none"]
    assert code["evidence"][0] in TEXT


def test_echo_auth_fault_answers_an_error_that_repeats_the_authorization_header() -> None:
    with (
        running(fault_script=["echo_auth"]) as (_, client),
        pytest.raises(openai.APIStatusError) as caught,
    ):
        ask(client)
    assert "Bearer test" in str(caught.value)


def test_new_fault_kinds_are_not_drawn_unless_weighted() -> None:
    from llmcode.testserver import FAULT_KINDS

    config = ServerConfig()
    assert {"invented_quote", "unknown_code", "echo_auth"} <= set(FAULT_KINDS)
    assert not {"invented_quote", "unknown_code", "echo_auth"} & set(config.fault_weights)


def multi_messages(ids: list[str]) -> list[dict[str, str]]:
    system = f"Code the items.\nValid codes: {', '.join(CODES)}, none"
    blocks = "".join(f'<item id="{i}">\nItem {i} says the soup was cold.\n</item>\n' for i in ids)
    return [{"role": "system", "content": system}, {"role": "user", "content": blocks}]


def test_in_json_object_mode_several_items_are_answered_each_under_its_own_id() -> None:
    ids = ["a", "b&amp;c", "d"]
    body = {"messages": multi_messages(ids), "response_format": {"type": "json_object"}}
    answer = json.loads(default_responder(body))
    assert [entry["item_id"] for entry in answer["items"]] == ["a", "b&c", "d"]
    assert all(entry["codes"][0]["code"] in CODES for entry in answer["items"])


def test_a_schema_given_with_json_object_is_followed() -> None:
    body = {
        "messages": messages(),
        "response_format": {
            "type": "json_object",
            "schema": {
                "type": "object",
                "properties": {"label": {"type": "string", "enum": ["x"]}},
            },
        },
    }
    assert json.loads(default_responder(body)) == {"label": "x"}


def test_llmcode_catches_invented_quotes_and_unknown_codes_from_the_server(cli, tmp_path) -> None:
    from llmcode.store.runs import RunStore
    from tests.support import DATA

    script = ["invented_quote", "unknown_code"]
    with TestServer(ServerConfig(fault_script=script)) as server:
        result = cli(
            "code",
            "-t",
            DATA / "tiny.yaml",
            "-i",
            DATA / "items.csv",
            "--base-url",
            server.base_url,
            "--runs-dir",
            tmp_path,
            "--run-id",
            "r",
            "--concurrency",
            "1",
            "--backend",
            "openai",
        )
        paid = server.stats.paid_calls
    assert result.exit_code == 0, result.output
    records = RunStore(tmp_path).open("r").codings()
    assert paid == len(records) + 2  # each faulty answer was re-asked once
    assert all(r.status == "ok" for r in records)
    assert all(c.verified for r in records for c in r.codes)
    assert {"invented_code"} & {c.code for r in records for c in r.codes} == set()


def test_the_shell_stops_on_sigterm_and_prints_its_counts_even_when_sigint_is_ignored() -> None:
    """Started in a script's background, the shell ignores SIGINT; SIGTERM still stops it."""
    import signal
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", "llmcode.testserver", "--port", "0", "--max-seconds", "60"],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    assert process.stdout is not None
    assert process.stdout.readline().startswith("serving http://127.0.0.1:")
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=20)
    assert process.returncode == 0
    assert out.startswith("requests=0 ")
