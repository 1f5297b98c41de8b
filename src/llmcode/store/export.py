"""Write a run's codes in long format: item_id, coder, code, justification, evidence, confidence."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import pandas as pd

from llmcode.csvfiles import write_csv
from llmcode.errors import ConfigError, OutputError
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


def write_output(path: Path, data: bytes | str) -> None:
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
    coded = set(frame["item_id"])
    latest = run.latest_statuses()
    counts: Counter[str] = Counter()
    for item_id in run.item_ids():
        if item_id not in coded:
            counts[latest.get(item_id, "not coded")] += 1
    return dict(counts.most_common())


def export_note(run: Run, frame: pd.DataFrame, output: Path | None = None) -> str:
    """What an export holds against the run: codes, items, and the items left out and why."""
    note = f"{len(frame)} code(s) of {frame['item_id'].nunique()} item(s)"
    note += f" to {output}" if output else ""
    missing = uncoded_items(run, frame)
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
