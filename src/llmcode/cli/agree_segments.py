"""The tables of `llmcode agree --unit segment`: unitizing α, character κ and passage F1.

Display only: the figures come from `llmcode.quality.agreement.compare_segments`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.markup import escape
from rich.table import Table

from llmcode.cli.tables import fill_table, fits
from llmcode.cli.terminal import Console
from llmcode.numbers import format_fixed

if TYPE_CHECKING:
    from llmcode.quality.agreement import SegmentAgreement


def show_segments(result: SegmentAgreement, *, console: Console) -> None:
    """Overall figures, then one row per code, then notes."""
    first, second = result.coders
    console.print(
        f"[bold]Agreement on passages[/] · {first} (reference) and {second} · "
        f"{result.n_documents} documents · {result.n_characters:,} characters"
    )
    ci = result.ci95
    with_ci = result.bootstrap is not None
    table = Table(show_edge=True)
    table.add_column("Measure")
    table.add_column("Value", justify="right")
    if with_ci:
        table.add_column(f"{result.bootstrap.confidence:.0%} CI", justify="right")  # type: ignore[union-attr]
    alpha_ci = ci.get("unitizing_alpha", {}).get("overall")  # type: ignore[attr-defined]
    rows = [("Krippendorff's α_U", result.unitizing_alpha.overall, alpha_ci)]
    segment_ci = ci.get("segments", {})
    for name in ("precision", "recall", "f1"):
        value = getattr(result.segments, name)
        title = f"Passage {name if name != 'f1' else 'F1'} (IoU ≥ {result.iou_threshold:g})"
        rows.append((title, value, segment_ci.get(name)))  # type: ignore[attr-defined]
    for title, value, interval in rows:
        cells = [title, _number(value)]
        if with_ci:
            cells.append(_interval(interval))
        table.add_row(*cells)
    console.print(table)
    _per_code(result, console)
    console.print(
        "[dim]α_U: Krippendorff (2004), the documents concatenated in item order as one "
        "continuum; ≥ .800 reliable, ≥ .667 tentative. κ: Cohen's, every character coded or "
        f"not. Passages match one-to-one at IoU ≥ {result.iou_threshold:g}; precision and "
        f"recall take {first} as the reference.[/]"
    )
    if result.bootstrap:
        console.print(
            f"[dim]CIs: {result.bootstrap.n_resamples} bootstrap resamples of documents, "
            f"seed {result.bootstrap.seed}.[/]"
        )
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}")


def _per_code(result: SegmentAgreement, console: Console) -> None:
    """One row per code; where that does not fit the terminal, two tables (characters, then
    passages), so no number is cut."""
    first, second = result.coders
    ci = result.ci95
    alpha_ci = ci.get("unitizing_alpha", {}).get("per_code", {})  # type: ignore[attr-defined]
    kappa_ci = ci.get("char_kappa", {})
    f1_ci = ci.get("segments_per_code", {})
    columns = ["code", "α_U", "α_U CI", "char κ", "κ CI", first, second, "matched", "F1", "F1 CI"]
    if not result.bootstrap:
        columns = [c for c in columns if not c.endswith("CI")]
    rows: list[dict[str, str]] = []
    for code, alpha in result.unitizing_alpha.per_code.items():
        match = result.segments_per_code[code]
        rows.append(
            {
                "code": escape(code),
                "α_U": _number(alpha),
                "α_U CI": _interval(alpha_ci.get(code), 2),
                "char κ": _number(result.char_kappa[code].kappa),
                "κ CI": _interval(kappa_ci.get(code), 2),  # type: ignore[attr-defined]
                first: str(match.n_reference),
                second: str(match.n_compared),
                "matched": str(match.matched),
                "F1": _number(match.f1),
                "F1 CI": _interval(f1_ci.get(code, {}).get("f1"), 2),  # type: ignore[attr-defined]
            }
        )
    one_line = [[row[column] for column in columns] for row in rows]
    if not result.bootstrap or fits(_table(), columns, one_line, width=console.width, least=16):
        console.print(fill_table(_table(), columns, one_line, width=console.width))
        return
    interval = {"α_U": "α_U CI", "char κ": "κ CI", "F1": "F1 CI"}
    for part in (["code", "α_U", "char κ"], ["code", first, second, "matched", "F1"]):
        cells = [
            [row[c] + (f" {row[interval[c]]}" if c in interval else "") for c in part]
            for row in rows
        ]
        console.print(fill_table(_table(), part, cells, width=console.width))


def _table() -> Table:
    return Table(box=box.SIMPLE_HEAD)


def _number(value: float | None) -> str:
    return format_fixed(value, 3)


def _interval(interval: object, digits: int = 3) -> str:
    if not isinstance(interval, tuple | list) or len(interval) != 2:
        return ""
    low, high = interval
    return f"[{low:.{digits}f}, {high:.{digits}f}]"
