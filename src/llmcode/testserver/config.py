"""What the test server is told: ``ServerConfig`` (latency, limits, faults, budget, responder)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from llmcode.errors import ConfigError
from llmcode.testserver.responder import Responder, default_responder

HOST = "127.0.0.1"
DEFAULT_FAULTS = ("rate_limit", "server_error", "timeout", "malformed_json", "wrong_schema")
"""Faults drawn at ``fault_rate`` unless ``fault_weights`` says otherwise."""
FAULT_KINDS = (*DEFAULT_FAULTS, "invented_quote", "unknown_code", "echo_auth")
"""Every fault: the defaults, plus answers with a quote not in the item or a code outside the
taxonomy (valid JSON that the checks must catch), and a 401 whose message echoes the request's
Authorization header (an endpoint that leaks the key into errors)."""


@dataclass(frozen=True)
class ServerConfig:
    """How the test server behaves; every duration is in seconds."""

    host: str = HOST
    port: int = 0  # 0: an ephemeral port
    model: str = "test-model"
    latency: float = 0.0  # slept before each chat answer
    rpm: int | None = None  # requests per sliding minute; None: unlimited
    tpm: int | None = None  # prompt tokens (chars/4) per sliding minute
    fault_rate: float = 0.0
    fault_weights: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType(dict.fromkeys(DEFAULT_FAULTS, 1.0))
    )
    fault_script: Sequence[str] = ()  # kinds (or "ok") for the first chat requests, in order
    retry_after: float = 0.5  # advertised by injected rate_limit faults
    timeout_sleep: float = 10.0  # the timeout fault's delay: make it longer than the client's
    seed: int = 0
    supports_json_schema: bool = True
    batch_delay: float = 0.0  # a batch is in_progress from delay/2 and completed at delay
    max_requests: int = 100_000
    max_seconds: float = 600.0
    recent_size: int = 50  # request bodies kept in stats.recent
    api_key: str | None = None  # when set, other Authorization headers get 401
    responder: Responder = default_responder
    prompt_cache: bool = False
    """Report a cached prompt prefix as OpenAI does (``usage.prompt_tokens_details``): a
    request whose first message opened an earlier request has that message's tokens cached,
    from 1,024 tokens in steps of 128."""

    def __post_init__(self) -> None:
        if self.host != HOST:
            raise ConfigError(
                f"the test server binds {HOST} only, not {self.host!r}",
                hint="it is a local test endpoint; never expose it",
            )
        object.__setattr__(self, "fault_script", tuple(self.fault_script))
        unknown = (set(self.fault_script) - {*FAULT_KINDS, "ok"}) | (
            set(self.fault_weights) - set(FAULT_KINDS)
        )
        if unknown:
            raise ConfigError(
                f"unknown fault kind(s): {', '.join(sorted(unknown))}",
                hint=f"use {', '.join(FAULT_KINDS)} (or 'ok' in a fault_script)",
            )
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ConfigError(f"fault_rate must be within 0..1, not {self.fault_rate}")
        if self.max_requests < 1 or self.max_seconds <= 0:
            raise ConfigError("max_requests and max_seconds must be positive")
