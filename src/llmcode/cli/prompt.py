"""`llmcode prompt show`: exactly what the model sees for one item (examples and overrides too)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from llmcode.cli.app import app
from llmcode.cli.choices import Vectors
from llmcode.cli.code_guidance import guidance_settings, similarity_settings
from llmcode.cli.options import (
    EmbeddingModel,
    ExamplesCoder,
    ExamplesCodes,
    ExamplesItems,
    ExamplesSimilarity,
    IdColumn,
    ItemsFile,
    Level,
    PromptsDir,
    Sheet,
    Shots,
    Splits,
    TaxonomyFile,
    TextColumns,
)
from llmcode.errors import ConfigError

if TYPE_CHECKING:
    from llmcode.items import Item

prompt_app = typer.Typer(
    help="Show the prompts the model sees (templates, taxonomy context, examples).",
    no_args_is_help=True,
)
app.add_typer(prompt_app, name="prompt")

PLACEHOLDER = ("ITEM_ID", "(the item's text)")  # the item shown without --items


@prompt_app.command("show")
def show(
    taxonomy: TaxonomyFile = None,
    items: ItemsFile = None,
    item: Annotated[
        str | None,
        typer.Option("--item", help="Item id in --items [default: the first item]."),
    ] = None,
    id_column: IdColumn = "item_id",
    text_column: TextColumns = None,
    sheet: Sheet = None,
    level: Level = "top",
    examples: ExamplesCodes = None,
    examples_items: ExamplesItems = None,
    examples_coder: ExamplesCoder = None,
    examples_similarity: ExamplesSimilarity = Vectors.tfidf,
    embedding_model: EmbeddingModel = None,
    shots: Shots = 4,
    splits: Splits = None,
    prompts_dir: PromptsDir = None,
    verify: Annotated[
        bool,
        typer.Option("--verify", help="Also show the second look's request for the first code."),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the messages and answer schema as JSON.")
    ] = False,
) -> None:
    """Print the messages of the first request for one item, as `llmcode code` would send them."""
    from llmcode.coding.closed import make_coder
    from llmcode.items import Item, load_items
    from llmcode.llm.answers import CodeAssignment
    from llmcode.llm.backends.fake import FakeBackend
    from llmcode.store.models import RunConfig
    from llmcode.taxonomy.model import load_taxonomy

    if taxonomy is None:
        raise ConfigError("give --taxonomy (and --items with --item ID)")
    if level not in ("top", "leaves"):
        raise ConfigError(f"--level must be top or leaves, not '{level}'")
    guidance = {
        **guidance_settings(
            examples,
            examples_items,
            examples_coder,
            shots,
            splits,
            prompts_dir,
            "flag" if verify else "off",
        ),
        **similarity_settings(examples_similarity, embedding_model),
    }
    tax = load_taxonomy(taxonomy)
    pool_items: list[Item] = []
    chosen = Item(*PLACEHOLDER)
    if items is not None:
        item_set = load_items(items, id_column=id_column, text_columns=text_column, sheet=sheet)
        pool_items = item_set.items
        chosen = _pick(pool_items, item, str(items))
    elif item is not None:
        raise ConfigError("--item needs --items FILE")
    config = RunConfig(
        taxonomy_path=str(taxonomy),
        items_path=str(items or ""),
        id_column=id_column,
        text_columns=tuple(text_column) if text_column else None,
        sheet=sheet,
        backend="fake",
        level=level,  # type: ignore[arg-type]
        **guidance,
    )
    coder = make_coder(config, tax, FakeBackend(), pool_items)
    messages, shown = coder.item_messages(chosen)
    check = []
    if coder.verifier is not None:
        code = CodeAssignment(code=coder.code_ids[0], justification="(the coder's justification)")
        check = coder.verifier.messages(chosen, code)
    if as_json:
        payload = {
            "item_id": chosen.item_id,
            "examples": shown,
            "messages": messages,
            "schema": coder.schema_for(chosen),
            "prompts": coder.prompts.describe(),
        } | ({"check_messages": check} if check else {})
        sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        return
    for message in messages:
        sys.stdout.write(f"───── {message['role']} ─────\n{message['content']}\n\n")
    if check:
        sys.stdout.write(f"═════ second look at code {coder.code_ids[0]} (--verify) ═════\n\n")
        for message in check:
            sys.stdout.write(f"───── {message['role']} ─────\n{message['content']}\n\n")
    note = f"examples shown: {', '.join(shown)}" if shown else "no examples"
    overrides = ", ".join(coder.prompts.overrides) or "none"
    sys.stderr.write(f"{note}; templates overridden: {overrides}\n")


def _pick(items: list[Item], item_id: str | None, source: str) -> Item:
    if not items:
        raise ConfigError(f"{source}: no items")
    if item_id is None:
        return items[0]
    for item in items:
        if item.item_id == item_id:
            return item
    raise ConfigError(f"{source}: no item '{item_id}'", hint="check --item and --id-column")
