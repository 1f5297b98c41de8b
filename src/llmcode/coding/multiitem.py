"""The multi-item request (``--items-per-request K``): one schema, one answer, K items.

Each answer entry carries its ``item_id`` (an enum of the request's ids). ``ManyCheck`` is the
check of the ask loop for such a request: it splits the answer by item, checks each entry like a
single answer and keeps the entries that pass; entries that are missing, invalid or unverified
are re-asked — only those items — with the problems listed. It also knows which items each
attempt asked for, so each attempt's usage is shared among them. What to do with items still
unsettled (code them one at a time) is the caller's business (:mod:`llmcode.coding.closed`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from llmcode.items import Item
from llmcode.llm.answers import CheckedAnswer, answer_schema, check_answer
from llmcode.llm.ask import Usage, Verdict
from llmcode.llm.backends.base import ChatRequest, ChatResponse
from llmcode.llm.evidence import candidate_quotes
from llmcode.llm.logprobs import entry_probabilities


def multi_schema(
    items: list[Item], code_ids: list[str], multi_label: bool, choice: bool = False
) -> dict[str, Any]:
    """``{"items": [{"item_id", "codes", "suggested_code"}]}`` with one entry per item;
    with ``choice``, quotes are chosen from the items' sentences."""
    quotes = None
    if choice:
        quotes = list(dict.fromkeys(q for item in items for q in candidate_quotes(item.text)))
    entry = answer_schema(code_ids, multi_label, quotes)
    entry["properties"] = {
        "item_id": {"type": "string", "enum": [item.item_id for item in items]},
        **entry["properties"],
    }
    entry["required"] = ["item_id", *entry["required"]]
    n = len(items)
    return {
        "type": "object",
        "properties": {"items": {"type": "array", "items": entry, "minItems": n, "maxItems": n}},
        "required": ["items"],
        "additionalProperties": False,
    }


def split_answer(content: str) -> dict[str, str]:
    """Each entry of a multi-item answer as its own JSON text, by item id (first one wins)."""
    try:
        data = json.loads(content, strict=False)
    except json.JSONDecodeError:
        return {}
    entries = data.get("items") if isinstance(data, dict) else None
    out: dict[str, str] = {}
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("item_id"), str):
            item_id = entry.pop("item_id")
            out.setdefault(item_id, json.dumps(entry))
    return out


@dataclass
class Entry:
    """One item's checked entry, its JSON text and its codes' probabilities."""

    checked: CheckedAnswer
    raw: str
    probabilities: dict[str, float]


@dataclass
class ManyCheck:
    """The ask loop's check and re-ask for one multi-item request (see the module docstring)."""

    items: list[Item]
    code_ids: list[str]
    multi_label: bool
    reask_message: Callable[[list[str]], dict[str, str]]
    choice: bool = False
    max_tokens: int = 512  # per item
    pending: list[Item] = field(init=False)
    asked: list[tuple[list[str], Usage]] = field(default_factory=list)  # per answered attempt
    entries: dict[str, Entry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.pending = list(self.items)

    def schema(self) -> dict[str, Any]:
        return multi_schema(self.pending, self.code_ids, self.multi_label, self.choice)

    def __call__(self, response: ChatResponse) -> Verdict[dict[str, Entry]]:
        self.asked.append(([item.item_id for item in self.pending], Usage.of(response)))
        answers = split_answer(response.content)
        probabilities = entry_probabilities(response.logprobs)
        problems: list[str] = []
        still: list[Item] = []
        for item in self.pending:
            if item.item_id not in answers:
                problems.append(f"item {item.item_id}: missing from the answer")
                still.append(item)
                continue
            raw = answers[item.item_id]
            checked = check_answer(raw, item.text, self.code_ids, self.multi_label)
            kept = {} if checked.fatal else probabilities.get(item.item_id, {})
            self.entries[item.item_id] = Entry(checked, raw, kept)
            if not checked.verified:
                problems += [f"item {item.item_id}: {p}" for p in checked.problems]
                still.append(item)
        self.pending = still
        return self.entries, problems, False

    def reask(
        self, request: ChatRequest, response: ChatResponse, problems: list[str]
    ) -> ChatRequest:
        """The follow-up for the items still pending, with a schema for those items only."""
        ids = ", ".join(item.item_id for item in self.pending)
        message = self.reask_message([*problems, f"answer again only for the items {ids}"])
        answer = {"role": "assistant", "content": response.content}
        return replace(
            request,
            messages=(*request.messages, answer, message),
            schema=self.schema(),
            max_tokens=self.max_tokens * len(self.pending),
        )

    def shares(self) -> dict[str, Usage]:
        """Each item's share of the usage: every answered attempt split among the items it
        asked for (an attempt that failed for good was not answered and is not counted)."""
        out = {item.item_id: Usage() for item in self.items}
        for ids, usage in self.asked:
            for item_id, share in zip(ids, usage.split(len(ids)), strict=True):
                out[item_id] += share
        return out
