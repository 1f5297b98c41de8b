"""OpenAI and any OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp server, Azure).

Retries have one owner: the SDK client runs with ``max_retries=0`` and tenacity retries
transient failures (429 honouring Retry-After, 5xx, timeouts, connection errors) with
exponential backoff and jitter. Structured outputs (``json_schema``) are used when the server
supports them; a 400/422 that rejects them steps this backend down for good, to JSON mode with
the schema attached (llama.cpp's server honours it), then to plain JSON mode.
"""

from __future__ import annotations

import random
from typing import Any

import openai
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from llmcode import environment
from llmcode.errors import BackendError, ConfigError
from llmcode.llm.backends import check_base_url
from llmcode.llm.backends.base import ChatRequest, ChatResponse
from llmcode.llm.backends.ratelimit import RateLimiter
from llmcode.llm.backends.usage import reported_usage
from llmcode.llm.lengths import bounded_schema

MODES = ("json_schema", "json_object+schema", "json_object")
NO_KEY = "sk-no-key-needed"


def is_transient(exc: BaseException) -> bool:
    """Errors worth retrying: rate limits, server errors, timeouts, broken connections."""
    if isinstance(exc, openai.RateLimitError | openai.APITimeoutError | openai.APIConnectionError):
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code >= 500


def retry_after_seconds(exc: BaseException | None) -> float | None:
    """The server's Retry-After (seconds or ``retry-after-ms``) on a 429, if it sent one."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            continue
    return None


class BackoffWait:
    """Wait what the server asked for (plus a little jitter), else exponential backoff."""

    def __init__(self, initial: float = 0.5, maximum: float = 30.0) -> None:
        self.initial = initial
        self.maximum = maximum

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = retry_after_seconds(exc)
        if asked is not None:
            return min(self.maximum, asked) + random.uniform(0, 0.1 * max(asked, 0.1))
        backoff = min(self.maximum, self.initial * 2 ** (state.attempt_number - 1))
        return random.uniform(backoff / 2, backoff)


class OpenAIBackend:
    """Chat completions over HTTP with the official client."""

    name = "openai"

    def __init__(
        self,
        model: str | None = None,
        base_url: str | None = None,
        timeout: float = 120.0,
        max_attempts: int = 6,
        http_client: Any = None,
        wait: Any = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.base_url = check_base_url(base_url) or environment.openai_base_url()
        api_key = environment.openai_api_key()
        if not api_key and not self.base_url:
            raise ConfigError(
                "the openai backend needs OPENAI_API_KEY or a base URL",
                hint="set OPENAI_API_KEY, or `base_url` for a local server, or use `backend` local",
            )
        self.model = model or environment.default_model()
        self.max_attempts = max_attempts
        self.mode = MODES[0]
        self.logprobs = True  # until the server refuses them
        self.timed_out = 0  # requests abandoned after --timeout (retried; the server may bill them)
        self._wait = wait or BackoffWait()
        self.limiter = limiter
        self.bound_lengths = bounds_lengths(self.base_url)
        self._client = openai.AsyncOpenAI(
            api_key=api_key or NO_KEY,
            base_url=self.base_url,
            max_retries=0,
            timeout=timeout,
            http_client=http_client,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": self.model,
            "base_url": self.base_url or "https://api.openai.com/v1",
            "response_format": self.mode,
            "logprobs": self.logprobs,
        }

    async def complete(self, request: ChatRequest) -> ChatResponse:
        retrying = AsyncRetrying(
            retry=retry_if_exception(is_transient),
            wait=self._wait,
            stop=stop_after_attempt(self.max_attempts),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._complete_once(request)
        except openai.APIStatusError as exc:
            raise BackendError(
                f"{self.base_url or 'OpenAI'} answered HTTP {exc.status_code}: {_message(exc)}"
            ) from exc
        except openai.APIError as exc:
            raise BackendError(
                f"{self.base_url or 'OpenAI'}: {exc.__class__.__name__}: {exc}"
            ) from exc
        raise BackendError("no attempt was made")  # pragma: no cover - tenacity always attempts

    async def _complete_once(self, request: ChatRequest) -> ChatResponse:
        while True:
            mode = self.mode
            if self.limiter is not None:
                await self.limiter.acquire(approximate_tokens(request))
            try:
                return await self._call(request, mode)
            except openai.APITimeoutError:
                self.timed_out += 1  # given up on, maybe paid: the run counts it as abandoned
                raise
            except openai.RateLimitError as exc:
                if self.limiter is not None:
                    self.limiter.rate_limited(retry_after_seconds(exc))
                raise
            except openai.APIStatusError as exc:  # 400/422, or 500 from servers that crash on it
                if exc.status_code not in (400, 422, 500):
                    raise
                if request.logprobs and self.logprobs and "logprob" in _detail(exc):
                    self.logprobs = False
                    continue
                if mode == MODES[-1] or not _rejects_format(exc):
                    raise
                # a server that rejects the response format: step down, for good
                if self.mode == mode:
                    self.mode = MODES[MODES.index(mode) + 1]

    async def _call(self, request: ChatRequest, mode: str) -> ChatResponse:
        body = completion_body(
            request, self.model, mode, self.logprobs, bound_lengths=self.bound_lengths
        )
        # the client's post() keeps its errors (APIStatusError, 429, timeouts) but skips the typed
        # request transform and response models: a third of the client's CPU per item at c=64
        data = await self._client.post("/chat/completions", body=body, cast_to=object)
        if not isinstance(data, dict) or not data.get("choices"):
            error = BackendError(f"{self.base_url or 'OpenAI'} returned no choices")
            error.response = _paid_without_answer(data, self.model)  # answered: it counts
            raise error
        response = parse_completion(data)
        response.model = response.model or self.model
        return response

    async def aclose(self) -> None:
        await self._client.close()


def _paid_without_answer(data: Any, model: str) -> ChatResponse:
    """The usage of an answer that holds no choice (the request was still paid for)."""
    usage = reported_usage(data.get("usage") if isinstance(data, dict) else None)
    return ChatResponse(
        content="",
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        model=model,
        cached_prompt_tokens=usage.cached_prompt_tokens,
        extra=usage.note(),
    )


def bounds_lengths(base_url: str | None) -> bool:
    """Self-hosted servers (vLLM, llama.cpp, Ollama) get ``maxLength`` caps; OpenAI refuses them."""
    return bool(base_url) and "api.openai.com" not in str(base_url)


def completion_body(
    request: ChatRequest,
    model: str,
    mode: str = MODES[0],
    logprobs: bool = True,
    bound_lengths: bool = False,
) -> dict[str, Any]:
    """The chat-completions body for ``request`` in response-format ``mode`` (one of ``MODES``);
    log-probabilities are asked when the request wants them and ``logprobs`` allows them;
    ``bound_lengths`` puts ``maxLength`` on free-text fields (self-hosted servers: OpenAI's
    strict mode refuses the keyword). Online and in batch files alike."""
    schema = bounded_schema(request.schema) if bound_lengths else request.schema
    response_format: dict[str, Any] = {"type": "json_object"}
    if mode == "json_schema":
        response_format = {
            "type": "json_schema",
            "json_schema": {"name": request.schema_name, "schema": schema, "strict": True},
        }
    elif mode == "json_object+schema":
        response_format["schema"] = schema
    body: dict[str, Any] = {
        "model": model,
        "messages": list(request.messages),
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "response_format": response_format,
    }
    if request.seed is not None:
        body["seed"] = request.seed
    if request.logprobs and logprobs:
        body["logprobs"] = True
    return body


def parse_completion(body: dict[str, Any]) -> ChatResponse:
    """A chat-completions response body (online, or a batch output line's) as a ChatResponse.

    A body without message text gives ``content=""`` and says why in ``extra["missing"]``
    (a refusal, no choices, no content).
    """
    choices = body.get("choices") or []
    choice = choices[0] if choices and isinstance(choices[0], dict) else {}
    message = choice.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    extra: dict[str, Any] = {}
    if not isinstance(content, str):
        refusal = message.get("refusal") if isinstance(message, dict) else None
        extra["missing"] = (
            f"refused: {refusal}" if refusal else "the response has no message content"
        )
    usage = reported_usage(body.get("usage"))
    extra.update(usage.note())
    tokens = (choice.get("logprobs") or {}).get("content") or []
    logprobs = [(t["token"], float(t["logprob"])) for t in tokens if isinstance(t, dict)]
    return ChatResponse(
        content=content if isinstance(content, str) else "",
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        model=str(body.get("model") or ""),
        finish_reason=choice.get("finish_reason"),
        logprobs=logprobs or None,
        extra=extra,
        cached_prompt_tokens=usage.cached_prompt_tokens,
    )


def approximate_tokens(request: ChatRequest) -> int:
    """Prompt tokens as characters / 4 (what rate limits are budgeted with)."""
    return sum(len(m.get("content") or "") for m in request.messages) // 4


def _detail(exc: openai.APIStatusError) -> str:
    return f"{_message(exc)} {getattr(exc, 'param', '') or ''} {exc.body}".lower()


def _rejects_format(exc: openai.APIStatusError) -> bool:
    text = _detail(exc)
    return "response_format" in text or "json_schema" in text


def _message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return exc.message
