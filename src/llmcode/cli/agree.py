"""`llmcode agree`: inter-rater agreement between coders' code files and LLM runs.

Reads the inputs (code files, runs: `llmcode.quality.agreement.inputs`), calls
`compute_agreement`, and shows rich tables or prints the result as one JSON object.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from llmcode.cli.app import app, err_console
from llmcode.cli.choices import CodeLevel, Scale, Unit
from llmcode.cli.options import RunsDir
from llmcode.cli.tables import fill_table
from llmcode.cli.terminal import Console
from llmcode.numbers import format_fixed

if TYPE_CHECKING:
    from llmcode.quality.agreement import AgreementResult

_MAX_CONFUSION_LABELS = 12


@app.command("agree")
def agree(
    ctx: typer.Context,
    inputs: Annotated[
        list[str] | None,
        typer.Argument(
            help="Runs (an id in the runs folder, or a run directory: the model is a coder) "
            "and/or long-format code files (CSV, TSV, JSONL, XLSX, Parquet with item_id, "
            "coder, code).",
            show_default=False,
        ),
    ] = None,
    human: Annotated[
        list[Path] | None,
        typer.Option("--human", help="Human codes (long format); repeatable.", show_default=False),
    ] = None,
    coder: Annotated[
        list[str] | None,
        typer.Option(
            "--coder",
            help="A coder to compare; repeatable [default: every coder].",
            show_default=False,
        ),
    ] = None,
    coders: Annotated[str | None, typer.Option("--coders", hidden=True)] = None,
    scale: Annotated[
        Scale | None,
        typer.Option(
            "--scale",
            help="Scale of the codes: nominal, ordinal or interval [default: nominal].",
            show_default=False,
        ),
    ] = None,
    level: Annotated[
        CodeLevel | None,
        typer.Option(
            "--level",
            help="Compare at this taxonomy level: top rolls subcategories up to their category "
            "[default: refuse coders at different levels].",
            show_default=False,
        ),
    ] = None,
    taxonomy: Annotated[
        Path | None,
        typer.Option(
            "--taxonomy",
            "-t",
            help="The taxonomy for --level and the level check [default: the first run's].",
            show_default=False,
        ),
    ] = None,
    min_coverage: Annotated[
        float,
        typer.Option(
            "--min-coverage",
            min=0.0,
            max=1.0,
            help="Refuse a run with a smaller share of its items coded (0 compares any run).",
        ),
    ] = 0.5,
    runs_dir: RunsDir = None,
    multi_label: Annotated[
        bool, typer.Option("--multi-label", help="Codes per item and coder form a set.")
    ] = False,
    categories: Annotated[
        str | None,
        typer.Option(
            "--categories",
            help="Comma-separated possible codes, in order (needed for non-numeric ordinal "
            "codes; sets q for AC1 and Brennan–Prediger).",
        ),
    ] = None,
    bootstrap: Annotated[
        int,
        typer.Option(
            "--bootstrap",
            min=0,
            help="Item-level bootstrap resamples for 95% CIs (--unit segment: documents are "
            "resampled, 1000 unless given).",
        ),
    ] = 0,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the bootstrap.")] = 0,
    by_code: Annotated[
        bool, typer.Option("--by-code", help="Show per-code κ and α (one-vs-rest).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    disagreements: Annotated[
        Path | None,
        typer.Option(
            "--disagreements",
            help="Write the items coders disagree on (with justifications) to this CSV.",
        ),
    ] = None,
    unit: Annotated[
        Unit,
        typer.Option(
            "--unit",
            help="item: the codes of whole items; segment: passages (start, end columns) of "
            "documents, compared by unitizing α, character κ and passage F1.",
        ),
    ] = Unit.item,
    items: Annotated[
        Path | None,
        typer.Option(
            "--items",
            help="--unit segment: the items file, document or folder of documents the passages "
            "point into [default: the first run's items].",
            show_default=False,
        ),
    ] = None,
    iou: Annotated[
        float,
        typer.Option(
            "--iou",
            min=0.0,
            max=1.0,
            help="--unit segment: the overlap (intersection over union) at which two passages match.",
        ),
    ] = 0.5,
) -> None:
    """Inter-rater agreement: κ, α, AC1 and more, with bootstrap CIs and a per-code breakdown."""
    from llmcode.quality.agreement import compute_agreement, find_disagreements
    from llmcode.quality.agreement.inputs import agreement_codes

    refs: list[str | Path] = [*(inputs or []), *(human or [])]
    if not refs:
        raise typer.BadParameter("give runs or code files, or --human FILE", param_hint="INPUTS")
    if unit is Unit.segment:
        given = _given(ctx, "bootstrap")
        _agree_segments(
            ctx,
            refs,
            coders=list(coder) if coder else _split(coders),
            items=items,
            iou=iou,
            bootstrap=bootstrap if given else 1000,
            seed=seed,
            min_coverage=min_coverage,
            runs_dir=runs_dir,
            as_json=as_json,
        )
        return
    for name in ("items", "iou"):
        if _given(ctx, name):
            raise typer.BadParameter("applies to --unit segment only", param_hint=f"--{name}")
    codes, warnings = agreement_codes(
        refs,
        min_coverage=min_coverage,
        runs_dir=runs_dir,
        level=level.value if level else None,
        taxonomy=taxonomy,
    )
    for warning in warnings:
        err_console.print(f"[yellow]warning:[/] {warning}")
    chosen = list(coder) if coder else _split(coders)
    result = compute_agreement(
        codes,
        coders=chosen,
        level=(scale or Scale.nominal).value,
        multi_label=multi_label,
        categories=_split(categories),
        bootstrap=bootstrap,
        seed=seed,
        by_code=by_code,
    ).model_copy(update={"warnings": warnings})
    if disagreements is not None:
        table = find_disagreements(codes, coders=chosen, multi_label=multi_label)
        from llmcode.csvfiles import write_csv

        write_csv(table, disagreements)
        err_console.print(f"wrote {len(table)} disagreement(s) to {disagreements}")
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        show(result, by_code=by_code, console=Console(highlight=False))


_ITEM_ONLY = ("scale", "level", "multi_label", "categories", "by_code", "disagreements")


def _agree_segments(
    ctx: typer.Context,
    refs: list[str | Path],
    *,
    coders: list[str] | None,
    items: Path | None,
    iou: float,
    bootstrap: int,
    seed: int,
    min_coverage: float,
    runs_dir: Path | None,
    as_json: bool,
) -> None:
    """`agree --unit segment`: passages compared by `compare_segments`."""
    from llmcode.cli.agree_segments import show_segments
    from llmcode.quality.agreement import compare_segments

    for name in _ITEM_ONLY:
        if _given(ctx, name):
            flag = "--" + name.replace("_", "-")
            raise typer.BadParameter("does not apply to --unit segment", param_hint=flag)
    result = compare_segments(
        refs,
        items=items,
        coders=coders,
        iou=iou,
        bootstrap=bootstrap,
        seed=seed,
        min_coverage=min_coverage,
        runs_dir=runs_dir,
    )
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}")
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        show_segments(result, console=Console(highlight=False))


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether the option was given (on the command line or in the environment)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def _split(text: str | None) -> list[str] | None:
    if text is None:
        return None
    parts = [part.strip() for part in text.split(",")]
    return [part for part in parts if part] or None


def _number(value: float | None) -> str:
    return format_fixed(value, 3)


def _interval(interval: tuple[float, float] | None, digits: int = 3) -> str:
    if interval is None:
        return ""
    return f"[{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]"


def show(result: AgreementResult, *, by_code: bool, console: Console) -> None:
    """Render the result as rich tables with interpretation bands and notes."""
    from llmcode.quality.agreement.summary import TITLES

    mode = "multi-label sets" if result.multi_label else result.level
    console.print(
        f"[bold]Agreement[/] · {len(result.coders)} coders ({escape(', '.join(result.coders))}) · "
        f"{result.n_items} items · {mode}"
    )
    table = Table(show_edge=True)
    table.add_column("Coefficient")
    table.add_column("Value", justify="right")
    if result.bootstrap:
        table.add_column(f"{result.bootstrap.confidence:.0%} CI", justify="right")
    table.add_column("Interpretation")
    values = result.model_dump()
    for name, title in TITLES.items():
        if not result.applies(name):
            continue
        if name == "krippendorff_alpha":
            title = f"{title} ({result.distance})"
        row = [title, _number(values[name])]
        if result.bootstrap:
            row.append(_interval(result.ci95.get(name)))
        row.append(result.interpretation.get(name, "undefined" if values[name] is None else ""))
        table.add_row(*row)
    console.print(table)
    console.print(
        "[dim]κ, AC1, BP: Landis & Koch (1977). α: Krippendorff (2004), ≥ .800 reliable, "
        "≥ .667 tentative conclusions only.[/]"
    )
    if result.bootstrap:
        console.print(
            f"[dim]CIs: {result.bootstrap.n_resamples} item-level bootstrap resamples, "
            f"seed {result.bootstrap.seed}.[/]"
        )
    if result.confusion is not None:
        _show_confusion(result, console)
    if result.pairwise is not None:
        _show_pairwise(result, console)
    if by_code:
        _show_per_code(result, console)
    for reason in _grouped_reasons(result):
        console.print(f"[yellow]{escape(reason)}[/]")
    for note in result.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")


def _grouped_reasons(result: AgreementResult) -> list[str]:
    """'A is undefined: why' and 'B is undefined: why' become 'A and B are undefined: why'."""
    groups: dict[str, list[str]] = {}
    for name, reason in result.undefined.items():
        if not result.applies(name):
            continue
        subject, marker, why = reason.partition(" is undefined: ")
        if marker:
            groups.setdefault(why, []).append(subject)
        else:
            groups.setdefault(reason, [])
    lines = []
    for why, subjects in groups.items():
        if len(subjects) > 1:
            lines.append(f"{', '.join(subjects[:-1])} and {subjects[-1]} are undefined: {why}")
        elif subjects:
            lines.append(f"{subjects[0]} is undefined: {why}")
        else:
            lines.append(why)
    return lines


def _show_confusion(result: AgreementResult, console: Console) -> None:
    confusion = result.confusion
    assert confusion is not None
    if len(confusion.labels) > _MAX_CONFUSION_LABELS:
        console.print(
            f"[dim]The confusion matrix has {len(confusion.labels)} labels; see --json.[/]"
        )
        return
    first, second = confusion.coders
    console.print(f"[bold]Confusion matrix[/] · rows: {escape(first)} · columns: {escape(second)}")
    table = Table()
    table.add_column("")
    for label in confusion.labels:
        table.add_column(escape(label), justify="right")
    for label, row in zip(confusion.labels, confusion.matrix, strict=True):
        table.add_row(escape(label), *(str(cell) for cell in row))
    console.print(table)


def _show_pairwise(result: AgreementResult, console: Console) -> None:
    pairs = {pair.coders: pair for pair in result.pairwise or []}
    console.print("[bold]Pairwise Cohen's κ[/] (n = items both coded)")
    table = Table()
    table.add_column("")
    for coder in result.coders:
        table.add_column(escape(coder), justify="right")
    for first in result.coders:
        cells = []
        for second in result.coders:
            pair = pairs.get((first, second)) or pairs.get((second, first))
            if pair is None:
                cells.append("")
            else:
                cells.append(f"{_number(pair.cohen_kappa)} (n={pair.n_items})")
        table.add_row(escape(first), *cells)
    console.print(table)


def _show_per_code(result: AgreementResult, console: Console) -> None:
    with_ci = any(entry.ci95 for entry in result.per_code.values())
    console.print("[bold]Per code[/] (one-vs-rest; n = codings applying the code)")
    table = Table(box=box.SIMPLE_HEAD)
    columns = ["code", "n", "prev.", "κ", "α", "agree"]
    if with_ci:
        columns[4:4] = ["κ CI"]
        columns[6:6] = ["α CI"]
    rows = []
    for code, entry in result.per_code.items():
        row = [escape(code), str(entry.n), f"{entry.prevalence:.0%}", _number(entry.kappa)]
        if with_ci:
            row.append(_interval(entry.ci95.get("kappa"), digits=2))
        row.append(_number(entry.alpha))
        if with_ci:
            row.append(_interval(entry.ci95.get("alpha"), digits=2))
        row.append(f"{entry.percent_agreement:.0%}")
        rows.append(row)
    console.print(fill_table(table, columns, rows, width=console.width))
    for code, entry in result.per_code.items():
        for reason in dict.fromkeys(entry.undefined.values()):
            console.print(f"[yellow]{escape(code)}:[/] {escape(reason)}")
