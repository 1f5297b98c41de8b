"""One structured exchange with an LLM: ask through the response cache, check, re-ask, give up.

The inductive commands (open coding, themes, crosswalk) share this loop: a request with a JSON
schema, a ``check`` that parses the answer and lists problems, and up to ``max_reasks``
follow-ups naming those problems. The last answer is returned with the problems left, so the
caller flags it (or falls back) instead of dropping it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from llmcode.llm.backends.base import Backend, ChatRequest, ChatResponse
from llmcode.llm.cache import ResponseCache, cache_key

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Check = Callable[[str], tuple[T | None, list[str], bool]]


@dataclass
class Exchange(Generic[T]):
    """The checked value of the last answer, what is still wrong with it, and the usage."""

    value: T | None = None
    problems: list[str] = field(default_factory=list)
    fatal: bool = True
    raw: str = ""
    attempts: int = 0
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_calls: int = 0


async def complete_cached(
    backend: Backend, request: ChatRequest, cache: ResponseCache | None, sample: int = 0
) -> ChatResponse:
    """The backend's answer, from the cache when this exact request was answered before."""
    key = cache_key(backend.name, backend.model, request, sample)
    if cache is not None and (hit := cache.get(key)) is not None:
        return hit
    response = await backend.complete(request)
    if cache is not None:
        cache.put(key, response)
    return response


async def ask_json(
    backend: Backend,
    messages: list[dict[str, str]],
    schema: dict[str, Any],
    check: Check[T],
    *,
    reask: Callable[[list[str]], str],
    cache: ResponseCache | None = None,
    schema_name: str = "answer",
    max_reasks: int = 2,
    temperature: float = 0.0,
    max_tokens: int = 512,
    seed: int | None = 0,
) -> Exchange[T]:
    """Ask, check (``check(content) -> (value, problems, fatal)``), re-ask until clean or spent."""
    messages = list(messages)
    out: Exchange[T] = Exchange()
    for attempt in range(max_reasks + 1):
        request = ChatRequest(
            messages=tuple(messages), schema=schema, schema_name=schema_name,
            temperature=temperature, max_tokens=max_tokens, seed=seed,
        )  # fmt: skip
        response = await complete_cached(backend, request, cache)
        out.attempts += 1
        out.prompt_tokens += response.prompt_tokens
        out.completion_tokens += response.completion_tokens
        out.cached_calls += int(response.cached)
        out.model = response.model or backend.model
        out.raw = response.content
        out.value, out.problems, out.fatal = check(response.content)
        if not out.problems or attempt == max_reasks:
            break
        messages += [
            {"role": "assistant", "content": response.content},
            {"role": "user", "content": reask(out.problems)},
        ]
    return out


def parse_json(content: str, model: type[M]) -> tuple[M | None, str | None]:
    """``content`` (JSON, possibly in a Markdown fence) as ``model``, or None and the problem."""
    text = content.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    try:
        return model.model_validate(json.loads(text)), None
    except json.JSONDecodeError as exc:
        return None, f"the answer is not valid JSON ({exc.msg})"
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        return None, f"the answer does not follow the schema: {where}: {first['msg']}"
