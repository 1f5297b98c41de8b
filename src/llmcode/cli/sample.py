"""`llmcode sample`: draw a seeded gold sample of items with a dev/test split."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from llmcode.cli.app import app, print_next
from llmcode.cli.choices import SampleStrategy
from llmcode.cli.options import RunsDir
from llmcode.cli.terminal import Console

console = Console(highlight=False)


@app.command("sample")
def sample(
    items: Annotated[
        Path, typer.Argument(help="Items to draw from (CSV, TSV, JSONL, XLSX, Parquet).")
    ],
    n: Annotated[int, typer.Option("-n", "--n", min=1, help="How many items to draw.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The gold sample file (e.g. gold.csv).")
    ],
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
            "inclusion probabilities recorded for analyze --gold).",
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
    runs_dir: RunsDir = None,
) -> None:
    """Draw a seeded random gold sample (optionally stratified, or by the model's uncertainty) with a dev/test split column."""
    from llmcode.items import read_table
    from llmcode.quality.active_sample import draw_gold_sample
    from llmcode.quality.gold import write_sample
    from llmcode.store.runs import RunStore

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
