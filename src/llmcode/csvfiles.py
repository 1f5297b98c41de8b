"""CSV as llmcode writes and reads it: formula-safe cells, and strict parsing.

**Writing.** A cell that a spreadsheet would run as a formula (text beginning with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return, as OWASP lists them: ``=HYPERLINK(...)`` in an item
text) is written with a leading apostrophe (``'=HYPERLINK(...)``), which spreadsheets show as
text. Numbers (``-0.25``, ``+3``) are left alone, and so is every other cell. Every CSV llmcode
writes goes through `write_csv` (or `guard_cell` for a row writer); column names too.

**Reading.** `restore_cell` drops that apostrophe again, so llmcode reads back exactly what it
wrote (an id ``-x`` written as ``'-x`` is ``-x`` again). A value of your own that really begins
with an apostrophe before one of those characters is written with one more, so it survives too.
`read_records` parses strictly: a quote left open is an error naming the line where it opened,
not a field that silently swallows the rest of the file. A file that is not UTF-8 is named with
the line of its first bad byte (`utf8_problem`), never a byte position alone.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from pandas.api.types import is_object_dtype, is_string_dtype

from llmcode.errors import LlmcodeError

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _is_formula(text: str) -> bool:
    """Whether a spreadsheet could read ``text`` (after any leading apostrophes) as a formula."""
    bare = text.lstrip("'")
    return bool(bare) and bare[0] in FORMULA_STARTS and not _NUMBER.fullmatch(bare)


def guard_cell(value: Any) -> Any:
    """``value`` with a leading apostrophe when a spreadsheet would run it as a formula."""
    if isinstance(value, str) and value and value[0] in (*FORMULA_STARTS, "'"):
        return "'" + value if _is_formula(value) else value
    return value


def restore_cell(value: Any) -> Any:
    """The value `guard_cell` was given (its apostrophe dropped); anything else unchanged."""
    if isinstance(value, str) and value.startswith("'") and _is_formula(value[1:]):
        return value[1:]
    return value


def guard_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names are formula-safe."""
    return _map_text(frame.rename(columns=guard_cell), guard_cell)


def restore_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as read from a CSV: apostrophes `guard_cell` added dropped again."""
    return _map_text(frame.rename(columns=restore_cell), restore_cell)


def _map_text(frame: pd.DataFrame, cell: Callable[[Any], Any]) -> pd.DataFrame:
    """``cell`` applied to every cell of the text (object or string) columns."""
    out = frame.copy()
    for index in range(out.shape[1]):
        column = out.iloc[:, index]
        if is_object_dtype(column) or is_string_dtype(column):
            out.isetitem(index, column.map(cell))
    return out


def write_csv(frame: pd.DataFrame, path: str | Path | None = None, sep: str = ",") -> str | None:
    """``frame`` as formula-safe CSV, to ``path`` (or returned as text when ``path`` is None)."""
    return guard_frame(frame).to_csv(path, index=False, sep=sep)


def read_records(
    path: Path, sep: str, error: type[LlmcodeError]
) -> Iterator[tuple[int, list[str]]]:
    """The records of a CSV/TSV file with the line each starts on (blank lines skipped).

    Parsed strictly: a quote left open, or text after a closing quote, is ``error`` naming the
    line the record starts on.
    """
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=sep, strict=True)
        line = 1
        while True:
            start = line
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise _parse_error(path, start, reader.line_num, exc, error) from exc
            line = reader.line_num + 1
            if record:
                yield start, record


def _parse_error(
    path: Path, start: int, now: int, exc: csv.Error, error: type[LlmcodeError]
) -> LlmcodeError:
    if "end of data" in str(exc):
        return error(
            f"{path}:{start}: a quote opened on line {start} is never closed",
            hint='close the quote; a quote inside a quoted field is written twice ("")',
        )
    return error(
        f"{path}:{now}: not valid CSV ({exc})",
        hint='a field with quotes is quoted whole: "say ""hi"" there"',
    )


def utf8_problem(path: str | Path) -> str:
    """``path:LINE: not valid UTF-8 (...)``: where a text file (CSV, TSV, JSONL) first stops
    being UTF-8, counted in lines (as an editor shows them), whichever reader hit it."""
    try:
        data = Path(path).read_bytes()
        data.decode("utf-8")
    except OSError:
        return f"{path}: not valid UTF-8"
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = data[exc.start : exc.start + 1].hex()
        return f"{path}:{line}: not valid UTF-8 ({exc.reason} 0x{byte} at column {column})"
    return f"{path}: not valid UTF-8"
