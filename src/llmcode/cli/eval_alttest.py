"""How `llmcode eval --alt-test` shows the alternative annotator test of each run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.markup import escape
from rich.table import Table

from llmcode.cli.terminal import Console
from llmcode.numbers import format_p

if TYPE_CHECKING:
    from llmcode.quality.alttest import AltTestResult


def show_alt_test(console: Console, run: str, result: AltTestResult) -> None:
    """The verdict line (ω, ρ, ε, q) and each left-out coder's comparison."""
    verdict = "[green]passed[/]" if result.passed else "[red]failed[/]"
    console.print(
        f"[bold]Alternative annotator test[/] · {escape(run)} {verdict} · winning rate ω "
        f"{result.winning_rate:.2f} (passed at ≥ 0.50) · advantage probability ρ "
        f"{result.advantage_probability:.2f} · ε {result.epsilon:g} · BY q {result.q:g} · "
        f"{result.metric.value} · {result.n_items} items coded by ≥ 2 coders"
    )
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for column in ("left-out coder", "n", "model wins", "coder wins", "p", "rejected"):
        table.add_column(column, justify="left" if column == "left-out coder" else "right")
    for coder, test in result.per_coder.items():
        table.add_row(
            escape(coder),
            str(test.n_items),
            f"{test.model_advantage:.2f}",
            f"{test.coder_advantage:.2f}",
            format_p(test.p_value),
            "yes" if test.rejected else "no",
        )
    console.print(table)
    if result.excluded_items:
        shown = ", ".join(result.excluded_items[:10])
        more = " ..." if len(result.excluded_items) > 10 else ""
        console.print(
            f"[yellow]note:[/] {len(result.excluded_items)} item(s) coded by one human only are "
            f"left out of the test: {escape(shown)}{more}"
        )
