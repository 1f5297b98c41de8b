"""`llmcode eval`: runs against gold codes — a ranked table, per-code scores, the human ceiling,
paired differences, confusion matrices and disagreements; or the result as one JSON object."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table

from llmcode.cli.app import app, err_console
from llmcode.cli.choices import CodeLevel, Split, Unit
from llmcode.cli.eval_alttest import show_alt_test
from llmcode.cli.options import AltMetricOption, AltQ, RunsDir
from llmcode.cli.run_lines import settings_words
from llmcode.cli.tables import fill_table, fits
from llmcode.cli.terminal import Console
from llmcode.numbers import format_fixed, format_p, format_signed

if TYPE_CHECKING:
    from llmcode.quality.eval import Coefficient, EvalResult, RunEvaluation

console = Console(highlight=False)
_SHOWN_DISAGREEMENTS = 10
_MAX_CONFUSION_LABELS = 12


@app.command("eval")
def eval_command(
    runs: Annotated[
        list[str],
        typer.Argument(
            help="Runs to evaluate (ids in the runs dir, or directories), or a long-format codes file holding one coder's codes."
        ),
    ],
    human: Annotated[
        list[Path] | None,
        typer.Option(
            "--human",
            help="Human (gold) codes (long format: item_id, coder, code); repeat for several "
            "files.  [required]",
            show_default=False,
        ),
    ] = None,
    old_gold: Annotated[list[Path] | None, typer.Option("--gold", hidden=True)] = None,
    coder: Annotated[
        list[str] | None,
        typer.Option("--coder", help="Gold coder(s), repeatable (default: every gold coder)."),
    ] = None,
    splits: Annotated[
        Path | None,
        typer.Option("--splits", help="Split file (item_id, split), e.g. from `llmcode sample`."),
    ] = None,
    split: Annotated[
        Split | None, typer.Option("--split", help="Evaluate on this split.", show_default=False)
    ] = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", min=0, help="Bootstrap resamples of the gold items.")
    ] = 1000,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the bootstrap.")] = 0,
    alt_test: Annotated[
        bool,
        typer.Option(
            "--alt-test",
            help="Can the model replace a coder? The alternative annotator test (Calderon et al. 2025) against the gold coders.",
        ),
    ] = False,
    epsilon: Annotated[
        float | None,
        typer.Option(
            "--epsilon",
            help="Alt-test cost-benefit margin ε [default: 0.2; 0.15 trained coders, 0.1 crowd].",
            show_default=False,
        ),
    ] = None,
    q: AltQ = None,
    alt_metric: AltMetricOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    level: Annotated[
        CodeLevel | None,
        typer.Option(
            "--level",
            help="Compare at this taxonomy level: top rolls the run's and the gold's "
            "subcategories up to their category [default: the run's level].",
            show_default=False,
        ),
    ] = None,
    allow_contaminated: Annotated[
        bool,
        typer.Option(
            "--allow-contaminated",
            help="Score a run even on gold items it was shown as few-shot examples (said first).",
        ),
    ] = False,
    unit: Annotated[
        Unit,
        typer.Option(
            "--unit",
            help="item: codes of whole items; segment: passages (start, end) of documents, "
            "matched at an IoU threshold: precision, recall and F1 per code.",
        ),
    ] = Unit.item,
    items: Annotated[
        Path | None,
        typer.Option(
            "--items",
            help="--unit segment: the documents (file or folder) the passages were marked in "
            "[default: the first run's item snapshot].",
            show_default=False,
        ),
    ] = None,
    iou: Annotated[
        float,
        typer.Option(
            "--iou",
            min=0.0,
            max=1.0,
            help="--unit segment: the overlap (intersection over union) at which passages match.",
        ),
    ] = 0.5,
    runs_dir: RunsDir = None,
) -> None:
    """Evaluate runs (or one coder's codes file) against gold codes: κ, AC1, α, macro-F1 with CIs, per code, vs humans."""
    from llmcode.quality.alttest import alt_test_settings
    from llmcode.quality.eval import evaluate

    gold = [*(human or ()), *(old_gold or ())]
    if not gold:
        raise typer.BadParameter("give the human codes to evaluate against", param_hint="--human")
    if unit is Unit.segment:
        from llmcode.cli.eval_segments import eval_segments

        eval_segments(
            runs,
            gold,
            coder,
            items,
            iou,
            bootstrap,
            seed,
            as_json,
            runs_dir,
            item_only={
                "--splits": splits,
                "--split": split,
                "--alt-test": alt_test or None,
                "--allow-contaminated": allow_contaminated or None,
                "--level": level,
            },
        )
        return
    for flag, value in (("--items", items), ("--iou", iou if iou != 0.5 else None)):
        if value is not None:
            raise typer.BadParameter("applies to --unit segment only", param_hint=flag)
    settings = alt_test_settings(
        alt_test, epsilon=epsilon, q=q, metric=alt_metric.value if alt_metric else None
    )
    result = evaluate(
        runs,
        gold,
        coders=coder,
        splits=splits,
        split=split.value if split else None,
        bootstrap=bootstrap,
        seed=seed,
        runs_dir=runs_dir,
        alt_test=settings,
        allow_contaminated=allow_contaminated,
        level=level.value if level else None,
    )
    if as_json:
        for warning in result.warnings:
            err_console.print(f"[red]warning:[/] {escape(warning)}")
        typer.echo(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    first = [w for w in result.warnings if w.startswith("contaminated:")]
    for warning in first:  # the first thing said, not the last
        console.print(f"[bold red]warning:[/] [red]{escape(warning)}[/]")
    show(
        result.model_copy(update={"warnings": [w for w in result.warnings if w not in first]}),
        split,
    )


_IDENTITY_KEYS = ("taxonomy_fingerprint", "fingerprint", "non_default", "templates_overridden")
"""Settings said once, under the heading (`_identity`), not again with the run's scores."""
CI_WIDTH = len("[-0.04,0.14]")  # a CI breaks from its value, not inside its brackets


def _table() -> Table:
    return Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)


def _value(c: Coefficient | None) -> str:
    return format_fixed(None if c is None else c.value, 3)


def _short(c: Coefficient | None) -> str:
    return format_fixed(None if c is None else c.value, 2)


def _ci(c: Coefficient | None) -> str:
    if c is None or c.ci95 is None:
        return ""
    return f"[{c.ci95[0]:.2f},{c.ci95[1]:.2f}]"


def _with_ci(c: Coefficient | None, apart: str = " ") -> str:
    """A value and its interval, on one line or (``apart`` a newline) the interval under it."""
    return f"{_value(c)}{apart}{_ci(c)}".strip()


def show(result: EvalResult, split: str | None = None) -> None:
    """The ranked table, the human ceiling, paired differences, and per-run detail."""
    gold = result.gold
    console.print(
        f"[bold]Evaluation[/] · gold coder(s) {escape(', '.join(gold['coders']))} · "
        f"{gold['n_items']} items{f' · split {split}' if split else ''}"
        + (
            f" · 95% CIs from {result.bootstrap['n_resamples']} bootstrap resamples"
            if result.bootstrap["n_resamples"]
            else ""
        )
    )
    for entry in sorted(result.runs, key=lambda r: r.rank):
        console.print(Padding(_identity(entry), (0, 0, 0, 2)), highlight=False)
    same_model = len({entry.model for entry in result.runs}) == 1
    columns = [
        "#",
        "run",
        "model",
        "n",
        "accuracy",
        "κ [CI]",
        "AC1",
        "α",
        "macro-F1 [CI]",
        "$/item",
    ]
    priced = any(entry.cost_per_item_usd for entry in result.runs)
    columns = _shown(columns, same_model, priced)

    def rows(apart: str) -> list[list[str]]:
        shown = []
        for entry in sorted(result.runs, key=lambda r: r.rank):
            row = [
                str(entry.rank),
                escape(entry.run),
                escape(str(entry.model)),
                str(entry.n_items),
                _value(entry.accuracy),
                _with_ci(entry.cohen_kappa, apart),
                _value(entry.gwet_ac1),
                _value(entry.krippendorff_alpha),
                _with_ci(entry.macro_f1, apart),
                format_fixed(entry.cost_per_item_usd, 5),
            ]
            shown.append(_shown(row, same_model, priced))
        ceiling = result.human_ceiling
        if ceiling is not None:
            row = [
                "",
                f"[italic]humans ({escape(' × '.join(ceiling.coders))})[/]",
                "ceiling",
                str(ceiling.n_items),
                _value(ceiling.accuracy),
                _with_ci(ceiling.cohen_kappa, apart),
                _value(ceiling.gwet_ac1),
                _value(ceiling.krippendorff_alpha),
                _with_ci(ceiling.macro_f1, apart),
                "",
            ]
            shown.append(_shown(row, same_model, priced))
        return shown

    text = ("run", "model")
    one_line = rows(" ")
    wide = fits(_table(), columns, one_line, text=text, width=console.width)
    table = fill_table(
        _table(),
        columns,
        one_line if wide else rows("\n"),  # the interval under its value
        text=text,
        width=console.width,
        fold=("run",),
    )
    console.print(table)
    if result.paired:
        _show_paired(result, priced)
    for entry in sorted(result.runs, key=lambda r: r.rank):
        _show_run(entry, result)
    for entry in result.runs:
        if entry.alt_test is not None:
            show_alt_test(console, entry.run, entry.alt_test)
    for note in result.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
    for warning in result.warnings:
        console.print(f"[bold red]warning:[/] [red]{escape(warning)}[/]")


def _identity(entry: RunEvaluation) -> str:
    """Which run it is and how it was asked: model, prompts, every setting that differs from
    its default and the settings' fingerprint (a codes file: where it came from)."""
    settings = entry.settings
    if "fingerprint" not in settings:
        return escape(f"{entry.run} · {entry.model} · " + ", ".join(map(str, settings.values())))
    templates = settings.get("templates_overridden") or {}
    overridden = "".join(f", {name} {str(sha)[:12]}" for name, sha in templates.items())
    level = str(settings.get("level", ""))
    rolled = f" · level {level}" if "rolled up" in level else ""
    return escape(
        f"{entry.run} · {entry.model} · prompts {str(entry.prompt_hash or '-')[:12]}{overridden}"
        f"{rolled} · {settings_words(settings['non_default'], settings['fingerprint'])}"
    )


def _shown(row: list[str], same_model: bool, priced: bool) -> list[str]:
    """The cells of a ranked-table row for the columns shown (model and cost may be left out)."""
    row = row[:2] + row[3:] if same_model else row
    return row if priced else row[:-1]


def _show_paired(result: EvalResult, priced: bool = True) -> None:
    from llmcode.quality.eval import Coefficient

    console.print(
        "[bold]Paired differences[/] (B − A on the same resampled items; 95% CIs, bootstrap p)"
    )
    columns = ["A", "B", "Δκ [CI]", "p", "ΔF1 [CI]", "p", "Δ$/item"][: None if priced else -1]

    def rows(apart: str) -> list[list[str]]:
        shown = []
        for pair in result.paired:
            k, f = pair.delta_kappa, pair.delta_macro_f1
            cells = [
                escape(pair.a),
                escape(pair.b),
                f"{_signed(k.value)}{apart}{_ci(Coefficient(value=k.value, ci95=k.ci95))}",
                _p(k.p),
                f"{_signed(f.value)}{apart}{_ci(Coefficient(value=f.value, ci95=f.ci95))}",
                _p(f.p),
                format_signed(pair.extra_cost_per_item_usd, 5),
            ]
            shown.append(cells[: len(columns)])
        return shown

    text = ("A", "B")
    one_line = rows(" ")
    wide = fits(_table(), columns, one_line, text=text, width=console.width)
    shown = one_line if wide else rows("\n")
    console.print(fill_table(_table(), columns, shown, text=text, width=console.width, fold=text))


def _signed(value: float | None) -> str:
    return format_signed(value, 3)


def _p(value: float | None) -> str:
    return format_p(value)


def _show_run(entry: RunEvaluation, result: EvalResult) -> None:
    tokens = format_fixed(entry.tokens_per_item, 0)
    console.print(
        f"[bold]{escape(entry.run)}[/] · {escape(str(entry.model))} · prompt "
        f"{str(entry.prompt_hash or '-')[:12]} · {tokens} tokens/item · "
        + escape(
            ", ".join(f"{k} {v}" for k, v in entry.settings.items() if k not in _IDENTITY_KEYS)
        )
    )
    ceiling = result.human_ceiling
    rows = []
    for code, score in entry.per_code.items():
        human = ceiling.per_code.get(code) if ceiling is not None else None
        rows.append(
            [
                escape(code),
                f"{score.precision:.2f}",
                f"{score.recall:.2f}",
                f"{score.f1:.2f}",
                str(score.support),
                _short(score.kappa),
                _ci(score.kappa),
                _short(human),
                "[yellow]guessing[/]" if score.guessing else "",
            ]
        )
    columns = ("code", "prec.", "recall", "F1", "n", "κ", "CI", "human κ", "")
    console.print(fill_table(_table(), columns, rows, text=("code", ""), width=console.width))
    if entry.confusion and len(entry.confusion["labels"]) <= _MAX_CONFUSION_LABELS:
        labels = entry.confusion["labels"]
        console.print("confusion matrix (rows: model; columns: gold, numbered as the rows)")
        head = "model \\ gold"
        numbers = ["#", head, *(str(number) for number in range(1, len(labels) + 1))]
        cells = [
            [
                str(number),
                escape(str(label)),
                *(f"[bold]{c}[/]" if i == number - 1 else str(c) for i, c in enumerate(row)),
            ]
            for number, (label, row) in enumerate(
                zip(labels, entry.confusion["matrix"], strict=True), start=1
            )
        ]
        console.print(fill_table(_table(), numbers, cells, text=(head,), width=console.width))
    if entry.disagreements:
        shown = entry.disagreements[:_SHOWN_DISAGREEMENTS]
        more = len(entry.disagreements) - len(shown)
        console.print(
            f"{len(entry.disagreements)} item(s) where the model and the gold differ"
            + (f" (first {len(shown)}; all with --json)" if more else "")
        )
        for d in shown:
            gold = ", ".join(f"{coder} {code}" for coder, code in d["gold"].items())
            console.print(
                f"  [bold]{escape(d['item_id'])}[/] model {escape(d['model'])} · gold {escape(gold)}"
                f"\n    [dim]{escape(d['justification'] or '(no justification)')}[/]"
            )
