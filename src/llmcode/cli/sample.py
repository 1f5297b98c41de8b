"""`llmcode sample`: draw a seeded gold sample of items with a dev/test split."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from llmcode.cli.app import app, print_next
from llmcode.cli.choices import SampleStrategy
from llmcode.cli.options import RunsDir

if TYPE_CHECKING:
    from llmcode.quality.gold_plan import GoldPlan
from llmcode.cli.terminal import Console

console = Console(highlight=False)


@app.command("sample")
def sample(
    items: Annotated[
        Path | None,
        typer.Argument(help="Items to draw from (CSV, TSV, JSONL, XLSX, Parquet)."),
    ] = None,
    n: Annotated[
        int | None, typer.Option("-n", "--n", min=1, help="How many items to draw.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="The gold sample file (e.g. gold.csv).")
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Seed: the same seed, the same sample.")
    ] = 0,
    stratify: Annotated[
        str | None,
        typer.Option("--stratify", help="Column to stratify by (proportional allocation)."),
    ] = None,
    test_share: Annotated[
        float,
        typer.Option("--test-share", min=0.0, max=1.0, help="Share of the sample marked test."),
    ] = 0.5,
    id_column: Annotated[
        str, typer.Option("--id-column", help="Column with item ids.")
    ] = "item_id",
    strategy: Annotated[
        SampleStrategy,
        typer.Option(
            "--strategy",
            help="uniform (simple random) or uncertainty (more likely where --run is unsure; "
            "inclusion probabilities recorded for analyze --human).",
        ),
    ] = SampleStrategy.uniform,
    run: Annotated[
        str | None,
        typer.Option(
            "--run", help="With --strategy uncertainty: the run whose confidences choose."
        ),
    ] = None,
    floor: Annotated[
        float | None,
        typer.Option(
            "--floor",
            help="With --strategy uncertainty: the least uncertainty counted, so every item can be drawn [default: 0.05].",
            show_default=False,
        ),
    ] = None,
    plan: Annotated[
        float | None,
        typer.Option(
            "--plan",
            help="With --run, before anyone codes: how many uniformly drawn gold items bring every share's 95% CI below this width.",
        ),
    ] = None,
    runs_dir: RunsDir = None,
) -> None:
    """Draw a seeded random gold sample (optionally stratified, or by the model's uncertainty) with a dev/test split column."""
    from llmcode.items import read_table
    from llmcode.quality.active_sample import check_sample_request, draw_gold_sample
    from llmcode.quality.gold import write_sample
    from llmcode.quality.gold_plan import plan_gold_sample
    from llmcode.store.runs import RunStore

    check_sample_request(plan, run, items, n, output)
    if plan is not None and run is not None:
        _show_plan(plan_gold_sample(RunStore(runs_dir).open(run), plan))
        return
    assert items is not None and n is not None and output is not None
    frame = read_table(items)
    drawn, info = draw_gold_sample(
        frame,
        n,
        seed=seed,
        strategy=strategy.value,
        run=RunStore(runs_dir).open(run) if run is not None else None,
        floor=floor,
        stratify=stratify,
        test_share=test_share,
        id_column=id_column,
    )
    sidecar = write_sample(drawn, info, output, items)
    counts = info["counts"]
    how_many = f"{info['n']} (expected {n})" if info.get("strategy") == "uncertainty" else str(n)
    console.print(
        f"drew {how_many} of {len(frame)} items from {items} with seed {seed}: {info['method']}; "
        f"dev {counts['dev']}, test {counts['test']}"
    )
    for stratum, entry in info["strata"].items():
        console.print(
            f"  {stratify}={stratum}: {entry['sample']} of {entry['population']} "
            f"(dev {entry['dev']}, test {entry['test']})"
        )
    console.print(f"wrote {output} and {sidecar}", style="green")
    console.print("code them blind:")
    print_next(
        console,
        f"llmcode code ... --only {output}",
        f"llmcode review RUN --blind --only {output} --reviewer NAME",
    )


def _show_plan(plan: GoldPlan) -> None:
    from rich.table import Table

    table = Table(
        title=f"gold items for every share's 95% CI to be at most {plan.width} wide "
        f"({plan.n_items} items, the run's confidences taken as calibrated)",
        title_justify="left",
    )
    for column in ("code", "LLM share", "expected error", "classical n", "PPI n"):
        table.add_column(column, justify="left" if column == "code" else "right")
    for code in plan.codes:
        table.add_row(
            code.code,
            f"{100 * code.share:.1f}%",
            f"{100 * code.error_rate:.1f}%",
            _n(code.n_classical),
            _n(code.n_ppi),
        )
    console.print(table)
    console.print(
        f"classical: {_n(plan.n_classical)} gold items; PPI: {_n(plan.n_ppi)} "
        "(uniformly drawn; after coding, `llmcode analyze RUN --human GOLD --plan WIDTH` plans "
        "from the errors actually seen)"
    )
    for note in plan.notes:
        console.print(f"note: {note}", style="yellow")


def _n(value: int | None) -> str:
    return "not reachable" if value is None else str(value)
