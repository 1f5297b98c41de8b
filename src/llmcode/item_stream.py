"""Items as a stream: a CSV or TSV items file checked in one pass, then read item by item each
time it is needed, so a million items are estimated, snapshotted and coded in flat memory.

`stream_items` checks what `llmcode.items.load_items` checks, with the same errors naming the
file and its rows (fields per row, duplicate or blank column names, the id and text columns,
blank and duplicate ids) and skips items with empty text the same way, but keeps of each item
only a 64-bit hash of its id: duplicates found among the hashes are confirmed on the ids
themselves in a second pass, so a hash collision is never reported as a duplicate. Its
`ItemSet.items` is an `ItemStream`: sized, read again from the file each time it is iterated
(a file changed since it was checked is an error, not other items). Other kinds of items files
(JSON, JSONL, XLSX, Parquet, documents) are loaded whole by `load_items`.
"""

from __future__ import annotations

import csv
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import overload

import numpy as np

from llmcode.csvfiles import read_records, restore_cell, utf8_problem
from llmcode.errors import ItemsError
from llmcode.items import (
    ID_COLUMN,
    READERS,
    Item,
    ItemSet,
    check_unique,
    default_text_columns,
    file_sha256,
    load_items,
    places,
)

STREAMED = ("csv", "tsv")
"""The kinds of items files read as a stream."""
_key = hash
"""An id's 64-bit key (Python's hash: the same within this process)."""


class ItemStream(Sequence[Item]):
    """Items read afresh from their source each time they are iterated; their number is known.

    ``stream[:n]`` is a stream of the first ``n``; an index or any other slice reads the items
    up to it (a list for a slice).
    """

    def __init__(self, source: Callable[[], Iterator[Item]], size: int) -> None:
        self._source = source
        self._size = size

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[Item]:
        return self._source()

    @overload
    def __getitem__(self, index: int) -> Item: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Item]: ...

    def __getitem__(self, index: int | slice) -> Item | Sequence[Item]:
        if isinstance(index, slice):
            if index.step in (None, 1) and index.start in (None, 0) and index.stop is not None:
                if index.stop < 0:
                    return list(self)[index]
                stop = index.stop
                return ItemStream(lambda: islice(self._source(), stop), min(self._size, stop))
            return list(self)[index]
        position = index + self._size if index < 0 else index
        if not 0 <= position < self._size:
            raise IndexError(index)
        return next(islice(self._source(), position, None))

    def __repr__(self) -> str:
        return f"ItemStream({self._size} items)"


def stream_items(
    path: str | Path,
    id_column: str = ID_COLUMN,
    text_columns: list[str] | tuple[str, ...] | None = None,
    sheet: str | None = None,
) -> ItemSet:
    """`load_items`, with the items of a CSV or TSV file as an `ItemStream` (checked now, read
    when iterated); other files are loaded whole."""
    path = Path(path)
    kind = READERS.get(path.suffix.lower())
    if kind not in STREAMED or sheet is not None or not path.is_file():
        return load_items(path, id_column=id_column, text_columns=text_columns, sheet=sheet)
    table = _Table(path, "\t" if kind == "tsv" else ",", id_column, text_columns)
    return ItemSet(
        items=ItemStream(table.items, table.size),
        skipped=table.skipped,
        source=str(path),
        sha256=file_sha256(path),
        id_column=id_column,
        text_columns=table.chosen,
    )


@dataclass
class _Pass:
    """What one pass over a CSV/TSV file found (see `_Table`)."""

    rows: int = 0
    ragged: dict[int, int] = field(default_factory=dict)
    blank: list[int] = field(default_factory=list)
    hashes: array = field(default_factory=lambda: array("q"))
    skipped: list[tuple[str, str]] = field(default_factory=list)


class _Table:
    """A CSV/TSV items file, checked in one pass (see the module docstring)."""

    def __init__(
        self,
        path: Path,
        sep: str,
        id_column: str,
        text_columns: list[str] | tuple[str, ...] | None,
    ) -> None:
        self.path, self.sep, self.id_column = path, sep, id_column
        self.stamp = _stamp(path)
        records = self._records()
        first = next(records, None)
        if first is None:
            raise ItemsError(f"{path}: the file is empty")
        width = len(first[1])
        header = [
            str(restore_cell(name)).strip() or f"Unnamed: {index}"
            for index, name in enumerate(first[1])
        ]
        positions = {name: index for index, name in enumerate(header)}
        chosen: tuple[str, ...] | None = tuple(text_columns) if text_columns else None
        if chosen is None and "text" in header:
            chosen = ("text",)
        elif chosen is None and "title" in header and "body" in header:
            chosen = ("title", "body")
        at_texts = None
        if chosen is not None and all(c in positions for c in chosen):
            at_texts = [positions[c] for c in chosen]
        found = self._pass(records, width, positions.get(id_column), chosen, at_texts)
        self._check(found, width, header, chosen)
        assert chosen is not None and at_texts is not None
        self.header, self.chosen, self.skipped = header, chosen, found.skipped
        self.at_id, self.at_texts = positions[id_column], at_texts
        self.size = found.rows - len(found.skipped)

    def _pass(
        self,
        records: Iterator[tuple[int, list[str]]],
        width: int,
        at_id: int | None,
        chosen: tuple[str, ...] | None,
        at_texts: list[int] | None,
    ) -> _Pass:
        """Every row read once: fields per row, blank ids, id hashes, items without text."""
        found = _Pass()
        reason = f"empty text in {', '.join(chosen)}" if chosen else ""
        for start, record in records:
            if len(record) != width:
                found.ragged[start] = len(record)
                continue
            if at_id is None:
                found.rows += 1
                continue
            item_id = _cell(record[at_id]).strip()
            if not item_id:
                found.blank.append(found.rows)
            found.hashes.append(_key(item_id))
            found.rows += 1
            if at_texts is not None and not any(_cell(record[at]).strip() for at in at_texts):
                found.skipped.append((item_id, reason))
        return found

    def _check(
        self, found: _Pass, width: int, header: list[str], chosen: tuple[str, ...] | None
    ) -> None:
        """The problems `load_items` names, in its order."""
        path, id_column = self.path, self.id_column
        if found.ragged:
            lines = sorted(found.ragged)
            counts = sorted(set(found.ragged.values()))
            more = f" and {len(lines) - 10} more" if len(lines) > 10 else ""
            raise ItemsError(
                f"{path}: line(s) {', '.join(map(str, lines[:10]))}{more} have "
                f"{', '.join(map(str, counts))} fields but the header has {width}",
                hint="quote fields that contain the separator, or fix those rows",
            )
        check_unique(header, path, ItemsError)
        if found.rows == 0:
            raise ItemsError(f"{path}: no rows", hint="the file has a header but no items")
        if id_column not in header:
            raise ItemsError(
                f"{path}: no id column '{id_column}'; columns are: {', '.join(header)}",
                hint="choose one with --id-column",
            )
        if chosen is None:
            chosen = default_text_columns(path, header)  # raises, naming the columns
        missing = [c for c in chosen if c not in header]
        if missing:
            raise ItemsError(
                f"{path}: no text column {', '.join(repr(c) for c in missing)}; "
                f"columns are: {', '.join(header)}",
                hint="choose them with --text-column (repeatable)",
            )
        if found.blank:
            raise ItemsError(f"{path}: empty {id_column} in {places(path, found.blank[:10])}")
        self._check_duplicates(found.hashes, header.index(id_column))

    def _records(self) -> Iterator[tuple[int, list[str]]]:
        """The file's records, its read errors as `load_items` words them."""
        records = read_records(self.path, self.sep, ItemsError)
        while True:
            try:
                yield next(records)
            except StopIteration:
                return
            except ItemsError:
                raise
            except UnicodeDecodeError as exc:
                raise ItemsError(utf8_problem(self.path), hint="save the file as UTF-8") from exc
            except (ValueError, OSError, csv.Error) as exc:
                kind = READERS[self.path.suffix.lower()]
                raise ItemsError(f"{self.path}: cannot read {kind} file ({exc})") from exc

    def _check_duplicates(self, hashes: array, at_id: int) -> None:
        """Duplicate ids, found among the hashes and confirmed on the ids (sorted, as
        `load_items` names them)."""
        values = np.sort(np.frombuffer(hashes, dtype=np.int64))
        twice = values[1:][values[1:] == values[:-1]]
        if not len(twice):
            return
        suspects = {int(value) for value in twice}
        seen: set[str] = set()
        duplicated: set[str] = set()
        records = self._records()
        next(records)
        for _, record in records:
            item_id = _cell(record[at_id]).strip()
            if _key(item_id) in suspects:
                if item_id in seen:
                    duplicated.add(item_id)
                seen.add(item_id)
        if duplicated:
            names = sorted(duplicated)
            raise ItemsError(
                f"{self.path}: duplicate {self.id_column}: {', '.join(names[:10])}"
                + (f" and {len(names) - 10} more" if len(names) > 10 else ""),
                hint="item ids must be unique",
            )

    def items(self) -> Iterator[Item]:
        """The items, read again from the file (refused if it changed since it was checked)."""
        if _stamp(self.path) != self.stamp:
            raise ItemsError(
                f"{self.path}: the file changed while its items were being read",
                hint="leave the items file alone while llmcode reads it, and start again",
            )
        header, at_id, at_texts = self.header, self.at_id, self.at_texts
        metas = [(index, name) for index, name in enumerate(header) if index != at_id]
        labels = [c.replace("_", " ").capitalize() for c in self.chosen]
        records = self._records()
        next(records)
        for _, record in records:
            cells = [_cell(cell) for cell in record]
            if len(at_texts) == 1:
                text = cells[at_texts[0]].strip()
            else:
                parts = [
                    (label, cells[at].strip()) for label, at in zip(labels, at_texts, strict=True)
                ]
                text = "\n\n".join(f"{label}: {value}" for label, value in parts if value)
            if not text.strip():
                continue
            yield Item(
                item_id=cells[at_id].strip(),
                text=text,
                metadata={name: cells[index] for index, name in metas},
            )


def _cell(value: str) -> str:
    """A cell as read back (`restore_cell`), looked at only when it starts with an apostrophe."""
    return str(restore_cell(value)) if value[:1] == "'" else value


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns
