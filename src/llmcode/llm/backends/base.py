"""The backend interface: one chat request in, one response (text, usage, log-probabilities) out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ChatRequest:
    """Everything that determines an LLM answer (and so the cache key)."""

    messages: tuple[dict[str, str], ...]
    schema: dict[str, Any]
    schema_name: str = "coding"
    temperature: float = 0.0
    max_tokens: int = 512
    seed: int | None = None
    logprobs: bool = False

    def key_material(self) -> dict[str, Any]:
        return {
            "messages": list(self.messages),
            "schema": self.schema,
            "schema_name": self.schema_name,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "logprobs": self.logprobs,
        }


@dataclass
class ChatResponse:
    """One answer with its token usage; ``logprobs`` as (token, logprob) pairs when available."""

    content: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""
    finish_reason: str | None = None
    logprobs: list[tuple[str, float]] | None = None
    cached: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    cached_prompt_tokens: int = 0
    """Of ``prompt_tokens``, those the provider served from its prompt cache (billed at its
    cached-input price; OpenAI's ``usage.prompt_tokens_details.cached_tokens``)."""


class Backend(Protocol):
    """What coding needs from an LLM. Implementations own their retries."""

    name: str
    model: str

    def describe(self) -> dict[str, Any]:
        """Provenance for the run manifest (never secrets)."""
        ...

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Answer one chat request; raise BackendError when it fails for good."""
        ...

    async def aclose(self) -> None:
        """Release connections or model memory."""
        ...
