"""The run store: ``runs/<run_id>/`` with manifest, item and taxonomy snapshots, and codings.

``codings.jsonl`` is append-only, one record per item (written and flushed as each finishes, errors
included), so a run killed at any moment resumes without repeating or duplicating work; a torn
record (a kill mid-write, half a record a full disk left) is set aside into ``codings.jsonl.torn``
on resume and its item asked again. The latest record of an item wins. A record is fsynced with it
when the last fsync is ``SYNC_SECONDS`` old, and every record when the phase finishes: a slow run
fsyncs each record, a fast one about twice a second instead of per item (about a tenth of the
client's CPU at 250 items/s), so a power cut (not a kill) may lose the answers of the last half
second, which resume asks for again.

The models written here are in `llmcode.store.models`; the durable file primitives (and the
`RunStoreError` each file-system failure becomes) in `llmcode.store.jsonl`.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from llmcode import environment
from llmcode.errors import LlmcodeError, RunStoreError
from llmcode.item_stream import ItemStream
from llmcode.items import Item
from llmcode.llm.redaction import redact
from llmcode.store import scan
from llmcode.store.jsonl import (
    append_line,
    atomic_write,
    cause_of,
    read_text,
    set_aside_torn,
    sync_file,
)
from llmcode.store.lock import LOCK, RunLock, lock_holder
from llmcode.store.models import CodingRecord, RunConfig, RunManifest, now
from llmcode.taxonomy.model import NONE_CODE, Taxonomy, load_taxonomy

if TYPE_CHECKING:
    from llmcode.store.pending import Snapshot

MANIFEST = "manifest.json"
CODINGS = "codings.jsonl"
ITEMS = "items.jsonl"
TAXONOMY = "taxonomy.yaml"
DECISIONS = "decisions.jsonl"
RUN_FILES = (CODINGS, ITEMS, TAXONOMY, LOCK)
MAX_RUN_ID = 128
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


SYNC_SECONDS = 0.5  # the longest a written record waits for its fsync


class Run:
    """One run directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._items: list[Item] | None = None  # the snapshot this process wrote or read
        self._count: int | None = None  # the items of the snapshot this process wrote
        self.snapshot_read: Snapshot | None = None  # the snapshot as a resume read it
        self._codings: tuple[tuple[int, int], list[CodingRecord]] | None = None
        self.lock: RunLock | None = None  # held while this process starts, codes and finishes it
        self.config: RunConfig | None = None  # the config a resume runs with (--force changes)
        self.notes: dict[str, Any] = {}  # merged into the manifest's ``extra`` when finished
        self._codes: set[str] | None = None
        self.snapshot_sha256: str | None = (
            None  # of the item snapshot this process wrote  # the taxonomy's code ids, read once
        )
        self._synced_at = -SYNC_SECONDS  # when codings.jsonl was last fsynced (monotonic)
        self._unsynced = False

    @property
    def run_id(self) -> str:
        return self.path.name

    def manifest(self) -> RunManifest:
        path = self.path / MANIFEST
        try:
            return RunManifest.model_validate_json(read_text(path))
        except FileNotFoundError:
            raise RunStoreError(f"{self.path}: not a run (no {MANIFEST})") from None
        except ValidationError as exc:
            raise RunStoreError(f"{path}: corrupt manifest ({exc.errors()[0]['msg']})") from exc

    def write_manifest(self, manifest: RunManifest) -> None:
        """Write the manifest, with secrets (a key in ``base_url``, say) redacted."""
        atomic_write(self.path / MANIFEST, redact(manifest.model_dump_json(indent=2)) or "")

    def taxonomy(self) -> Taxonomy:
        return load_taxonomy(self.path / TAXONOMY)

    def write_items(self, items: Iterable[Item]) -> None:
        """Write the item snapshot. A list is kept in memory too (``items()`` does not read it
        back); any other iterable (an `ItemStream` of a million items) is written a block at a
        time and read back from the file when needed."""
        digest = hashlib.sha256()
        count = 0

        def blocks() -> Iterator[bytes]:
            nonlocal count
            lines: list[str] = []
            for i in items:
                row = {"item_id": i.item_id, "text": i.text, "metadata": i.metadata}
                lines.append(json.dumps(row, ensure_ascii=False) + "\n")
                if len(lines) == 4096:
                    yield _digested(digest, lines)
                    count += len(lines)
                    lines = []
            count += len(lines)
            yield _digested(digest, lines)

        atomic_write(self.path / ITEMS, blocks())
        self.snapshot_sha256 = digest.hexdigest()
        self._items = items if isinstance(items, list) else None
        self._count = count

    def item_stream(self) -> ItemStream:
        """The item snapshot as a sized stream, read from the file each time it is iterated
        (from memory when this process wrote it from a list)."""
        return ItemStream(self.iter_items, self.count_items())

    def items(self) -> list[Item]:
        """The item snapshot (read once per process; the snapshot never changes)."""
        if self._items is None:
            self._items = list(scan.iter_items(self.path / ITEMS))
        return list(self._items)

    def holds_items(self) -> bool:
        """Whether this process holds the item snapshot in memory (it wrote it from a list)."""
        return self._items is not None

    def iter_items(self, skip: Container[str] = ()) -> Iterator[Item]:
        """The item snapshot one item at a time (nothing kept: a million items in flat memory),
        without the items whose id is in ``skip`` (not even parsed)."""
        if self._items is not None:
            yield from (item for item in self._items if item.item_id not in skip)
        else:
            yield from scan.iter_items(self.path / ITEMS, skip)

    def items_left(self, final: Iterable[str]) -> list[Item]:
        """The snapshot's items whose latest record's status is not in ``final`` (see
        `scan.items_left`: a million-item run is read as bytes, the items done never parsed)."""
        if self._items is not None:
            latest = self.latest_statuses()
            ended = set(final)
            return [i for i in self._items if latest.get(i.item_id) not in ended]
        return scan.items_left(self.path / ITEMS, self.path / CODINGS, final)

    def count_items(self) -> int:
        """How many items the snapshot holds (its lines counted, not parsed)."""
        if self._items is not None:
            return len(self._items)
        if self._count is not None:
            return self._count
        return scan.count_items(self.path / ITEMS)

    def item_ids(self) -> Iterator[str]:
        """The snapshot's item ids, in order, without reading the texts."""
        if self._items is not None:
            return (item.item_id for item in self._items)
        return scan.item_ids(self.path / ITEMS)

    def append_coding(self, record: CodingRecord) -> None:
        """Append a record; fsync the file when the last fsync is ``SYNC_SECONDS`` old."""
        sync = time.monotonic() - self._synced_at >= SYNC_SECONDS
        append_line(self.path / CODINGS, record.model_dump_json(), sync=sync)
        if sync:
            self._synced_at = time.monotonic()
        self._unsynced = not sync

    def append_codings(self, records: list[CodingRecord]) -> None:
        """Append several records in one durable write (fsynced before it returns): a journal
        that marks work done after its records may rely on them being on disk."""
        if records:
            append_line(self.path / CODINGS, "\n".join(r.model_dump_json() for r in records))

    def sync(self) -> None:
        """Put every appended record on disk (called when a phase of the run finishes)."""
        if self._unsynced:
            sync_file(self.path / CODINGS)
            self._synced_at = time.monotonic()
            self._unsynced = False

    def codings(self) -> list[CodingRecord]:
        """Every record in file order (a torn last line from a kill is ignored).

        Parsed once per version of the file: a second call with ``codings.jsonl`` unchanged
        (same size and modification time) returns the records already parsed.
        """
        path = self.path / CODINGS
        try:
            stat = path.stat()
            version = (stat.st_size, stat.st_mtime_ns)
        except FileNotFoundError:
            version = (-1, -1)
        if self._codings is not None and self._codings[0] == version:
            return list(self._codings[1])
        out = list(scan.iter_records(path))
        self._codings = (version, out)
        return list(out)

    def iter_codings(self) -> Iterator[CodingRecord]:
        """Every record in file order, one at a time (nothing kept: see `codings`)."""
        return scan.iter_records(self.path / CODINGS)

    def latest_codings(self) -> dict[str, CodingRecord]:
        """The latest record per item."""
        return {record.item_id: record for record in self.codings()}

    def iter_latest(self) -> Iterator[tuple[int, CodingRecord]]:
        """The latest record of each item with its rank (the order items first appear in),
        one at a time: two passes over the file (each item's latest line, then those lines
        parsed), so superseded records are never held."""
        return scan.iter_latest(self.path / CODINGS)

    def latest_codes(self) -> scan.LatestCodes:
        """The codes of each item's latest record (counted, with the records that give one and
        their second looks), mostly without parsing a record."""
        self.sync()
        return scan.latest_codes(self.path / CODINGS)

    def latest_statuses(self) -> dict[str, str]:
        """The latest status of each item, read from each record's first fields."""
        return scan.latest_statuses(self.path / CODINGS)

    def counted_codings(
        self, records: Iterable[CodingRecord] | None = None
    ) -> dict[str, CodingRecord]:
        """The latest record of each of the run's own items, as counted and exported: a record
        for an item the snapshot does not hold is left out (a skipped item's record stays), and
        one giving a code outside the run's taxonomy counts as ``invalid``, not as coded."""
        if records is None:
            ranked = sorted(self.iter_latest(), key=lambda pair: pair[0])
            latest = {record.item_id: record for _, record in ranked}
        else:
            latest = {record.item_id: record for record in records}
        own = self.own_ids()
        if own is not None:
            latest = {
                item_id: record
                for item_id, record in latest.items()
                if item_id in own or record.status == "skipped"
            }
        return {item_id: self.counted(record) for item_id, record in latest.items()}

    def iter_counted(self) -> Iterator[tuple[int, CodingRecord]]:
        """`counted_codings` one record at a time, with each item's rank (the order of the
        dict `counted_codings` returns)."""
        own = self.own_ids()
        for rank, record in self.iter_latest():
            if own is None or record.item_id in own or record.status == "skipped":
                yield rank, self.counted(record)

    def own_ids(self) -> set[str] | None:
        """The ids of the item snapshot (None for a run assembled by hand without one)."""
        if not (self.path / ITEMS).is_file():
            return None
        return set(self.item_ids())

    def counted(self, record: CodingRecord) -> CodingRecord:
        """A record as counted and exported: one giving a code outside the run's taxonomy is
        ``invalid``, without that code."""
        known = self.code_ids()
        if known is None:
            return record
        foreign = sorted({c.code for c in record.codes} - known)
        if not foreign:
            return record
        problem = f"code(s) not in the run's taxonomy: {', '.join(foreign)}"
        return record.model_copy(
            update={
                "status": "invalid",
                "codes": [c for c in record.codes if c.code in known],
                "problems": [*record.problems, problem],
            }
        )

    def code_ids(self) -> set[str] | None:
        """The codes a closed run may give (every category of its taxonomy, and ``none``)."""
        if self._codes is not None:  # read once: asked for every record counted
            return self._codes
        if not (self.path / TAXONOMY).is_file():
            return None
        try:
            self._codes = {c.id for c in self.taxonomy().walk()} | {NONE_CODE}
        except LlmcodeError:  # an unreadable snapshot is refused on resume, not here
            return None
        return self._codes

    def repair(self) -> int:
        """Set torn records aside (a kill mid-write, half a record left by a full disk) into
        ``codings.jsonl.torn``; returns how many, also counted in the manifest's
        ``extra.torn_records`` when the run finishes. Their items are asked again."""
        path = self.path / CODINGS
        if not path.is_file():
            return 0
        if _ends_with_newline(path) and scan.whole_lines(path):
            return 0  # every line one whole record: nothing torn (no parse of a million)
        torn = set_aside_torn(path)
        if torn:
            self._codings = None
            before = self.notes.get("torn_records")
            if before is None:
                with contextlib.suppress(RunStoreError):
                    before = self.manifest().extra.get("torn_records", 0)
            self.notes["torn_records"] = int(before or 0) + torn
        return torn


class RunStore:
    """The folder of runs (``./runs`` by default, ``--runs-dir`` or ``LLMCODE_RUNS_DIR``)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root or environment.runs_dir())

    def new_run_id(self, label: str) -> str:
        """``<time>-<label>-<random>``, the label cut down to a safe slug."""
        stamp = now().strftime("%Y%m%d-%H%M%S")
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-.")[:48] or "run"
        return check_run_id(f"{stamp}-{slug}-{secrets.token_hex(2)}")

    def create(self, run_id: str) -> Run:
        path = self.root / check_run_id(run_id)
        if path.exists():
            raise RunStoreError(
                f"{path}: run '{run_id}' exists already",
                hint=f"resume it with `resume` {run_id}, or choose another `run_id`",
            )
        try:
            path.mkdir(parents=True)
        except OSError as exc:
            raise RunStoreError(
                f"cannot create the run folder {path}: {cause_of(exc)}",
                hint="choose a writable runs folder with `runs_dir` or LLMCODE_RUNS_DIR",
            ) from exc
        return Run(path)

    def open(self, ref: str | Path) -> Run:
        """A run by id (in this store) or by path."""
        candidates = [Path(ref), self.root / str(ref)]
        for path in candidates:
            if (path / MANIFEST).is_file():
                return Run(path)
        raise RunStoreError(
            f"no run '{ref}' in {self.root}",
            hint="see `llmcode runs list`, or pass the run directory's path",
        )

    def list(self) -> list[RunManifest]:
        """The manifests of the runs that can be read (see `scan` for the others too)."""
        return [entry.manifest for entry in self.scan() if entry.manifest is not None]

    def scan(self) -> builtins.list[Listing]:  # `list` here is the method above
        """Every run folder in id order, each with its manifest or why it cannot be read."""
        try:
            paths = sorted(self.root.iterdir()) if self.root.is_dir() else []
        except OSError as exc:
            raise RunStoreError(
                f"cannot read the runs folder {self.root}: {cause_of(exc)}"
            ) from exc
        entries = []
        for path in paths:
            if path.name.startswith(".") or not path.is_dir():
                continue  # the response cache, stray files
            if not (path / MANIFEST).is_file():
                if any((path / name).exists() for name in RUN_FILES):
                    problem = f"{path}: no {MANIFEST} (stopped before the run was written?)"
                    entries.append(Listing(path.name, None, problem))
                continue
            try:
                manifest = Run(path).manifest()
            except RunStoreError as exc:
                entries.append(Listing(path.name, None, exc.message))
                continue
            note = (
                f"{path.name}: its manifest names run '{manifest.run_id}' (a copied folder?)"
                if manifest.run_id != path.name
                else None
            )
            entries.append(Listing(path.name, manifest, note, run_status(path, manifest)))
        return entries


def run_status(path: Path, manifest: RunManifest) -> str:
    """The run's status as it is now: a run its manifest says is ``running`` whose process
    holds no lock any more (killed, or the machine restarted) is ``interrupted``."""
    if manifest.status == "running" and lock_holder(path) is None:
        return "interrupted"
    return manifest.status


@dataclass(frozen=True)
class Listing:
    """One run folder as `RunStore.scan` found it: its manifest, or the problem reading it."""

    run_id: str
    """The folder's name: the id the run is opened by (a copied folder has its own)."""
    manifest: RunManifest | None
    problem: str | None
    """Why the manifest cannot be read, or (with a manifest) what is odd about the folder."""
    status: str | None = None
    """The run's status now (see `run_status`)."""


def _digested(digest: Any, lines: list[str]) -> bytes:
    """The lines as UTF-8, added to ``digest``."""
    data = "".join(lines).encode("utf-8")
    digest.update(data)
    return data


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        if handle.seek(0, os.SEEK_END) == 0:
            return True
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def check_run_id(run_id: str) -> str:
    """The id itself when it is a safe slug: letters, digits, ``.``, ``_``, ``-``, bounded length.

    A run id names a folder inside the runs folder; ``../x``, ``a/b``, absolute paths, blanks and
    control characters would write elsewhere or make runs that ``runs list`` cannot see.
    """
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id) or len(run_id) > MAX_RUN_ID:
        shown = repr(run_id) if len(str(run_id)) <= 60 else repr(str(run_id)[:60]) + "..."
        raise RunStoreError(
            f"run id {shown} is not allowed: use 1 to {MAX_RUN_ID} letters, digits, '.', '_' "
            "or '-', starting with a letter or digit",
            hint="e.g. `run_id` pilot-2024-01",
        )
    return run_id


def load_run_codes(
    run: Run | Path, *, unverified: bool = False, confidence: dict[str, Any] | None = None
) -> pd.DataFrame:
    """A run's codes in long format: item_id, coder, code, justification, evidence, confidence
    (and ``disputed`` for a run coded with a second look: the checker rejected the code).

    One row per code of each item's latest record; items without codes are left out (their
    status is in ``codings.jsonl``). A run that coded documents in passages (``unit`` segment)
    gives one row per passage and code: item_id, coder, code, start, end, quote, justification,
    confidence (and status), plus a row without a code for a document coded with no passage (the
    coder read it: gaps count in agreement on passages); passages not found in the text, which
    have no offsets, only with ``unverified``.

    ``confidence``, when given, is filled with what each kind of confidence needs, per row (the
    item's number of samples, the code's token probability, its first assignment's confidence)
    and per run (``several_samples``, ``probabilities``): see
    `llmcode.quality.confidence.with_confidence`, which then does not read the run again.
    """
    run = run if isinstance(run, Run) else Run(Path(run))
    manifest = run.manifest()
    coder = manifest.coder
    if manifest.config.inputs.unit == "segment":
        return _segment_rows(run, coder, unverified)
    verified = manifest.config.guidance.verify != "off"
    names = ["item_id", "code", "justification", "evidence", "confidence", "status", "disputed"]
    facts = ["samples", "logprob", "first_confidence"]  # for ``confidence``
    columns: dict[str, list[Any]] = {name: [] for name in ["rank", *names, *facts]}
    several = probabilities = False
    for rank, record in run.iter_counted():  # one record at a time: flat in the run's size
        disputed = {check.code for check in record.checks if check.outcome == "disputed"}
        several = several or len(record.samples) > 1
        probabilities = probabilities or bool(record.probabilities)
        for assignment in record.codes:
            first = next(c for c in record.codes if c.code == assignment.code)
            columns["samples"].append(len(record.samples))
            columns["logprob"].append(record.probabilities.get(assignment.code))
            columns["first_confidence"].append(first.confidence)
            columns["rank"].append(rank)
            columns["item_id"].append(record.item_id)
            columns["code"].append(assignment.code)
            columns["justification"].append(assignment.justification)
            columns["evidence"].append(" | ".join(span.quote for span in assignment.evidence))
            columns["confidence"].append(assignment.confidence)
            columns["status"].append(record.status)
            columns["disputed"].append(assignment.code in disputed)
    frame = pd.DataFrame(columns)
    frame.insert(2, "coder", pd.Series([coder] * len(frame), dtype=object))
    frame["confidence"] = pd.to_numeric(frame["confidence"]) if len(frame) else frame["confidence"]
    frame = frame.sort_values("rank", kind="stable").drop(columns="rank").reset_index(drop=True)
    if confidence is not None:  # what each kind of confidence needs: the run is not read again
        confidence.update(
            several_samples=several,
            probabilities=probabilities,
            **{name: frame[name].to_numpy(dtype=float, na_value=np.nan) for name in facts},
        )
    frame = frame.drop(columns=facts)
    return frame if verified else frame.drop(columns="disputed")


SEGMENT_COLUMNS = (
    "item_id",
    "coder",
    "code",
    "start",
    "end",
    "quote",
    "justification",
    "confidence",
    "status",
)
"""The columns of a segment run's codes: one row per passage and code."""


def _segment_rows(run: Run, coder: str, unverified: bool) -> pd.DataFrame:
    rows: list[dict[str, object]] = []
    for record in run.counted_codings().values():
        if record.status not in ("ok", "unverified"):
            continue
        kept = [s for s in record.segments if s.verified or unverified]
        for segment in kept:
            for code in segment.codes:
                rows.append(
                    {
                        "item_id": record.item_id,
                        "coder": coder,
                        "code": code.code,
                        "start": segment.start,
                        "end": segment.end,
                        "quote": segment.quote,
                        "justification": code.justification,
                        "confidence": code.confidence,
                        "status": record.status,
                    }
                )
        if not any(s.codes for s in kept):
            rows.append({"item_id": record.item_id, "coder": coder, "status": record.status})
    frame = pd.DataFrame(rows, columns=list(SEGMENT_COLUMNS))
    for name in ("start", "end"):
        frame[name] = frame[name].astype("Int64")
    return frame
