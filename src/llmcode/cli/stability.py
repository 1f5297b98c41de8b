"""`llmcode stability`: do the codes survive reworded definitions and repeated samples?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from llmcode.cli.app import app
from llmcode.cli.options import BackendName, BaseUrl, IdColumn, Model, RunsDir, TextColumns
from llmcode.cli.tables import fill_table
from llmcode.cli.terminal import Console
from llmcode.numbers import UNDEFINED, format_fixed

if TYPE_CHECKING:
    from llmcode.quality.stability import Alpha, Stability

console = Console(highlight=False)


@app.command("stability")
def stability_command(
    taxonomy: Annotated[Path, typer.Option("--taxonomy", "-t", help="Taxonomy to reword.")],
    items: Annotated[Path, typer.Option("--items", "-i", help="Items to draw the sample from.")],
    paraphrases: Annotated[
        int, typer.Option("--paraphrases", min=1, help="Rewordings of every definition.")
    ] = 3,
    sample: Annotated[
        int, typer.Option("--sample", min=2, help="Items coded under every wording.")
    ] = 30,
    repeats: Annotated[
        int,
        typer.Option("--repeats", min=2, help="Codings of the sample per wording (seeds differ)."),
    ] = 2,
    threshold: Annotated[
        float,
        typer.Option("--threshold", help="Flag a code whose between-wording α falls below this."),
    ] = 0.8,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of sample and wordings.")] = 0,
    temperature: Annotated[
        float,
        typer.Option(
            "--temperature",
            min=0.0,
            max=2.0,
            help="Coding temperature (above 0 lets repeats differ).",
        ),
    ] = 0.7,
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Folder for the reworded taxonomies and the sample."),
    ] = Path("stability"),
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", min=0, help="Bootstrap resamples for the α CIs.")
    ] = 1000,
    backend: BackendName = None,
    model: Model = None,
    base_url: BaseUrl = None,
    id_column: IdColumn = "item_id",
    text_column: TextColumns = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    runs_dir: RunsDir = None,
) -> None:
    """Prompt stability: α within and between reworded codebooks (Barrie et al. 2024)."""
    from llmcode.quality.stability import stability

    settings: dict[str, Any] = {"temperature": temperature, "id_column": id_column}
    if backend is not None:
        settings["backend"] = backend.value
    if model is not None:
        settings["model"] = model
    if base_url is not None:
        settings["base_url"] = base_url
    if text_column:
        settings["text_columns"] = tuple(text_column)
    result = stability(
        taxonomy,
        items,
        paraphrases=paraphrases,
        sample=sample,
        repeats=repeats,
        threshold=threshold,
        seed=seed,
        out_dir=out,
        runs_dir=runs_dir,
        bootstrap=bootstrap,
        **settings,
    )
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
        return
    _print(result)


def _cell(alpha: Alpha) -> str:
    if alpha.alpha is None:
        return UNDEFINED
    if alpha.low is None:
        return format_fixed(alpha.alpha)
    return f"{format_fixed(alpha.alpha)} [{format_fixed(alpha.low)}, {format_fixed(alpha.high)}]"


def _print(result: Stability) -> None:
    console.print(
        f"[bold]Prompt stability[/] · {result.n_items} items · the original and "
        f"{len(result.wordings)} rewordings · {result.repeats} codings each"
    )
    for wording in result.wordings:
        console.print(f"[dim]wording {wording.number}: {wording.path}[/]")
    table = Table()
    rows = [["all codes", _cell(result.within), _cell(result.between), ""]]
    for code, parts in result.per_code.items():
        flag = "[red]flagged[/]" if code in result.flagged else ""
        rows.append([code, _cell(parts["within"]), _cell(parts["between"]), flag])
    columns = ["code", "α within wording", "α between wordings", ""]
    console.print(fill_table(table, columns, rows, width=console.width))
    console.print(
        f"flagged: between-wording α below {result.threshold} or undefined: "
        + (", ".join(result.flagged) or "none")
    )
