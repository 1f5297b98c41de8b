"""The environment variables llmcode reads, in one place: what each means and its default.

``OPENAI_API_KEY`` and ``OPENAI_BASE_URL`` follow the openai client; ``LLMCODE_*`` are ours:

- ``LLMCODE_MODEL``: the model an OpenAI-compatible endpoint is asked for (default gpt-4o-mini);
- ``LLMCODE_MODEL_PATH``, ``LLMCODE_N_CTX``, ``LLMCODE_THREADS``, ``LLMCODE_ENGINE``: the
  embedded model's GGUF file, context size, threads and engine (xllamacpp or llama-cpp-python);
- ``LLMCODE_RUNS_DIR``: where runs live (default ``./runs``);
- ``LLMCODE_PRICES``: a price table replacing the built-in prices of the models it names;
- ``LLMCODE_EMBEDDING_MODEL``: the GGUF file for example retrieval by embeddings;
- ``GITHUB_TOKEN`` / ``GH_TOKEN``: a token for ``import github`` (higher rate limits).

Secrets are read here and never written anywhere (`llmcode.llm.redaction` removes them from
everything a run stores or prints).
"""

from __future__ import annotations

import os

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_N_CTX = 4096


def _get(name: str) -> str | None:
    return os.environ.get(name) or None


def openai_api_key() -> str | None:
    return _get("OPENAI_API_KEY")


def openai_base_url() -> str | None:
    return _get("OPENAI_BASE_URL")


def endpoint_configured() -> bool:
    """Whether a key or a base URL points at an OpenAI-compatible endpoint."""
    return bool(openai_api_key() or openai_base_url())


def default_model() -> str:
    """The model an endpoint is asked for when none is named."""
    return _get("LLMCODE_MODEL") or DEFAULT_MODEL


def embedded_model_path() -> str | None:
    return _get("LLMCODE_MODEL_PATH")


def embedded_context() -> str | None:
    return _get("LLMCODE_N_CTX")


def embedded_threads() -> str | None:
    return _get("LLMCODE_THREADS")


def embedded_engine() -> str:
    return _get("LLMCODE_ENGINE") or "xllamacpp"


def runs_dir() -> str:
    return _get("LLMCODE_RUNS_DIR") or "runs"


def prices_path() -> str | None:
    return _get("LLMCODE_PRICES")


def embedding_model_path() -> str | None:
    return _get("LLMCODE_EMBEDDING_MODEL")


def github_token() -> str | None:
    """``GITHUB_TOKEN`` (or ``GH_TOKEN``, as the GitHub CLI names it) for ``import github``."""
    return _get("GITHUB_TOKEN") or _get("GH_TOKEN")
