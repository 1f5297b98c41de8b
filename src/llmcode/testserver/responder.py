"""What the test server answers: message content from a request, and the ChatCompletion around it.

A responder is any ``Callable[[dict], str]`` taking the chat-completions request body and
returning the assistant's message content. ``default_responder`` fills the request's JSON schema
(``response_format`` of type ``json_schema``) with a generic walker: every property of an object;
``minItems`` (at least one) array elements within ``maxItems``; an enum value picked from a hash of
the item text (the same item always gets the same code, different items usually different ones;
``none`` only when it is the sole choice); numbers 0.8 (or 1 for integers) moved inside
``minimum``/``maximum``; ``true``; ``anyOf``/type lists with ``null`` take the non-null branch,
except a property named ``suggested_code``, which gets ``null``; ``$ref`` into ``$defs``.
Strings named ``evidence``/``quote``/``quotes`` get a verbatim quote of the item (its first
sentence, at most 120 characters, cut at a word boundary); ``item_id`` gets the id of the item
tag; other strings a short sentence ("The item reports ...").

The item is the last ``<item id="...">...</item>`` block (its id attribute-unescaped) of the
last user message that has one (so a re-ask answers for the same item); without any block, the
whole last user message. An array whose elements have an ``item_id`` property gets one element
per item block, in order, under the block's own id (only the blocks an ``item_id`` enum allows:
a re-ask for some items of a multi-item request answers those).
Without a JSON schema (``json_object`` mode or no ``response_format``), the answer follows the
coding schema when the system prompt lists ``Valid codes: a, b, none`` (for several item
blocks, ``{"items": [...]}`` with one entry per item under its own id); otherwise it is
``{"codes": []}``. A segment-coding request (a schema with ``passages``) is answered with
passages quoted from the window it sends (``passages_answer``); the ``invented_quote`` fault
turns them into a passage the text never held. The first step of coding top-down (a schema
with ``categories``) is answered with the categories of the item or window
(``categories_answer``). The fault helpers turn a good answer into a
truncated or schema-violating one.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Responder = Callable[[dict[str, Any]], str]

QUOTE_LIMIT = 120
QUOTE_NAMES = frozenset({"evidence", "quote", "quotes"})
NULL_NAMES = frozenset({"suggested_code"})
RESERVED_ENUM_VALUES = frozenset({"none"})
_MAX_DEPTH = 32
_ITEM_RE = re.compile(r'<item\s+id="([^"]*)"[^>]*>(.*?)</item>', re.DOTALL)
_VALID_CODES_RE = re.compile(r"^Valid codes:\s*(.+)$", re.MULTILINE)
_TOKEN_RE = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")
_SENTENCE_END_RE = re.compile(r"[.!?](?=\s|$)|\n")


@dataclass(frozen=True)
class ItemBlock:
    """One item of a prompt: its id (empty without a tag) and its text."""

    item_id: str
    text: str


def default_responder(body: dict[str, Any]) -> str:
    """Answer JSON valid against the request's schema (see the module docstring)."""
    schema = effective_schema(body)
    if schema is None:
        return json.dumps({"codes": []})
    if "passages" in (schema.get("properties") or {}):
        return json.dumps(passages_answer(schema, item_blocks(body)[-1]), ensure_ascii=False)
    if "categories" in (schema.get("properties") or {}):
        return json.dumps(categories_answer(schema, item_blocks(body)[-1]))
    return json.dumps(fill_schema(schema, item_blocks(body)), ensure_ascii=False)


_PARAGRAPH_RE = re.compile(r"\n[ \t]*\n")
PASSAGE_SENTENCES = 3


def passages_answer(schema: dict[str, Any], item: ItemBlock) -> dict[str, Any]:
    """A segment-coding answer for a window: one passage per paragraph of two sentences or
    more (its first three sentences, verbatim), coded with a category picked by a hash of the
    paragraph; with a ``passage`` enum (choice), the allowed sentences of those paragraphs."""
    entry = schema["properties"]["passages"].get("items") or {}
    properties = entry.get("properties") or {}
    codes = ((properties.get("codes") or {}).get("items") or {}).get("enum") or ["code"]
    allowed = (properties.get("passage") or {}).get("enum")
    passages = []
    for paragraph in _PARAGRAPH_RE.split(item.text):
        sentences = _sentences(paragraph)
        if len(sentences) < 2:
            continue
        passage = paragraph.strip()[: _through(paragraph.strip(), sentences[:PASSAGE_SENTENCES])]
        if allowed is not None:
            passage = next((a for a in allowed if a in paragraph), "")
            if not passage:
                continue
        passages.append(
            {
                "passage": passage,
                "codes": [pick_enum(codes, paragraph)],
                "justification": "The passage describes what the code defines.",
                "confidence": 0.8,
            }
        )
    most = schema["properties"]["passages"].get("maxItems")
    return {"passages": passages[:most] if most is not None else passages}


CATEGORY_PARAGRAPHS = 2


def categories_answer(schema: dict[str, Any], item: ItemBlock) -> dict[str, Any]:
    """The first step of coding top-down: the categories of a part of a document (a ``part``
    in the prompt, no ``minItems``) are those picked by a hash of each of its first two
    paragraphs of two sentences or more (none without such a paragraph); an item's is the one
    picked by a hash of its text. Within the schema's ``minItems`` and ``maxItems``."""
    chosen = (schema["properties"]["categories"]) or {}
    ids = (chosen.get("items") or {}).get("enum") or []
    low, high = chosen.get("minItems", 0), chosen.get("maxItems")
    if not ids:
        return {"categories": []}
    if low:
        picked = [pick_enum(ids, item.text)]
    else:
        paragraphs = [p for p in _PARAGRAPH_RE.split(item.text) if len(_sentences(p)) >= 2]
        picked = [pick_enum(ids, p) for p in paragraphs[:CATEGORY_PARAGRAPHS]]
    picked = list(dict.fromkeys(picked))
    return {"categories": picked[:high] if high is not None else picked}


def _sentences(text: str) -> list[str]:
    found, start = [], 0
    for end in _SENTENCE_END_RE.finditer(text):
        if text[start : end.end()].strip():
            found.append(text[start : end.end()].strip())
        start = end.end()
    return found


def _through(text: str, sentences: list[str]) -> int:
    """The offset in ``text`` just after the last of ``sentences`` (found in order)."""
    at = 0
    for sentence in sentences:
        at = text.index(sentence, at) + len(sentence)
    return at


def effective_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The request's json_schema (or a ``schema`` given with json_object), else the coding
    schema inferred from the system prompt: for several item blocks, one entry per item."""
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        return schema if isinstance(schema, dict) else {}
    if isinstance(response_format.get("schema"), dict):
        return response_format["schema"]
    for message in body.get("messages", []):
        if message.get("role") in ("system", "developer"):
            found = _VALID_CODES_RE.search(message_text(message))
            if found:
                codes = [c.strip() for c in found.group(1).split(",") if c.strip()]
                schema = coding_schema(codes)
                return schema if len(item_blocks(body)) < 2 else multi_coding_schema(schema)
    return None


def multi_coding_schema(single: dict[str, Any]) -> dict[str, Any]:
    """``{"items": [{"item_id", ...single}]}``: the answer shape of a multi-item request."""
    entry = {**single, "properties": {"item_id": {"type": "string"}, **single["properties"]}}
    entry["required"] = ["item_id", *single["required"]]
    items = {"type": "array", "items": entry, "minItems": 1}
    return {"type": "object", "properties": {"items": items}, "required": ["items"]}


def coding_schema(codes: list[str]) -> dict[str, Any]:
    """The answer shape of llmcode's closed-coding prompt, for one code per item."""
    code = {
        "type": "object",
        "properties": {
            "code": {"type": "string", "enum": codes},
            "justification": {"type": "string"},
            "evidence": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": ["code", "justification", "evidence", "confidence"],
    }
    return {
        "type": "object",
        "properties": {
            "codes": {"type": "array", "items": code, "minItems": 1, "maxItems": 1},
            "suggested_code": {"anyOf": [{"type": "object"}, {"type": "null"}]},
        },
        "required": ["codes", "suggested_code"],
    }


def message_text(message: dict[str, Any]) -> str:
    """The text of a chat message whose content is a string or a list of parts."""
    content = message.get("content")
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def item_blocks(body: dict[str, Any]) -> list[ItemBlock]:
    """The item blocks of the last user message that has any; else that whole message."""
    users = [message_text(m) for m in body.get("messages", []) if m.get("role") == "user"]
    for text in reversed(users):
        blocks = [ItemBlock(html.unescape(i), t.strip()) for i, t in _ITEM_RE.findall(text)]
        if blocks:
            return blocks
    return [ItemBlock("", users[-1].strip() if users else "")]


def quote_of(text: str, index: int = 0) -> str:
    """The ``index``-th sentence of ``text`` (cycling), trimmed to a verbatim, bounded quote."""
    sentences: list[str] = []
    start = 0
    for end in _SENTENCE_END_RE.finditer(text):
        piece = text[start : end.end()].strip()
        if piece:
            sentences.append(piece)
        start = end.end()
    if text[start:].strip():
        sentences.append(text[start:].strip())
    if not sentences:
        return ""
    sentence = sentences[index % len(sentences)]
    if len(sentence) <= QUOTE_LIMIT:
        return sentence
    cut = sentence[: QUOTE_LIMIT + 1].rfind(" ")
    return sentence[: cut if cut > 0 else QUOTE_LIMIT].rstrip(" ,;:")


def fill_schema(schema: dict[str, Any], items: list[ItemBlock]) -> Any:
    """A value valid against ``schema`` (a subset of JSON schema), built for ``items``."""
    return _Filler(schema, items).fill(schema, "", items[-1], 0, 0)


class _Filler:
    def __init__(self, root: dict[str, Any], items: list[ItemBlock]) -> None:
        self.root = root
        self.items = items

    def resolve(self, schema: Any) -> dict[str, Any]:
        for _ in range(_MAX_DEPTH):
            if not isinstance(schema, dict) or "$ref" not in schema:
                break
            node: Any = self.root
            for part in str(schema["$ref"]).lstrip("#").strip("/").split("/"):
                node = node.get(part, {}) if part and isinstance(node, dict) else node
            schema = node
        return schema if isinstance(schema, dict) else {}

    def fill(self, schema: Any, name: str, item: ItemBlock, index: int, depth: int) -> Any:
        schema = self.resolve(schema)
        if depth > _MAX_DEPTH:
            return None
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            if name == "item_id" and item.item_id in schema["enum"]:
                return item.item_id
            return pick_enum(schema["enum"], item.text, index)
        branches = schema.get("anyOf") or schema.get("oneOf")
        if branches:
            return self.fill_branch(branches, name, item, index, depth)
        if schema.get("allOf"):
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                merged.update(self.resolve(part))
            return self.fill(merged, name, item, index, depth + 1)
        kind = _kind(schema, name)
        if kind == "object":
            properties = schema.get("properties") or {}
            return {k: self.fill(v, k, item, index, depth + 1) for k, v in properties.items()}
        if kind == "array":
            return self.fill_array(schema, name, item, depth)
        if kind in ("number", "integer"):
            return fill_number(schema, integer=kind == "integer")
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return fill_string(schema, name, item, index)

    def fill_branch(
        self, branches: list[Any], name: str, item: ItemBlock, index: int, depth: int
    ) -> Any:
        """The first non-null branch of an anyOf/oneOf; null for an optional field that may be."""
        solid = [b for b in branches if self.resolve(b).get("type") != "null"]
        if not solid or (len(solid) < len(branches) and name in NULL_NAMES):
            return None
        return self.fill(solid[0], name, item, index, depth + 1)

    def fill_array(self, schema: dict[str, Any], name: str, item: ItemBlock, depth: int) -> list:
        element = self.resolve(schema.get("items", {}))
        high = schema.get("maxItems")
        properties = element.get("properties") or {}
        if "item_id" in properties:
            allowed = self.resolve(properties["item_id"]).get("enum")
            chosen = [it for it in self.items if not allowed or it.item_id in allowed]
            if len(chosen) > 1 or (allowed and chosen):
                chosen = chosen[:high] if high is not None else chosen
                return [self.fill(element, name, it, 0, depth + 1) for it in chosen]
        count = max(schema.get("minItems", 1), 1)
        count = min(count, high) if high is not None else count
        return [self.fill(element, name, item, i, depth + 1) for i in range(count)]


def _kind(schema: dict[str, Any], name: str) -> str:
    """The JSON type to fill: ``null`` for a nullable field that should be null, else the
    first non-null type, else inferred from ``properties``/``items`` (default string)."""
    kind = schema.get("type")
    if isinstance(kind, list):
        if "null" in kind and (name in NULL_NAMES or kind == ["null"]):
            return "null"
        return next((k for k in kind if k != "null"), "null")
    if kind is None:
        return "object" if "properties" in schema else "array" if "items" in schema else "string"
    return str(kind)


def pick_enum(values: list[Any], text: str, index: int = 0) -> Any:
    """A value chosen by a hash of ``text`` (``index`` shifts it, for distinct array elements)."""
    choices = [v for v in values if v not in RESERVED_ENUM_VALUES] or values
    digest = int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)
    return choices[(digest + index) % len(choices)]


def fill_number(schema: dict[str, Any], integer: bool) -> float | int:
    """0.8 (1 for integers), moved inside the schema's bounds."""
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    value: float = 1 if integer else 0.8
    if low is not None and high is not None and not low <= value <= high:
        value = (low + high) / 2
    elif low is not None and value < low:
        value = low + (1 if "exclusiveMinimum" in schema else 0)
    elif high is not None and value > high:
        value = high - (1 if "exclusiveMaximum" in schema else 0)
    return math.ceil(value) if integer else value


def fill_string(schema: dict[str, Any], name: str, item: ItemBlock, index: int) -> str:
    """A verbatim quote, the item id, or a short sentence, within ``maxLength``."""
    if name in QUOTE_NAMES:
        value = quote_of(item.text, index)
    elif name == "item_id":
        value = item.item_id
    else:
        words = quote_of(item.text).split()[:8]
        if words and words[0][1:].islower():
            words[0] = words[0].lower()  # "The waiter ..." -> "that the waiter ..."
        said = " ".join(words).rstrip(".!?,;:")
        value = f"The item reports that {said}." if said else "The item says little."
    minimum = schema.get("minLength", 0)
    if len(value) < minimum:
        value = value + "." * (minimum - len(value))
    return value[: schema["maxLength"]] if "maxLength" in schema else value


INVENTED_QUOTE = "a sentence the item never contained"
INVENTED_CODE = "invented_code"


def falsify(content: str, kind: str) -> str:
    """Valid JSON with every evidence quote invented, or every code outside the taxonomy."""
    try:
        value = json.loads(content)
    except ValueError:
        return content

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, child in node.items():
                if kind == "invented_quote" and key in (*QUOTE_NAMES, "passage"):
                    out[key] = [INVENTED_QUOTE] if isinstance(child, list) else INVENTED_QUOTE
                elif kind == "unknown_code" and key == "code" and isinstance(child, str):
                    out[key] = INVENTED_CODE
                else:
                    out[key] = walk(child)
            return out
        if isinstance(node, list):
            return [walk(child) for child in node]
        return node

    return json.dumps(walk(value), ensure_ascii=False)


def malformed(content: str) -> str:
    """Not JSON: the answer cut in half (with a stray brace if the half still parses)."""
    cut = content[: len(content) // 2]
    try:
        json.loads(cut)
    except ValueError:
        return cut
    return cut + "{"


def wrong_schema(body: dict[str, Any], content: str) -> str:
    """JSON that violates the request's schema: an enum value outside the enum, else a
    missing required property, else an array where an object is expected."""
    schema = effective_schema(body)
    try:
        value = json.loads(content)
    except ValueError:
        return "[]"
    if schema is not None:
        broken, changed = _violate(_Filler(schema, []), schema, value, 0)
        if changed:
            return json.dumps(broken, ensure_ascii=False)
    return "[]" if not isinstance(value, list) else "{}"


def _violate(filler: _Filler, schema: Any, value: Any, depth: int) -> tuple[Any, bool]:
    schema = filler.resolve(schema)
    if depth > _MAX_DEPTH:
        return value, False
    if schema.get("enum"):
        outside = "not_a_code"
        while outside in schema["enum"]:
            outside += "_"
        return outside, True
    for branch in schema.get("anyOf") or schema.get("oneOf") or []:
        if filler.resolve(branch).get("type") != "null" and value is not None:
            return _violate(filler, branch, value, depth + 1)
    if isinstance(value, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key in value:
                new, changed = _violate(filler, sub, value[key], depth + 1)
                if changed:
                    return {**value, key: new}, True
        for key in schema.get("required", []):
            if key in value:
                return {k: v for k, v in value.items() if k != key}, True
    if isinstance(value, list) and value and "items" in schema:
        new, changed = _violate(filler, schema["items"], value[0], depth + 1)
        if changed:
            return [new, *value[1:]], True
    return value, False


def estimate_tokens(text: str) -> int:
    """About four characters per token."""
    return math.ceil(len(text) / 4)


def token_logprobs(content: str, top: int) -> list[dict[str, Any]]:
    """Plausible ``logprobs.content`` entries: word-like tokens that concatenate to ``content``."""
    entries = []
    for position, token in enumerate(_TOKEN_RE.findall(content)):
        digest = int(hashlib.sha256(f"{position}:{token}".encode()).hexdigest()[:8], 16)
        logprob = -round(((digest % 1000) / 1000) ** 4 * 3 + 1e-4, 6)
        others = [token.strip().upper(), f"{token}s", " the", ",", " a"]
        alternatives = list(dict.fromkeys([token, *(o for o in others if o and o != token)]))
        alternatives = alternatives[:top]
        top_entries = [
            {"token": alt, "bytes": list(alt.encode()), "logprob": logprob - 2.0 * rank}
            for rank, alt in enumerate(alternatives)
        ]
        entries.append(
            {
                "token": token,
                "bytes": list(token.encode()),
                "logprob": logprob,
                "top_logprobs": top_entries,
            }
        )
    return entries


def chat_completion(body: dict[str, Any], contents: list[str], model: str) -> dict[str, Any]:
    """A ChatCompletion (``object: chat.completion``) with one choice per content, and usage."""
    prompt = "".join(message_text(m) for m in body.get("messages", []))
    top = int(body.get("top_logprobs") or 0)
    choices = []
    for index, content in enumerate(contents):
        logprobs = None
        if body.get("logprobs"):
            logprobs = {"content": token_logprobs(content, top), "refusal": None}
        choices.append(
            {
                "index": index,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": logprobs,
                "finish_reason": "stop",
            }
        )
    prompt_tokens = estimate_tokens(prompt)
    completion_tokens = sum(estimate_tokens(c) for c in contents)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model") or model,
        "system_fingerprint": "fp_llmcode_testserver",
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def error_body(message: str, kind: str, param: str | None = None, code: str | None = None) -> dict:
    """An OpenAI-shaped error body."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}
