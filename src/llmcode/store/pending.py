"""What a resume codes: the snapshot's items without a final record, found from the bytes of
both files, so a run of a million items reaches its first request in seconds, in flat memory.

`done_hashes` reads ``codings.jsonl`` a block at a time: records are written with ``item_id``
and ``status`` first, so one regular expression reads both, and of each item only a 64-bit hash
of its id is kept (in a numpy array: 8 bytes an item, not a string and a dict entry) with
whether its latest record is final. `read_snapshot` reads the snapshot once (what a resume
checks: its items counted, its SHA-256) and keys its ids the same way; `Pending` reads the
items left, and only the blocks that hold them, when iterated.

A block where a line is not one whole record as written (a torn record, a line written
otherwise) is read line by line, after ``Run.repair`` has set torn records aside. When two of
the snapshot's ids share a hash, `Snapshot.pending` says so and the caller compares ids as text
(`scan.items_left`). An id that only the records hold (a skipped item's) sharing a hash with
an item left would pass that item over: with 64-bit hashes, about one chance in 10^13 for a
million items and ten such ids.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from llmcode.item_stream import ItemStream
from llmcode.items import Item
from llmcode.store.scan import (
    _ITEM,
    _RECORDS,
    RECORD_START,
    _bad_line,
    _id_and_status,
    _item,
    byte_blocks,
    line_ids,
    one_per_line,
)

BLOCK = 1 << 24
"""Bytes read at a time (whole lines: a block ends at a newline)."""
_LINE_START = b'{"item_id": "'
_key = hash
"""An id's 64-bit key (Python's hash of its bytes: the same within this process)."""


def _blocks(path: Path) -> Iterator[tuple[int, bytes]]:
    """(byte offset, block of whole lines) of a file (lines are counted only for an error)."""
    return byte_blocks(path, BLOCK)


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
    block, without a parse): its id and status were ``found`` (one match a line)."""
    return one_per_line(block, found, RECORD_START)


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


@dataclass(frozen=True)
class Snapshot:
    """The item snapshot as one read of it found it: what a resume checks (its items counted,
    its SHA-256) and the 64-bit key of each item's id, in order, with the blocks they are in."""

    path: Path
    count: int
    sha256: str
    keys: np.ndarray
    blocks: list[tuple[int, int, int]]
    """(byte offset, length, index of its first item) of each block read."""

    def pending(self, done: np.ndarray) -> Pending | None:
        """The items whose key is not in ``done`` (sorted); None when two of the snapshot's
        ids share a key (decide those exactly instead)."""
        ordered = np.sort(self.keys)
        if (ordered[1:] == ordered[:-1]).any():
            return None
        return Pending(self, np.flatnonzero(~_member(self.keys, done)))


def read_snapshot(items: Path) -> Snapshot:
    """The snapshot counted (as `scan.count_items` counts it: non-blank lines, a torn last
    line left out), hashed and its ids keyed, in one read of the file."""
    digest = hashlib.sha256()
    keys: list[np.ndarray] = []
    blocks: list[tuple[int, int, int]] = []
    first = 0
    for offset, block in _blocks(items):
        digest.update(block)
        ids = line_ids(block)
        if _one_item_a_line(block, len(ids)):
            found = np.fromiter(map(_key, ids), np.int64, len(ids))
        else:
            found = np.array([_key(key) for key in _line_keys(items, offset, block)], np.int64)
        keys.append(found)
        blocks.append((offset, len(block), first))
        first += len(found)
    every = np.concatenate(keys) if keys else np.empty(0, np.int64)
    return Snapshot(items, len(every), digest.hexdigest(), every, blocks)


def _line_keys(items: Path, offset: int, block: bytes) -> Iterator[bytes]:
    """The id of each item line of a block read line by line (a torn last line has none)."""
    for at, line in _item_lines(block):
        match = _ITEM.match(line)
        if match is not None:
            yield match[1]
            continue
        try:
            yield str(json.loads(line)["item_id"]).encode("utf-8")
        except (ValueError, KeyError, TypeError) as exc:
            raise _bad_line(items, _line_number(items, offset + at), offset + at, line) from exc


def _item_lines(block: bytes) -> Iterator[tuple[int, bytes]]:
    """(offset in the block, line) of the lines that hold an item: not blank, and ended (a
    torn last line is not an item)."""
    return ((at, line) for at, line in _lines(block) if line.endswith(b"\n"))


class Pending:
    """The snapshot's items left: their places in it, each read when iterated (only the
    blocks that hold one are read again)."""

    def __init__(self, snapshot: Snapshot, left: np.ndarray) -> None:
        self.snapshot = snapshot
        self.left = left

    def __len__(self) -> int:
        return len(self.left)

    def __iter__(self) -> Iterator[Item]:
        snapshot = self.snapshot
        starts = np.array([first for *_, first in snapshot.blocks], np.int64)
        where = np.searchsorted(starts, self.left, side="right") - 1
        with snapshot.path.open("rb") as handle:
            for number in np.unique(where).tolist():
                offset, length, first = snapshot.blocks[number]
                handle.seek(offset)
                lines = list(_item_lines(handle.read(length)))
                for index in self.left[where == number].tolist():
                    at, line = lines[index - first]
                    try:
                        row = json.loads(line)
                    except ValueError as exc:
                        place = _line_number(snapshot.path, offset + at)
                        raise _bad_line(snapshot.path, place, offset + at, line) from exc
                    yield _item(row)

    def stream(self) -> ItemStream:
        return ItemStream(self.__iter__, len(self))


def _one_item_a_line(block: bytes, found: int) -> bool:
    """Whether each line of a block of the snapshot starts as an item is written and holds no
    other item start (none in metadata: the ids found are the lines' own, in order)."""
    return one_per_line(block, found, _LINE_START)


def _member(hashes: np.ndarray, done: np.ndarray) -> np.ndarray:
    """Which of ``hashes`` are in the sorted array ``done``."""
    if not len(done):
        return np.zeros(len(hashes), np.bool_)
    at = np.searchsorted(done, hashes).clip(max=len(done) - 1)
    return np.asarray(done[at] == hashes)
