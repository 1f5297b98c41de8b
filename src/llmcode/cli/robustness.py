"""`llmcode robustness`: which of the study's conclusions hold in every run given."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from llmcode.cli.analyze import Covariate, Outcome, PtmCode, PtmColumn, Screening
from llmcode.cli.app import app
from llmcode.cli.options import IdColumn, RunsDir
from llmcode.cli.tables import fill_table
from llmcode.cli.terminal import Console
from llmcode.numbers import UNDEFINED, format_fixed

if TYPE_CHECKING:
    from llmcode.analysis.robustness import Robustness

console = Console(highlight=False)


@app.command("robustness")
def robustness_command(
    runs: Annotated[
        list[str],
        typer.Argument(help="Two or more runs (ids or directories) that coded the same items."),
    ],
    items: Annotated[
        Path,
        typer.Option("--items", "-i", help="The items the runs coded, with their metadata."),
    ],
    human: Annotated[
        Path | None,
        typer.Option(
            "--human",
            help="Gold codes on a random sample of the items: each run's PPI shares and "
            "regressions beside the naive ones.",
        ),
    ] = None,
    coder: Annotated[
        str | None, typer.Option("--coder", help="Coder of --human [default: the first].")
    ] = None,
    id_column: IdColumn = "item_id",
    screening: Screening = None,
    ptm_column: PtmColumn = None,
    ptm_code: PtmCode = "ptm",
    covariate: Covariate = None,
    outcome: Outcome = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
    runs_dir: RunsDir = None,
) -> None:
    """Do the conclusions hold across runs (prompts, examples, models, wordings)?"""
    from llmcode.analysis.robustness import robustness
    from llmcode.analysis.studies import AnalysisOptions

    options = AnalysisOptions(
        id_column=id_column,
        screening=screening,
        ptm_column=ptm_column,
        ptm_code=ptm_code,
        covariate=covariate,
        outcome=outcome,
    )
    result = robustness(runs, items, human=human, coder=coder, runs_dir=runs_dir, options=options)
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
        return
    _print(result)


def _print(result: Robustness) -> None:
    width = console.width
    shares = Table(title="Share of items per code, by run", title_justify="left")
    gold = result.gold is not None
    rows = []
    for code in result.codes:
        row = [code]
        for run_id in result.run_ids:
            match = result.shares[
                (result.shares["run_id"] == run_id) & (result.shares["code"] == code)
            ]
            if match.empty:
                row.append(UNDEFINED)
                continue
            r = match.iloc[0]
            cell = f"{format_fixed(r['share'])} (#{int(r['rank'])})"
            if gold:
                cell += f" PPI {format_fixed(r['ppi'])}"
            row.append(cell)
        rows.append(row)
    console.print(fill_table(shares, ["code", *result.run_ids], rows, width=width))
    table = Table(title="Conclusions across runs", title_justify="left")
    rows = [
        [
            c.statement,
            *[c.values[r] for r in result.run_ids],
            f"{c.agreement:.0%}",
            "[green]holds[/]" if c.holds else "[red]flips[/]",
        ]
        for c in result.conclusions
    ]
    columns = ["conclusion", *result.run_ids, "agree", ""]
    console.print(fill_table(table, columns, rows, text=("conclusion",), width=width))
    console.print(
        f"{result.n_holding} of {len(result.conclusions)} conclusions hold in all "
        f"{len(result.run_ids)} runs."
    )
    for note in result.notes:
        console.print(f"[dim]note: {note}[/]")
