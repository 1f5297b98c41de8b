"""Helpers for the batch tests: a prepared run, and output files shaped like vLLM's run_batch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmcode.coding.batchrun import prepare_batch
from llmcode.store.config import RunConfig
from llmcode.store.runs import Run, RunStore
from llmcode.testserver import default_responder
from llmcode.testserver.responder import chat_completion
from tests.support import DATA


def prepared_run(root: Path, items: Path = DATA / "items.csv", **options: Any) -> tuple[Run, Path]:
    """A new run on the tiny taxonomy whose requests were written as a batch file."""
    config = RunConfig(
        taxonomy_path=str(DATA / "tiny.yaml"),
        items_path=str(items),
        backend="openai",
        **{"model": "test-model", **options},
    )
    return prepare_batch(RunStore(root), config, run_id="b1")


def request_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def ok_line(
    custom_id: str, content: str, model: str = "test-model", request: dict | None = None
) -> dict[str, Any]:
    """An answered line as vLLM's run_batch writes it (with log-probs if ``request`` asks)."""
    body = chat_completion(request or {"messages": []}, [content], model)
    response = {"status_code": 200, "request_id": f"vllm-batch-{custom_id}", "body": body}
    return {"id": f"vllm-{custom_id}", "custom_id": custom_id, "response": response, "error": None}


def run_batch_like_vllm(
    requests: Path, output: Path, answers: dict[str, str] | None = None
) -> None:
    """Answer every request line (the test server's responder, or ``answers[custom_id]``)."""
    answers = answers or {}
    lines = []
    for request in request_lines(requests):
        cid = request["custom_id"]
        content = answers.get(cid) or default_responder(request["body"])
        lines.append(ok_line(cid, content, request=request["body"]))
    write_lines(output, lines)


def write_lines(path: Path, rows: list[Any]) -> Path:
    text = "".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows)
    path.write_text(text, encoding="utf-8")
    return path
