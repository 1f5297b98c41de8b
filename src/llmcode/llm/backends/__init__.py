"""LLM backends behind one small interface (`Backend`): OpenAI-compatible HTTP, embedded llama.cpp.

``make_backend`` picks one from settings: ``local`` when no API key and no base URL is
configured, else ``openai``.
"""

from __future__ import annotations

from pathlib import Path

from llmcode import environment
from llmcode.errors import ConfigError
from llmcode.llm.backends.base import Backend, ChatRequest, ChatResponse

__all__ = [
    "Backend",
    "ChatRequest",
    "ChatResponse",
    "check_base_url",
    "choose_backend_name",
    "default_model",
    "make_backend",
]


def check_base_url(base_url: str | None) -> str | None:
    """``base_url`` itself, unless it is given but empty: an unset shell variable
    (``--base-url "$URL"``) must not send the items to api.openai.com without a word."""
    if base_url is not None and not base_url.strip():
        raise ConfigError(
            "base_url is empty: no endpoint to send the items to",
            hint="give the endpoint's URL (e.g. http://localhost:8000/v1), or leave base_url out "
            "to use OpenAI with OPENAI_API_KEY",
        )
    return base_url


def choose_backend_name(requested: str | None, base_url: str | None) -> str:
    """``requested`` if given; else ``openai`` with a key or base URL configured; else ``local``."""
    check_base_url(base_url)
    if requested:
        if requested not in ("openai", "local"):
            raise ConfigError(f"unknown backend '{requested}'", hint="use openai or local")
        return requested
    if base_url or environment.endpoint_configured():
        return "openai"
    return "local"


def default_model(backend: str) -> str:
    """The model a backend is asked for when none is named (the embedded one is "local")."""
    return environment.default_model() if backend == "openai" else "local"


def make_backend(
    name: str,
    model: str | None = None,
    base_url: str | None = None,
    model_path: str | None = None,
    timeout: float = 120.0,
    max_attempts: int = 6,
    n_ctx: int | None = None,
    rpm: float | None = None,
    tpm: float | None = None,
    parallel: int = 1,
    state_dir: str | Path | None = None,
) -> Backend:
    """Build the named backend; secrets come from the environment and are never stored.

    ``parallel``: requests the embedded model decodes at once (its slots; ``--concurrency``).
    ``LLMCODE_ENGINE`` picks the embedded engine: ``xllamacpp`` (default) or ``llama-cpp-python``.
    ``state_dir``: where the embedded model keeps its codebook prefix's KV state between runs.
    """
    if name == "openai":
        from llmcode.llm.backends.openai import OpenAIBackend
        from llmcode.llm.backends.ratelimit import RateLimiter

        limiter = RateLimiter(rpm=rpm, tpm=tpm) if (rpm or tpm) else None
        return OpenAIBackend(
            model=model,
            base_url=base_url,
            timeout=timeout,
            max_attempts=max_attempts,
            limiter=limiter,
        )
    if name == "local":
        engine = environment.embedded_engine()
        if engine == "llama-cpp-python":
            from llmcode.llm.backends.llamacpp import LlamaCppBackend

            return LlamaCppBackend(model_path=model_path, model=model, n_ctx=n_ctx)
        if engine != "xllamacpp":
            raise ConfigError(
                f"LLMCODE_ENGINE={engine!r}: unknown embedded engine",
                hint="use xllamacpp (default) or llama-cpp-python",
            )
        from llmcode.llm.backends.local import LocalBackend

        return LocalBackend(
            model_path=model_path,
            model=model,
            n_ctx=n_ctx,
            parallel=parallel,
            state_dir=state_dir,
        )
    raise ConfigError(f"unknown backend '{name}'", hint="use openai or local")
