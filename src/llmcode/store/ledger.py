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
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from llmcode.store.jsonl import append_line
from llmcode.store.runs import CODINGS

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
        """Abandoned requests over every session in the ledger; the ledger is then removed."""
        if not self.path.is_file():
            return 0
        sessions: list[tuple[int, list[list[str]]]] = []
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # torn by a kill
            if "session" in row:
                sessions.append((int(row["session"]), []))
            elif "items" in row and sessions:
                sessions[-1][1].append([str(i) for i in row["items"]])
        data = self.codings.read_bytes() if self.codings.is_file() else b""
        abandoned = 0
        for number, (start, requests) in enumerate(sessions):
            end = sessions[number + 1][0] if number + 1 < len(sessions) else len(data)
            recorded = _item_ids(data[start:end])
            abandoned += sum(1 for items in requests if not set(items) <= recorded)
        self.path.unlink(missing_ok=True)
        return abandoned


def _item_ids(chunk: bytes) -> set[str]:
    ids = set()
    for line in chunk.decode("utf-8", errors="replace").splitlines():
        try:
            ids.add(str(json.loads(line)["item_id"]))
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
    return ids
