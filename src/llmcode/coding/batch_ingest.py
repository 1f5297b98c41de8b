"""Collecting a batch: output lines (OpenAI Batch or vLLM ``run_batch``) into coding records.

Each line (``custom_id``, ``response: {status_code, body}``, ``error``) is mapped back to its
item and sample through ``batch/custom_ids.json``. An answered line goes through the usual
checks (``check_answer``: schema, taxonomy codes, verbatim evidence) and, when they fail, the
usual bounded re-asks — online, through the run's backend, continuing the conversation from the
batch's answer. A failed line (an ``error``, a status other than 200, no message) becomes an
``error`` record (retried by ``llmcode code --resume`` or a new batch) and is listed in the
report. Lines already collected are remembered in ``batch/ingested.jsonl``, so collecting twice
adds nothing; items that already have a final record are left alone.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai

from llmcode.coding.batch import (
    INGESTED,
    append_ingested,
    batch_dir,
    download_results,
    mark_collected,
    read_custom_ids,
    read_ingested,
)
from llmcode.coding.closed import Coder, merge_samples
from llmcode.coding.lifecycle import finish_run, pending_items
from llmcode.errors import ConfigError, RunStoreError
from llmcode.items import Item
from llmcode.llm.backends.base import Backend, ChatResponse
from llmcode.llm.backends.openai import parse_completion
from llmcode.llm.redaction import redact
from llmcode.store.config import RunConfig
from llmcode.store.jsonl import repair_jsonl
from llmcode.store.models import FINAL_STATUSES, CodingRecord
from llmcode.store.runs import Run

Outcome = ChatResponse | str  # an answer, or why the line failed
JOURNAL_GROUP = 256  # records written per fsync


@dataclass(frozen=True)
class FailedLine:
    """A request the batch did not answer."""

    custom_id: str
    item_id: str
    error: str


@dataclass
class IngestReport:
    """What collecting did."""

    lines: int = 0
    statuses: Counter[str] = field(default_factory=Counter)  # records written, by status
    failed: list[FailedLine] = field(default_factory=list)
    reasked: int = 0  # records that needed re-asks online
    skipped: int = 0  # lines collected before, or whose item already has a final record
    unreadable: list[str] = field(default_factory=list)  # "file:line: why"
    missing: list[str] = field(default_factory=list)  # item ids of the batch without a line


def parse_line(row: dict[str, Any]) -> Outcome:
    """The answer in one output line, or a message saying why there is none."""
    response = row.get("response")
    if not isinstance(response, dict):
        response = {}
    status = response.get("status_code")
    body = response.get("body")
    error = row.get("error")
    if error or status != 200 or not isinstance(body, dict):
        reason = _error_text(error) or _error_text(body) or "no response body"
        return f"HTTP {status}: {reason}" if status not in (None, 200) else reason
    answer = parse_completion(body)
    return answer.extra.get("missing") or answer


async def ingest_results(
    run: Run,
    coder: Coder,
    paths: Iterable[Path],
    reask: bool = True,
    on_record: Callable[[CodingRecord], None] | None = None,
) -> IngestReport:
    """Turn output/error files into records (see the module docstring); returns the report."""
    run.repair()
    repair_jsonl(batch_dir(run) / INGESTED)
    mapping = read_custom_ids(run)
    items = {item.item_id: item for item in run.items()}
    done = read_ingested(run)
    final = {i for i, r in run.latest_codings().items() if r.status in FINAL_STATUSES}
    report = IngestReport()
    found: dict[str, dict[int, tuple[str, Outcome]]] = defaultdict(dict)
    for where, row in _rows(paths, report):
        cid = row.get("custom_id")
        if not isinstance(cid, str) or cid not in mapping or mapping[cid][0] not in items:
            report.unreadable.append(f"{where}: custom_id {cid!r} is not a request of this batch")
            continue
        item_id, sample = mapping[cid]
        if cid in done or item_id in final:
            report.skipped += 1
        elif sample in found[item_id]:
            report.unreadable.append(f"{where}: {cid!r} appears a second time; ignored")
        else:
            found[item_id][sample] = (cid, parse_line(row))
    expected: dict[str, dict[int, str]] = defaultdict(dict)
    for cid, (item_id, sample) in mapping.items():
        expected[item_id][sample] = cid
    for item_id, samples in expected.items():
        if item_id not in found and item_id not in final and not set(samples.values()) & done:
            report.missing.append(item_id)
    queue = deque((items[i], expected[i], found[i]) for i in expected if found.get(i))
    max_reasks = coder.config.sampling.max_reasks if reask else 0
    journal = _Journal(run)

    async def worker() -> None:
        while queue:
            item, wanted, got = queue.popleft()
            records = []
            for sample, cid in sorted(wanted.items()):
                outcome = got.get(sample, (cid, "no line for this request in the output"))[1]
                if isinstance(outcome, str):
                    report.failed.append(FailedLine(cid, item.item_id, outcome))
                    error = f"batch request failed: {outcome}"
                    records.append(CodingRecord(item_id=item.item_id, status="error", error=error))
                else:
                    try:
                        records.append(await settle(coder, item, sample, outcome, max_reasks))
                    except Exception as exc:  # one item's failure must not lose the batch
                        error = f"{type(exc).__name__}: {exc}"
                        records.append(
                            CodingRecord(item_id=item.item_id, status="error", error=error)
                        )
            record = records[0] if len(records) == 1 else merge_samples(records)
            asked_online = any(r.attempts > 1 for r in records)
            journal.add(record, [cid for cid, _ in got.values()], flush=asked_online)
            report.statuses[record.status] += 1
            report.reasked += sum(r.attempts > 1 for r in records)
            if on_record is not None:
                on_record(record)

    workers = min(coder.config.limits.concurrency, max(1, len(queue)))
    try:
        await asyncio.gather(*(worker() for _ in range(workers)))
    finally:
        journal.flush()
    return report


class _Journal:
    """Records and their custom_ids, written in groups (one fsync per group, not per item).

    A group lost to a crash is only re-read from the output file; a record that cost online
    re-asks is written at once.
    """

    def __init__(self, run: Run) -> None:
        self.run = run
        self.records: list[CodingRecord] = []
        self.custom_ids: list[str] = []

    def add(self, record: CodingRecord, custom_ids: list[str], flush: bool = False) -> None:
        self.records.append(record)
        self.custom_ids += custom_ids
        if flush or len(self.records) >= JOURNAL_GROUP:
            self.flush()

    def flush(self) -> None:
        if self.records:  # the records first: an id is only marked once its record is durable
            self.run.append_codings(self.records)
            append_ingested(self.run, self.custom_ids)
            self.records, self.custom_ids = [], []


async def settle(
    coder: Coder, item: Item, sample: int, first: ChatResponse, max_reasks: int
) -> CodingRecord:
    """Check a batch answer and re-ask online until it verifies or the re-asks run out. The
    batch answer's tokens are the record's ``batch_*_tokens`` (billed at the batch price)."""
    record = await coder.code_sample(item, sample, first=first, max_reasks=max_reasks)
    batch = {
        "batch_prompt_tokens": first.prompt_tokens,
        "batch_completion_tokens": first.completion_tokens,
    }
    if record.status != "error":
        return record.model_copy(update=batch)
    return record.model_copy(  # the online re-ask failed: keep the batch's answer
        update={
            **batch,
            "raw": first.content,
            "error": f"re-ask failed: {record.error}",
            "model": coder.backend_for(sample).model,
        }
    )


async def ingest_output_file(
    run: Run,
    coder: Coder,
    paths: Iterable[Path],
    reask: bool = True,
    on_record: Callable[[CodingRecord], None] | None = None,
) -> IngestReport:
    """Collect output produced elsewhere (e.g. vLLM ``run_batch``) and close the run."""
    paths = list(paths)
    for path in paths:
        if not path.is_file():
            raise RunStoreError(f"{path}: no such batch output file")
    report = await ingest_results(run, coder, paths, reask, on_record)
    close_out(run)
    return report


async def collect(
    run: Run,
    client: openai.OpenAI,
    coder: Coder,
    reask: bool = True,
    on_record: Callable[[CodingRecord], None] | None = None,
) -> IngestReport:
    """Download the finished batch's output and error files, ingest them, close the run."""
    paths = download_results(run, client)
    report = await ingest_results(run, coder, paths, reask, on_record)
    close_out(run)
    return report


def close_out(run: Run) -> None:
    """Mark the batch collected; the run is complete when no item is left pending."""
    mark_collected(run)
    finish_run(run, "interrupted" if pending_items(run) else "complete")


def _rows(paths: Iterable[Path], report: IngestReport) -> Iterable[tuple[str, dict[str, Any]]]:
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RunStoreError(f"{path}: cannot read the batch output ({exc})") from exc
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            report.lines += 1
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                row = None
            if isinstance(row, dict):
                yield f"{path.name}:{number}", row
            else:
                report.unreadable.append(f"{path.name}:{number}: not a JSON object")


def _error_text(value: Any) -> str:
    """A readable message from an OpenAI error object, a vLLM ErrorResponse or a string, with
    any secret the provider echoed redacted."""
    return redact(_provider_text(value)) or ""


def _provider_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if not isinstance(value, dict):
        return ""
    inner = value.get("error", value)
    if isinstance(inner, str):
        return inner
    if not isinstance(inner, dict):
        return ""
    code, message = inner.get("code"), inner.get("message")
    if code and message:
        return f"{code}: {message}"
    return str(message or code or "")


def reask_backends(
    config: RunConfig, base_url: str | None, no_reask: bool
) -> tuple[list[Backend], bool]:
    """One backend per model of the run for re-asks while collecting, and whether they are
    online: without ``no_reask`` and with an endpoint (key or base URL), else offline ones that
    refuse to answer (the answers that need a re-ask are recorded as errors)."""
    from llmcode.coding.batch import OfflineBackend
    from llmcode.llm.backends import make_backend

    endpoint, limits = config.endpoint, config.limits
    models = [endpoint.model, *endpoint.more_models]
    offline: list[Backend] = [OfflineBackend(m, base_url) for m in models]
    if no_reask:
        return offline, False
    try:
        return [
            make_backend(
                "openai",
                model=m,
                base_url=base_url,
                rpm=limits.rpm,
                tpm=limits.tpm,
                timeout=endpoint.timeout,
            )
            for m in models
        ], True
    except ConfigError:
        return offline, False
