"""Options shared by several commands, and the run config they freeze into."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from llmcode.errors import ConfigError
from llmcode.items import ItemSet, load_items
from llmcode.store.runs import RunConfig
from llmcode.taxonomy.model import Taxonomy, load_taxonomy

RunsDir = Annotated[
    Path | None,
    typer.Option(
        "--runs-dir", envvar="LLMCODE_RUNS_DIR", help="Where runs live [default: ./runs]."
    ),
]
RunRef = Annotated[str, typer.Argument(help="Run id (in the runs dir) or a run directory.")]


def new_run_config(
    taxonomy: Path | None,
    items: Path | None,
    *,
    backend: str,
    model: list[str] | None,
    level: str,
    evidence: str | None,
    samples: int,
    id_column: str,
    text_column: list[str] | None,
    **settings: Any,
) -> tuple[Taxonomy, ItemSet, RunConfig]:
    """Check the coding options, load the taxonomy and items, and freeze the run config.

    Several ``--model``s draw the samples in turn (at least one sample per model); evidence
    defaults to ``choice`` for the local backend and ``free`` otherwise.
    """
    if taxonomy is None or items is None:
        raise ConfigError("give --taxonomy and --items (or --resume RUN_ID)")
    if level not in ("top", "leaves"):
        raise ConfigError(f"--level must be top or leaves, not '{level}'")
    if evidence not in (None, "free", "choice"):
        raise ConfigError(f"--evidence must be free or choice, not '{evidence}'")
    tax = load_taxonomy(taxonomy)
    item_set = load_items(
        items, id_column=id_column, text_columns=text_column, sheet=settings.pop("sheet", None)
    )
    config = RunConfig(
        taxonomy_path=str(taxonomy),
        items_path=str(items),
        id_column=id_column,
        text_columns=tuple(item_set.text_columns),
        sheet=item_set.sheet,
        backend=backend,
        model=model[0] if model else None,
        more_models=tuple(model[1:]) if model else (),
        level=level,
        samples=max(samples, len(model or [])),
        evidence=evidence or ("choice" if backend == "local" else "free"),
        **settings,
    )
    return tax, item_set, config


Gold = Annotated[
    list[Path] | None,
    typer.Option(
        "--gold",
        help="Gold codes (long format: item_id, coder, code), e.g. blind reviews exported with "
        "`llmcode export RUN --reviewed`; repeat for several files.",
    ),
]
GoldCoder = Annotated[
    list[str] | None,
    typer.Option(
        "--gold-coder", help="Gold coder(s) to use, repeatable [default: every coder in --gold]."
    ),
]
