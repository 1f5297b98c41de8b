"""A content-addressed cache of LLM responses, so a re-run or a resume never pays twice.

The key is a hash of the backend, model, endpoint (base URL or model file), messages, schema and
sampling parameters (and the sample index when several samples are drawn). One JSON file per
response, written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from llmcode.llm.backends.base import ChatRequest, ChatResponse


def cache_key(
    backend: str, model: str, request: ChatRequest, sample: int = 0, endpoint: str | None = None
) -> str:
    material = {"backend": backend, "model": model, "sample": sample, **request.key_material()}
    if endpoint:  # left out when unknown, so keys of OpenAI's own endpoint stay as they were
        material["endpoint"] = endpoint
    canonical = json.dumps(material, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def backend_cache_key(backend: Any, request: ChatRequest, sample: int = 0) -> str:
    """The cache key of ``request`` to ``backend``: its name, model and where it answers (the
    base URL of an OpenAI-compatible server, the model file of an embedded one), so another
    endpoint serving a model of the same name never gets the first one's answers."""
    endpoint = getattr(backend, "base_url", None) or getattr(backend, "model_path", None)
    where = str(endpoint).rstrip("/") if endpoint else None
    return cache_key(backend.name, backend.model, request, sample, where)


class ResponseCache:
    """Responses on disk under ``root/<k[:2]>/<k>.json``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> ChatResponse | None:
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        logprobs = data.get("logprobs")
        data["logprobs"] = [tuple(pair) for pair in logprobs] if logprobs else None
        data["cached"] = True
        return ChatResponse(**data)

    def put(self, key: str, response: ChatResponse) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        payload = asdict(response)
        payload["cached"] = False
        tmp.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
