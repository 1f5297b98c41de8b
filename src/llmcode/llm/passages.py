"""What the LLM must answer for one window of a document coded in passages, and its checks.

An answer lists passages: each the passage itself, quoted verbatim from the window, its codes,
one justification and a confidence. ``passage_schema`` constrains the codes to the taxonomy
(and, with ``choices``, the passage to sentences of the window, so constrained decoding cannot
invent one). ``check_passages`` parses an answer, locates every passage in the window's text as
evidence is located (`llmcode.llm.evidence.locate`: whitespace and typographic quotes forgiven,
the words exact), turns its offsets into document offsets, and lists the problems a re-ask
should fix: passages not in the text (kept, flagged unverified, never dropped), unknown codes,
several codes under a single-label taxonomy. `Segment` is a located passage as a run stores it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from llmcode.llm.answers import clamp_confidence, not_assigned
from llmcode.llm.evidence import Span, locate
from llmcode.llm.fences import strip_fences
from llmcode.llm.windows import Window

PASSAGE_CHARS = 1200
"""The longest passage an answer may quote (the schema's ``maxLength``)."""


class SegmentCode(BaseModel):
    """One code of a passage, with the passage's justification and confidence."""

    code: str
    justification: str = ""
    confidence: float | None = None


class Segment(BaseModel):
    """A coded passage: ``[start, end)`` characters of the document (None when the quote was
    not found: the passage is kept, ``verified`` false), the quote as the text has it, codes."""

    start: int | None = None
    end: int | None = None
    quote: str
    codes: list[SegmentCode] = Field(default_factory=list)
    verified: bool = False


class AnswerPassage(BaseModel):
    """One passage as the LLM wrote it (before it is located)."""

    passage: str
    codes: list[str]
    justification: str = ""
    confidence: float | None = None

    @field_validator("confidence", mode="before")
    @classmethod
    def _clamp(cls, value: Any) -> Any:
        return clamp_confidence(value)


class PassageAnswer(BaseModel):
    """The whole answer for one window."""

    passages: list[AnswerPassage]


@dataclass
class CheckedPassages:
    """One window's passages, located (document offsets), and what is still wrong."""

    segments: list[Segment] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    fatal: bool = False  # not JSON, or not the schema: nothing can be kept


def passage_schema(
    code_ids: list[str],
    multi_label: bool,
    choices: list[str] | None = None,
    max_passages: int | None = None,
) -> dict[str, Any]:
    """JSON schema (strict-mode compatible) of one window's answer; ``choices``: the passages
    the model may pick from (sentences of the window), else a free quote; ``max_passages``
    bounds the list (a small model under constrained decoding otherwise lists passages until
    its token limit)."""
    passage: dict[str, Any] = {"type": "string"}
    if choices:
        passage["enum"] = choices
    codes: dict[str, Any] = {
        "type": "array",
        "items": {"type": "string", "enum": list(code_ids)},
        "minItems": 1,
    }
    if not multi_label:
        codes["maxItems"] = 1
    item = {
        "type": "object",
        "properties": {
            "passage": passage,
            "codes": codes,
            "justification": {"type": "string"},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": ["passage", "codes", "justification", "confidence"],
        "additionalProperties": False,
    }
    passages: dict[str, Any] = {"type": "array", "items": item}
    if max_passages is not None:
        passages["maxItems"] = max_passages
    return {
        "type": "object",
        "properties": {"passages": passages},
        "required": ["passages"],
        "additionalProperties": False,
    }


def check_passages(
    content: str,
    window: Window,
    code_ids: list[str],
    multi_label: bool,
    below: Mapping[str, Sequence[str]] | None = None,
) -> CheckedPassages:
    """Parse one window's answer and locate its passages (see the module docstring); ``below``
    as for `llmcode.llm.answers.check_answer`."""
    try:
        answer = PassageAnswer.model_validate(json.loads(strip_fences(content), strict=False))
    except json.JSONDecodeError as exc:
        return CheckedPassages(problems=[f"the answer is not valid JSON ({exc.msg})"], fatal=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return CheckedPassages(
            problems=[f"the answer does not follow the schema: {where}: {first['msg']}"],
            fatal=True,
        )
    allowed = set(code_ids)
    problems: list[str] = []
    segments: list[Segment] = []
    invented: list[str] = []
    unknown: list[str] = []
    for given in answer.passages:
        codes = list(dict.fromkeys(c for c in given.codes if c in allowed))
        unknown += [c for c in given.codes if c not in allowed]
        if not multi_label and len(codes) > 1:
            problems.append(
                f'passage "{_short(given.passage)}": this taxonomy is single-label: give one code'
            )
            codes = codes[:1]
        span = _with_closing(locate(given.passage, window.text), given.passage, window.text)
        if not span.verified:
            invented.append(given.passage)
        if not codes:
            continue
        justification = given.justification.strip()
        segments.append(
            Segment(
                start=None if span.start is None else window.start + span.start,
                end=None if span.end is None else window.start + span.end,
                quote=span.quote,
                codes=[
                    SegmentCode(code=c, justification=justification, confidence=given.confidence)
                    for c in codes
                ],
                verified=span.verified,
            )
        )
    if unknown:
        problems.append(
            f"unknown code(s) {', '.join(repr(u) for u in dict.fromkeys(unknown))}; "
            f"use only: {', '.join(code_ids)}"
        )
        problems += not_assigned(unknown, below)
    if invented:
        problems.append(
            "these passages are not in the text: "
            + "; ".join(f'"{_short(q)}"' for q in invented)
            + ". Copy each passage from the text exactly, character for character."
        )
    return CheckedPassages(segments=segments, problems=problems)


_CLOSING = ".!?\"')\u201d\u2019"


def _with_closing(span: Span, passage: str, text: str) -> Span:
    """``span`` with the sentence's closing marks that locating trims (a final period, a
    closing quote), when the passage ends with such a mark too."""
    if not span.verified or span.end is None or not passage.rstrip().endswith(tuple(_CLOSING)):
        return span
    end = span.end
    while end < len(text) and text[end] in _CLOSING:
        end += 1
    return span.model_copy(update={"end": end, "quote": text[span.start : end]})


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
