"""The embedded backend's settings and shutdown (no model is loaded here; slow tests run it)."""

import asyncio
import json
import threading
import time

import pytest

from llmcode.errors import BackendError, ConfigError
from llmcode.llm.backends import make_backend
from llmcode.llm.backends import threads as cpu_threads
from llmcode.llm.backends.base import ChatRequest
from llmcode.llm.backends.local import MAX_SLOTS, LocalBackend
from llmcode.llm.backends.threads import busy_cpus, default_threads, free_cpus
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


@pytest.mark.parametrize(
    ("available", "busy", "threads"),
    [(2, 0.1, 2), (2, 0.7, 1), (2, 1.2, 1), (2, 5.0, 1), (4, 1.4, 3), (16, 0.0, 8)],
)
def test_the_default_leaves_the_cpus_other_work_is_using(available, busy, threads):
    assert free_cpus(available, busy) == threads


def test_the_default_leaves_out_the_cpus_busy_now(monkeypatch):
    monkeypatch.delenv("LLMCODE_THREADS", raising=False)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(cpu_threads, "busy_cpus", lambda: 2.2)
    assert default_threads() == 2


def test_busy_cpus_are_measured_from_proc_stat_not_the_load_average(monkeypatch):
    """Half the ticks busy on 4 CPUs is 2 busy CPUs, whatever the load average says."""
    samples = iter([(1000, 4000), (1200, 4400)])
    monkeypatch.setattr(cpu_threads, "_cpu_ticks", lambda: next(samples))
    monkeypatch.setattr(cpu_threads.time, "sleep", lambda seconds: None)
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    monkeypatch.setattr("os.getloadavg", lambda: (9.0, 9.0, 9.0))
    assert busy_cpus() == 2.0


def test_without_proc_stat_the_load_average_stands_in(monkeypatch):
    def missing():
        raise OSError("no /proc")

    monkeypatch.setattr(cpu_threads, "_cpu_ticks", missing)
    monkeypatch.setattr("os.getloadavg", lambda: (1.5, 1.0, 1.0))
    assert busy_cpus() == 1.5


def test_an_unknown_engine_is_an_error(monkeypatch):
    monkeypatch.setenv("LLMCODE_ENGINE", "vllm")
    with pytest.raises(ConfigError, match="LLMCODE_ENGINE"):
        make_backend("local")


@needs_llama
def test_concurrency_becomes_parallel_slots_and_is_recorded(monkeypatch):
    monkeypatch.delenv("LLMCODE_ENGINE", raising=False)
    monkeypatch.setenv("LLMCODE_THREADS", "8")
    backend = make_backend("local", parallel=4)
    assert isinstance(backend, LocalBackend)
    described = backend.describe()
    assert described["engine"] == "xllamacpp"
    assert described["parallel"] == 4
    assert make_backend("local", parallel=64).describe()["parallel"] == MAX_SLOTS
    monkeypatch.setenv("LLMCODE_THREADS", "2")
    assert make_backend("local", parallel=4).describe()["parallel"] == 1  # a slot per 2 threads
    body = backend.body(
        ChatRequest(
            messages=({"role": "user", "content": "x"},),
            schema={"type": "object", "properties": {"justification": {"type": "string"}}},
        )
    )
    grammar = body["grammar"]
    assert grammar.startswith("%llguidance")  # the prebuilt wheel compiles schemas with it
    schema = json.loads(grammar.split("%json ", 1)[1])
    assert schema["properties"]["justification"]["maxLength"] == 200
    assert schema["x-guidance"]["whitespace_flexible"] is False
    assert "response_format" not in body


class EndlessServer:
    """Stands in for llama.cpp's server: streams chunks until the callback asks it to stop."""

    def __init__(self) -> None:
        self.stopped = threading.Event()
        self.chunks = 0

    def handle_chat_completions(self, body, callback):
        while not self.stopped.is_set():
            self.chunks += 1
            if callback({"choices": [{"delta": {"content": "x"}, "finish_reason": None}]}):
                self.stopped.set()
            time.sleep(0.001)
        return None


def test_closing_stops_a_generation_between_two_tokens(monkeypatch, tmp_path):
    weights = tmp_path / "m.gguf"
    weights.write_bytes(b"0")
    server = EndlessServer()
    backend = LocalBackend(model_path=str(weights), parallel=2)
    monkeypatch.setattr(backend, "_start_server", lambda: server)
    request = ChatRequest(messages=({"role": "user", "content": "x"},), schema={"type": "object"})

    async def scenario():
        task = asyncio.ensure_future(backend.complete(request))
        while server.chunks < 5:
            await asyncio.sleep(0.01)
        await backend.aclose()  # returns only once the engine's thread has finished
        assert server.stopped.is_set()
        with pytest.raises(BackendError, match="stopped mid-answer"):
            await task

    asyncio.run(scenario())
    assert backend._server is None
    with pytest.raises(BackendError, match="shutting down"):
        backend.load()


def test_a_chunk_with_an_error_is_a_backend_error(monkeypatch, tmp_path):
    weights = tmp_path / "m.gguf"
    weights.write_bytes(b"0")

    class Failing:
        def handle_chat_completions(self, body, callback):
            callback({"error": {"message": "context too long"}})

    backend = LocalBackend(model_path=str(weights))
    monkeypatch.setattr(backend, "_start_server", Failing)
    request = ChatRequest(messages=({"role": "user", "content": "x"},), schema={"type": "object"})
    with pytest.raises(BackendError, match="context too long"):
        asyncio.run(backend.complete(request))
    backend.close()


@needs_llama
def test_the_llama_cpp_python_engine_records_its_threads(monkeypatch):
    monkeypatch.setenv("LLMCODE_ENGINE", "llama-cpp-python")
    monkeypatch.setenv("LLMCODE_THREADS", "3")
    described = make_backend("local").describe()
    assert described["engine"] == "llama-cpp-python"
    assert described["threads"] == 3
