"""The real openai client over httpx.MockTransport: retries, Retry-After, fallback, reask."""

import asyncio
import json

import httpx2 as httpx
import pytest

from llmcode.errors import BackendError, ConfigError
from llmcode.llm.backends.base import ChatRequest
from llmcode.llm.backends.openai import OpenAIBackend
from tests.support import DATA, answer

SCHEMA = {"type": "object", "properties": {}, "additionalProperties": False}


def completion(content: str) -> dict:
    return {
        "id": "c1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content},
            }
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }


class Script:
    """Answers requests from a list of (status, body, headers); records requests."""

    def __init__(self, *responses):
        self.responses = list(responses)
        self.requests: list[dict] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(json.loads(request.content))
        status, body, headers = self.responses.pop(0)
        return httpx.Response(status, json=body, headers=headers)


def backend_for(script, waits=None):
    client = httpx.AsyncClient(transport=httpx.MockTransport(script))

    def wait(state):
        exc = state.outcome.exception()
        from llmcode.llm.backends.openai import retry_after_seconds

        if waits is not None:
            waits.append(retry_after_seconds(exc))
        return 0

    return OpenAIBackend(model="m", base_url="http://mock/v1", http_client=client, wait=wait)


def ask(backend, **kwargs):
    request = ChatRequest(messages=({"role": "user", "content": "hi"},), schema=SCHEMA, **kwargs)

    async def go():
        try:
            return await backend.complete(request)
        finally:
            await backend.aclose()

    return asyncio.run(go())


RATE_LIMITED = (
    429,
    {"error": {"message": "slow down", "type": "rate_limit"}},
    {"retry-after": "2"},
)


def test_429_then_200_honours_retry_after():
    script = Script(RATE_LIMITED, (200, completion('{"a": 1}'), {}))
    waits = []
    response = ask(backend_for(script, waits))
    assert response.content == '{"a": 1}' and len(script.requests) == 2
    assert waits == [2.0]
    assert (response.prompt_tokens, response.completion_tokens) == (11, 7)


def test_500_then_200_is_retried():
    script = Script((500, {"error": {"message": "boom"}}, {}), (200, completion("{}"), {}))
    assert ask(backend_for(script)).content == "{}"
    assert len(script.requests) == 2


def test_structured_outputs_are_requested_with_the_schema_and_seed():
    script = Script((200, completion("{}"), {}))
    ask(backend_for(script), seed=7, temperature=0.3, max_tokens=99)
    sent = script.requests[0]
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["schema"] == SCHEMA
    assert sent["response_format"]["json_schema"]["strict"] is True
    assert (sent["seed"], sent["temperature"], sent["max_tokens"]) == (7, 0.3, 99)


def test_a_server_without_json_schema_steps_down_to_json_mode_for_good():
    rejected = (
        400,
        {
            "error": {
                "message": "response_format json_schema is not supported",
                "param": "response_format",
            }
        },
        {},
    )
    script = Script(rejected, rejected, (200, completion("{}"), {}), (200, completion("{}"), {}))
    backend = backend_for(script)
    request = ChatRequest(messages=({"role": "user", "content": "hi"},), schema=SCHEMA)

    async def go():
        await backend.complete(request)
        await backend.complete(request)
        await backend.aclose()

    asyncio.run(go())
    formats = [r["response_format"] for r in script.requests]
    assert [f["type"] for f in formats] == [
        "json_schema",
        "json_object",
        "json_object",
        "json_object",
    ]
    assert formats[1]["schema"] == SCHEMA and "schema" not in formats[2]
    assert backend.describe()["response_format"] == "json_object"


def test_a_client_error_is_not_retried_and_becomes_a_backend_error():
    script = Script((401, {"error": {"message": "bad key"}}, {}))
    with pytest.raises(BackendError, match="HTTP 401: bad key"):
        ask(backend_for(script))
    assert len(script.requests) == 1


def test_retries_stop_after_max_attempts():
    script = Script(*[RATE_LIMITED] * 6)
    with pytest.raises(BackendError, match="429"):
        ask(backend_for(script))
    assert len(script.requests) == 6


def test_without_key_or_base_url_the_openai_backend_explains_what_to_set(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        OpenAIBackend()


def test_invalid_then_valid_output_goes_through_the_reask_loop(tmp_path):
    from llmcode.coding.closed import Coder
    from llmcode.items import Item
    from llmcode.llm.prompts import load_prompts
    from llmcode.store.config import RunConfig
    from llmcode.taxonomy.model import load_taxonomy
    from tests.support import DATA

    item = Item("a", "Loading fails with CUDA out of memory.")
    script = Script(
        (200, completion(json.dumps(answer("memory", "CUDA out of memory"))), {}),
        (200, completion(json.dumps(answer("resources", "CUDA out of memory"))), {}),
    )
    coder = Coder(
        load_taxonomy(DATA / "tiny.yaml"),
        backend_for(script),
        load_prompts(),
        RunConfig(taxonomy_path="t", items_path="i"),
    )
    record = asyncio.run(coder.code(item))
    assert record.status == "ok" and record.codes[0].code == "resources"
    assert [m["role"] for m in script.requests[1]["messages"]] == [
        "system",
        "user",
        "assistant",
        "user",
    ]


def test_a_server_that_refuses_logprobs_is_asked_without_them_for_good():
    refused = (400, {"error": {"message": "logprobs are not supported", "param": "logprobs"}}, {})
    script = Script(refused, (200, completion("{}"), {}))
    backend = backend_for(script)
    ask(backend, logprobs=True)
    assert [r.get("logprobs") for r in script.requests] == [True, None]
    assert backend.describe()["logprobs"] is False


def test_a_500_that_names_the_response_format_steps_down_instead_of_retrying():
    crashed = (
        500,
        {
            "error": {
                "message": "validation error: body.response_format.type: "
                "Input should be 'text' or 'json_object'"
            }
        },
        {},
    )
    script = Script(crashed, (200, completion("{}"), {}))
    backend = backend_for(script)
    ask(backend)
    assert [r["response_format"]["type"] for r in script.requests] == ["json_schema", "json_object"]


@pytest.mark.parametrize("empty", ["", "  "])
def test_an_empty_base_url_is_refused_naming_the_setting_not_sent_to_openai(monkeypatch, empty):
    """Issue 25, defect 4: an unset shell variable used to mean api.openai.com."""
    from llmcode.llm.backends import choose_backend_name, make_backend

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key-0123456789")
    for build in (
        lambda: choose_backend_name(None, empty),
        lambda: make_backend("openai", base_url=empty),
        lambda: OpenAIBackend(base_url=empty),
    ):
        with pytest.raises(ConfigError, match="base_url is empty"):
            build()


# Issue 25, defect 10: paid answers vanished from usage when the item ended as an error.


def coded_record(backend, prompts=None, taxonomy=DATA / "tiny.yaml"):
    from llmcode.coding.closed import Coder
    from llmcode.llm.prompts import load_prompts
    from llmcode.store.config import RunConfig
    from llmcode.taxonomy.model import load_taxonomy

    coder = Coder(
        taxonomy=load_taxonomy(taxonomy),
        backend=backend,
        prompts=prompts or load_prompts(),
        config=RunConfig(taxonomy_path="t", items_path="i", backend="openai", max_reasks=1),
    )
    from llmcode.items import Item

    async def go():
        try:
            return await coder.sample_or_error(Item("i1", "The model is slow."), 0)
        finally:
            await backend.aclose()

    return asyncio.run(go())


def test_an_answer_without_choices_is_an_error_whose_tokens_still_count():
    empty = {**completion("x"), "choices": []}
    record = coded_record(backend_for(Script((200, empty, {}))))
    assert record.status == "error" and "no choices" in record.error
    assert (record.attempts, record.prompt_tokens, record.completion_tokens) == (1, 11, 7)


def test_an_answer_nested_too_deep_to_check_is_an_error_whose_call_still_counts():
    deep = "[" * 100_000 + "]" * 100_000
    record = coded_record(backend_for(Script((200, completion(deep), {}))))
    assert record.status == "error"
    assert (record.attempts, record.prompt_tokens) == (1, 11)


def test_a_reask_template_that_fails_leaves_the_first_answer_counted(tmp_path):
    from llmcode.llm.prompts import load_prompts

    (tmp_path / "reask.md").write_text("{{ 1 / 0 }}")
    invalid = completion('{"codes": [{"code": "unknown"}]}')
    record = coded_record(backend_for(Script((200, invalid, {}))), load_prompts(overrides=tmp_path))
    assert record.status == "error" and "reask.md:1" in record.error
    assert (record.attempts, record.completion_tokens) == (1, 7)


@pytest.mark.parametrize(
    "usage",
    [
        {"prompt_tokens": -5, "completion_tokens": 7},
        {"prompt_tokens": 10**15, "completion_tokens": 7},
        {"prompt_tokens": "eleven", "completion_tokens": 7},
        {"prompt_tokens": 11, "completion_tokens": -(10**9)},
    ],
)
def test_negative_or_absurd_usage_from_a_server_is_not_counted_and_is_said(usage):
    from llmcode.llm.backends.openai import parse_completion
    from llmcode.llm.backends.usage import UsageWarning

    with pytest.warns(UsageWarning, match="impossible token counts"):
        response = parse_completion({**completion("x"), "usage": usage})
    assert 0 <= response.prompt_tokens <= 11 and 0 <= response.completion_tokens <= 7
    assert response.prompt_tokens + response.completion_tokens < 18
    bad = next(k for k, v in usage.items() if v not in (11, 7))
    assert f"usage.{bad}" in response.extra["usage_refused"]


def test_a_coded_item_with_a_negative_usage_never_lowers_the_runs_tokens():
    from llmcode.llm.backends.usage import UsageWarning

    content = json.dumps(answer("performance", "The model is slow."))
    bogus = {**completion(content), "usage": {"prompt_tokens": -1000, "completion_tokens": 7}}
    with pytest.warns(UsageWarning):
        record = coded_record(backend_for(Script((200, bogus, {}))))
    assert record.status == "ok", record
    assert (record.attempts, record.prompt_tokens, record.completion_tokens) == (1, 0, 7)
