"""Write a run's codes in long format: item_id, coder, code, justification, evidence, confidence.

A table held whole (`write_codes`, `codes_to_bytes`), or the rows of a run coded item by item
streamed a chunk at a time (`rows_to_chunks` of `llmcode.store.code_rows.CodeRows`: CSV and
JSONL written as they come, byte for byte what the whole table gives; Parquet still made whole).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from llmcode.csvfiles import guard_cell, write_csv
from llmcode.errors import ConfigError, OutputError
from llmcode.store.code_rows import CodeRows
from llmcode.store.jsonl import atomic_write
from llmcode.store.runs import Run

TABLE_FORMATS = ("csv", "jsonl", "parquet")


def table_format(path: str | Path) -> str:
    """The table format a file name asks for (.csv, .jsonl, .parquet); a ConfigError otherwise."""
    fmt = {".csv": "csv", ".jsonl": "jsonl", ".parquet": "parquet"}.get(Path(path).suffix.lower())
    if fmt is None:
        raise ConfigError(f"{path}: write .csv, .jsonl or .parquet")
    return fmt


def codes_to_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    """Serialise a long-format codes frame as CSV, JSONL or Parquet."""
    if fmt == "csv":
        return (write_csv(frame) or "").encode()
    if fmt == "jsonl":
        return frame.to_json(orient="records", lines=True, force_ascii=False).encode()
    if fmt == "parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        return buffer.getvalue()
    raise ConfigError(f"unknown format '{fmt}'", hint=f"use one of {', '.join(TABLE_FORMATS)}")


def write_codes(frame: pd.DataFrame, path: Path, fmt: str) -> None:
    """Write a long-format codes frame to ``path``."""
    write_output(path, codes_to_bytes(frame, fmt))


def rows_to_chunks(rows: CodeRows, fmt: str) -> Iterator[bytes]:
    """Streamed code rows serialised as ``codes_to_bytes`` serialises the whole table, a chunk
    at a time (CSV, JSONL; Parquet in one piece)."""
    if fmt == "csv":
        yield from _csv_chunks(rows)
    elif fmt == "jsonl":
        empty = True
        for chunk in rows.chunks():
            empty = False
            yield codes_to_bytes(_frame(chunk, rows.columns), fmt)
        if empty:  # what pandas writes of an empty table
            yield codes_to_bytes(_frame([], rows.columns), fmt)
    else:
        chunks = [row for chunk in rows.chunks() for row in chunk]
        yield codes_to_bytes(_frame(chunks, rows.columns), fmt)


def _frame(rows: list[tuple[Any, ...]], columns: list[str]) -> pd.DataFrame:
    """Rows as the table `load_run_codes` and `with_confidence` make (the same dtypes)."""
    data = {name: [row[n] for row in rows] for n, name in enumerate(columns)}
    coder = pd.Series(data.pop("coder"), dtype=object)
    confidence = np.array([np.nan if v is None else v for v in data["confidence"]], dtype=float)
    kind = data.pop("confidence_kind")
    frame = pd.DataFrame(data)
    frame.insert(1, "coder", coder)
    return frame.assign(confidence=confidence, confidence_kind=kind[0] if kind else "")


def _csv_chunks(rows: CodeRows) -> Iterator[bytes]:
    """The rows as `write_csv` writes the table: formula-safe text cells, pandas' CSV dialect
    (minimal quoting, ``\n`` line ends), floats as ``repr``, none as an empty cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([guard_cell(name) for name in rows.columns])
    for chunk in rows.chunks(guard=True):
        writer.writerows(chunk)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def write_output(path: Path, data: bytes | str | Iterable[bytes]) -> None:
    """Write an output file (creating its folder); trouble is an `OutputError` saying why."""
    if path.is_dir():
        raise OutputError(
            f"cannot write {path}: it is a directory", hint="give a file name, e.g. -o codes.csv"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot write {path}: {exc.strerror or exc}",
            hint="choose another output path (its folder must be a writable directory)",
        ) from exc
    atomic_write(path, data, OutputError)  # a failed write leaves the previous file whole


def uncoded_items(run: Run, frame: pd.DataFrame) -> dict[str, int]:
    """The run's items without a row in ``frame``, counted by status ("not coded" if no record)."""
    return _uncoded(run, set(frame["item_id"]))


def _uncoded(run: Run, coded: set[str]) -> dict[str, int]:
    latest = run.latest_statuses()
    counts: Counter[str] = Counter()
    for item_id in run.item_ids():
        if item_id not in coded:
            counts[latest.get(item_id, "not coded")] += 1
    return dict(counts.most_common())


def export_note(run: Run, frame: pd.DataFrame, output: Path | None = None) -> str:
    """What an export holds against the run: codes, items, and the items left out and why."""
    coded = set(frame["item_id"])
    return _note(run, len(frame), len(coded), output, _uncoded(run, coded))


def rows_note(run: Run, rows: CodeRows, output: Path | None = None) -> str:
    """`export_note` of streamed rows (once they have been streamed)."""
    return _note(run, rows.rows, rows.items, output, rows.missing())


def _note(run: Run, n_rows: int, n_items: int, output: Path | None, missing: dict[str, int]) -> str:
    note = f"{n_rows} code(s) of {n_items} item(s)"
    note += f" to {output}" if output else ""
    if missing:
        total = sum(1 for _ in run.item_ids())
        why = ", ".join(f"{n} {status}" for status, n in missing.items())
        note += f"; {sum(missing.values())} of the run's {total} item(s) have no codes: {why}"
    return note


def copy_sampling_sidecar(run: Run, output: Path) -> Path | None:
    """Beside codes exported from a run of a gold sample (``only`` names a sample with the
    sidecar ``<sample>.json`` that `llmcode sample` writes), write that sidecar as
    ``<output>.json``, so analyses of the exported codes know how the items were drawn.
    Returns the path written (None when the run's items are not such a sample)."""
    only = run.manifest().config.inputs.only
    if not only:
        return None
    sidecar = Path(f"{only}.json")
    if not sidecar.is_file():
        return None
    target = Path(f"{output}.json")
    write_output(target, sidecar.read_bytes())
    return target
