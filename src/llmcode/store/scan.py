"""Streaming reads of a run's JSONL files, so a run of a million items is read in flat memory.

- `iter_records` yields the records of ``codings.jsonl`` one at a time (a torn last line from a
  kill is ignored; a bad line is a `RunStoreError` naming it), validated as stored records
  (`llmcode.store.models.STORED`: not searched for secrets again).
- `latest_statuses` is each item's latest status without parsing whole records: records are
  written with ``item_id`` and ``status`` first, so a prefix match reads both (a line written
  otherwise is parsed as JSON).
- `latest_lines` is the line of each item's latest record (the same prefix match), so the latest
  records can be parsed in a second pass without holding every record (`iter_latest`, with
  each item's rank: the order in which items first appear, the order exports keep).
- `whole_lines` says whether every line of ``codings.jsonl`` is one whole record, cheaply (the
  resume's check for torn records before it looks closer).
- `iter_items` and `item_ids` (`item_keys`: as bytes) stream the item snapshot
  (``items.jsonl``).
- `tally_records` sums the records' usage and keeps each record's item (hashed) and status as
  counted, a block at a time from the bytes where records are written as the store writes them
  (no record parsed unless one of its codes is not a known one, or its line is written
  otherwise): what a finished run's manifest says of it, in seconds for a million records.
- `iter_json` reads chosen records with ``json.loads`` (no validation: the facts an export
  needs), or only those that may hold samples or token probabilities.
- `latest_codes` counts the codes of each item's latest record the same way (what ``code``
  and ``runs show`` say of a run's codes).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Container, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import numpy as np
from pydantic import ValidationError

from llmcode.errors import RunStoreError
from llmcode.items import Item
from llmcode.llm.checks import CodeCheck
from llmcode.store.jsonl import read_text
from llmcode.store.models import STORED, CodingRecord, Status

RECORD_START = b'{"item_id"'
_LINE_RECORD = re.compile(rb'\n\{"item_id":"([^"\\]*)","status":"([a-z]+)"')
"""`_RECORD` after a newline: found faster (a newline is rare, a brace is not), in a block
with a newline put before it."""
_RECORD = re.compile(rb'\{"item_id":"([^"\\]*)","status":"([a-z]+)"')
_RECORDS = _RECORD  # a record starts only a line (no nested object has an item_id): the
# pattern's literal start is searched for fast, where a ^ anchor would try every byte
_ITEM = re.compile(rb'\{"item_id": "([^"\\]*)"')
_ITEMS = re.compile(rb'\n\{"item_id": "([^"\\]*)"')
"""An item line's start, searched in a block behind a newline (`line_ids`): a match only where a
line begins, never an ``item_id`` inside an item's metadata."""
_STRING = rb'[^"\\]*(?:\\.[^"\\]*)*'
"""The inside of a JSON string (unrolled: faster than an alternation per character)."""
_USAGE = re.compile(
    rb'"attempts":(\d+),"model":"'
    + _STRING
    + rb'","prompt_tokens":(\d+),"completion_tokens":(\d+),'
    rb'"cached_calls":(\d+),"cached_prompt_tokens":(\d+),"batch_prompt_tokens":(\d+),'
    rb'"batch_completion_tokens":(\d+),"samples":\['
)
"""A record's usage as the store writes it (no nested object holds this run of fields)."""
USAGE = (
    *("attempts", "prompt_tokens", "completion_tokens", "cached_calls", "cached_prompt_tokens"),
    *("batch_prompt_tokens", "batch_completion_tokens"),
)
"""The fields `_USAGE` reads, in its groups' order."""
_CODE = re.compile(rb'"code":"(' + _STRING + rb')"')
"""Every code a record gives is written so (and so are a few others: its checks'), unescaped
unless it holds a quote or a backslash."""
NEWLINE, BRACE = ord("\n"), ord("}")
BLOCK = 1 << 25
"""Bytes read at a time by the block scans (whole lines: a block ends at a newline)."""


def byte_blocks(path: Path, size: int) -> Iterator[tuple[int, bytes]]:
    """(byte offset, block of whole lines) of a file, blocks of about ``size`` bytes; the last
    block ends where the file does (a torn last line has no newline). A block is read, then its
    last line completed."""
    if not path.is_file():
        return
    offset = 0
    with path.open("rb") as handle:
        while True:
            block = handle.read(size)
            if not block:
                return
            if not block.endswith(b"\n"):
                block += handle.readline()
            yield offset, block
            offset += len(block)


def _blocks(path: Path) -> Iterator[tuple[int, bytes]]:
    """(number of the block's first line, the block) of whole lines (`byte_blocks`)."""
    number = 1
    for _, block in byte_blocks(path, BLOCK):
        yield number, block
        number += block.count(b"\n")


def one_per_line(block: bytes, found: int, start: bytes) -> bool:
    """Whether every line of a block starts with ``start``, holds no second one, and the
    ``found`` matches of a pattern were one a line: ends with a newline, starts with it, and
    counts it once per line."""
    lines = block.count(b"\n")
    return (
        block.endswith(b"\n")
        and found == lines
        and block.startswith(start)
        and block.count(b"\n" + start) == lines - 1
        and block.count(start) == lines
    )


def _newlines(block: bytes) -> np.ndarray | None:
    """The positions of a block's newlines, when it is whole lines without a blank one (else
    None: read it line by line)."""
    data = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(data == NEWLINE)
    if not block.endswith(b"\n") or block.startswith(b"\n") or (np.diff(ends) == 1).any():
        return None
    return ends


def line_ids(block: bytes) -> list[bytes]:
    """The ids of the lines of ``block`` that start as the snapshot writes an item (an id with a
    quote or backslash does not: such a block is read line by line)."""
    return _ITEMS.findall(b"\n" + block)


def _whole_block(block: bytes, matches: int) -> bool:
    """Whether each line of a block of whole lines holds one of ``matches`` (a blank line has
    none, so it sends the block line by line)."""
    return block.endswith(b"\n") and block.count(b"\n") == matches


def _lines(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """(line number, byte offset, line) of a file, blank lines left out."""
    if not path.is_file():
        return
    offset = 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, offset, line
            offset += len(line)


def _bad_line(path: Path, number: int, offset: int, line: bytes) -> RunStoreError:
    """Why a line cannot be read: bytes that are not UTF-8, or not JSON."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return RunStoreError(
            f"{path}:{number}: not valid UTF-8 (byte {offset + exc.start})",
            hint="the file was changed outside llmcode; restore it from a backup or fix that line",
        )
    return RunStoreError(f"{path}:{number}: not valid JSON")


def iter_records(
    path: Path, lines: Iterable[tuple[int, int, bytes]] | None = None
) -> Iterator[CodingRecord]:
    """The records of ``codings.jsonl`` in file order, one at a time (of ``lines``, when given:
    some of its lines with their numbers and offsets)."""
    for number, offset, line in _lines(path) if lines is None else lines:
        try:
            yield CodingRecord.model_validate_json(line, context=STORED)
        except ValidationError as exc:
            if exc.errors()[0]["type"] != "json_invalid":
                read_text(path)  # bytes that are not UTF-8 anywhere are said first
                raise RunStoreError(f"{path}:{number}: invalid record") from exc
            if not line.endswith(b"\n"):  # the last line, without its newline: torn by a kill
                return
            raise _bad_line(path, number, offset, line) from exc


def _id_and_status(path: Path, number: int, offset: int, line: bytes) -> tuple[str, str] | None:
    """A record line's item id and status (None for a torn last line)."""
    found = _RECORD.match(line)
    if found is not None and line.endswith(b"\n"):
        return found[1].decode("utf-8"), found[2].decode("ascii")
    try:
        row: Any = json.loads(line)
    except ValueError as exc:
        if not line.endswith(b"\n"):
            return None
        raise _bad_line(path, number, offset, line) from exc
    if not isinstance(row, dict) or "item_id" not in row or "status" not in row:
        raise RunStoreError(f"{path}:{number}: invalid record")
    return str(row["item_id"]), str(row["status"])


def latest_statuses(path: Path) -> dict[str, str]:
    """Each item's latest status in ``codings.jsonl`` (the latest record wins): a block at a
    time where every line starts as records are written, else line by line."""
    out: dict[str, str] = {}
    for first, block in _blocks(path):
        found = _RECORDS.findall(block)
        if _whole_block(block, len(found)):
            out.update((key.decode("utf-8"), status.decode("ascii")) for key, status in found)
            continue
        for number, offset, line in _block_lines(path, first, block):
            pair = _id_and_status(path, number, offset, line)
            if pair is not None:
                out[pair[0]] = pair[1]
    return out


def _block_lines(path: Path, first: int, block: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(line number, offset in the block, line) of a block's non-blank lines."""
    offset = 0
    for number, line in enumerate(block.splitlines(keepends=True), start=first):
        if line.strip():
            yield number, offset, line
        offset += len(line)


def latest_lines(path: Path) -> dict[str, int]:
    """The line number of each item's latest record."""
    out: dict[str, int] = {}
    for first, block in _blocks(path):
        found = _RECORDS.findall(block)
        if _whole_block(block, len(found)):
            out.update((key.decode("utf-8"), n) for n, (key, _) in enumerate(found, start=first))
            continue
        for number, offset, line in _block_lines(path, first, block):
            pair = _id_and_status(path, number, offset, line)
            if pair is not None:
                out[pair[0]] = number
    return out


_LINE_ID = re.compile(rb'\n\{"item_id":"([^"\\]*)","status":"[a-z]+"')
"""`_LINE_RECORD`'s item id only."""


def latest_numbers(path: Path) -> np.ndarray:
    """The line numbers of each item's latest record, in the order items first appear (the
    values of `latest_lines`), from each record's id as a 64-bit hash and its line number: 16
    bytes a record, no string or dict entry per item."""
    keys: list[np.ndarray] = []
    numbers: list[np.ndarray] = []
    for first, block in _blocks(path):
        found = _LINE_ID.findall(b"\n" + block)
        if _whole_block(block, len(found)):
            keys.append(np.fromiter(map(hash, found), np.int64, len(found)))
            numbers.append(np.arange(first, first + len(found), dtype=np.int64))
            continue
        block_keys, block_numbers = [], []
        for number, offset, line in _block_lines(path, first, block):
            pair = _id_and_status(path, number, offset, line)
            if pair is not None:
                block_keys.append(hash(pair[0].encode("utf-8")))
                block_numbers.append(number)
        keys.append(np.array(block_keys, np.int64))
        numbers.append(np.array(block_numbers, np.int64))
    if not keys:
        return np.empty(0, np.int64)
    every, lines = np.concatenate(keys), np.concatenate(numbers)
    _, first_seen = np.unique(every, return_index=True)
    _, from_end = np.unique(every[::-1], return_index=True)  # the same sorted keys
    latest = len(every) - 1 - from_end
    return lines[latest[np.argsort(first_seen, kind="stable")]]


def iter_latest(path: Path) -> Iterator[tuple[int, CodingRecord]]:
    """Each item's latest record with the item's rank (the order items first appear in the
    file, as a dict of the records keeps them), one at a time in the order of the records."""
    rank = {number: n for n, number in enumerate(latest_lines(path).values())}
    for number, offset, line in _lines(path):
        if number in rank:
            try:
                yield rank[number], CodingRecord.model_validate_json(line, context=STORED)
            except ValidationError as exc:
                if exc.errors()[0]["type"] != "json_invalid":
                    raise RunStoreError(f"{path}:{number}: invalid record") from exc
                raise _bad_line(path, number, offset, line) from exc


def whole_lines(path: Path) -> bool:
    """True when every line of the file ends with its newline and holds one record that looks
    whole (starts as a record does, ends with ``}``, no second record inside: half a record
    with another appended to it is caught). Not a parse: a line that passes may still fail one.
    Counted a block at a time (as many record starts, at line starts, and ``}`` line ends as
    lines), else line by line."""
    for _, block in _blocks(path):
        lines = block.count(b"\n")
        if (  # every line starts as a record, and holds no other record start
            block.endswith(b"\n")
            and block.startswith(RECORD_START)
            and block.count(b"\n" + RECORD_START) == lines - 1
            and block.count(RECORD_START) == lines
        ):
            continue
        if not _whole_lines(block):
            return False
    return True


def _whole_lines(block: bytes) -> bool:
    for line in block.splitlines(keepends=True):
        if not line.strip():
            continue
        body = line.rstrip()
        if (
            not line.endswith(b"\n")
            or not body.startswith(RECORD_START)
            or not body.endswith(b"}")
            or body.find(RECORD_START, 1) != -1
        ):
            return False
    return True


def iter_items(path: Path, skip: Container[str] = ()) -> Iterator[Item]:
    """The items of a snapshot (``items.jsonl``) one at a time, in order; those whose id is in
    ``skip`` are passed over unparsed (a resume reads only the items left)."""
    for first, block in _blocks(path):
        found = list(_ITEMS.finditer(b"\n" + block)) if skip else []
        if skip and _whole_block(block, len(found)):
            for match in found:
                if match[1].decode("utf-8") not in skip:
                    line = block[match.start() : block.index(b"\n", match.start())]
                    yield _item(json.loads(line))
            continue
        for number, offset, line in _block_lines(path, first, block):
            try:
                row = json.loads(line)
            except ValueError as exc:
                if not line.endswith(b"\n"):
                    return
                raise _bad_line(path, number, offset, line) from exc
            if row["item_id"] not in skip:
                yield _item(row)


def items_left(items: Path, codings: Path, final: Iterable[str]) -> list[Item]:
    """The items of the snapshot ``items`` whose latest record in ``codings`` has no status in
    ``final``, in order: what a resume codes. Ids and statuses are compared as the bytes both
    files hold (no string per record, no parse of an item already done), so a run of a
    million items resumes in seconds."""
    latest: dict[bytes, bytes] = {}
    for first, block in _blocks(codings):
        found = _RECORDS.findall(block)
        if _whole_block(block, len(found)):
            latest.update(found)
            continue
        for number, offset, line in _block_lines(codings, first, block):
            pair = _id_and_status(codings, number, offset, line)
            if pair is not None:
                latest[pair[0].encode("utf-8")] = pair[1].encode("utf-8")
    ended = {status.encode("utf-8") for status in final}
    done = {key for key, status in latest.items() if status in ended}
    left: list[Item] = []
    for first, block in _blocks(items):
        ids = line_ids(block)
        if _whole_block(block, len(ids)):
            for key in (key for key in ids if key not in done):
                left.append(_item(json.loads(_line_of(block, key))))
            continue
        for number, offset, line in _block_lines(items, first, block):
            try:
                row = json.loads(line)
            except ValueError as exc:
                if not line.endswith(b"\n"):
                    break
                raise _bad_line(items, number, offset, line) from exc
            if str(row["item_id"]).encode("utf-8") not in done:
                left.append(_item(row))
    return left


def _line_of(block: bytes, key: bytes) -> bytes:
    """The line of the item ``key`` in a block of the snapshot (ids are unique)."""
    start = b'{"item_id": "' + key + b'"'
    at = 0 if block.startswith(start) else block.index(b"\n" + start) + 1
    return block[at : block.index(b"\n", at)]


def count_items(path: Path) -> int:
    """How many items a snapshot holds (its non-blank lines; a torn last line not counted)."""
    total = 0
    for first, block in _blocks(path):
        ends = _newlines(block)
        if ends is not None:
            total += len(ends)
        else:
            total += sum(1 for *_, line in _block_lines(path, first, block) if line.endswith(b"\n"))
    return total


def _item(row: dict[str, Any]) -> Item:
    return Item(row["item_id"], row["text"], row.get("metadata", {}))


def item_ids(path: Path) -> Iterator[str]:
    """The item ids of a snapshot, in order, without reading the texts into items: a block at
    a time where every line starts as the snapshot writes items, else line by line."""
    for first, block in _blocks(path):
        found = line_ids(block)
        if _whole_block(block, len(found)):
            yield from (key.decode("utf-8") for key in found)
            continue
        for number, offset, line in _block_lines(path, first, block):
            match = _ITEM.match(line)
            if match is not None and line.endswith(b"\n"):
                yield match[1].decode("utf-8")
                continue
            try:
                yield str(json.loads(line)["item_id"])
            except ValueError as exc:
                if not line.endswith(b"\n"):
                    return
                raise _bad_line(path, number, offset, line) from exc


def item_keys(path: Path) -> Iterator[bytes]:
    """The item ids of a snapshot as UTF-8 bytes, in order (as `item_ids`)."""
    for first, block in _blocks(path):
        found = line_ids(block)
        if _whole_block(block, len(found)):
            yield from found
            continue
        for number, offset, line in _block_lines(path, first, block):
            match = _ITEM.match(line)
            if match is not None and line.endswith(b"\n"):
                yield match[1]
                continue
            try:
                yield str(json.loads(line)["item_id"]).encode("utf-8")
            except ValueError as exc:
                if not line.endswith(b"\n"):
                    return
                raise _bad_line(path, number, offset, line) from exc


STATUS_NAMES: tuple[str, ...] = get_args(Status)
_STATUS_NUMBERS = {name.encode("ascii"): n for n, name in enumerate(STATUS_NAMES)}


@dataclass
class Tally:
    """The records of ``codings.jsonl`` summed: their usage, and each record's item (a 64-bit
    hash of its id's UTF-8 bytes) and status (its number in `STATUS_NAMES`), in order."""

    usage: Counter[str]
    keys: np.ndarray
    statuses: np.ndarray

    def latest(self) -> tuple[np.ndarray, np.ndarray]:
        """Each item's key (sorted) and the status of its latest record."""
        keys, first = np.unique(self.keys[::-1], return_index=True)
        return keys, self.statuses[::-1][first]


def tally_records(
    path: Path,
    known: Container[str] | None = None,
    counted: Callable[[CodingRecord], CodingRecord] = lambda record: record,
) -> Tally:
    """The usage of every record of ``codings.jsonl`` summed (`USAGE`), and each record's item
    and status as counted, as ``counted`` (`Run.counted`) would give them for every record
    parsed, in flat memory (9 bytes a record; ids compared as hashes: a collision, about one
    chance in 10^13 at a million items, would merge two items' counts).

    A block whose every line is a record as the store writes it, and whose every code is in
    ``known`` (None: any code), is read from its bytes: ``counted`` changes nothing of such a
    record. Any other block is read record by record (parsed and ``counted``; a torn last
    line is ignored, a bad line is a `RunStoreError` naming it).
    """
    totals: Counter[str] = Counter()
    keys: list[np.ndarray] = []
    statuses: list[np.ndarray] = []
    for first, block in _blocks(path):
        found = _LINE_RECORD.findall(b"\n" + block)
        if _whole_block(block, len(found)) and _known_codes(block, known):
            usage = _USAGE.findall(block)
            numbers = [_STATUS_NUMBERS.get(status, -1) for _, status in found]
            if len(usage) == len(found) and -1 not in numbers:
                sums = np.array(usage, dtype=np.bytes_).astype(np.int64).sum(axis=0)
                totals.update(dict(zip(USAGE, (int(n) for n in sums), strict=True)))
                keys.append(np.fromiter((hash(key) for key, _ in found), np.int64, len(found)))
                statuses.append(np.array(numbers, np.int8))
                continue
        block_keys, block_statuses = [], []
        for record in iter_records(path, _block_lines(path, first, block)):
            record = counted(record)
            totals.update({name: getattr(record, name) for name in USAGE})
            block_keys.append(hash(record.item_id.encode("utf-8")))
            block_statuses.append(STATUS_NAMES.index(record.status))
        keys.append(np.array(block_keys, np.int64))
        statuses.append(np.array(block_statuses, np.int8))
    return Tally(
        totals,
        np.concatenate(keys) if keys else np.empty(0, np.int64),
        np.concatenate(statuses) if statuses else np.empty(0, np.int8),
    )


def _known_codes(block: bytes, known: Container[str] | None) -> bool:
    """Whether every code written in ``block`` is in ``known`` (always, when None)."""
    if known is None:
        return True
    return all(
        b"\\" not in code and code.decode("utf-8") in known for code in set(_CODE.findall(block))
    )


@dataclass
class LatestCodes:
    """What each item's latest record gave: every code (counted as often as given, in the order
    the records give them), how many of those records give one, and their second looks."""

    codes: Counter[str] = field(default_factory=Counter)
    coded: int = 0
    checks: list[CodeCheck] = field(default_factory=list)


_PLAIN = b'"checks":[],"segments":[],'
"""Written once in every record without second looks and passages: in such a record, only its
codes are written as ``"code":"..."``."""


def latest_codes(path: Path) -> LatestCodes:
    """The codes of each item's latest record in ``codings.jsonl`` (as `iter_latest` gives the
    records), read from the bytes of blocks of records without second looks and passages
    written as the store writes them; other blocks record by record."""
    numbers = latest_numbers(path)
    latest = np.zeros(int(numbers.max(initial=0)) + 1, dtype=bool)
    latest[numbers] = True
    out = LatestCodes()
    for first, block in _blocks(path):
        ends = _newlines(block)
        if ends is not None and block.count(_PLAIN) == len(ends):
            chosen = latest[first : first + len(ends)]
            if len(chosen) == len(ends) and chosen.all():  # every line the latest: no positions
                for code, n in Counter(_CODE.findall(block)).items():
                    out.codes[_code(code)] += n
                out.coded += block.count(b'"codes":[{')  # a record with codes, once
                continue
            found, starts = [], []
            for match in _CODE.finditer(block):
                found.append(match[1])
                starts.append(match.start())
            lines = first + np.searchsorted(ends, np.array(starts, dtype=np.int64))
            kept = latest[lines] if len(lines) else np.zeros(0, dtype=bool)
            out.codes.update(_code(code) for code, keep in zip(found, kept, strict=True) if keep)
            out.coded += len(np.unique(lines[kept]))
            continue
        chosen_lines = (
            line for line in _block_lines(path, first, block) if _is_latest(latest, line[0])
        )
        for record in iter_records(path, chosen_lines):
            out.codes.update(c.code for c in record.codes)
            out.coded += bool(record.codes)
            out.checks += record.checks
    return out


def _is_latest(latest: np.ndarray, number: int) -> bool:
    return number < len(latest) and bool(latest[number])


def _code(written: bytes) -> str:
    """A code as ``"code":"..."`` writes it (JSON escapes undone)."""
    return str(json.loads(b'"' + written + b'"')) if b"\\" in written else written.decode("utf-8")


_PLAIN_CONFIDENCE = b'"samples":[],"probabilities":{},"examples":'
"""Written once in every record without samples and token probabilities."""
_NO_CHECKS = b'"checks":[],'
"""Written once in a record without second looks."""
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _loads(line: bytes) -> Any:
    """``json.loads`` of a record's line, without its per-call checks when the line starts
    with the record (the C scanner ``json.loads`` ends in; anything else is read by it)."""
    text = line.decode("utf-8")
    try:
        row, end = _SCAN(text, 0)
    except StopIteration:
        return json.loads(text)
    if text[end:].strip():
        return json.loads(text)  # raises: extra data
    return row


_CODES_END = b',"suggested_code":'
"""Written once in every record, right after its codes (no nested object has the key)."""


def iter_json(
    path: Path, chosen: np.ndarray, *, unplain: bool = False
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record as JSON) of the lines of ``codings.jsonl`` that ``chosen`` (by line
    number) marks, in file order, read as ``json.loads`` reads them (no validation: the facts an
    export needs). A record written without samples, token probabilities and second looks is
    read up to its codes only (the rest is left out of the record). A torn last line is
    ignored; a bad line, or a line without an item id and status, is a `RunStoreError` naming
    it. With ``unplain``, only the records that may hold samples or token probabilities (not
    written with both empty)."""
    for first, block in _blocks(path):
        if unplain:
            ends = _newlines(block)
            if ends is not None and block.count(_PLAIN_CONFIDENCE) == len(ends):
                continue
        for number, offset, line in _block_lines(path, first, block):
            if number >= len(chosen) or not chosen[number]:
                continue
            plain = _PLAIN_CONFIDENCE in line
            if unplain and plain:
                continue
            whole = plain and _NO_CHECKS in line and line.endswith(b"\n")
            cut = line.find(_CODES_END) if whole else -1
            try:
                row = _loads(line[:cut] + b"}" if cut > 0 else line)
            except ValueError as exc:
                if not line.endswith(b"\n"):
                    return
                raise _bad_line(path, number, offset, line) from exc
            if not isinstance(row, dict) or "item_id" not in row or "status" not in row:
                raise RunStoreError(f"{path}:{number}: invalid record")
            yield number, row
