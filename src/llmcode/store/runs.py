"""The run store: ``runs/<run_id>/`` with manifest, item and taxonomy snapshots, and codings.

``codings.jsonl`` is append-only, one record per item (flushed and fsynced as each finishes,
errors included), so a run killed at any moment resumes without repeating or duplicating work;
a torn last line from a kill is repaired on resume. The latest record of an item wins.

File-system trouble (a runs folder under a file or without write permission, a full disk,
bytes that are not UTF-8) is a `RunStoreError` naming the file and the cause; a failed write
leaves no ``.tmp`` file behind.
"""

from __future__ import annotations

import builtins
import errno
import json
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from llmcode.errors import RunStoreError
from llmcode.items import Item
from llmcode.llm.answers import CodeAssignment, SuggestedCode
from llmcode.llm.checks import CodeCheck
from llmcode.llm.redaction import redact
from llmcode.store.lock import RunLock
from llmcode.taxonomy.model import Level, Taxonomy, load_taxonomy

MANIFEST = "manifest.json"
CODINGS = "codings.jsonl"
ITEMS = "items.jsonl"
TAXONOMY = "taxonomy.yaml"
DECISIONS = "decisions.jsonl"
MAX_RUN_ID = 128
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
Status = Literal["ok", "unverified", "invalid", "error", "skipped"]
FINAL_STATUSES = {"ok", "unverified", "invalid", "skipped"}


def now() -> datetime:
    return datetime.now(UTC)


class RunConfig(BaseModel):
    """Everything that decides how a run codes; frozen and saved in the manifest (no secrets)."""

    model_config = ConfigDict(frozen=True)
    taxonomy_path: str
    items_path: str
    id_column: str = "item_id"
    text_columns: tuple[str, ...] | None = None
    sheet: str | None = None
    backend: str = "local"
    model: str | None = None
    base_url: str | None = None
    model_path: str | None = None
    temperature: float = 0.0
    max_tokens: int = 512
    seed: int | None = 0
    level: Level = "top"
    concurrency: int = Field(default=8, ge=1)
    max_reasks: int = Field(default=2, ge=0)
    limit: int | None = Field(default=None, ge=1)
    samples: int = Field(default=1, ge=1)
    evidence: Literal["free", "choice"] = "free"
    items_per_request: int = Field(default=1, ge=1)
    rpm: float | None = Field(default=None, gt=0)
    tpm: float | None = Field(default=None, gt=0)
    max_cost: float | None = Field(default=None, ge=0)
    timeout: float = Field(default=120.0, gt=0)
    more_models: tuple[str, ...] = ()
    examples: str | None = None
    """Example codes (``--examples``): a long-format file or a reviewed run directory."""
    examples_items: str | None = None
    examples_coder: str | None = None
    shots: int = Field(default=4, ge=0)
    examples_similarity: Literal["tfidf", "embedding"] = "tfidf"
    embedding_model: str | None = None
    """GGUF file for ``examples_similarity="embedding"`` (default: the bundled model)."""
    splits: str | None = None
    """Item splits (item_id, split); items of the ``test`` split are never examples."""
    prompts_dir: str | None = None
    verify: Literal["off", "flag", "drop"] = "off"
    only: str | None = None
    """A table of item ids (``--only``): only those items were coded."""


class Sample(BaseModel):
    """One of several codings drawn for the same item (for confidence by self-consistency)."""

    codes: list[str]
    status: Status
    model: str = ""
    probabilities: dict[str, float] = Field(default_factory=dict)
    """Probability of each chosen code from token log-probabilities (empty when none given)."""


class CodingRecord(BaseModel):
    """What one item got: verified codes, or the reason it has none. Never dropped."""

    item_id: str
    status: Status
    codes: list[CodeAssignment] = Field(default_factory=list)
    suggested_code: SuggestedCode | None = None
    problems: list[str] = Field(default_factory=list)
    error: str | None = None
    raw: str | None = None
    attempts: int = 0
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_calls: int = 0
    samples: list[Sample] = Field(default_factory=list)
    probabilities: dict[str, float] = Field(default_factory=dict)
    """Probability of each chosen code from token log-probabilities (empty when none given)."""
    examples: list[str] = Field(default_factory=list)
    """Ids of the retrieved examples shown with the item (``--examples``)."""
    checks: list[CodeCheck] = Field(default_factory=list)
    """The second look at each assigned code (``--verify``)."""
    finished_at: datetime = Field(default_factory=now)

    @field_validator("error", "raw")
    @classmethod
    def _no_secret(cls, value: str | None) -> str | None:
        return redact(value)

    @field_validator("problems")
    @classmethod
    def _no_secrets(cls, value: list[str]) -> list[str]:
        return [redact(problem) or "" for problem in value]


class RunManifest(BaseModel):
    """Provenance and progress of a run: model, prompts, taxonomy and items, all hashed."""

    run_id: str
    kind: str = "closed"
    status: Literal["running", "complete", "interrupted", "failed"] = "running"
    created_at: datetime = Field(default_factory=now)
    finished_at: datetime | None = None
    llmcode_version: str = ""
    config: RunConfig
    taxonomy: dict[str, Any] = Field(default_factory=dict)
    prompts: dict[str, Any] = Field(default_factory=dict)
    backend: dict[str, Any] = Field(default_factory=dict)
    items: dict[str, Any] = Field(default_factory=dict)
    counts: dict[str, int] = Field(default_factory=dict)
    usage: dict[str, float] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)

    @property
    def coder(self) -> str:
        """The name this run codes under in long-format exports: the model."""
        return str(self.backend.get("model") or self.config.model or self.run_id)


class Run:
    """One run directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._items: list[Item] | None = None  # the snapshot this process wrote or read
        self._codings: tuple[tuple[int, int], list[CodingRecord]] | None = None
        self.lock: RunLock | None = None  # held while this process starts, codes and finishes it
        self.config: RunConfig | None = None  # the config a resume runs with (--force changes)
        self.notes: dict[str, Any] = {}  # merged into the manifest's ``extra`` when finished

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
        items = list(items)
        lines = (
            json.dumps(
                {"item_id": i.item_id, "text": i.text, "metadata": i.metadata}, ensure_ascii=False
            )
            for i in items
        )
        atomic_write(self.path / ITEMS, "".join(line + "\n" for line in lines))
        self._items = items

    def items(self) -> list[Item]:
        """The item snapshot (read once per process; the snapshot never changes)."""
        if self._items is None:
            rows = read_jsonl(self.path / ITEMS)
            self._items = [
                Item(item_id=r["item_id"], text=r["text"], metadata=r.get("metadata", {}))
                for r in rows
            ]
        return list(self._items)

    def append_coding(self, record: CodingRecord) -> None:
        append_line(self.path / CODINGS, record.model_dump_json())

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
        out = []
        for number, row in enumerate(read_jsonl(self.path / CODINGS), start=1):
            try:
                out.append(CodingRecord.model_validate(row))
            except ValidationError as exc:
                raise RunStoreError(f"{self.path / CODINGS}:{number}: invalid record") from exc
        self._codings = (version, out)
        return list(out)

    def latest_codings(self) -> dict[str, CodingRecord]:
        """The latest record per item."""
        return {record.item_id: record for record in self.codings()}

    def repair(self) -> int:
        """Cut a torn last line (left by a kill mid-write); returns the bytes removed."""
        return repair_jsonl(self.path / CODINGS)


class RunStore:
    """The folder of runs (``./runs`` by default, ``--runs-dir`` or ``LLMCODE_RUNS_DIR``)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root or os.environ.get("LLMCODE_RUNS_DIR") or "runs")

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
                hint=f"resume it with --resume {run_id}, or choose another --run-id",
            )
        try:
            path.mkdir(parents=True)
        except OSError as exc:
            raise RunStoreError(
                f"cannot create the run folder {path}: {_cause(exc)}",
                hint="choose a writable runs folder with --runs-dir or LLMCODE_RUNS_DIR",
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
            raise RunStoreError(f"cannot read the runs folder {self.root}: {_cause(exc)}") from exc
        entries = []
        for path in paths:
            if not (path / MANIFEST).is_file():
                continue
            try:
                entries.append(Listing(path.name, Run(path).manifest(), None))
            except RunStoreError as exc:
                entries.append(Listing(path.name, None, exc.message))
        return entries


@dataclass(frozen=True)
class Listing:
    """One run folder as `RunStore.scan` found it: its manifest, or the problem reading it."""

    run_id: str
    manifest: RunManifest | None
    problem: str | None


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
            hint="e.g. --run-id pilot-2024-01",
        )
    return run_id


def load_run_codes(run: Run | Path) -> pd.DataFrame:
    """A run's codes in long format: item_id, coder, code, justification, evidence, confidence.

    One row per code of each item's latest record; items without codes are left out (their
    status is in ``codings.jsonl``).
    """
    run = run if isinstance(run, Run) else Run(Path(run))
    coder = run.manifest().coder
    rows = []
    for record in run.latest_codings().values():
        for assignment in record.codes:
            rows.append(
                {
                    "item_id": record.item_id,
                    "coder": coder,
                    "code": assignment.code,
                    "justification": assignment.justification,
                    "evidence": " | ".join(span.quote for span in assignment.evidence),
                    "confidence": assignment.confidence,
                    "status": record.status,
                }
            )
    columns = ["item_id", "coder", "code", "justification", "evidence", "confidence", "status"]
    return pd.DataFrame(rows, columns=columns)


def _cause(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _write_failed(path: Path, exc: OSError) -> RunStoreError:
    hint = (
        "free some disk space, then continue with --resume"
        if exc.errno == errno.ENOSPC
        else "check that the folder exists and is writable (--runs-dir, LLMCODE_RUNS_DIR)"
    )
    return RunStoreError(f"cannot write {path}: {_cause(exc)}", hint=hint)


def atomic_write(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so readers never see half a file.

    On failure the temporary file is removed and a `RunStoreError` names the file and cause.
    """
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _write_failed(path, exc) from exc


def append_line(path: Path, line: str) -> None:
    """Append one JSON line and make it durable before returning (a failure is a RunStoreError;
    a partly written line is a torn last line, cut on resume)."""
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise _write_failed(path, exc) from exc


def read_text(path: Path, *, torn_tail: bool = False) -> str:
    """A UTF-8 text file; bytes that are not UTF-8 are a `RunStoreError` naming the line.

    With `torn_tail`, an unterminated last line (a write cut by a kill, perhaps inside a
    character) is decoded leniently, for the caller to drop.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise RunStoreError(f"cannot read {path}: {_cause(exc)}") from exc
    tail = b""
    if torn_tail and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        data, tail = data[:cut], data[cut:]
    try:
        return data.decode("utf-8") + tail.decode("utf-8", errors="replace")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise RunStoreError(
            f"{path}:{line}: not valid UTF-8 (byte {exc.start})",
            hint="the file was changed outside llmcode; restore it from a backup or fix that line",
        ) from exc


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file; a torn (unterminated, unparseable) last line is ignored."""
    if not path.is_file():
        return []
    rows = []
    lines = read_text(path, torn_tail=True).split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            if number == len(lines):  # the last line, without its newline: torn by a kill
                break
            raise RunStoreError(f"{path}:{number}: not valid JSON") from exc
    return rows


def repair_jsonl(path: Path) -> int:
    """Truncate an unterminated last line; returns how many bytes were cut."""
    if not path.is_file():
        return 0
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return 0
    keep = data.rfind(b"\n") + 1
    with path.open("r+b") as handle:
        handle.truncate(keep)
        handle.flush()
        os.fsync(handle.fileno())
    return len(data) - keep
