"""What the LLM must answer in the first step of coding top-down: the categories to go into.

A big hierarchical codebook is asked in two steps (`llmcode.coding.topdown`): first the
top-level categories (``branches``) an item or a part of a document belongs to, then only the
chosen categories' codes. ``branch_schema`` constrains the first answer to the categories'
ids; ``check_branches`` parses it and lists the problems a re-ask should fix: ids that are not
categories (dropped), none chosen when one is needed, more than ``most``. Only an answer that
cannot be read, or that leaves no category when one is needed, is fatal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from llmcode.llm.fences import strip_fences


class BranchAnswer(BaseModel):
    """The first step's answer as the LLM wrote it."""

    categories: list[str]


@dataclass
class CheckedBranches:
    """The categories chosen (known ids, in the order given, once each) and what is wrong."""

    categories: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    fatal: bool = False


def branch_schema(ids: list[str], at_least_one: bool, most: int | None = None) -> dict[str, Any]:
    """JSON schema (strict-mode compatible) of the first step's answer."""
    chosen: dict[str, Any] = {
        "type": "array",
        "items": {"type": "string", "enum": list(ids)},
        "minItems": 1 if at_least_one else 0,
    }
    if most is not None:
        chosen["maxItems"] = most
    return {
        "type": "object",
        "properties": {"categories": chosen},
        "required": ["categories"],
        "additionalProperties": False,
    }


def check_branches(
    content: str, ids: list[str], at_least_one: bool, most: int | None = None
) -> CheckedBranches:
    """Parse and check the first step's answer (see the module docstring)."""
    try:
        answer = BranchAnswer.model_validate(json.loads(strip_fences(content), strict=False))
    except json.JSONDecodeError as exc:
        return CheckedBranches(problems=[f"the answer is not valid JSON ({exc.msg})"], fatal=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return CheckedBranches(
            problems=[f"the answer does not follow the schema: {where}: {first['msg']}"],
            fatal=True,
        )
    allowed = set(ids)
    given = list(dict.fromkeys(answer.categories))
    chosen = [c for c in given if c in allowed]
    unknown = [c for c in given if c not in allowed]
    problems = []
    if unknown:
        problems.append(
            f"unknown categor{'y' if len(unknown) == 1 else 'ies'} "
            f"{', '.join(repr(u) for u in unknown)}; choose only from: {', '.join(ids)}"
        )
    if most is not None and len(chosen) > most:
        problems.append(f"choose at most {most} categor{'y' if most == 1 else 'ies'}")
        chosen = chosen[:most]
    if at_least_one and not chosen:
        problems.append("no category chosen; choose the one the text belongs to")
    return CheckedBranches(categories=chosen, problems=problems, fatal=at_least_one and not chosen)
