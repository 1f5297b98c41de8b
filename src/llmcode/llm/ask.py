"""The one ask -> check -> re-ask loop: every command that talks to a model goes through it.

``ask`` sends a request through the response cache, checks the answer (``check(response) ->
(value, problems, fatal)``) and, while problems are left and re-asks remain, sends the follow-up
request that ``reask`` builds from the last request, answer and problems. The last answer is
returned with the problems left, so the caller flags it (or falls back) instead of dropping it.
An answer obtained elsewhere (a batch) can stand for the first attempt (``first``).

Usage is counted per attempt (calls, cached calls, prompt and completion tokens), so a request
made for several items can give each item its share (``Usage.split``): whole numbers that add
up to the request's total, never the total counted once per item.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from llmcode.errors import BackendError
from llmcode.llm.backends.base import Backend, ChatRequest, ChatResponse
from llmcode.llm.cache import ResponseCache, backend_cache_key
from llmcode.llm.fences import strip_fences

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Verdict = tuple[T | None, list[str], bool]  # value, problems left, fatal (value unusable)
Check = Callable[[ChatResponse], Verdict[T]]
Reask = Callable[[ChatRequest, ChatResponse, list[str]], ChatRequest]


@dataclass
class Usage:
    """What requests cost: calls, cached calls (answered from the cache), tokens."""

    calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0  # of prompt_tokens: served from the provider's prompt cache

    @classmethod
    def of(cls, response: ChatResponse) -> Usage:
        """One call's usage."""
        return cls(
            1,
            int(response.cached),
            response.prompt_tokens,
            response.completion_tokens,
            response.cached_prompt_tokens,
        )

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.calls + other.calls,
            self.cached_calls + other.cached_calls,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cached_prompt_tokens + other.cached_prompt_tokens,
        )

    def split(self, n: int) -> list[Usage]:
        """``n`` shares in whole numbers that add up to this usage (the first take the rest)."""

        def parts(total: int) -> list[int]:
            low, rest = divmod(total, n)
            return [low + (i < rest) for i in range(n)]

        columns = zip(
            parts(self.calls),
            parts(self.cached_calls),
            parts(self.prompt_tokens),
            parts(self.completion_tokens),
            parts(self.cached_prompt_tokens),
            strict=True,
        )
        return [Usage(*column) for column in columns]


@dataclass
class Exchange(Generic[T]):
    """The checked value of the last answer, what is still wrong with it, and the usage."""

    value: T | None = None
    problems: list[str] = field(default_factory=list)
    fatal: bool = True
    response: ChatResponse = field(default_factory=lambda: ChatResponse(content=""))
    model: str = ""
    per_attempt: list[Usage] = field(default_factory=list)

    @property
    def raw(self) -> str:
        return self.response.content

    @property
    def usage(self) -> Usage:
        return sum(self.per_attempt, Usage())

    @property
    def attempts(self) -> int:
        return len(self.per_attempt)

    @property
    def prompt_tokens(self) -> int:
        return self.usage.prompt_tokens

    @property
    def completion_tokens(self) -> int:
        return self.usage.completion_tokens

    @property
    def cached_calls(self) -> int:
        return self.usage.cached_calls


async def complete_cached(
    backend: Backend, request: ChatRequest, cache: ResponseCache | None, sample: int = 0
) -> ChatResponse:
    """The backend's answer, from the cache when this exact request was answered before."""
    if cache is None:
        return await backend.complete(request)
    key = backend_cache_key(backend, request, sample)
    if (hit := cache.get(key)) is not None:
        return hit
    response = await backend.complete(request)
    cache.put(key, response)
    return response


async def ask(
    backend: Backend,
    request: ChatRequest,
    check: Check[T],
    reask: Reask,
    *,
    cache: ResponseCache | None = None,
    sample: int = 0,
    max_reasks: int = 2,
    first: ChatResponse | None = None,
    exchange: Exchange[T] | None = None,
) -> Exchange[T]:
    """Ask, check, re-ask until the answer has no problems or the re-asks are spent.

    ``first`` (an answer obtained elsewhere) stands for the first attempt and is cached as the
    first request's answer. Backend errors propagate: the caller records them, and reads what
    the attempts answered before the error cost from ``exchange`` (filled as the loop goes).
    """
    out: Exchange[T] = Exchange() if exchange is None else exchange
    for attempt in range(max_reasks + 1):
        if attempt == 0 and first is not None:
            response = first
            if cache is not None:
                cache.put(backend_cache_key(backend, request, sample), first)
        else:
            try:
                response = await complete_cached(backend, request, cache, sample)
            except BackendError as exc:  # an answer that could not be used was still paid for
                paid = getattr(exc, "response", None)
                if isinstance(paid, ChatResponse):
                    out.per_attempt.append(Usage.of(paid))
                raise
        out.per_attempt.append(Usage.of(response))
        out.response = response
        out.model = response.model or backend.model
        out.value, out.problems, out.fatal = check(response)
        if not out.problems or attempt == max_reasks:
            break
        request = reask(request, response, out.problems)
    return out


def follow_up(message: Callable[[list[str]], dict[str, str]]) -> Reask:
    """The usual re-ask: the conversation so far, the answer, then ``message(problems)``."""

    def reask(request: ChatRequest, response: ChatResponse, problems: list[str]) -> ChatRequest:
        answer = {"role": "assistant", "content": response.content}
        return replace(request, messages=(*request.messages, answer, message(problems)))

    return reask


async def ask_json(
    backend: Backend,
    messages: list[dict[str, str]],
    schema: dict[str, Any],
    check: Callable[[str], Verdict[T]],
    *,
    reask: Callable[[list[str]], str],
    cache: ResponseCache | None = None,
    schema_name: str = "answer",
    max_reasks: int = 2,
    temperature: float = 0.0,
    max_tokens: int = 512,
    seed: int | None = 0,
) -> Exchange[T]:
    """``ask`` for a JSON answer checked by its text; ``reask(problems)`` is the follow-up."""
    request = ChatRequest(
        messages=tuple(messages),
        schema=schema,
        schema_name=schema_name,
        temperature=temperature,
        max_tokens=max_tokens,
        seed=seed,
    )
    return await ask(
        backend,
        request,
        lambda response: check(response.content),
        follow_up(lambda problems: {"role": "user", "content": reask(problems)}),
        cache=cache,
        max_reasks=max_reasks,
    )


def parse_json(content: str, model: type[M]) -> tuple[M | None, str | None]:
    """``content`` (JSON, possibly in a Markdown fence) as ``model``, or None and the problem."""
    try:
        return model.model_validate(json.loads(strip_fences(content))), None
    except json.JSONDecodeError as exc:
        return None, f"the answer is not valid JSON ({exc.msg})"
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        return None, f"the answer does not follow the schema: {where}: {first['msg']}"
