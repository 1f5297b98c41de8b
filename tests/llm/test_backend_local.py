"""The embedded backend's settings (no model is loaded here; tests marked slow run it)."""

import pytest

from llmcode.errors import ConfigError
from llmcode.llm.backends import make_backend
from llmcode.llm.backends.base import ChatRequest
from llmcode.llm.backends.local import MAX_SLOTS, LocalBackend, default_threads
from tests.support import needs_llama


def test_llmcode_threads_sets_the_thread_count(monkeypatch):
    monkeypatch.setenv("LLMCODE_THREADS", "3")
    assert default_threads() == 3


@pytest.mark.parametrize("raw", ["0", "-1", "many"])
def test_a_bad_llmcode_threads_is_an_error_naming_it(monkeypatch, raw):
    monkeypatch.setenv("LLMCODE_THREADS", raw)
    with pytest.raises(ConfigError, match="LLMCODE_THREADS"):
        default_threads()


def test_the_default_thread_count_is_positive_and_bounded(monkeypatch):
    monkeypatch.delenv("LLMCODE_THREADS", raising=False)
    assert 1 <= default_threads() <= 8


def test_an_unknown_engine_is_an_error(monkeypatch):
    monkeypatch.setenv("LLMCODE_ENGINE", "vllm")
    with pytest.raises(ConfigError, match="LLMCODE_ENGINE"):
        make_backend("local")


@needs_llama
def test_concurrency_becomes_parallel_slots_and_is_recorded(monkeypatch):
    monkeypatch.delenv("LLMCODE_ENGINE", raising=False)
    backend = make_backend("local", parallel=4)
    assert isinstance(backend, LocalBackend)
    described = backend.describe()
    assert described["engine"] == "xllamacpp"
    assert described["parallel"] == 4
    assert make_backend("local", parallel=64).describe()["parallel"] == MAX_SLOTS
    body = backend.body(
        ChatRequest(
            messages=({"role": "user", "content": "x"},),
            schema={"type": "object", "properties": {"justification": {"type": "string"}}},
        )
    )
    schema = body["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["justification"]["maxLength"] == 200
