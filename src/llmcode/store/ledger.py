"""The in-flight ledger: which requests a run started, so abandoned ones are counted.

A request that is in flight when its run is killed (``kill -9``, a timeout, Ctrl-C) may be paid
for and is asked again on resume. Before each request the run appends its item ids to
``runs/<run_id>/inflight.jsonl`` (one line, no fsync: it survives a killed process); each session
(start or resume) opens with a line holding the size of ``codings.jsonl`` at that moment. When the
run finishes, ``settle`` counts the requests of every session whose items got no record in that
session — the abandoned requests — and removes the ledger.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from llmcode.store.jsonl import append_line
from llmcode.store.runs import CODINGS
from llmcode.store.scan import _LINE_RECORD

BLOCK = 1 << 24

LEDGER = "inflight.jsonl"


class Ledger:
    """Appends to one run's ledger; ``session()`` marks where this process's records begin."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / LEDGER
        self.codings = run_dir / CODINGS

    def session(self) -> None:
        size = self.codings.stat().st_size if self.codings.is_file() else 0
        self._append({"session": size})

    def started(self, item_ids: Iterable[str]) -> None:
        self._append({"items": list(item_ids)})

    def _append(self, row: dict[str, Any]) -> None:
        append_line(self.path, json.dumps(row, ensure_ascii=False), sync=False)

    def settle(self) -> int:
        """Abandoned requests over every session in the ledger; the ledger is then removed.

        Ids are compared as 64-bit hashes (a collision could hide one abandoned request, about
        one chance in 10^13 at a million items) and each session's records are read a block at
        a time from where it began, so a million-item run settles in flat memory."""
        if not self.path.is_file():
            return 0
        sessions = _sessions(self.path)
        end = self.codings.stat().st_size if self.codings.is_file() else 0
        abandoned = 0
        for number, (start, requests) in enumerate(sessions):
            stop = sessions[number + 1][0] if number + 1 < len(sessions) else end
            abandoned += requests.abandoned(_recorded(self.codings, start, stop))
        self.path.unlink(missing_ok=True)
        return abandoned


class _Requests:
    """One session's requests: the hashed item ids of all of them, and where each one starts."""

    def __init__(self) -> None:
        self.keys = array("q")
        self.starts = array("q")

    def add(self, item_ids: list[str]) -> None:
        if item_ids:  # a request for no item has nothing to lose
            self.starts.append(len(self.keys))
            self.keys.extend(hash(str(i).encode("utf-8")) for i in item_ids)

    def abandoned(self, recorded: np.ndarray) -> int:
        """How many requests have an item without a record in ``recorded`` (sorted keys)."""
        if not self.starts:
            return 0
        found = np.isin(np.frombuffer(self.keys, np.int64), recorded, assume_unique=False)
        whole = np.logical_and.reduceat(found, np.frombuffer(self.starts, np.int64))
        return int((~whole).sum())


def _sessions(path: Path) -> list[tuple[int, _Requests]]:
    sessions: list[tuple[int, _Requests]] = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # torn by a kill
            if "session" in row:
                sessions.append((int(row["session"]), _Requests()))
            elif "items" in row and sessions:
                sessions[-1][1].add(row["items"])
    return sessions


def _recorded(codings: Path, start: int, stop: int) -> np.ndarray:
    """The hashed item ids of the records in bytes [start, stop) of ``codings``, sorted."""
    keys: list[np.ndarray] = []
    if stop <= start or not codings.is_file():
        return np.empty(0, np.int64)
    with codings.open("rb") as handle:
        handle.seek(start)
        left, carry = stop - start, b""
        while left > 0:
            chunk = handle.read(min(BLOCK, left))
            if not chunk:
                break
            left -= len(chunk)
            block = carry + chunk
            cut = block.rfind(b"\n") + 1
            block, carry = block[:cut], block[cut:]
            keys.append(_keys(block))
        keys.append(_keys(carry))
    return np.unique(np.concatenate(keys))


def _keys(block: bytes) -> np.ndarray:
    """The hashed ids of a block's records: from their first bytes when every line starts as
    the store writes a record, else each line parsed (a torn or foreign line has none)."""
    found = _LINE_RECORD.findall(b"\n" + block)
    if block.endswith(b"\n") and block.count(b"\n") == len(found):
        return np.fromiter((hash(key) for key, _ in found), np.int64, len(found))
    ids = []
    for line in block.splitlines():
        try:
            ids.append(hash(str(json.loads(line)["item_id"]).encode("utf-8")))
        except (ValueError, KeyError, TypeError):
            continue
    return np.array(ids, np.int64)
