"""`llmcode eval --unit segment`: runs' passages against gold passages, as tables or JSON.

Display only: the figures come from `llmcode.quality.segment_eval.evaluate_segment_runs`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from llmcode.cli.tables import fill_table, fits
from llmcode.cli.terminal import Console
from llmcode.numbers import format_fixed

if TYPE_CHECKING:
    from llmcode.quality.segment_eval import SegmentCodeScore, SegmentEvaluation

console = Console(highlight=False)


def eval_segments(
    runs: list[str],
    gold: list[Path],
    coders: list[str] | None,
    items: Path | None,
    iou: float,
    bootstrap: int,
    seed: int,
    as_json: bool,
    runs_dir: Path | None,
    item_only: dict[str, Any],
) -> None:
    """Evaluate and show (or print the JSON)."""
    from llmcode.quality.segment_eval import evaluate_segment_runs

    for flag, value in item_only.items():
        if value is not None:
            raise typer.BadParameter("does not apply to --unit segment", param_hint=flag)
    result = evaluate_segment_runs(
        runs,
        gold,
        coders=coders,
        items=items,
        iou=iou,
        bootstrap=bootstrap,
        seed=seed,
        runs_dir=runs_dir,
    )
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    show_segment_eval(result)


def show_segment_eval(result: SegmentEvaluation) -> None:
    """Systems and the human ceiling overall, paired differences, then each system per code."""
    console.print(
        f"[bold]Evaluation on passages[/] · gold coder(s) {escape(', '.join(result.gold))} · "
        f"{result.n_documents} documents · passages match at IoU ≥ {result.iou_threshold:g}"
        + (f" · 95% CIs from {result.n_resamples} document resamples" if result.n_resamples else "")
    )
    systems = list(result.runs.items())
    if result.human_ceiling is not None:
        systems.append(("humans (ceiling)", result.human_ceiling))
    _print_scores("system", [(escape(name), score) for name, score in systems])
    for pair in result.paired:
        low_high = "" if pair.ci95 is None else f" [{pair.ci95[0]:+.3f}, {pair.ci95[1]:+.3f}]"
        verdict = "credible" if pair.credible else "not credible"
        console.print(
            f"F1 {escape(pair.systems[0])} − {escape(pair.systems[1])}: "
            f"{format_fixed(pair.difference, 3)}{low_high} ({verdict})"
        )
    for name, score in result.runs.items():
        console.print(f"[bold]{escape(name)}[/] per code")
        _print_scores("code", [(escape(code), entry) for code, entry in score.per_code.items()])
    for note in result.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")


def _print_scores(head: str, named: list[tuple[str, SegmentCodeScore]]) -> None:
    """A table of scores, one row per name; an F1 interval that does not fit beside its value
    goes under it, so no number is cut at the terminal's width."""
    columns = [head, "gold", "found", "matched", "precision", "recall", "F1 [CI]"]
    one_line = [[name, *_cells(score, " ")] for name, score in named]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    width = console.width
    rows = (
        one_line
        if fits(table, columns, one_line, text=(head,), width=width, least=16)
        else [[name, *_cells(score, "\n")] for name, score in named]
    )
    console.print(fill_table(table, columns, rows, text=(head,), width=width, fold=(head,)))


def _cells(score: SegmentCodeScore, between: str) -> list[str]:
    interval = score.ci95.get("f1")
    ci = "" if interval is None else f"{between}[{interval[0]:.2f},{interval[1]:.2f}]"
    return [
        str(score.support),
        str(score.n_predicted),
        str(score.matched),
        format_fixed(score.precision, 3),
        format_fixed(score.recall, 3),
        format_fixed(score.f1, 3) + ci,
    ]
