"""Length caps on the free-text fields of an answer, in the schema every backend sends.

A small model under constrained decoding keeps writing a justification until ``max_tokens``
runs out, and the answer ends as unterminated JSON. Every backend therefore sends the answer's
schema with ``maxLength`` on its free-text strings (``bounded_schema``; the openai backend only
for self-hosted servers, as OpenAI's strict mode refuses the keyword), and the prompts in
``prompts/`` state the same limits, so a model that is not constrained knows them too.
"""

from __future__ import annotations

import copy
from typing import Any

STRING_LIMITS = {
    "justification": 200,
    "evidence": 160,
    "quote": 160,
    "passage": 1200,
    "name": 60,
    "label": 60,
    "definition": 200,
    "description": 200,
    "include": 120,
    "exclude": 120,
    "reason": 200,
}


_BOUNDED: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}


def bounded_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` with ``maxLength`` on the free-text strings named in STRING_LIMITS.

    Memoised on the schema object (a run sends the same one for every item; treat both as
    read-only)."""
    known = _BOUNDED.get(id(schema))
    if known is not None and known[0] is schema:
        return known[1]
    bounded = _bound(copy.deepcopy(schema))
    if len(_BOUNDED) > 64:
        _BOUNDED.clear()
    _BOUNDED[id(schema)] = (schema, bounded)
    return bounded


def _bound(schema: dict[str, Any]) -> dict[str, Any]:
    def visit(node: Any, name: str | None) -> None:
        if not isinstance(node, dict):
            return
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
            elif key in ("$defs", "definitions") and isinstance(value, dict):
                for sub in value.values():
                    visit(sub, None)

    visit(schema, None)
    return schema
