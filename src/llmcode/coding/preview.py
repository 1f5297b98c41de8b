"""What the model would be sent for one item: the first request of a coding run, without a model.

`preview_request` builds the coder a run with these settings would build (taxonomy, items,
retrieved examples, prompt overrides, the second look) around a fake backend and returns the
messages, the answer schema and the examples chosen for one item (the first by default, a
placeholder without items). Coding top-down (``hierarchy``), the first request is the one that
asks the item's top-level categories. ``llmcode prompt show`` prints it; a notebook can
inspect it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmcode.coding.closed import make_coder
from llmcode.coding.guidance import check_guidance
from llmcode.coding.topdown import TopDownCoder, check_topdown_settings
from llmcode.errors import ConfigError
from llmcode.items import Item, load_items
from llmcode.llm.answers import CodeAssignment
from llmcode.llm.backends.fake import FakeBackend
from llmcode.store.config import make_config
from llmcode.taxonomy.model import load_taxonomy

PLACEHOLDER = Item("ITEM_ID", "(the item's text)")
"""The item shown when no items are given."""


@dataclass
class RequestPreview:
    """The first request for one item, and what shaped it."""

    item_id: str
    examples: list[str]
    messages: list[dict[str, str]]
    schema: dict[str, Any]
    prompts: dict[str, Any]
    overrides: list[str] = field(default_factory=list)
    check_code: str | None = None
    """The code the second look's request is shown for (its first code), if ``verify``."""
    check_messages: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The JSON of ``llmcode prompt show --json``."""
        payload: dict[str, Any] = {
            "item_id": self.item_id,
            "examples": self.examples,
            "messages": self.messages,
            "schema": self.schema,
            "prompts": self.prompts,
        }
        return payload | ({"check_messages": self.check_messages} if self.check_messages else {})


def preview_request(
    taxonomy: str | Path,
    items: str | Path | None = None,
    *,
    item_id: str | None = None,
    id_column: str = "item_id",
    text_columns: list[str] | tuple[str, ...] | None = None,
    sheet: str | None = None,
    **settings: Any,
) -> RequestPreview:
    """The request a coding run with ``settings`` (`RunConfig` fields) would send for one item.

    The examples pool draws on ``items`` as the run would; ``item_id`` picks the item (default:
    the first); without ``items`` a placeholder item is shown.
    """
    tax = load_taxonomy(taxonomy)
    pool: list[Item] = []
    chosen = PLACEHOLDER
    if items is not None:
        item_set = load_items(items, id_column=id_column, text_columns=text_columns, sheet=sheet)
        pool = list(item_set.items)
        chosen = pick_item(pool, item_id, str(items))
    elif item_id is not None:
        raise ConfigError(
            f"item '{item_id}' asked for without an items file",
            hint="give the items file (items) to pick an item from",
        )
    config = make_config(
        taxonomy_path=str(taxonomy),
        items_path=str(items or ""),
        id_column=id_column,
        text_columns=tuple(text_columns) if text_columns else None,
        sheet=sheet,
        backend="fake",
        **settings,
    )
    check_guidance(config.guidance)
    top_down = config.inputs.hierarchy == "top-down"
    if top_down:
        check_topdown_settings(config)
    coder = make_coder(config, tax, FakeBackend(), pool, kind=TopDownCoder if top_down else None)
    messages, shown = coder.item_messages(chosen)
    schema = coder.schema_for(chosen)
    if isinstance(coder, TopDownCoder):  # the first request asks the categories
        first = coder.branches.message(chosen.item_id, chosen.text)
        request = coder.branches.request(config, first)
        messages, shown, schema = list(request.messages), [], request.schema
    preview = RequestPreview(
        item_id=chosen.item_id,
        examples=shown,
        messages=messages,
        schema=schema,
        prompts=coder.prompts.describe(),
        overrides=list(coder.prompts.overrides),
    )
    if coder.verifier is not None:
        code = CodeAssignment(code=coder.code_ids[0], justification="(the coder's justification)")
        preview.check_code = code.code
        preview.check_messages = coder.verifier.messages(chosen, code)
    return preview


def pick_item(items: list[Item], item_id: str | None, source: str) -> Item:
    """The item ``item_id`` of ``items`` (default: the first); an error names what is missing."""
    if not items:
        raise ConfigError(f"{source}: no items")
    if item_id is None:
        return items[0]
    for item in items:
        if item.item_id == item_id:
            return item
    raise ConfigError(f"{source}: no item '{item_id}'", hint="check the item id and id_column")
