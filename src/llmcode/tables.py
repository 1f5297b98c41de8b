"""Reading the JSON, JSONL, XLSX and Parquet tables items come from: no silent coercion, no
unbounded work.

- JSON and JSONL are read with the ``json`` module, so values stay as written: the ids 1 and
  1.5 are ``1`` and ``1.5`` (pandas made them ``1.0`` and ``1.5``), and a line that is not JSON,
  or not an object, is an error naming its line.
- Cells become text explicitly (`as_text`): numbers and strings as written, missing values as
  ``""``, a list of plain values joined with ``;``, a nested object as JSON, bytes as UTF-8.
  Which cells held such structured values is kept (``STRUCTURED`` in the frame's ``attrs``), so
  the caller can refuse them where text is needed: an id or a text that is an object, a list or
  bytes would otherwise be coded as its repr.
- XLSX and Parquet are read with a bound: a workbook declaring more than
  ``MAX_UNCOMPRESSED_BYTES`` decompressed is refused unread, and reading a sheet or a Parquet
  file stops, naming the limit, once its text or decoded data passes it (a 514 KB workbook
  expanded to 661 MB, a 35 KB Parquet file to 450 MB).
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from llmcode.errors import LlmcodeError

MAX_UNCOMPRESSED_BYTES = 200_000_000
"""The largest decompressed size of an XLSX or Parquet items file read (200 MB)."""
STRUCTURED = "llmcode_structured"
"""``frame.attrs`` key: for each column, the positions of cells that held a list, an object or
bytes."""


def check_declared_size(path: Path, kind: str, error: type[LlmcodeError]) -> None:
    """Refuse an XLSX file whose members declare more than the limit once decompressed."""
    if kind != "xlsx":
        return
    with zipfile.ZipFile(path) as archive:  # not a zip: the caller says the file is corrupt
        size = sum(member.file_size for member in archive.infolist())
    if size > MAX_UNCOMPRESSED_BYTES:
        raise _too_large(path, f"declares {size:,} bytes once decompressed", error)


def _too_large(path: Path, what: str, error: type[LlmcodeError]) -> LlmcodeError:
    return error(
        f"{path}: {what}, more than the {MAX_UNCOMPRESSED_BYTES:,} an items file may be",
        hint="split the file, or export it as CSV or JSONL",
    )


def read_workbook(
    path: Path, sheet: str | None, error: type[LlmcodeError]
) -> tuple[list[list[Any]], str | None, tuple[str, ...]]:
    """The rows of one sheet (the first, or ``sheet``), the sheet read and all sheets; reading
    stops with ``error`` once its text passes the limit (shared strings repeated a million
    times expand a small file enormously)."""
    import openpyxl

    check_declared_size(path, "xlsx", error)
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheets = tuple(str(name) for name in book.sheetnames)
        if sheet is not None and sheet not in sheets:
            raise error(
                f"{path}: no sheet '{sheet}'; sheets are: {', '.join(sheets)}",
                hint="choose one with `sheet`",
            )
        chosen = sheet if sheet is not None else (sheets[0] if sheets else None)
        rows: list[list[Any]] = []
        size = 0
        if chosen is not None:
            for row in book[chosen].iter_rows(values_only=True):
                cells = ["" if value is None else value for value in row]
                size += sum(len(str(value)) for value in cells) + len(cells)
                if size > MAX_UNCOMPRESSED_BYTES:
                    raise _too_large(path, f"sheet '{chosen}' holds more text", error)
                rows.append(cells)
    finally:
        book.close()
    while rows and all(value == "" for value in rows[-1]):
        rows.pop()  # trailing empty rows of a formatted sheet
    return _trim_columns(rows), chosen, sheets


def _trim_columns(rows: list[list[Any]]) -> list[list[Any]]:
    """Rows cut to the widest non-empty cell (formatted but empty columns dropped)."""
    width = max((i + 1 for row in rows for i, v in enumerate(row) if v != ""), default=0)
    return [(row + [""] * width)[:width] for row in rows]


def read_parquet_bounded(path: Path, error: type[LlmcodeError]) -> pd.DataFrame:
    """A Parquet file read batch by batch, refused once its decoded data passes the limit (a
    35 KB file of repeated values decoded to 450 MB)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises its own error types for a corrupt file
        raise error(f"{path}: cannot read parquet file ({exc})") from exc
    batches = []
    size = 0
    for batch in source.iter_batches(batch_size=4096):
        size += batch.nbytes
        if size > MAX_UNCOMPRESSED_BYTES:
            raise _too_large(path, "decodes to more data", error)
        batches.append(batch)
    table = pa.Table.from_batches(batches, schema=source.schema_arrow)
    return table.to_pandas()


def read_json_rows(path: Path, kind: str, error: type[LlmcodeError]) -> pd.DataFrame:
    """A JSON (array of objects) or JSONL (one object per line) file as a frame of raw values;
    its ``attrs["rows"]`` name each row's place (``line 3``, ``record 2``)."""
    text = path.read_text(encoding="utf-8-sig")
    records: list[dict[str, Any]] = []
    places: list[str] = []
    if kind == "jsonl":
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise error(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
            except RecursionError:
                raise error(f"{path}:{number}: JSON nested too deeply") from None
            if not isinstance(value, dict):
                raise error(f"{path}:{number}: not a JSON object ({type(value).__name__})")
            records.append(value)
            places.append(f"line {number}")
    else:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise error(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from exc
        except RecursionError:
            raise error(f"{path}: JSON nested too deeply") from None
        rows = value if isinstance(value, list) else None
        if rows is None or not all(isinstance(row, dict) for row in rows):
            raise error(
                f"{path}: not a JSON array of objects", hint="one object per item, or use JSONL"
            )
        records = rows
        places = [f"record {number}" for number in range(1, len(rows) + 1)]
    if not records:
        raise pd.errors.EmptyDataError
    columns = list(dict.fromkeys(key for record in records for key in record))
    frame = pd.DataFrame(
        {column: [record.get(column) for record in records] for column in columns}, dtype=object
    )
    frame.attrs["rows"] = places
    return frame


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell as text (see the module docstring); structured cells noted in ``attrs``."""
    out = pd.DataFrame(index=frame.index)
    structured: dict[str, list[int]] = {}
    for position in range(frame.shape[1]):
        name = str(frame.columns[position]).strip()
        values = frame.iloc[:, position].tolist()
        texts = []
        for row, value in enumerate(values):
            text, nested = cell_text(value)
            if nested:
                structured.setdefault(name, []).append(row)
            texts.append(text)
        out[name] = pd.Series(texts, index=frame.index, dtype=object)
    out.attrs = {**frame.attrs, STRUCTURED: structured}
    return out


def cell_text(value: Any) -> tuple[str, bool]:
    """``(text, structured)`` of one cell: its text, and whether it held a list, an object or
    bytes rather than one plain value."""
    if value is None or value is pd.NA or value is pd.NaT:
        return "", False
    if isinstance(value, float) and math.isnan(value):
        return "", False
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace"), True
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list | tuple):
        if all(_plain(v) for v in value):
            return ";".join("" if v is None else str(v) for v in value), True
        return json.dumps(value, ensure_ascii=False, default=str), True
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str), True
    if isinstance(value, np.generic):
        value = value.item()
    return str(value), False


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool | np.generic)
