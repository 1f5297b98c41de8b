"""What a resume codes: the snapshot's items without a final record, found from the bytes of
both files, so a run of a million items reaches its first request in seconds, in flat memory.

`find_pending` reads ``codings.jsonl`` a block at a time: records are written with ``item_id``
and ``status`` first, so one regular expression reads both, and of each item only a 64-bit hash
of its id is kept (in a numpy array: 8 bytes an item, not a string and a dict entry) with
whether its latest record is final. It then reads the snapshot's ids the same way and notes
the byte offset of each item left; `Pending` reads those lines, and only those, when iterated.

A block where a line is not one whole record as written (a torn record, a line written
otherwise) is read line by line, after ``Run.repair`` has set torn records aside. When two of
the snapshot's ids share a hash, `find_pending` says so and the caller compares ids as text
(`scan.items_left`). An id that only the records hold (a skipped item's) sharing a hash with
an item left would pass that item over: with 64-bit hashes, about one chance in 10^13 for a
million items and ten such ids.
"""

from __future__ import annotations

import hashlib
import json
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from llmcode.item_stream import ItemStream
from llmcode.items import Item
from llmcode.store.scan import (
    _ITEM,
    _ITEMS,
    _RECORDS,
    RECORD_START,
    _bad_line,
    _id_and_status,
    _item,
)

BLOCK = 1 << 24
"""Bytes read at a time (whole lines: a block ends at a newline)."""
_LINE_START = b'{"item_id": "'
_key = hash
"""An id's 64-bit key (Python's hash of its bytes: the same within this process)."""


def _blocks(path: Path) -> Iterator[tuple[int, bytes]]:
    """(byte offset, block of whole lines) of a file; the last block ends where the file does.
    Lines are not counted here (a line number is counted only for an error)."""
    if not path.is_file():
        return
    offset = 0
    with path.open("rb") as handle:
        while True:
            block = handle.read(BLOCK)
            if not block:
                return
            if not block.endswith(b"\n"):
                block += handle.readline()
            yield offset, block
            offset += len(block)


def _lines(block: bytes) -> Iterator[tuple[int, bytes]]:
    """(offset in the block, line) of a block's non-blank lines."""
    at = 0
    for line in block.splitlines(keepends=True):
        if line.strip():
            yield at, line
        at += len(line)


def _line_number(path: Path, offset: int) -> int:
    """The number of the line starting at byte ``offset`` (for an error message)."""
    with path.open("rb") as handle:
        return handle.read(offset).count(b"\n") + 1


def whole_records(block: bytes, found: int) -> bool:
    """Whether every line of a block is one record as written (as `scan.whole_lines` checks a
    block, without a parse): ends with a newline, starts as a record, holds no second start,
    and its id and status were ``found`` (one match a line)."""
    lines = block.count(b"\n")
    return (
        block.endswith(b"\n")
        and found == lines
        and block.startswith(RECORD_START)
        and block.count(b"\n" + RECORD_START) == lines - 1
        and block.count(RECORD_START) == lines
    )


def done_hashes(codings: Path, final: Iterable[str], exact: bool) -> np.ndarray | None:
    """The sorted hashes of the ids whose latest record's status is in ``final``; None when a
    block is not whole records and ``exact`` is False (the caller repairs the file first)."""
    ended = {status.encode("utf-8") for status in final}
    keys: list[np.ndarray] = []
    flags: list[np.ndarray] = []
    for offset, block in _blocks(codings):
        found = _RECORDS.findall(block)
        if whole_records(block, len(found)):
            pairs = found
        elif not exact:
            return None
        else:
            pairs = []
            for at, line in _lines(block):
                number = _line_number(codings, offset + at) if not line.endswith(b"\n") else 0
                pair = _id_and_status(codings, number, offset + at, line)
                if pair is not None:
                    pairs.append((pair[0].encode("utf-8"), pair[1].encode("utf-8")))
        keys.append(np.fromiter((_key(key) for key, _ in pairs), np.int64, len(pairs)))
        flags.append(np.fromiter((status in ended for _, status in pairs), np.bool_, len(pairs)))
    if not keys:
        return np.empty(0, np.int64)
    hashes, final_flags = np.concatenate(keys)[::-1], np.concatenate(flags)[::-1]
    unique, latest = np.unique(hashes, return_index=True)  # the latest record of each id
    return unique[final_flags[latest]]


class Pending:
    """The snapshot's items left (see the module docstring): their offsets, read when iterated."""

    def __init__(self, items: Path, offsets: array) -> None:
        self.items = items
        self.offsets = offsets

    def __len__(self) -> int:
        return len(self.offsets)

    def __iter__(self) -> Iterator[Item]:
        with self.items.open("rb") as handle:
            for offset in self.offsets:
                handle.seek(offset)
                line = handle.readline()
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    number = _line_number(self.items, offset)
                    raise _bad_line(self.items, number, offset, line) from exc
                yield _item(row)

    def stream(self) -> ItemStream:
        return ItemStream(self.__iter__, len(self))


def find_pending(items: Path, done: np.ndarray) -> Pending | None:
    """The offsets of the snapshot's items whose id hash is not in ``done`` (sorted), in
    order; None when two of the snapshot's ids share a hash (decide those exactly instead)."""
    offsets = array("q")
    seen: list[np.ndarray] = []
    for offset, block in _blocks(items):
        ids = _ITEMS.findall(block)
        if _one_item_a_line(block, len(ids)):
            hashes = np.fromiter(map(_key, ids), np.int64, len(ids))
            seen.append(hashes)
            at = 0
            for index in np.flatnonzero(~_member(hashes, done)).tolist():
                at = block.index(b"\n" + _LINE_START + ids[index] + b'"', at) + 1 if index else 0
                offsets.append(offset + at)
            continue
        keys = []
        for at, line in _lines(block):
            match = _ITEM.match(line)
            if match is not None and line.endswith(b"\n"):
                key = match[1]
            else:
                try:
                    key = str(json.loads(line)["item_id"]).encode("utf-8")
                except ValueError as exc:
                    if not line.endswith(b"\n"):
                        break  # a torn last line: not an item
                    number = _line_number(items, offset + at)
                    raise _bad_line(items, number, offset + at, line) from exc
            keys.append(_key(key))
            if not _member(np.array(keys[-1:], np.int64), done)[0]:
                offsets.append(offset + at)
        seen.append(np.array(keys, np.int64))
    hashes = np.concatenate(seen) if seen else np.empty(0, np.int64)
    if len(np.unique(hashes)) != len(hashes):
        return None
    return Pending(items, offsets)


def _one_item_a_line(block: bytes, found: int) -> bool:
    """Whether each line of a block of the snapshot starts as an item is written and holds no
    other item start (the ids found are the lines' own, in order)."""
    lines = block.count(b"\n")
    return (
        block.endswith(b"\n")
        and found == lines
        and block.startswith(_LINE_START)
        and block.count(b"\n" + _LINE_START) == lines - 1
        and block.count(_LINE_START) == lines  # none in metadata (an id column of its own)
    )


def _member(hashes: np.ndarray, done: np.ndarray) -> np.ndarray:
    """Which of ``hashes`` are in the sorted array ``done``."""
    if not len(done):
        return np.zeros(len(hashes), np.bool_)
    at = np.searchsorted(done, hashes).clip(max=len(done) - 1)
    return np.asarray(done[at] == hashes)


def snapshot_facts(items: Path) -> tuple[int, str]:
    """How many items the snapshot holds (as `scan.count_items` counts them) and its SHA-256,
    in one read of the file (what a resume checks before it trusts the snapshot)."""
    digest = hashlib.sha256()
    total = 0
    for _, block in _blocks(items):
        digest.update(block)
        if block.endswith(b"\n") and not block.startswith(b"\n") and b"\n\n" not in block:
            total += block.count(b"\n")
        else:
            total += sum(1 for _, line in _lines(block) if line.endswith(b"\n"))
    return total, digest.hexdigest()
