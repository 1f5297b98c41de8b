"""Items to code: load CSV/JSONL/XLSX/Parquet, map id and text columns, check ids and texts.

Texts come from one column (`text`) or several joined with labels (`title` + `body`, the shape of
a GitHub issue). Every other column is kept as metadata. Items with empty text are not dropped
silently: they are returned in ``ItemSet.skipped`` with the reason.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from llmcode.errors import ItemsError, LlmcodeError

ID_COLUMN = "item_id"
READERS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".json": "json",
    ".xlsx": "xlsx",
    ".parquet": "parquet",
}


@dataclass(frozen=True)
class Item:
    """One unit of coding: an id, the text the LLM reads, and the rest of its row."""

    item_id: str
    text: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ItemSet:
    """Items loaded from a file, with the items that were skipped and why."""

    items: list[Item]
    skipped: list[tuple[str, str]]
    source: str
    sha256: str
    id_column: str
    text_columns: tuple[str, ...]

    def frame(self) -> pd.DataFrame:
        """The items as a DataFrame: item_id, text and metadata columns."""
        rows = [{"item_id": i.item_id, "text": i.text, **i.metadata} for i in self.items]
        return pd.DataFrame(rows, dtype=str)


def read_table(path: str | Path, error: type[LlmcodeError] = ItemsError) -> pd.DataFrame:
    """Read a CSV/TSV/JSONL/JSON/XLSX/Parquet file as strings; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: no such file")
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise error(
            f"{path}: unsupported file type '{path.suffix}'",
            hint="use .csv, .tsv, .jsonl, .json, .xlsx or .parquet",
        )
    try:
        if kind in ("csv", "tsv"):
            frame = pd.read_csv(
                path, dtype=str, keep_default_na=False, sep="\t" if kind == "tsv" else ","
            )
        elif kind == "jsonl":
            frame = pd.read_json(path, lines=True, dtype=False)
        elif kind == "json":
            frame = pd.read_json(path, dtype=False)
        elif kind == "xlsx":
            frame = pd.read_excel(path, dtype=str, keep_default_na=False)
        else:
            frame = pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise error(f"{path}: the file is empty") from None
    except (ValueError, OSError, ImportError, pd.errors.ParserError) as exc:
        raise error(f"{path}: cannot read {kind} file ({exc})") from exc
    return _as_text(frame)


def load_items(
    path: str | Path,
    id_column: str = ID_COLUMN,
    text_columns: list[str] | tuple[str, ...] | None = None,
) -> ItemSet:
    """Load items; text from ``text_columns`` (default `text`, else `title` + `body`)."""
    path = Path(path)
    frame = read_table(path)
    if frame.empty:
        raise ItemsError(f"{path}: no rows", hint="the file has a header but no items")
    columns = list(frame.columns)
    if id_column not in columns:
        raise ItemsError(
            f"{path}: no id column '{id_column}'; columns are: {', '.join(columns)}",
            hint="choose one with --id-column",
        )
    chosen = tuple(text_columns) if text_columns else _default_text_columns(path, columns)
    missing = [c for c in chosen if c not in columns]
    if missing:
        raise ItemsError(
            f"{path}: no text column {', '.join(repr(c) for c in missing)}; "
            f"columns are: {', '.join(columns)}",
            hint="choose them with --text-column (repeatable)",
        )
    ids = frame[id_column].str.strip()
    blank_rows = [str(i + 2) for i in ids.index[ids == ""]]
    if blank_rows:
        raise ItemsError(f"{path}: empty {id_column} in row(s) {', '.join(blank_rows[:10])}")
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
    for item_id, (_, row) in zip(ids, frame.iterrows(), strict=True):
        text = join_text(row, chosen)
        metadata = {c: row[c] for c in meta_columns}
        if not text.strip():
            skipped.append((item_id, f"empty text in {', '.join(chosen)}"))
            continue
        items.append(Item(item_id=item_id, text=text, metadata=metadata))
    return ItemSet(
        items=items,
        skipped=skipped,
        source=str(path),
        sha256=file_sha256(path),
        id_column=id_column,
        text_columns=chosen,
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


def _default_text_columns(path: Path, columns: list[str]) -> tuple[str, ...]:
    if "text" in columns:
        return ("text",)
    if "title" in columns and "body" in columns:
        return ("title", "body")
    raise ItemsError(
        f"{path}: no 'text' column (nor 'title' and 'body'); columns are: {', '.join(columns)}",
        hint="choose the text with --text-column (repeatable)",
    )


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.columns = [str(c).strip() for c in frame.columns]
    for column in frame.columns:
        frame[column] = frame[column].map(_cell_text)
    return frame


def _cell_text(value: object) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and value != value:
        return ""
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return str(value)
