"""What the LLM must answer for one item: the JSON schema built from a taxonomy, and its checks.

The schema constrains code ids to the taxonomy (an enum, plus ``none`` for "no category fits"
with a suggested new code). ``check_answer`` parses an answer, verifies every evidence quote
against the item text and lists the problems a re-ask should fix. A justification longer than
the schema's ``maxLength`` (``llm.lengths``) is such a problem, and is stored cut if it stays.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from llmcode.llm.evidence import Span, verify_quotes
from llmcode.llm.fences import strip_fences
from llmcode.llm.lengths import STRING_LIMITS
from llmcode.taxonomy.model import NONE_CODE

MAX_QUOTES = 3
JUSTIFICATION_LIMIT = STRING_LIMITS["justification"]
"""The schema's ``maxLength``: a longer justification is a problem (re-asked), then stored cut."""


def clamp_confidence(value: Any) -> Any:
    """A stated confidence kept within [0, 1] (anything not a number left to validation)."""
    if isinstance(value, int | float):
        return min(1.0, max(0.0, float(value)))
    return value


class SuggestedCode(BaseModel):
    """A new category the LLM proposes when none fits."""

    name: str
    definition: str = ""


class AnswerCode(BaseModel):
    """One code as the LLM wrote it (before verification)."""

    code: str
    justification: str = ""
    evidence: list[str] = Field(default_factory=list)
    confidence: float | None = None

    @field_validator("confidence", mode="before")
    @classmethod
    def _clamp(cls, value: Any) -> Any:
        return clamp_confidence(value)


class Answer(BaseModel):
    """The whole answer for one item."""

    codes: list[AnswerCode]
    suggested_code: SuggestedCode | None = None


class CodeAssignment(BaseModel):
    """A verified code: what the run stores and exports."""

    code: str
    justification: str = ""
    evidence: list[Span] = Field(default_factory=list)
    confidence: float | None = None
    disputed: bool = False
    """A second look (``--verify``) rejected this code; the record's ``checks`` say why."""

    @property
    def verified(self) -> bool:
        """True when every quote was found verbatim in the item text."""
        return bool(self.evidence) and all(span.verified for span in self.evidence)


@dataclass
class CheckedAnswer:
    """An answer checked against the taxonomy and the item text."""

    codes: list[CodeAssignment] = field(default_factory=list)
    suggested_code: SuggestedCode | None = None
    problems: list[str] = field(default_factory=list)
    fatal: bool = False  # unparseable or outside the taxonomy: codes cannot be kept

    @property
    def verified(self) -> bool:
        return not self.problems and all(c.verified or c.code == NONE_CODE for c in self.codes)


def answer_schema(
    code_ids: list[str], multi_label: bool, quotes: list[str] | None = None
) -> dict[str, Any]:
    """JSON schema (strict-mode compatible) for one item's answer.

    With ``quotes`` (segments of the item text), evidence must be chosen from them: under
    constrained decoding the model then cannot invent a quote.
    """
    quote: dict[str, Any] = {"type": "string"}
    if quotes:
        quote["enum"] = quotes
    code_item = {
        "type": "object",
        "properties": {
            "code": {"type": "string", "enum": [*code_ids, NONE_CODE]},
            "justification": {"type": "string"},
            "evidence": {"type": "array", "items": quote, "minItems": 1, "maxItems": MAX_QUOTES},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": ["code", "justification", "evidence", "confidence"],
        "additionalProperties": False,
    }
    codes: dict[str, Any] = {"type": "array", "items": code_item, "minItems": 1}
    if not multi_label:
        codes["maxItems"] = 1
    return {
        "type": "object",
        "properties": {
            "codes": codes,
            "suggested_code": {
                "anyOf": [
                    {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "definition": {"type": "string"},
                        },
                        "required": ["name", "definition"],
                        "additionalProperties": False,
                    },
                    {"type": "null"},
                ]
            },
        },
        "required": ["codes", "suggested_code"],
        "additionalProperties": False,
    }


def check_answer(
    content: str,
    text: str,
    code_ids: list[str],
    multi_label: bool,
    below: Mapping[str, Sequence[str]] | None = None,
) -> CheckedAnswer:
    """Parse and verify one answer; ``problems`` say what a re-ask must fix. ``below`` maps a
    category that is not assigned itself (a parent, one not codable) to the codes under it,
    which the problem about it names."""
    try:
        answer = Answer.model_validate(json.loads(strip_fences(content), strict=False))
    except json.JSONDecodeError as exc:
        return CheckedAnswer(problems=[f"the answer is not valid JSON ({exc.msg})"], fatal=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return CheckedAnswer(
            problems=[f"the answer does not follow the schema: {where}: {first['msg']}"],
            fatal=True,
        )
    allowed = set(code_ids)
    problems: list[str] = []
    unknown = [c.code for c in answer.codes if c.code not in allowed and c.code != NONE_CODE]
    if unknown:
        problems.append(
            f"unknown code(s) {', '.join(repr(u) for u in unknown)}; "
            f"use only: {', '.join(code_ids)} (or '{NONE_CODE}')"
        )
        problems += not_assigned(unknown, below)
    if not answer.codes:
        problems.append("no code given; give at least one code")
    if not multi_label and len(answer.codes) > 1:
        problems.append("this taxonomy is single-label: give exactly one code")
    codes = []
    for given in _deduplicated(answer.codes):
        spans = verify_quotes(list(dict.fromkeys(given.evidence))[:MAX_QUOTES], text)
        invented = [s.quote for s in spans if not s.verified]
        if given.code != NONE_CODE and not spans:
            problems.append(f"code '{given.code}': give at least one evidence quote")
        if invented:
            problems.append(
                f"code '{given.code}': these quotes are not in the item text: "
                + "; ".join(f'"{q}"' for q in invented)
                + ". Quote the item's words exactly, copied character for character."
            )
        justification = given.justification.strip()
        if len(justification) > JUSTIFICATION_LIMIT:
            problems.append(
                f"code '{given.code}': the justification is {len(justification):,} characters; "
                f"keep it under {JUSTIFICATION_LIMIT} (one or two sentences)"
            )
            justification = cut(justification, JUSTIFICATION_LIMIT)
        codes.append(
            CodeAssignment(
                code=given.code,
                justification=justification,
                evidence=spans,
                confidence=given.confidence,
            )
        )
    suggested = answer.suggested_code
    if suggested is not None:
        suggested = SuggestedCode(
            name=cut(suggested.name, STRING_LIMITS["name"]),
            definition=cut(suggested.definition, STRING_LIMITS["definition"]),
        )
    return CheckedAnswer(
        codes=codes,
        suggested_code=suggested,
        problems=problems,
        fatal=bool(unknown) or not answer.codes,
    )


def not_assigned(codes: Sequence[str], below: Mapping[str, Sequence[str]] | None) -> list[str]:
    """A problem for each of ``codes`` that is a category never assigned itself (``below``),
    naming the codes under it."""
    out = []
    for code in dict.fromkeys(codes):
        if below is None or code not in below:
            continue
        under = below[code]
        instead = f"use one of its codes: {', '.join(under)}" if under else "use another code"
        out.append(f"'{code}' is a category that is never assigned itself; {instead}")
    return out


def cut(text: str, limit: int) -> str:
    """``text`` at most ``limit`` characters, an ellipsis marking where it was cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _deduplicated(codes: list[AnswerCode]) -> list[AnswerCode]:
    seen: set[str] = set()
    out = []
    for code in codes:
        if code.code not in seen:
            seen.add(code.code)
            out.append(code)
    return out
