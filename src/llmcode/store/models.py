"""The pydantic models of a run on disk: its frozen `RunConfig`, its `RunManifest`, and the
`CodingRecord` (with its `Sample` draws and, for documents coded in passages, its `Segment`s)
that ``codings.jsonl`` holds one per line.

Secrets never reach disk through them: a record's error, raw output and problems are redacted
as they are validated.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from llmcode.llm.answers import CodeAssignment, SuggestedCode
from llmcode.llm.checks import CodeCheck
from llmcode.llm.passages import Segment
from llmcode.llm.redaction import redact
from llmcode.store.config import RunConfig

Status = Literal["ok", "unverified", "invalid", "error", "skipped"]
FINAL_STATUSES = {"ok", "unverified", "invalid", "skipped"}


STORED = {"stored": True}
"""Validation context of records read back from ``codings.jsonl``: they were redacted as they
were written, so they are not searched for secrets again (a search walks the environment:
most of the time of reading a million records)."""


def _stored(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("stored"))


def now() -> datetime:
    """The current time in UTC (every timestamp a run writes)."""
    return datetime.now(UTC)


class Sample(BaseModel):
    """One of several codings drawn for the same item (for confidence by self-consistency)."""

    codes: list[str]
    status: Status
    model: str = ""
    probabilities: dict[str, float] = Field(default_factory=dict)
    """Probability of each chosen code from token log-probabilities (empty when none given)."""


class CodingStep(BaseModel):
    """One step of coding top-down (``hierarchy = "top-down"``): a request and its re-asks.

    Step ``categories`` chose ``categories`` (top-level ids) for the item or the window
    ``[start, end)`` of a document; step ``codes`` coded it with those categories' codes only.
    Its usage is part of the record's; ``cache_key`` is its first request's response-cache key
    (of a window's second step, the whole window's, even when the window was coded in halves).
    """

    step: Literal["categories", "codes"]
    categories: list[str] = Field(default_factory=list)
    start: int | None = None
    end: int | None = None
    attempts: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_key: str | None = None
    problems: list[str] = Field(default_factory=list)


class CodingRecord(BaseModel):
    """What one item got: verified codes, or the reason it has none. Never dropped."""

    item_id: str
    status: Status
    codes: list[CodeAssignment] = Field(default_factory=list)
    suggested_code: SuggestedCode | None = None
    problems: list[str] = Field(default_factory=list)
    error: str | None = None
    raw: str | None = None
    attempts: int = 0
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_calls: int = 0
    cached_prompt_tokens: int = 0
    """Of ``prompt_tokens``, those the provider reported as served from its prompt cache."""
    batch_prompt_tokens: int = 0
    """Of ``prompt_tokens``, those of the answers a batch API gave (billed at its batch price;
    the rest were asked online: re-asks)."""
    batch_completion_tokens: int = 0
    """Of ``completion_tokens``, those of the answers a batch API gave."""
    samples: list[Sample] = Field(default_factory=list)
    probabilities: dict[str, float] = Field(default_factory=dict)
    """Probability of each chosen code from token log-probabilities (empty when none given)."""
    examples: list[str] = Field(default_factory=list)
    """Ids of the retrieved examples shown with the item (``--examples``)."""
    checks: list[CodeCheck] = Field(default_factory=list)
    """The second look at each assigned code (``--verify``)."""
    segments: list[Segment] = Field(default_factory=list)
    """The coded passages of a document (``unit = "segment"``): offsets, quote, codes; the
    record's ``codes`` are then every code its passages carry."""
    steps: list[CodingStep] = Field(default_factory=list)
    """The steps of coding top-down, in order (empty when coded flat)."""
    finished_at: datetime = Field(default_factory=now)

    @field_validator("error", "raw")
    @classmethod
    def _no_secret(cls, value: str | None, info: ValidationInfo) -> str | None:
        return value if _stored(info) else redact(value)

    @field_validator("problems")
    @classmethod
    def _no_secrets(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return value if _stored(info) else [redact(problem) or "" for problem in value]


class RunManifest(BaseModel):
    """Provenance and progress of a run: model, prompts, taxonomy and items, all hashed."""

    run_id: str
    kind: str = "closed"
    status: Literal["running", "complete", "interrupted", "failed"] = "running"
    created_at: datetime = Field(default_factory=now)
    finished_at: datetime | None = None
    llmcode_version: str = ""
    config: RunConfig
    taxonomy: dict[str, Any] = Field(default_factory=dict)
    prompts: dict[str, Any] = Field(default_factory=dict)
    backend: dict[str, Any] = Field(default_factory=dict)
    items: dict[str, Any] = Field(default_factory=dict)
    counts: dict[str, int] = Field(default_factory=dict)
    usage: dict[str, float] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)

    @property
    def coder(self) -> str:
        """The name this run codes under in long-format exports: the model."""
        return str(self.backend.get("model") or self.config.endpoint.model or self.run_id)
