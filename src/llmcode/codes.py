"""Long-format code files: one row per code a coder applied to an item.

Owns reading `item_id, coder, code` tables from CSV, TSV, JSONL, XLSX and Parquet into one
DataFrame shape that agreement, audit and analysis reuse. Every value is a string (item ids
like ``007`` stay ``"007"``); surrounding whitespace is stripped; an empty ``code`` becomes
NaN (the consumer decides what an empty code means); other columns (``justification``, ...)
are kept. Problems raise `CodesError` naming the file, the column or the row.

Passages: optional ``start, end`` columns give a coded passage's character offsets in the item's
text (``[start, end)``, end exclusive), as human segment codes are written. They become nullable
integers; a row with a code has both or neither. ``start >= end``, a negative or non-integer
offset, an offset past the end of the item's text (when the texts are given), and two overlapping
passages of one coder with the same code on one item are errors naming the rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from llmcode.csvfiles import read_records, restore_frame, utf8_problem
from llmcode.errors import CodesError
from llmcode.tables import read_parquet_bounded, read_workbook

CODE_COLUMNS = ("item_id", "coder", "code")
OFFSET_COLUMNS = ("start", "end")
SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xlsx": "xlsx",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_FORMAT_HINT = "long format: one row per code with columns item_id, coder, code"


def load_codes(path: str | Path, texts: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Read a long-format codes file into a DataFrame with string columns item_id, coder, code.

    Rows whose ``code`` is empty are kept with ``code`` = NaN. Rows lacking an ``item_id`` or a
    ``coder`` are errors (the message names the file row). Column names are matched after
    stripping and lower-casing, so ``Item_ID`` works. With ``start, end`` columns (passages),
    ``texts`` (item_id -> text) lets offsets be checked against the texts they point into.
    """
    path = Path(path)
    if not path.is_file():
        raise CodesError(f"{path}: no such file", hint="check the path")
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise CodesError(
            f"{path}: unsupported file type {path.suffix or '(none)'!r}",
            hint=f"use one of {', '.join(sorted(SUFFIXES))} ({_FORMAT_HINT})",
        )
    if path.stat().st_size == 0:
        raise CodesError(f"{path}: the file is empty", hint=_FORMAT_HINT)
    frame, rows = _read(path, kind)
    frame = _normalise(frame, path, rows)
    if any(name in frame.columns for name in OFFSET_COLUMNS):
        frame = _offsets(frame, path, rows, texts)
    return frame


def _read(path: Path, kind: str) -> tuple[pd.DataFrame, list[int]]:
    """Return the raw table and, for each of its rows, the row (or line) number in the file."""
    try:
        if kind in ("csv", "tsv"):
            sep = "\t" if kind == "tsv" else ","
            _check_shape(path, sep)
            frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
            return restore_frame(frame), list(range(2, len(frame) + 2))
        if kind == "jsonl":
            return _read_jsonl(path)
        if kind == "xlsx":
            rows, _, _ = read_workbook(path, None, CodesError)
            if not rows:
                raise pd.errors.EmptyDataError
            header = [str(name).strip() for name in rows[0]]
            frame = pd.DataFrame(rows[1:], columns=header, dtype=object).astype(str)
            return restore_frame(frame), list(range(2, len(frame) + 2))
        frame = _stringify(read_parquet_bounded(path, CodesError))
        return frame, list(range(1, len(frame) + 1))
    except CodesError:
        raise
    except pd.errors.EmptyDataError as exc:
        raise CodesError(f"{path}: the file is empty", hint=_FORMAT_HINT) from exc
    except UnicodeDecodeError as exc:
        raise CodesError(utf8_problem(path), hint="save the file as UTF-8") from exc
    except Exception as exc:  # pandas, openpyxl and pyarrow raise many unrelated types
        raise CodesError(f"{path}: cannot read as {kind}: {exc}", hint=_FORMAT_HINT) from exc


def _check_shape(path: Path, sep: str) -> None:
    """Every row has the header's field count, and no column name repeats (pandas would shift
    the columns or rename the second one ``code.1`` without a word)."""
    ragged: dict[int, int] = {}
    header: list[str] | None = None
    for start, record in read_records(path, sep, CodesError):
        if header is None:
            header = [name.strip() for name in record]
        elif len(record) != len(header):
            ragged[start] = len(record)
    if header is not None:
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated:
            raise CodesError(
                f"{path}: duplicate column name(s): {', '.join(repeated)}", hint=_FORMAT_HINT
            )
    if ragged:
        lines = sorted(ragged)
        more = f" and {len(lines) - 10} more" if len(lines) > 10 else ""
        counts = ", ".join(map(str, sorted(set(ragged.values()))))
        raise CodesError(
            f"{path}: line(s) {', '.join(map(str, lines[:10]))}{more} have {counts} fields "
            f"but the header has {len(header or [])}",
            hint="quote fields that contain the separator, or fix those rows",
        )


def _read_jsonl(path: Path) -> tuple[pd.DataFrame, list[int]]:
    records: list[dict[str, object]] = []
    lines: list[int] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CodesError(
                    f"{path}, line {number}: not valid JSON ({exc.msg})", hint=_FORMAT_HINT
                ) from exc
            if not isinstance(record, dict):
                raise CodesError(
                    f"{path}, line {number}: expected a JSON object, got {type(record).__name__}",
                    hint=_FORMAT_HINT,
                )
            records.append({key: _json_text(value) for key, value in record.items()})
            lines.append(number)
    if not records:
        raise CodesError(f"{path}: the file has no records", hint=_FORMAT_HINT)
    return pd.DataFrame.from_records(records), lines


def _json_text(value: object) -> object:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _stringify(frame: pd.DataFrame) -> pd.DataFrame:
    """Parquet keeps types; turn every column into strings (integral floats without '.0')."""
    out = {}
    for name, column in frame.items():
        if pd.api.types.is_float_dtype(column) and column.dropna().map(float.is_integer).all():
            column = column.astype("Int64")
        text = column.astype(object).where(column.notna(), None)
        out[str(name)] = text.map(lambda v: v if v is None or isinstance(v, str) else str(v))
    return pd.DataFrame(out, index=frame.index)


def _normalise(frame: pd.DataFrame, path: Path, rows: list[int]) -> pd.DataFrame:
    frame = frame.rename(columns=lambda name: str(name).strip().lower())
    missing = [name for name in CODE_COLUMNS if name not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns)) or "(none)"
        raise CodesError(
            f"{path}: missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (found: {found})",
            hint=_FORMAT_HINT,
        )
    if frame.empty:
        raise CodesError(f"{path}: the file has a header but no rows", hint=_FORMAT_HINT)
    frame = frame.reset_index(drop=True)
    for name in frame.columns:
        column = frame[name].astype(object)
        stripped = column.map(lambda v: v.strip() if isinstance(v, str) else v)
        frame[name] = stripped.where(stripped.notna() & (stripped != ""), None)
    for name in ("item_id", "coder"):
        blank = frame[name].isna()
        if blank.any():
            where = [rows[i] for i in blank[blank].index[:5]]
            more = " ..." if blank.sum() > 5 else ""
            unit = "line" if path.suffix.lower() in (".jsonl", ".ndjson") else "row"
            raise CodesError(
                f"{path}: empty {name} in {unit}{'s' if len(where) > 1 else ''} "
                f"{', '.join(map(str, where))}{more}",
                hint=f"every row needs an {name}"
                if name == "item_id"
                else "every row needs a coder",
            )
    ordered = [*CODE_COLUMNS, *(c for c in frame.columns if c not in CODE_COLUMNS)]
    frame = frame[ordered]
    frame["code"] = frame["code"].astype(object).where(frame["code"].notna(), float("nan"))
    return frame


def _offsets(
    frame: pd.DataFrame, path: Path, rows: list[int], texts: Mapping[str, str] | None
) -> pd.DataFrame:
    """start and end as nullable integers, checked row by row (see the module docstring)."""
    absent = [name for name in OFFSET_COLUMNS if name not in frame.columns]
    if absent:
        raise CodesError(
            f"{path}: no {absent[0]} column (start and end come together)",
            hint="passages have both start and end (character offsets, end exclusive)",
        )
    unit = "line" if path.suffix.lower() in (".jsonl", ".ndjson") else "row"

    def fail(position: int, problem: str, hint: str) -> CodesError:
        return CodesError(f"{path}, {unit} {rows[position]}: {problem}", hint=hint)

    values: dict[str, list[int | None]] = {name: [] for name in OFFSET_COLUMNS}
    for name in OFFSET_COLUMNS:
        for position, raw in enumerate(frame[name]):
            if raw is None or (isinstance(raw, float) and pd.isna(raw)):
                values[name].append(None)
                continue
            try:
                number = int(str(raw))
            except ValueError:
                raise fail(
                    position,
                    f"{name} {raw!r} is not a character offset",
                    "offsets are whole numbers of characters from the start of the text",
                ) from None
            if number < 0:
                raise fail(position, f"{name} {number} is negative", "offsets count from 0")
            values[name].append(number)
    limits = texts or {}
    for position, (start, end) in enumerate(zip(values["start"], values["end"], strict=True)):
        item, code = frame.at[position, "item_id"], frame.at[position, "code"]
        if start is None and end is None:
            continue
        if start is None or end is None:
            missing = "start" if start is None else "end"
            raise fail(
                position, f"a passage without {missing}", "give both start and end, or neither"
            )
        if pd.isna(code):
            raise fail(position, f"a passage [{start}, {end}) without a code", "give its code")
        if start >= end:
            raise fail(
                position,
                f"start {start} is not before end {end}",
                "a passage [start, end) needs start < end (end is exclusive)",
            )
        if item in limits and end > len(limits[item]):
            raise fail(
                position,
                f"passage [{start}, {end}) ends past the text of item {item!r} "
                f"({len(limits[item])} characters)",
                "offsets count characters of the item's text, end exclusive",
            )
    for name in OFFSET_COLUMNS:
        frame[name] = pd.array(values[name], dtype="Int64")
    _check_overlaps(frame, path, rows, unit)
    return frame


def _check_overlaps(frame: pd.DataFrame, path: Path, rows: list[int], unit: str) -> None:
    """Two passages of one coder with one code on one item must not overlap."""
    spans = frame[frame["start"].notna() & frame["code"].notna()]
    for _, group in spans.groupby(["item_id", "coder", "code"], sort=False):
        ordered = group.sort_values(["start", "end"], kind="stable")
        positions = list(ordered.index)
        reach, reach_at = -1, -1
        for position in positions:
            start, end = int(frame.at[position, "start"]), int(frame.at[position, "end"])
            if start < reach:
                first = frame.loc[reach_at]
                raise CodesError(
                    f"{path}, {unit}s {rows[reach_at]} and {rows[position]}: passages "
                    f"[{first['start']}, {first['end']}) and [{start}, {end}) of coder "
                    f"{frame.at[position, 'coder']!r} with code {frame.at[position, 'code']!r} "
                    f"on item {frame.at[position, 'item_id']!r} overlap",
                    hint="one coder's passages with the same code must not overlap: merge them",
                )
            if end > reach:
                reach, reach_at = end, position
