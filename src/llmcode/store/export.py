"""Write a run's codes in long format: item_id, coder, code, justification, evidence, confidence."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from llmcode.errors import ConfigError, OutputError

TABLE_FORMATS = ("csv", "jsonl", "parquet")


def codes_to_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    """Serialise a long-format codes frame as CSV, JSONL or Parquet."""
    if fmt == "csv":
        return frame.to_csv(index=False).encode()
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
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
    except OSError as exc:
        raise OutputError(
            f"cannot write {path}: {exc.strerror or exc}",
            hint="choose another output path (its folder must be a writable directory)",
        ) from exc
