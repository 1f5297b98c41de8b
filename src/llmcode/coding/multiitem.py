"""Several items in one request (``--items-per-request K``): the codebook is sent once for K items.

Each answer entry carries its ``item_id`` (an enum of the request's ids). Entries that are
missing, invalid or unverified are re-asked — only those items — with the problems listed;
what is still missing after the re-asks is coded one item at a time, so nothing is dropped.
The request's token usage is split evenly across its items.
"""

from __future__ import annotations

import json
from typing import Any

from llmcode.coding.closed import Coder
from llmcode.items import Item
from llmcode.llm.answers import CheckedAnswer, answer_schema, check_answer
from llmcode.llm.backends.base import ChatRequest
from llmcode.llm.evidence import candidate_quotes
from llmcode.llm.prompts import MULTI, reask_message
from llmcode.store.runs import CodingRecord


def multi_schema(coder: Coder, items: list[Item]) -> dict[str, Any]:
    """``{"items": [{"item_id", "codes", "suggested_code"}]}`` with one entry per item."""
    quotes = None
    if coder.config.evidence == "choice":
        quotes = list(dict.fromkeys(q for item in items for q in candidate_quotes(item.text)))
    entry = answer_schema(coder.code_ids, coder.taxonomy.multi_label, quotes)
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


async def code_many(coder: Coder, items: list[Item]) -> list[CodingRecord]:
    """Code ``items`` in one request (plus re-asks for the ones that need it)."""
    if len(items) == 1:
        return [await coder.code(items[0])]
    by_id = {item.item_id: item for item in items}
    results: dict[str, tuple[CheckedAnswer, str]] = {}
    pending = list(items)
    messages = [coder.system, {"role": "user", "content": coder.prompts.render(MULTI, items=items)}]
    usage = {"prompt": 0, "completion": 0, "calls": 0, "cached": 0}
    for attempt in range(coder.config.max_reasks + 1):
        request = ChatRequest(
            messages=tuple(messages),
            schema=multi_schema(coder, pending),
            temperature=coder.config.temperature,
            max_tokens=coder.config.max_tokens * len(pending),
            seed=coder.config.seed,
        )
        response = await coder.ask(request, 0)
        usage["prompt"] += response.prompt_tokens
        usage["completion"] += response.completion_tokens
        usage["calls"] += 1
        usage["cached"] += int(response.cached)
        answers = split_answer(response.content)
        problems: list[str] = []
        still: list[Item] = []
        for item in pending:
            if item.item_id not in answers:
                problems.append(f"item {item.item_id}: missing from the answer")
                still.append(item)
                continue
            checked = check_answer(
                answers[item.item_id], item.text, coder.code_ids, coder.taxonomy.multi_label
            )
            results[item.item_id] = (checked, answers[item.item_id])
            if not checked.verified:
                problems += [f"item {item.item_id}: {p}" for p in checked.problems]
                still.append(item)
        pending = still
        if not pending or attempt == coder.config.max_reasks:
            break
        ids = ", ".join(item.item_id for item in pending)
        messages += [
            {"role": "assistant", "content": response.content},
            reask_message(coder.prompts, [*problems, f"answer again only for the items {ids}"]),
        ]
    records = []
    share = len(items)
    for item_id, item in by_id.items():
        if item_id not in results or results[item_id][0].fatal:
            records.append(await coder.code(item))  # one at a time: never dropped
            continue
        checked, raw = results[item_id]
        records.append(
            CodingRecord(
                item_id=item_id,
                status="ok" if checked.verified else "unverified",
                codes=checked.codes,
                suggested_code=checked.suggested_code,
                problems=checked.problems,
                raw=None if checked.verified else raw,
                attempts=usage["calls"],
                model=coder.backend.model,
                prompt_tokens=usage["prompt"] // share,
                completion_tokens=usage["completion"] // share,
                cached_calls=usage["cached"],
            )
        )
    return records
