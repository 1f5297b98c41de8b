"""`llmcode prompt show`: exactly what the model sees for one item (examples and overrides too)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from llmcode.cli.app import app
from llmcode.cli.choices import CodeLevel, Hierarchy, Vectors
from llmcode.cli.options import (
    CodeHierarchy,
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
from llmcode.cli.terminal import printable
from llmcode.errors import ConfigError

prompt_app = typer.Typer(
    help="Show the prompts the model sees (templates, taxonomy context, examples).",
    no_args_is_help=True,
)
app.add_typer(prompt_app, name="prompt")


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
    level: Level = CodeLevel.top,
    hierarchy: CodeHierarchy = Hierarchy.flat,
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
    from llmcode.coding.preview import preview_request

    if taxonomy is None:
        raise ConfigError("give --taxonomy (and --items with --item ID)")
    guidance = {
        "examples": examples,
        "examples_items": examples_items,
        "examples_coder": examples_coder,
        "shots": shots,
        "splits": splits,
        "prompts_dir": prompts_dir,
        "verify": "flag" if verify else "off",
        "examples_similarity": examples_similarity.value,
        "embedding_model": embedding_model,
    }
    preview = preview_request(
        taxonomy,
        items,
        item_id=item,
        id_column=id_column,
        text_columns=text_column,
        sheet=sheet,
        level=level.value,
        hierarchy=hierarchy.value,
        **guidance,
    )
    if as_json:
        sys.stdout.write(json.dumps(preview.to_json(), indent=2, ensure_ascii=False) + "\n")
        return
    for message in preview.messages:
        sys.stdout.write(f"───── {message['role']} ─────\n{printable(message['content'])}\n\n")
    if preview.check_messages:
        sys.stdout.write(f"═════ second look at code {preview.check_code} (--verify) ═════\n\n")
        for message in preview.check_messages:
            sys.stdout.write(f"───── {message['role']} ─────\n{printable(message['content'])}\n\n")
    shown = preview.examples
    note = f"examples shown: {', '.join(shown)}" if shown else "no examples"
    overrides = ", ".join(preview.overrides) or "none"
    sys.stderr.write(printable(f"{note}; templates overridden: {overrides}") + "\n")
