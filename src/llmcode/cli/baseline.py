"""`llmcode baseline`: a cross-fitted TF-IDF classifier trained on your codes, written as a run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from llmcode.cli.app import app, print_next
from llmcode.cli.options import IdColumn, NewRunId, RunsDir, TaxonomyFile, TextColumns
from llmcode.cli.terminal import Console

console = Console(highlight=False)


@app.command("baseline")
def baseline_command(
    human: Annotated[
        Path,
        typer.Option(
            "--human", help="Your codes (long format: item_id, coder, code) to learn from."
        ),
    ],
    items: Annotated[
        Path, typer.Option("--items", "-i", help="Items to code: CSV, JSONL, XLSX or Parquet.")
    ],
    run_id: NewRunId = None,
    taxonomy: TaxonomyFile = None,
    coder: Annotated[
        str | None,
        typer.Option("--coder", help="Coder of --human to learn from [default: the only one]."),
    ] = None,
    folds: Annotated[
        int,
        typer.Option(
            "--folds",
            min=2,
            help="Cross-fitting folds: each is coded by a model trained on the others.",
        ),
    ] = 5,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the fold split.")] = 0,
    id_column: IdColumn = "item_id",
    text_column: TextColumns = None,
    runs_dir: RunsDir = None,
) -> None:
    """A baseline the LLM must beat: TF-IDF + logistic regression on your codes, cross-fitted, calibrated, as a run."""
    from llmcode.coding.baseline import BaselineSettings, baseline_from_files
    from llmcode.store.runs import RunStore

    run = baseline_from_files(
        RunStore(runs_dir),
        human,
        items,
        taxonomy=taxonomy,
        id_column=id_column,
        text_columns=text_column,
        run_id=run_id,
        settings=BaselineSettings(folds=folds, seed=seed, coder=coder),
    )
    facts = run.manifest().extra["baseline"]
    console.print(
        f"[bold]{run.run_id}[/]: {run.manifest().items['n_items']} items coded by {facts['classifier']} "
        f"trained on {facts['n_coded']} codes by {facts['coder']}; cross-fitted accuracy on them "
        f"{facts['cross_fitted_accuracy']:.3f} ({facts['folds']} folds)"
    )
    print_next(console, f"llmcode eval {run.run_id} --human {human}")
