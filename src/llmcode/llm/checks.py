"""The second look (``--verify``): the checker's answer for one assigned code, its schema and parse.

A check asks, in a separate short request, whether one code fits one item given the code's
definition, include/exclude criteria, the coder's justification and verified quotes. The answer
is ``{"verdict": "keep"|"reject", "reason": ..., "alternative": <code id>|null}``; what the run
keeps of it is a ``CodeCheck`` (the checked code, the verdict, the reason, the alternative,
and what was done: kept, disputed, dropped or replaced).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ValidationError, field_validator

from llmcode.llm.fences import strip_fences
from llmcode.taxonomy.model import NONE_CODE

Verdict = Literal["keep", "reject"]
Outcome = Literal["kept", "disputed", "dropped", "replaced", "failed"]


class CheckAnswer(BaseModel):
    """The checker's answer as written."""

    verdict: Verdict
    reason: str = ""
    alternative: str | None = None

    @field_validator("verdict", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


class CodeCheck(BaseModel):
    """One code's second look, as recorded in the coding record."""

    code: str
    verdict: Verdict | None = None
    reason: str = ""
    alternative: str | None = None
    outcome: Outcome = "kept"
    model: str = ""
    calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None


REJECTED: tuple[Outcome, ...] = ("disputed", "dropped", "replaced")
"""Outcomes of a second look that rejected the code (flagged, removed or replaced)."""


def disputed_count(checks: Iterable[CodeCheck]) -> tuple[int, int]:
    """How many of ``checks`` rejected their code, and how many there are."""
    outcomes = [check.outcome for check in checks]
    return sum(outcome in REJECTED for outcome in outcomes), len(outcomes)


def check_schema(code_ids: list[str]) -> dict[str, Any]:
    """JSON schema of a check answer; the alternative is a category id or null."""
    return {
        "type": "object",
        "properties": {
            "verdict": {"type": "string", "enum": ["keep", "reject"]},
            "reason": {"type": "string"},
            "alternative": {
                "anyOf": [{"type": "string", "enum": [*code_ids, NONE_CODE]}, {"type": "null"}]
            },
        },
        "required": ["verdict", "reason", "alternative"],
        "additionalProperties": False,
    }


def parse_check(content: str, code_ids: list[str]) -> CheckAnswer | None:
    """The checker's answer, or None when it is not valid; an unknown alternative is dropped."""
    try:
        answer = CheckAnswer.model_validate(json.loads(strip_fences(content), strict=False))
    except (json.JSONDecodeError, ValidationError):
        return None
    if answer.alternative not in code_ids:
        answer = answer.model_copy(update={"alternative": None})
    return answer
