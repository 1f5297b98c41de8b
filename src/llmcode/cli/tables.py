"""Tables that never cut a number: at any terminal width a number column keeps the width of its
widest cell (header included), and only the text columns (codes, ids, notes) shrink, folding or
ending in an ellipsis. rich otherwise shrinks every column alike and prints "0.3…"."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from rich.table import Table
from rich.text import Text


def fill_table(
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    text: Collection[str] = ("code",),
    width: int = 80,
    fold: Collection[str] = (),
    least: Mapping[str, int] | None = None,
) -> Table:
    """Add ``columns`` and ``rows`` (markup strings) to ``table``: the ``text`` columns are
    left-aligned and shrink with an ellipsis to what the terminal ``width`` leaves them (the
    ``fold`` columns among them wrap onto more lines instead, so an id is printed whole; a text
    column gets at least its ``least`` cells, 6 unless said, before the others share the rest);
    every other column is right-aligned and never narrower than its widest cell."""
    widest = [
        max([_cells(row[n]) for row in rows] + [len(column)]) for n, column in enumerate(columns)
    ]
    numbers = sum(w for w, column in zip(widest, columns, strict=True) if column not in text)
    least = least or {}
    rooms = _share(
        {n: widest[n] for n, column in enumerate(columns) if column in text},
        {n: least.get(column, 6) for n, column in enumerate(columns)},
        width - _padding(table, len(columns)) - numbers,
    )
    for n, column in enumerate(columns):
        if column in text:
            table.add_column(
                column,
                justify="left",
                overflow="fold" if column in fold else "ellipsis",
                max_width=rooms[n],
            )
        else:
            table.add_column(column, justify="right", no_wrap=True, min_width=widest[n])
    for row in rows:
        table.add_row(*row)
    return table


def _padding(table: Table, n_columns: int) -> int:
    """The cells of ``table`` that are not its columns' own: padding, edges and dividers."""
    _, right, _, left = table.padding
    between = max(left, right) if table.collapse_padding else left + right
    cells = between * (n_columns - 1) + (left + right if table.pad_edge else 0)
    if table.box is not None:
        cells += n_columns - 1 + (2 if table.show_edge else 0)
    return cells


def _share(wanted: dict[int, int], least: dict[int, int], room: int) -> dict[int, int]:
    """``room`` shared among columns wanting ``wanted`` cells each: first each gets what it
    wants up to its ``least``; what is left is shared out so that a column wanting less than an
    equal share gets what it wants and the others share the rest equally."""
    rooms = {n: min(w, least[n]) for n, w in wanted.items()}
    room -= sum(rooms.values())
    left = {n: w - rooms[n] for n, w in wanted.items() if w > rooms[n]}
    while left and room > 0:
        fair = room // len(left)
        small = {n: w for n, w in left.items() if w <= fair}
        if not small:
            for n in left:
                rooms[n] += fair
            break
        for n, w in small.items():
            rooms[n] += w
        room -= sum(small.values())
        left = {n: w for n, w in left.items() if n not in small}
    return rooms


def fits(
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    text: Collection[str] = ("code",),
    width: int = 80,
    least: int = 8,
) -> bool:
    """Whether ``rows`` fit ``width`` with every number column whole and ``least`` cells for
    each text column (else a caller may stack a cell's parts on two lines)."""
    numbers = sum(
        max([_cells(row[n]) for row in rows] + [len(column)])
        for n, column in enumerate(columns)
        if column not in text
    )
    texts = sum(least for column in columns if column in text)
    return numbers + texts + _padding(table, len(columns)) <= width


def _cells(markup: str) -> int:
    """The width of ``markup``'s widest line."""
    return max(Text.from_markup(line).cell_len for line in markup.split("\n"))
