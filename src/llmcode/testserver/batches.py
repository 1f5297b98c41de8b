"""The test server's Files and Batches: uploads kept in memory, batches run by the chat handler.

Shapes follow the ``openai`` SDK's ``FileObject`` and ``Batch``. A batch is ``validating`` when
created, ``in_progress`` from ``delay / 2`` seconds and ``completed`` at ``delay`` (checked when it
is retrieved, so no thread runs in the background). Completing runs every JSONL line through the
chat-completions handler (no latency, rate limit or fault) and writes an output file of
``{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}`` lines for the
200 answers and an error file for the rest: lines answered with another status keep their
``response``; lines that are not JSON, or not a POST to the batch's endpoint, get an ``error``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from email import policy
from email.parser import BytesParser
from typing import Any

from llmcode.testserver.responder import error_body

Result = tuple[int, Any]  # HTTP status and a JSON body (or bytes for file content)
Answer = Callable[[Any], Result]  # a chat-completions body -> its status and JSON answer

FILE_PURPOSES = frozenset({"assistants", "batch", "fine-tune", "vision", "user_data"})
ENDPOINTS = frozenset({"/v1/chat/completions"})
OPEN_STATUSES = frozenset({"validating", "in_progress"})


def new_id(prefix: str) -> str:
    """An id like the API's: a prefix and 24 hex digits."""
    return f"{prefix}{uuid.uuid4().hex[:24]}"


def parse_multipart(content_type: str, raw: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The fields of a multipart/form-data body: name -> (filename or None, bytes)."""
    head = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
    message = BytesParser(policy=policy.HTTP).parsebytes(head + raw)
    fields: dict[str, tuple[str | None, bytes]] = {}
    if message.is_multipart():
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if isinstance(name, str):
                payload = part.get_payload(decode=True)
                fields[name] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return fields


class BatchStore:
    """Files and batches of one server, behind one lock."""

    def __init__(self, answer: Answer, delay: float) -> None:
        self._answer = answer
        self._delay = delay
        self._lock = threading.RLock()
        self._files: dict[str, tuple[dict[str, Any], bytes]] = {}
        self._batches: dict[str, dict[str, Any]] = {}
        self._started: dict[str, float] = {}

    def create_file(self, content_type: str, raw: bytes) -> Result:
        if not content_type.startswith("multipart/form-data"):
            return 400, error_body("upload files as multipart/form-data", "invalid_request_error")
        fields = parse_multipart(content_type, raw)
        purpose = fields.get("purpose", (None, b""))[1].decode("utf-8", "replace")
        if purpose not in FILE_PURPOSES:
            return 400, error_body(
                f"unknown purpose {purpose!r}", "invalid_request_error", "purpose"
            )
        if "file" not in fields:
            return 400, error_body("the 'file' field is missing", "invalid_request_error", "file")
        filename, content = fields["file"]
        return 200, self.store(filename or "upload.jsonl", content, purpose)

    def store(self, filename: str, content: bytes, purpose: str) -> dict[str, Any]:
        file_id = new_id("file-")
        meta: dict[str, Any] = {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
            "status_details": None,
            "expires_at": None,
        }
        with self._lock:
            self._files[file_id] = (meta, content)
        return dict(meta)

    def file(self, file_id: str) -> Result:
        with self._lock:
            found = self._files.get(file_id)
        return (200, dict(found[0])) if found else _missing("file", file_id)

    def file_content(self, file_id: str) -> Result:
        with self._lock:
            found = self._files.get(file_id)
        return (200, found[1]) if found else _missing("file", file_id)

    def create_batch(self, body: Any) -> Result:
        if not isinstance(body, dict):
            return 400, error_body("the body must be a JSON object", "invalid_request_error")
        if body.get("endpoint") not in ENDPOINTS:
            return 400, error_body(
                f"endpoint must be one of {sorted(ENDPOINTS)}", "invalid_request_error", "endpoint"
            )
        if body.get("completion_window") != "24h":
            return 400, error_body(
                "completion_window must be '24h'", "invalid_request_error", "completion_window"
            )
        with self._lock:
            if body.get("input_file_id") not in self._files:
                return _missing("file", str(body.get("input_file_id")))
            now = int(time.time())
            batch: dict[str, Any] = dict.fromkeys(
                (
                    "output_file_id",
                    "error_file_id",
                    "errors",
                    "in_progress_at",
                    "finalizing_at",
                    "completed_at",
                    "failed_at",
                    "expired_at",
                    "cancelling_at",
                    "cancelled_at",
                )
            )
            batch.update(
                id=new_id("batch_"),
                object="batch",
                endpoint=body["endpoint"],
                input_file_id=body["input_file_id"],
                completion_window="24h",
                status="validating",
                created_at=now,
                expires_at=now + 86_400,
                request_counts={"total": 0, "completed": 0, "failed": 0},
                metadata=body.get("metadata"),
            )
            self._batches[batch["id"]] = batch
            self._started[batch["id"]] = time.monotonic()
            return 200, json.loads(json.dumps(batch))

    def batch(self, batch_id: str) -> Result:
        with self._lock:
            batch = self._batches.get(batch_id)
            if batch is None:
                return _missing("batch", batch_id)
            self._advance(batch)
            return 200, json.loads(json.dumps(batch))

    def cancel_batch(self, batch_id: str) -> Result:
        with self._lock:
            batch = self._batches.get(batch_id)
            if batch is None:
                return _missing("batch", batch_id)
            if batch["status"] in OPEN_STATUSES:
                now = int(time.time())
                batch.update(status="cancelled", cancelling_at=now, cancelled_at=now)
            return 200, json.loads(json.dumps(batch))

    def _advance(self, batch: dict[str, Any]) -> None:
        if batch["status"] not in OPEN_STATUSES:
            return
        elapsed = time.monotonic() - self._started[batch["id"]]
        if elapsed >= self._delay:
            self._run(batch)
        elif elapsed >= self._delay / 2 and batch["status"] == "validating":
            batch.update(status="in_progress", in_progress_at=int(time.time()))

    def _run(self, batch: dict[str, Any]) -> None:
        now = int(time.time())
        batch["in_progress_at"] = batch["in_progress_at"] or now
        content = self._files[batch["input_file_id"]][1]
        outputs: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for number, line in enumerate(content.decode("utf-8", "replace").splitlines(), 1):
            if line.strip():
                ok, entry = self._line(number, line, batch["endpoint"])
                (outputs if ok else errors).append(entry)
        if not outputs and not errors:
            problem = {
                "code": "empty_file",
                "message": "the input file has no requests",
                "param": None,
                "line": None,
            }
            batch.update(
                status="failed", failed_at=now, errors={"object": "list", "data": [problem]}
            )
            return
        for kind, entries in (("output", outputs), ("error", errors)):
            if entries:
                text = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries)
                stored = self.store(f"{batch['id']}_{kind}.jsonl", text.encode(), "batch_output")
                batch[f"{kind}_file_id"] = stored["id"]
        batch.update(
            status="completed",
            finalizing_at=now,
            completed_at=now,
            request_counts={
                "total": len(outputs) + len(errors),
                "completed": len(outputs),
                "failed": len(errors),
            },
        )

    def _line(self, number: int, line: str, endpoint: str) -> tuple[bool, dict[str, Any]]:
        try:
            request = json.loads(line)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            return False, _line_error(None, f"line {number} is not a JSON object")
        custom_id = request.get("custom_id")
        if request.get("url") != endpoint or str(request.get("method", "")).upper() != "POST":
            return False, _line_error(custom_id, f"line {number}: expected POST {endpoint}")
        status, body = self._answer(request.get("body"))
        response = {"status_code": status, "request_id": new_id("req_"), "body": body}
        entry = {"id": new_id("batch_req_"), "custom_id": custom_id, "response": response}
        return status == 200, {**entry, "error": None}


def _line_error(custom_id: Any, message: str) -> dict[str, Any]:
    error = {"code": "invalid_request", "message": message}
    return {"id": new_id("batch_req_"), "custom_id": custom_id, "response": None, "error": error}


def _missing(kind: str, ident: str) -> Result:
    return 404, error_body(f"No such {kind}: {ident!r}", "invalid_request_error", code="not_found")
