"""Items to code: load CSV/JSONL/XLSX/Parquet, map id and text columns, check ids and texts.

Texts come from one column (`text`) or several joined with labels (`title` + `body`, the shape of
a GitHub issue). Every other column is kept as metadata. Items with empty text are not dropped
silently: they are returned in ``ItemSet.skipped`` with the reason. Nothing is read silently wrong:
CSV rows whose field count differs from the header, and duplicate column names, are errors; of a
workbook one sheet is read (the first, or ``sheet``), and the item set says which.

Documents are items too: a ``.txt``, ``.md``, ``.docx`` or ``.pdf`` file, or a folder of them, is
one item per document (`llmcode.documents` reads them; a document that cannot be read is skipped
with the reason, naming the file).
"""

from __future__ import annotations

import csv
import hashlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from llmcode.csvfiles import read_records, restore_cell, restore_frame, utf8_problem
from llmcode.documents import is_document_source, read_documents
from llmcode.errors import ItemsError, LlmcodeError
from llmcode.tables import (
    STRUCTURED,
    as_text,
    read_json_rows,
    read_parquet_bounded,
    read_workbook,
)

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # a long text is one field, not an error

ID_COLUMN = "item_id"
READERS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".json": "json",
    ".xlsx": "xlsx",
    ".parquet": "parquet",
}


@dataclass(frozen=True, slots=True)
class Item:
    """One unit of coding: an id, the text the LLM reads, and the rest of its row."""

    item_id: str
    text: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ItemSet:
    """Items loaded from a file, with the items that were skipped and why."""

    items: Sequence[Item]
    """A list, or an `llmcode.item_stream.ItemStream` read from the file when iterated."""
    skipped: list[tuple[str, str]]
    source: str
    sha256: str
    id_column: str
    text_columns: tuple[str, ...]
    sheet: str | None = None
    """The sheet read, for a workbook."""
    sheets: tuple[str, ...] = ()
    """All sheets of the workbook (empty for other files)."""

    @property
    def sheet_note(self) -> str | None:
        """Which sheet of a workbook was read, and the others (None for other files)."""
        if self.sheet is None:
            return None
        others = [s for s in self.sheets if s != self.sheet]
        note = f"read sheet '{self.sheet}' of {self.source}"
        if others:
            note += f"; other sheets: {', '.join(others)} (choose one with --sheet)"
        return note

    def frame(self) -> pd.DataFrame:
        """The items as a DataFrame: item_id, text and metadata columns."""
        rows = [{"item_id": i.item_id, "text": i.text, **i.metadata} for i in self.items]
        return pd.DataFrame(rows, dtype=str)


def read_table(
    path: str | Path, error: type[LlmcodeError] = ItemsError, sheet: str | None = None
) -> pd.DataFrame:
    """Read a CSV/TSV/JSONL/JSON/XLSX/Parquet file as strings; errors name the file."""
    return _read(Path(path), error, sheet)[0]


def _read(
    path: Path, error: type[LlmcodeError], sheet: str | None
) -> tuple[pd.DataFrame, str | None, tuple[str, ...]]:
    """The table as text, the sheet read and the workbook's sheets (for XLSX)."""
    if not path.is_file():
        raise error(f"{path}: no such file")
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise error(
            f"{path}: unsupported file type '{path.suffix}'",
            hint="use .csv, .tsv, .jsonl, .json, .xlsx or .parquet",
        )
    if sheet is not None and kind != "xlsx":
        raise error(f"{path}: --sheet '{sheet}' applies to .xlsx files only")
    sheets: tuple[str, ...] = ()
    try:
        if kind in ("csv", "tsv"):
            frame = _read_delimited(path, "\t" if kind == "tsv" else ",", error)
        elif kind in ("jsonl", "json"):
            frame = read_json_rows(path, kind, error)
        elif kind == "xlsx":
            rows, sheet, sheets = read_workbook(path, sheet, error)
            frame = restore_frame(_with_header(rows, path, error))
        else:
            frame = read_parquet_bounded(path, error)
    except pd.errors.EmptyDataError:
        raise error(f"{path}: the file is empty") from None
    except error:
        raise
    except UnicodeDecodeError as exc:
        raise error(utf8_problem(path), hint="save the file as UTF-8") from exc
    except (ValueError, OSError, ImportError, pd.errors.ParserError, csv.Error) as exc:
        raise error(f"{path}: cannot read {kind} file ({exc})") from exc
    except Exception as exc:  # a corrupt workbook or parquet file: the readers raise anything
        if isinstance(exc, error):
            raise
        raise error(f"{path}: cannot read {kind} file ({type(exc).__name__}: {exc})") from exc
    if kind not in ("csv", "tsv"):  # CSV cells are text already
        frame = as_text(frame)
    _check_unique_columns(frame, path, error)
    return frame, sheet, sheets


def _read_delimited(path: Path, sep: str, error: type[LlmcodeError]) -> pd.DataFrame:
    """A CSV/TSV file, read strictly; every row must have as many fields as the header (blank
    lines skipped). Cells llmcode wrote formula-safe (``'=x``) are read back as written."""
    records: list[list[str]] = []
    ragged: dict[int, int] = {}
    width = None
    for start, record in read_records(path, sep, error):
        if width is None:
            width = len(record)
        elif len(record) != width:
            ragged[start] = len(record)
        records.append([restore_cell(cell) for cell in record])
    if not records:
        raise pd.errors.EmptyDataError
    if ragged:
        lines = sorted(ragged)
        counts = sorted(set(ragged.values()))
        more = f" and {len(lines) - 10} more" if len(lines) > 10 else ""
        raise error(
            f"{path}: line(s) {', '.join(map(str, lines[:10]))}{more} have "
            f"{', '.join(map(str, counts))} fields but the header has {width}",
            hint="quote fields that contain the separator, or fix those rows",
        )
    return _with_header(records, path, error)


def _with_header(rows: list[list], path: Path, error: type[LlmcodeError]) -> pd.DataFrame:
    """A frame whose columns are the first row, as written (blank names as pandas names them)."""
    if not rows:
        raise pd.errors.EmptyDataError
    header = [str(name).strip() or f"Unnamed: {index}" for index, name in enumerate(rows[0])]
    check_unique(header, path, error)
    # object columns hold the cells read as they are; "str" columns would copy every text into
    # Arrow buffers and back into new strings (1.5x the items' memory while loading)
    return pd.DataFrame(rows[1:], columns=header, dtype=object)


def _check_unique_columns(frame: pd.DataFrame, path: Path, error: type[LlmcodeError]) -> None:
    check_unique([str(c) for c in frame.columns], path, error)


def check_unique(names: list[str], path: Path, error: type[LlmcodeError]) -> None:
    seen: set[str] = set()
    duplicates = [n for n in names if n in seen or seen.add(n)]  # type: ignore[func-returns-value]
    if duplicates:
        raise error(
            f"{path}: duplicate column name(s): {', '.join(dict.fromkeys(duplicates))}",
            hint="give every column its own name",
        )


def load_items(
    path: str | Path,
    id_column: str = ID_COLUMN,
    text_columns: list[str] | tuple[str, ...] | None = None,
    sheet: str | None = None,
) -> ItemSet:
    """Load items; text from ``text_columns`` (default `text`, else `title` + `body`).

    Of a workbook, ``sheet`` is read (default: the first); ``ItemSet.sheet`` says which. A
    document file or a folder of documents gives one item per document (see `load_documents`).
    """
    path = Path(path)
    if is_document_source(path):
        table_settings = [
            setting
            for setting, given in (
                ("id_column", id_column != ID_COLUMN),
                ("text_columns", bool(text_columns)),
                ("sheet", sheet is not None),
            )
            if given
        ]
        if table_settings:
            raise ItemsError(
                f"{path}: {', '.join(table_settings)} apply to tables, not to documents",
                hint="a document's id is its file name and its text is the whole document",
            )
        return load_documents(path)
    frame, sheet, sheets = _read(path, ItemsError, sheet)
    if frame.empty:
        raise ItemsError(f"{path}: no rows", hint="the file has a header but no items")
    columns = list(frame.columns)
    if id_column not in columns:
        raise ItemsError(
            f"{path}: no id column '{id_column}'; columns are: {', '.join(columns)}",
            hint="choose one with --id-column",
        )
    chosen = tuple(text_columns) if text_columns else default_text_columns(path, columns)
    missing = [c for c in chosen if c not in columns]
    if missing:
        raise ItemsError(
            f"{path}: no text column {', '.join(repr(c) for c in missing)}; "
            f"columns are: {', '.join(columns)}",
            hint="choose them with --text-column (repeatable)",
        )
    for column in (id_column, *chosen):
        structured = frame.attrs.get(STRUCTURED, {}).get(column)
        if structured:
            raise ItemsError(
                f"{path}: {column} holds a list, an object or bytes in "
                f"{places(path, structured[:10])}, not text",
                hint="give ids and texts as plain values (flatten the field, or choose another "
                "column with --id-column / --text-column)",
            )
    ids = frame[id_column].str.strip()
    blank = [int(i) for i in ids.index[ids == ""]]
    if blank:
        raise ItemsError(f"{path}: empty {id_column} in {places(path, blank[:10])}")
    duplicated = sorted(set(ids[ids.duplicated()]))
    if duplicated:
        raise ItemsError(
            f"{path}: duplicate {id_column}: {', '.join(duplicated[:10])}"
            + (f" and {len(duplicated) - 10} more" if len(duplicated) > 10 else ""),
            hint="item ids must be unique",
        )
    items: list[Item] = []
    skipped: list[tuple[str, str]] = []
    meta_columns = [c for c in columns if c != id_column]
    texts = join_texts(frame, chosen)
    values = [frame[c].tolist() for c in meta_columns]
    metadata = [dict(zip(meta_columns, row, strict=True)) for row in zip(*values, strict=True)]
    if not meta_columns:
        metadata = [{} for _ in range(len(frame))]
    for item_id, text, meta in zip(ids.tolist(), texts, metadata, strict=True):
        if not text.strip():
            skipped.append((item_id, f"empty text in {', '.join(chosen)}"))
            continue
        items.append(Item(item_id=item_id, text=text, metadata=meta))
    return ItemSet(
        items=items,
        skipped=skipped,
        source=str(path),
        sha256=file_sha256(path),
        id_column=id_column,
        text_columns=chosen,
        sheet=sheet,
        sheets=sheets,
    )


def load_documents(path: str | Path) -> ItemSet:
    """One item per document of a file or folder (.txt, .md, .docx, .pdf): the file name without
    its suffix is the id, the extracted text the text; unreadable documents are skipped, with the
    reason naming the file."""
    documents = read_documents(path)
    items = [
        Item(item_id=item_id, text=text, metadata={"file": file.name})
        for item_id, text, file in documents.texts
    ]
    return ItemSet(
        items=items,
        skipped=documents.skipped,
        source=str(path),
        sha256=documents.sha256,
        id_column=ID_COLUMN,
        text_columns=("text",),
    )


def join_texts(frame: pd.DataFrame, columns: tuple[str, ...]) -> list[str]:
    """The text of every row, as ``join_text`` makes it (vectorised over the columns)."""
    values = [frame[column].str.strip().tolist() for column in columns]
    if len(columns) == 1:
        return values[0]
    labels = [column.replace("_", " ").capitalize() for column in columns]
    return [
        "\n\n".join(f"{label}: {v}" for label, v in zip(labels, row, strict=True) if v)
        for row in zip(*values, strict=True)
    ]


def places(path: Path, positions: list[int]) -> str:
    """Where rows at these 0-based positions are, in the file's own terms: CSV/TSV/XLSX rows
    counting the header as row 1, JSONL lines (blank lines counted), JSON records, Parquet rows."""
    kind = READERS.get(path.suffix.lower())
    if kind == "jsonl":
        with path.open("rb") as handle:
            lines = [n for n, line in enumerate(handle, start=1) if line.strip()]
        numbers = [lines[i] if i < len(lines) else i + 1 for i in positions]
        unit = "line(s)"
    elif kind in ("json", "parquet"):
        numbers, unit = [i + 1 for i in positions], "record(s)" if kind == "json" else "row(s)"
    else:
        numbers, unit = [i + 2 for i in positions], "row(s)"
    return f"{unit} {', '.join(map(str, numbers))}"


def item_ids(path: str | Path, id_column: str = ID_COLUMN) -> list[str]:
    """The ids in a table's ``id_column`` (or ``item_id``), e.g. a gold sample, in file order."""
    frame = read_table(path)
    if id_column not in frame.columns and ID_COLUMN in frame.columns:
        id_column = ID_COLUMN
    if id_column not in frame.columns:
        raise ItemsError(
            f"{path}: no '{id_column}' column to choose items by; columns are: "
            f"{', '.join(frame.columns)}",
            hint="--only takes a table with the ids to code in an item_id column",
        )
    return [i for i in dict.fromkeys(frame[id_column].str.strip()) if i]


def only_items(item_set: ItemSet, path: str | Path, id_column: str = ID_COLUMN) -> ItemSet:
    """The items whose ids are listed in ``path`` (any table with an ``item_id`` column, e.g. a
    gold sample), in the items' order; ids the items do not have are an error naming them, and so
    is a table without ids (a run of 0 items would be "complete" and vanish from agreement)."""
    wanted = set(item_ids(path, id_column))
    if not wanted:
        raise ItemsError(
            f"{path}: lists no item ids, so there would be nothing to code",
            hint="--only takes a table with the ids to code in an item_id column",
        )
    known = {i.item_id for i in item_set.items} | {item_id for item_id, _ in item_set.skipped}
    unknown = sorted(wanted - known)
    if unknown:
        raise ItemsError(
            f"{path}: {len(unknown)} id(s) not in {item_set.source}: {', '.join(unknown[:10])}"
            + (" ..." if len(unknown) > 10 else ""),
            hint="--only must list ids of the items file (same --id-column)",
        )
    return replace(
        item_set,
        items=[i for i in item_set.items if i.item_id in wanted],
        skipped=[s for s in item_set.skipped if s[0] in wanted],
    )


def join_text(row: pd.Series, columns: tuple[str, ...]) -> str:
    """One column's value as is; several joined as `Column: value` paragraphs (blanks omitted)."""
    if len(columns) == 1:
        return str(row[columns[0]]).strip()
    parts = [
        f"{column.replace('_', ' ').capitalize()}: {str(row[column]).strip()}"
        for column in columns
        if str(row[column]).strip()
    ]
    return "\n\n".join(parts)


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_text_columns(path: Path, columns: list[str]) -> tuple[str, ...]:
    if "text" in columns:
        return ("text",)
    if "title" in columns and "body" in columns:
        return ("title", "body")
    raise ItemsError(
        f"{path}: no 'text' column (nor 'title' and 'body'); columns are: {', '.join(columns)}",
        hint="choose the text with --text-column (repeatable)",
    )
