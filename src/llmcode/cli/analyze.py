"""`llmcode analyze` (distribution, resolution times, tests) and `llmcode report` (HTML, md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from llmcode.cli.app import app
from llmcode.cli.choices import CodeLevel, ReportFormat
from llmcode.cli.flags import as_flags
from llmcode.cli.options import AltMetricOption, AltQ, RunsDir
from llmcode.cli.terminal import Console
from llmcode.numbers import format_p_clause, format_significant

if TYPE_CHECKING:
    from llmcode.analysis.study import Analysis

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

Codes = Annotated[
    str | None,
    typer.Option(
        "--codes",
        help="With a run: reviewed, final (its final table), human:FILE or a codes file "
        "such as export --final wrote [default: the run's codes]. "
        "With --items: a long-format codes file (item_id, coder, code).",
    ),
]
Coder = Annotated[
    str | None,
    typer.Option(
        "--coder",
        help="Which coder of --human [default: the first of the first file]; without --human, "
        "of the --codes file.",
    ),
]
CodesCoder = Annotated[
    str | None,
    typer.Option(
        "--codes-coder",
        help="Which coder of the --codes file (human:FILE or a codes file) [default: the first].",
        show_default=False,
    ),
]
Screening = Annotated[
    str | None,
    typer.Option(
        "--screening",
        help="PTM vs other split: screening codes file (ptm/not_ptm) or a run coded with the "
        "screening taxonomy.",
    ),
]
ScreeningCoder = Annotated[
    str | None,
    typer.Option(
        "--screening-coder",
        hidden=True,  # the analysed codes' coder picks the screening file's coder when there
        help="Which coder of the --screening file [default: the analysed codes' coder if "
        "present there, else the first].",
    ),
]
PtmColumn = Annotated[
    str | None,
    typer.Option(
        "--ptm-column", help="PTM vs other from an item column (yes/no, 1/0, ptm/not_ptm)."
    ),
]
PtmCode = Annotated[str, typer.Option("--ptm-code", help="The screening code meaning PTM-related.")]
ProjectColumn = Annotated[
    str, typer.Option("--project-column", help="Item column for the per-project table.")
]
CreatedColumn = Annotated[
    str | None, typer.Option("--created-column", help="Created timestamp [default: created_at].")
]
ClosedColumn = Annotated[
    str | None,
    typer.Option("--closed-column", help="Closed timestamp, blank when open [default: closed_at]."),
]
AsOf = Annotated[
    str | None,
    typer.Option("--as-of", help="Censoring date for open items [default: latest timestamp]."),
]
Human = Annotated[
    list[Path] | None,
    typer.Option(
        "--human",
        help="Human codes on a random sample of the items (long format); repeat for several "
        "files: shares and resolution times by prediction-powered inference (naive / classical "
        "/ PPI, 95% CIs).",
        show_default=False,
    ),
]
OldGold = Annotated[list[Path] | None, typer.Option("--gold", hidden=True)]
"""The old name of --human."""
OldGoldCoder = Annotated[list[str] | None, typer.Option("--gold-coder", hidden=True)]
"""The old name of --coder."""
GoldScreening = Annotated[
    Path | None,
    typer.Option(
        "--gold-screening",
        help="Human screening codes (ptm/not_ptm) on a random sample: the PTM share by PPI.",
    ),
]


def human_options(
    human: list[Path] | None,
    gold: list[Path] | None,
    coder: str | list[str] | None,
    gold_coder: list[str] | None,
    codes_coder: str | None,
    codes: str | None,
) -> tuple[list[Path], list[str], str | None]:
    """The human codes files, their coders and the --codes file's coder from the flags:
    --human and its old name --gold together; --coder (and --gold-coder) name coders of
    --human. Without --human, --coder names the coder of the --codes file, as it did before
    --codes-coder (the only human-coded file then); so it does in a command that still spells
    the human codes --gold, with --gold-coder for their coder (scripts keep their meaning)."""
    humans = [*(human or ()), *(gold or ())]
    coders = [coder] if isinstance(coder, str) else list(coder or ())
    if gold and not human and coders and codes is not None and codes_coder is None:
        return humans, list(gold_coder or ()), coders[0]  # the old spelling, its old meaning
    coders += list(gold_coder or ())
    if not humans and coders:
        if codes is None:
            raise typer.BadParameter(
                "names a coder of --human (or of --codes): give the codes", param_hint="--coder"
            )
        if codes_coder is not None:
            raise typer.BadParameter(
                "without --human, --coder would name the --codes coder, which --codes-coder "
                "already names",
                param_hint="--coder",
            )
        return [], [], coders[0]
    return humans, coders, codes_coder


def _share(value: float | None) -> float | None:
    """A CI width is a share strictly between 0 and 1 (a usage error otherwise)."""
    if value is not None and not 0 < value < 1:
        raise typer.BadParameter(f"{value:g} is not a share between 0 and 1 (e.g. 0.1)")
    return value


Plan = Annotated[
    float | None,
    typer.Option(
        "--plan",
        help="With --human: how many more human-coded items would bring every PPI CI below "
        "this width (a share, e.g. 0.1).",
        callback=_share,
    ),
]

Covariate = Annotated[
    str | None,
    typer.Option(
        "--covariate",
        help="With --human: an item column (e.g. project) added to the PPI regressions.",
    ),
]
Outcome = Annotated[
    str | None,
    typer.Option(
        "--outcome",
        help="With --human: a binary item column (yes/no, 1/0, true/false) regressed on the codes "
        "by PPI logistic regression.",
    ),
]
Tables = Annotated[
    Path | None, typer.Option("--tables", help="Also write every table as CSV (+ analysis.json).")
]


LevelOption = Annotated[
    CodeLevel | None,
    typer.Option(
        "--level",
        help="Analyse at this taxonomy level: top rolls subcategories up to their category "
        "(taxonomy: the run's, or --taxonomy where the command has it).",
        show_default=False,
    ),
]


@app.command("analyze")
def analyze_command(
    run_ref: Annotated[
        str | None, typer.Argument(help="Run id or directory (or use --items with --codes).")
    ] = None,
    codes: Codes = None,
    codes_coder: CodesCoder = None,
    human: Human = None,
    items: Annotated[
        Path | None, typer.Option("--items", "-i", help="Items file, when analysing without a run.")
    ] = None,
    coder: Coder = None,
    id_column: Annotated[
        str, typer.Option("--id-column", help="Id column of --items.")
    ] = "item_id",
    taxonomy: Annotated[
        Path | None, typer.Option("--taxonomy", "-t", help="Order codes as in this taxonomy.")
    ] = None,
    level: LevelOption = None,
    screening: Screening = None,
    screening_coder: ScreeningCoder = None,
    ptm_column: PtmColumn = None,
    ptm_code: PtmCode = "ptm",
    project_column: ProjectColumn = "project",
    created_column: CreatedColumn = None,
    closed_column: ClosedColumn = None,
    as_of: AsOf = None,
    gold: OldGold = None,
    gold_coder: OldGoldCoder = None,
    gold_screening: GoldScreening = None,
    plan: Plan = None,
    covariate: Covariate = None,
    outcome: Outcome = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the analysis as JSON.")] = False,
    tables: Tables = None,
    runs_dir: RunsDir = None,
) -> None:
    """Code distribution, resolution times, PTM vs other and per-code tests; with --human, the
    shares and times corrected by human codes on a random sample (PPI)."""
    from llmcode.analysis.studies import AnalysisOptions, analyze

    humans, human_coder, codes_coder = human_options(
        human, gold, coder, gold_coder, codes_coder, codes
    )
    options = AnalysisOptions(
        codes=codes,
        coder=codes_coder,
        id_column=id_column,
        screening=screening,
        screening_coder=screening_coder,
        ptm_column=ptm_column,
        ptm_code=ptm_code,
        project_column=project_column,
        created_column=created_column,
        closed_column=closed_column,
        as_of=as_of,
        taxonomy=taxonomy,
        gold=humans or None,
        gold_coder=human_coder[0] if human_coder else None,
        gold_screening=gold_screening,
        plan=plan,
        covariate=covariate,
        outcome=outcome,
        level=level.value if level else None,
    )
    analysis = analyze(run_ref, items=items, options=options, runs_dir=runs_dir)
    result = analysis.to_json()
    for warning in analysis.gold.warnings if analysis.gold else []:
        err_console.print(f"warning: {warning}", style="yellow")
    if tables is not None:
        from llmcode.analysis.rendering import write_tables

        written = write_tables(analysis.tables(), result, tables)
        err_console.print(f"wrote {len(written)} table(s) to {tables}", style="green")
    if as_json:
        for note in analysis.notes:
            err_console.print(f"note: {as_flags(note)}", style="yellow")
        sys.stdout.write(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        return
    _print_analysis(analysis, result)


@app.command("report")
def report_command(
    run_ref: Annotated[str, typer.Argument(help="Run id (in the runs dir) or a run directory.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write [default: report.html|md].")
    ] = None,
    fmt: Annotated[
        ReportFormat, typer.Option("--format", "-f", help="html or md.")
    ] = ReportFormat.html,
    human: Annotated[
        list[Path] | None,
        typer.Option(
            "--human",
            help="Human codes (long format; repeat for several files): agreement and "
            "disagreements, the evaluation against them, and shares by PPI (valid when the "
            "items they code are a random sample, as `llmcode sample` draws).",
            show_default=False,
        ),
    ] = None,
    human_coder: Annotated[str | None, typer.Option("--human-coder", hidden=True)] = None,
    codes: Annotated[
        str | None,
        typer.Option(
            "--codes",
            help="The codes to report: reviewed, final (the run's final table), human:FILE "
            "or a codes file such as export --final wrote [default: the run's codes].",
        ),
    ] = None,
    codes_coder: CodesCoder = None,
    coder: Annotated[
        list[str] | None,
        typer.Option(
            "--coder",
            help="Which coder(s) of --human, repeatable: the first for agreement and PPI, all "
            "for the evaluation [default: every coder; the first of the first file].",
            show_default=False,
        ),
    ] = None,
    screening: Screening = None,
    screening_coder: ScreeningCoder = None,
    ptm_column: PtmColumn = None,
    ptm_code: PtmCode = "ptm",
    project_column: ProjectColumn = "project",
    created_column: CreatedColumn = None,
    closed_column: ClosedColumn = None,
    as_of: AsOf = None,
    examples: Annotated[int, typer.Option("--examples", min=0, help="Example items per code.")] = 3,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", min=0, help="Bootstrap resamples for agreement CIs.")
    ] = 1000,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Bootstrap seed.")] = 0,
    tables: Tables = None,
    gold: OldGold = None,
    gold_coder: OldGoldCoder = None,
    gold_screening: GoldScreening = None,
    covariate: Covariate = None,
    outcome: Outcome = None,
    epsilon: Annotated[
        float | None,
        typer.Option(
            "--epsilon",
            help="With two or more --human coders: the alternative annotator test's "
            "cost-benefit margin ε [default: 0.2; 0.15 trained coders, 0.1 crowd].",
            show_default=False,
        ),
    ] = None,
    q: AltQ = None,
    alt_metric: AltMetricOption = None,
    level: LevelOption = None,
    compare: Annotated[
        list[str] | None,
        typer.Option(
            "--compare",
            help="Another run of the same items (repeatable): adds the section Robustness "
            "across runs (as llmcode robustness).",
        ),
    ] = None,
    runs_dir: RunsDir = None,
) -> None:
    """A self-contained HTML (or Markdown) report of a run, ready for a paper's appendix."""
    from llmcode.analysis.rendering import write_report, write_tables
    from llmcode.analysis.studies import AnalysisOptions, build_report
    from llmcode.quality.alttest import alt_test_settings

    coders = [*([human_coder] if human_coder else []), *(coder or [])]
    humans, coders, codes_coder = human_options(human, gold, coders, gold_coder, codes_coder, codes)
    options = AnalysisOptions(
        codes=codes,
        coder=codes_coder,
        screening=screening,
        screening_coder=screening_coder,
        ptm_column=ptm_column,
        ptm_code=ptm_code,
        project_column=project_column,
        created_column=created_column,
        closed_column=closed_column,
        as_of=as_of,
        gold_screening=gold_screening,
        covariate=covariate,
        outcome=outcome,
        level=level.value if level else None,
    )
    report = build_report(
        run_ref,
        human=humans,
        human_coder=coders[0] if coders else None,
        gold=humans,
        gold_coders=coders or None,
        examples_per_code=examples,
        bootstrap=bootstrap,
        seed=seed,
        runs_dir=runs_dir,
        options=options,
        alt_test=alt_test_settings(
            True, epsilon=epsilon, q=q, metric=alt_metric.value if alt_metric else None
        )
        or True,
    )
    if compare:
        from llmcode.analysis.robustness import add_robustness

        add_robustness(
            report,
            [run_ref, *compare],
            human=humans or None,
            coder=coders[0] if coders else None,
            runs_dir=runs_dir,
            options=options,
        )
    analysis, evaluation, people = report.analysis, report.evaluation, report.human
    for warning in analysis.gold.warnings if analysis.gold else []:
        console.print(f"warning: {warning}", style="yellow")
    if people is not None and len(people.available) > 1:
        console.print(
            f"agreement and PPI with human coder [bold]{people.coder}[/] "
            f"({'chosen' if people.chosen else 'the first'} of {', '.join(people.available)}; "
            "choose with --coder)"
        )
    output = write_report(report, output, fmt.value)
    if tables is not None:
        written = write_tables(report.tables(), report.result, tables)
        console.print(f"wrote {len(written)} table(s) to {tables}", style="green")
    for note in analysis.notes:
        console.print(f"note: {as_flags(note)}", style="yellow")
    if evaluation is not None:
        for warning in evaluation.result.warnings:
            console.print(f"warning: {warning}", style="red")
        if evaluation.guessing:
            console.print(
                f"guessing (κ not credibly above chance): {', '.join(evaluation.guessing)}",
                style="yellow",
            )
    console.print(f"wrote {output} ({output.stat().st_size // 1024} KiB)", style="green")


def _print_analysis(analysis: Analysis, result: dict[str, Any]) -> None:
    console.print(
        f"codes: {result['codes_source']}"
        + (f" — coder [bold]{result['coder']}[/]" if result["coder"] else "")
        + f" | {result['n_coded_items']} of {result['n_items']} items coded"
    )
    table = Table(title="distribution", title_justify="left")
    for column in ("code", "items", "share"):
        table.add_column(column, justify="left" if column == "code" else "right")
    for code, n in result["distribution"].items():
        table.add_row(code, str(n), f"{result['shares'][code]:.1%}")
    console.print(table)
    res = result["resolution"]
    if res is not None:
        _print_resolution(res)
    if "prevalence" in result:
        from llmcode.cli.ppi import print_ppi

        print_ppi(console, result)
    for note in analysis.notes:
        console.print(f"note: {as_flags(note)}", style="yellow")
    console.print("[dim]all tables: --json or --tables DIR[/]")


def _print_resolution(res: dict[str, Any]) -> None:
    console.print(
        f"resolution time (days, {res['created_column']} → {res['closed_column']}): "
        f"{res['n_closed']} closed, {res['n_open']} open (censored at {res['as_of'][:10]})"
    )
    if "ptm_vs_other" in res:
        pv = res["ptm_vs_other"]
        table = _times_table("PTM vs other", ["ptm", "other"], pv)
        console.print(table)
        console.print(
            f"  Mann–Whitney U = {_n(pv['mannwhitney_u'])}, {_p(pv['p_value'])}; "
            f"Cliff's δ = {_n(pv['cliffs_delta'])} ({pv['magnitude']}); "
            f"log-rank {_p(pv['logrank_p_value'])}  [dim]split: {pv['split_source']}[/]"
        )
    bc = res["by_category"]
    console.print(_times_table("per code", list(bc["median_days"]), bc))
    console.print(
        f"  Kruskal–Wallis H = {_n(bc['kruskal_h'])}, {_p(bc['p_value'])}, n = {bc['n']}"
        + (f" ({bc['note']})" if bc["note"] else "")
    )
    significant = [d for d in bc["dunn"] if d["p_adjusted"] is not None and d["p_adjusted"] < 0.05]
    if bc["dunn"]:
        console.print(
            f"  Dunn (Holm): {len(significant)} of {len(bc['dunn'])} pairs with adjusted p < 0.05"
            + "".join(
                f"\n    {d['a']} vs {d['b']}: z = {_n(d['z'])}, {_p(d['p_adjusted'])}"
                for d in significant
            )
        )


def _times_table(title: str, groups: list[str], block: dict[str, Any]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("group")
    for column in ("closed", "open", "median days", "KM median"):
        table.add_column(column, justify="right")
    for group in groups:
        table.add_row(
            group,
            str(block["n_closed"][group]),
            str(block["n_open"][group]),
            _n(block["median_days"][group]),
            _n(block["km_median_days"][group]),
        )
    return table


def _n(value: float | None) -> str:
    return format_significant(value)


def _p(value: float | None) -> str:
    """'p = 0.012' or 'p < 0.001'."""
    return format_p_clause(value)
