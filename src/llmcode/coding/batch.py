"""Batch APIs: a run's requests as OpenAI Batch JSONL, and the batch's life on the provider.

``runs/<run_id>/batch/`` holds ``requests.jsonl`` (one line per pending item and sample:
``custom_id``, ``method``, ``url``, ``body`` — the body exactly what the openai backend sends),
``custom_ids.json`` (custom_id -> item_id and sample), ``state.json`` (the provider's batch id,
input file id, status, request counts, output and error file ids) and, once collected,
``output.jsonl`` / ``errors.jsonl``. The same requests file runs with vLLM's ``run_batch``; its
output is collected by :mod:`llmcode.coding.batch_ingest` like the provider's.

``custom_id`` is ``item-<item_id>`` for ids of letters, digits and ``_.:-`` (at most 64),
else ``item-sha256-<first 16 hex digits of the id's SHA-256>``; sample k > 0 appends ``#k``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import openai
from pydantic import BaseModel, Field, ValidationError

from llmcode import environment
from llmcode.coding.closed import Coder
from llmcode.coding.lifecycle import note_in_manifest, pending_items
from llmcode.errors import BackendError, ConfigError, RunStoreError
from llmcode.items import Item
from llmcode.llm.backends import check_base_url
from llmcode.llm.backends.base import ChatRequest, ChatResponse
from llmcode.llm.backends.openai import NO_KEY, bounds_lengths, completion_body
from llmcode.llm.redaction import redact
from llmcode.store.jsonl import append_line, atomic_write, read_jsonl
from llmcode.store.models import RunConfig, now
from llmcode.store.runs import Run

BATCH_DIR = "batch"
REQUESTS = "requests.jsonl"
CUSTOM_IDS = "custom_ids.json"
STATE = "state.json"
INGESTED = "ingested.jsonl"
ENDPOINT: Final = "/v1/chat/completions"
OPEN_STATUSES = frozenset({"validating", "in_progress", "finalizing", "cancelling"})
OPENAI_MAX_REQUESTS = 50_000  # per batch, and 200 MB per input file (OpenAI's limits)
OPENAI_MAX_BYTES = 200 * 1024 * 1024
_SAFE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


class BatchState(BaseModel):
    """What ``state.json`` remembers about the run's current batch."""

    status: str = "prepared"  # prepared, then the provider's: validating ... completed
    n_requests: int = 0
    prepared_at: datetime = Field(default_factory=now)
    batch_id: str | None = None
    input_file_id: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    request_counts: dict[str, int] = Field(default_factory=dict)
    errors: list[str] = Field(default_factory=list)
    submitted_at: datetime | None = None
    collected_at: datetime | None = None
    previous: list[str] = Field(default_factory=list)  # ids of batches this one replaced


class OfflineBackend:
    """The openai backend's description without a client: for preparing a batch file, and for
    collecting without re-asks. It refuses to answer online."""

    name = "openai"

    def __init__(self, model: str | None = None, base_url: str | None = None) -> None:
        self.model = model or environment.default_model()
        self.base_url = base_url
        self.bound_lengths = bounds_lengths(base_url)

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": self.model,
            "base_url": self.base_url or "https://api.openai.com/v1",
            "response_format": "json_schema",
            "mode": "batch",
        }

    async def complete(self, request: ChatRequest) -> ChatResponse:
        raise BackendError(
            "no online endpoint to re-ask",
            hint="set OPENAI_API_KEY or --base-url, or collect with --no-reask",
        )

    async def aclose(self) -> None:
        return None


def batch_dir(run: Run) -> Path:
    return run.path / BATCH_DIR


def custom_id(item_id: str, sample: int = 0) -> str:
    """The request's ``custom_id`` for one item and sample (see the module docstring)."""
    if _SAFE_ID.fullmatch(item_id):
        base = item_id
    else:
        base = "sha256-" + hashlib.sha256(item_id.encode("utf-8")).hexdigest()[:16]
    return f"item-{base}" + (f"#{sample}" if sample else "")


def request_body(coder: Coder, item: Item, sample: int = 0) -> dict[str, Any]:
    """The chat-completions body the openai backend sends for this item's first ask."""
    backend = coder.backend_for(sample)
    messages, _ = coder.item_messages(item)
    request = coder.request(messages, coder.schema_for(item), sample, backend)
    bound = bool(getattr(backend, "bound_lengths", False))  # as the online backend sends it
    return completion_body(replace(request, logprobs=True), backend.model, bound_lengths=bound)


def write_batch_requests(run: Run, coder: Coder, max_requests: int | None = None) -> Path:
    """``batch/requests.jsonl`` for the run's pending items (the first ones, up to
    ``max_requests`` requests); starts a fresh batch state."""
    previous = read_state(run)
    if previous and previous.batch_id and not previous.collected_at and previous.status != "failed":
        raise RunStoreError(
            f"{run.run_id}: batch {previous.batch_id} ({previous.status}) was not collected",
            hint=f"collect its answers first: llmcode batch collect {run.run_id}",
        )
    todo = pending_items(run)
    if not todo:
        raise RunStoreError(
            f"{run.run_id}: every item has a final record; nothing to send",
            hint=f"see llmcode runs show {run.run_id}",
        )
    if max_requests is not None:
        todo = todo[: max(1, max_requests // coder.config.sampling.samples)]
    folder = batch_dir(run)
    folder.mkdir(exist_ok=True)
    lines: list[str] = []
    mapping: dict[str, dict[str, Any]] = {}
    for item in todo:
        for sample in range(coder.config.sampling.samples):
            cid = custom_id(item.item_id, sample)
            if cid in mapping:
                raise RunStoreError(
                    f"{run.run_id}: items {mapping[cid]['item_id']!r} and "
                    f"{item.item_id!r} share the custom_id {cid!r}"
                )
            mapping[cid] = {"item_id": item.item_id, "sample": sample}
            line = {
                "custom_id": cid,
                "method": "POST",
                "url": ENDPOINT,
                "body": request_body(coder, item, sample),
            }
            lines.append(json.dumps(line, ensure_ascii=False))
    atomic_write(folder / CUSTOM_IDS, json.dumps(mapping, ensure_ascii=False, indent=1))
    atomic_write(folder / REQUESTS, "".join(line + "\n" for line in lines))
    (folder / INGESTED).unlink(missing_ok=True)  # the ingest log belongs to one batch
    earlier = [*previous.previous, previous.batch_id] if previous and previous.batch_id else []
    write_state(run, BatchState(n_requests=len(lines), previous=earlier))
    note_in_manifest(run, "batch", requests=f"{BATCH_DIR}/{REQUESTS}", n_requests=len(lines))
    return folder / REQUESTS


def batch_config(config: RunConfig) -> RunConfig:
    """``config`` for a batch: one item and one request per answer, on an OpenAI-compatible
    endpoint with its model named (the environment's default when none was)."""
    if config.sampling.items_per_request > 1:
        raise ConfigError(
            "batch requests carry one item each; `items_per_request` does not apply",
            hint="drop `items_per_request`, or code online without `batch`",
        )
    if config.guidance.verify != "off":
        raise ConfigError(
            "`verify` asks a second request after each answer; a batch cannot",
            hint="code online with `verify`, or drop `verify` for the batch",
        )
    if config.inputs.hierarchy == "top-down":
        raise ConfigError(
            "coding top-down asks the codes after the categories' answer; a batch cannot",
            hint="code online top-down, or code flat (`hierarchy` flat) for the batch",
        )
    model = config.endpoint.model or environment.default_model()
    return config.replace(backend="openai", model=model)


def read_custom_ids(run: Run) -> dict[str, tuple[str, int]]:
    """custom_id -> (item_id, sample) of the run's current batch."""
    path = batch_dir(run) / CUSTOM_IDS
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {cid: (str(v["item_id"]), int(v["sample"])) for cid, v in raw.items()}
    except FileNotFoundError:
        raise RunStoreError(
            f"{run.run_id}: no batch was prepared ({path} is missing)",
            hint=f"llmcode batch prepare --resume {run.run_id}",
        ) from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RunStoreError(f"{path}: corrupt custom_id mapping ({exc})") from exc


def read_state(run: Run) -> BatchState | None:
    path = batch_dir(run) / STATE
    if not path.is_file():
        return None
    try:
        return BatchState.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        raise RunStoreError(f"{path}: corrupt batch state ({exc.errors()[0]['msg']})") from exc


def write_state(run: Run, state: BatchState) -> None:
    atomic_write(batch_dir(run) / STATE, state.model_dump_json(indent=2))


def openai_client(base_url: str | None = None, timeout: float = 300.0) -> openai.OpenAI:
    """A client for the Files and Batches APIs; the key comes from ``OPENAI_API_KEY``."""
    base_url = check_base_url(base_url) or environment.openai_base_url()
    api_key = environment.openai_api_key()
    if not api_key and not base_url:
        raise ConfigError(
            "batch APIs need OPENAI_API_KEY or a base URL",
            hint="set OPENAI_API_KEY, or --base-url for an OpenAI-compatible server",
        )
    return openai.OpenAI(api_key=api_key or NO_KEY, base_url=base_url, timeout=timeout)


def submit(run: Run, client: openai.OpenAI) -> BatchState:
    """Upload ``requests.jsonl`` and create the batch; refuses to pay twice for one file."""
    state = read_state(run)
    path = batch_dir(run) / REQUESTS
    if state is None or not path.is_file():
        raise RunStoreError(
            f"{run.run_id}: no batch file to submit",
            hint=f"llmcode batch prepare --resume {run.run_id}",
        )
    if state.batch_id is not None:
        raise RunStoreError(
            f"{run.run_id}: this batch file was submitted already as {state.batch_id} "
            f"({state.status})",
            hint=f"llmcode batch status {run.run_id}; to send pending items again, "
            f"llmcode batch prepare --resume {run.run_id}",
        )
    size = path.stat().st_size
    if state.n_requests > OPENAI_MAX_REQUESTS or size > OPENAI_MAX_BYTES:
        raise ConfigError(
            f"{path}: {state.n_requests} requests, {size / 2**20:.0f} MB; a batch takes at most "
            f"{OPENAI_MAX_REQUESTS} requests and {OPENAI_MAX_BYTES // 2**20} MB",
            hint=f"llmcode batch prepare --resume {run.run_id} --max-requests 40000, "
            "then submit, collect and repeat",
        )
    try:
        uploaded = client.files.create(
            file=(f"{run.run_id}.jsonl", path.read_bytes()), purpose="batch"
        )
        batch = client.batches.create(
            input_file_id=uploaded.id,
            endpoint=ENDPOINT,
            completion_window="24h",
            metadata={"llmcode_run": run.run_id[:512]},
        )
    except openai.APIError as exc:
        raise BackendError(f"submitting the batch of {run.run_id} failed: {exc}") from exc
    state = state.model_copy(update={"input_file_id": uploaded.id, "submitted_at": now()})
    return _update(run, state, batch)


def status(run: Run, client: openai.OpenAI) -> BatchState:
    """Ask the provider how the run's batch is doing; saves and returns the state."""
    state = read_state(run)
    if state is None or state.batch_id is None:
        raise RunStoreError(
            f"{run.run_id}: no batch was submitted", hint=f"llmcode batch submit {run.run_id}"
        )
    try:
        batch = client.batches.retrieve(state.batch_id)
    except openai.APIError as exc:
        raise BackendError(f"batch {state.batch_id}: {exc}") from exc
    return _update(run, state, batch)


def download_results(run: Run, client: openai.OpenAI) -> list[Path]:
    """Fetch the finished batch's output and error files into ``batch/``; returns their paths."""
    state = status(run, client)
    if state.status in OPEN_STATUSES:
        counts = state.request_counts
        raise RunStoreError(
            f"batch {state.batch_id} is still {state.status} "
            f"({counts.get('completed', 0) + counts.get('failed', 0)}/{counts.get('total', 0)})",
            hint=f"check again later: llmcode batch status {run.run_id}",
        )
    paths = []
    for file_id, name in (
        (state.output_file_id, "output.jsonl"),
        (state.error_file_id, "errors.jsonl"),
    ):
        if file_id:
            try:
                content = client.files.content(file_id).content
            except openai.APIError as exc:
                raise BackendError(f"downloading {file_id}: {exc}") from exc
            atomic_write(batch_dir(run) / name, redact(content.decode("utf-8")) or "")
            paths.append(batch_dir(run) / name)
    if not paths:
        mark_collected(run)  # nothing to collect: a new batch may replace this one
        reasons = "; ".join(state.errors) or "no output file"
        raise BackendError(
            f"batch {state.batch_id} ended {state.status}: {reasons}",
            hint=f"llmcode batch prepare --resume {run.run_id}, then submit",
        )
    return paths


def mark_collected(run: Run) -> None:
    state = read_state(run)
    if state is not None:
        write_state(run, state.model_copy(update={"collected_at": now()}))


def _update(run: Run, state: BatchState, batch: Any) -> BatchState:
    counts = batch.request_counts
    found = (batch.errors.data or []) if batch.errors else []
    errors = [redact(f"{e.code or 'error'}: {e.message}") or "" for e in found]
    state = state.model_copy(
        update={
            "batch_id": batch.id,
            "status": batch.status,
            "output_file_id": batch.output_file_id,
            "error_file_id": batch.error_file_id,
            "request_counts": counts.model_dump() if counts is not None else {},
            "errors": errors,
        }
    )
    write_state(run, state)
    note_in_manifest(run, "batch", batch_id=batch.id, status=batch.status)
    return state


def read_ingested(run: Run) -> set[str]:
    """custom_ids already turned into records (so collecting twice adds nothing)."""
    return {cid for row in read_jsonl(batch_dir(run) / INGESTED) for cid in row["custom_ids"]}


def append_ingested(run: Run, custom_ids: list[str]) -> None:
    line = json.dumps({"custom_ids": custom_ids}, ensure_ascii=False)
    append_line(batch_dir(run) / INGESTED, line)
