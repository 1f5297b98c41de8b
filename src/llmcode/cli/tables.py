"""Tables that never cut a number: at any terminal width a number column keeps the width of its
widest cell (header included), and only the text columns (codes, ids, notes) shrink, folding or
ending in an ellipsis. rich otherwise shrinks every column alike and prints "0.3…"."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from rich.table import Table
from rich.text import Text


def fill_table(
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    text: Collection[str] = ("code",),
    width: int = 80,
) -> Table:
    """Add ``columns`` and ``rows`` (markup strings) to ``table``: the ``text`` columns are
    left-aligned and shrink with an ellipsis to what the terminal ``width`` leaves them; every
    other column is right-aligned and never narrower than its widest cell."""
    widest = [
        max([Text.from_markup(row[n]).cell_len for row in rows] + [len(column)])
        for n, column in enumerate(columns)
    ]
    _, right, _, left = table.padding
    edges = 2 if table.box is not None and table.show_edge else 0
    padding = (left + right) * len(columns) + edges - (0 if table.pad_edge else left + right)
    numbers = sum(w for w, column in zip(widest, columns, strict=True) if column not in text)
    flexible = [column for column in columns if column in text]
    room = max(6, (width - padding - numbers) // max(1, len(flexible)))
    for n, column in enumerate(columns):
        if column in text:
            table.add_column(column, justify="left", overflow="ellipsis", max_width=room)
        else:
            table.add_column(column, justify="right", no_wrap=True, min_width=widest[n])
    for row in rows:
        table.add_row(*row)
    return table
