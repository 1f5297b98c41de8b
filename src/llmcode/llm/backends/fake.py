"""A scripted backend for tests and demos: answers from a queue or a function, records calls."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from llmcode.errors import BackendError
from llmcode.llm.backends.base import ChatRequest, ChatResponse

Answer = str | dict[str, Any] | BaseException
Responder = Callable[[ChatRequest], Answer]


class FakeBackend:
    """Answers from the queue in order, then from ``responder``; a queued exception is raised."""

    name = "fake"

    def __init__(
        self,
        answers: list[Answer] | None = None,
        responder: Responder | None = None,
        model: str = "fake-model",
    ) -> None:
        self.queue = list(answers or [])
        self.responder = responder
        self.model = model
        self.calls: list[ChatRequest] = []

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model}

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self.calls.append(request)
        if self.queue:
            answer = self.queue.pop(0)
        elif self.responder is not None:
            answer = self.responder(request)
        else:
            raise BackendError("fake backend: no answer queued")
        if isinstance(answer, BaseException):
            raise answer
        content = answer if isinstance(answer, str) else json.dumps(answer)
        prompt = sum(len(m["content"]) for m in request.messages) // 4
        return ChatResponse(
            content=content,
            prompt_tokens=prompt,
            completion_tokens=len(content) // 4,
            model=self.model,
            finish_reason="stop",
        )

    async def aclose(self) -> None:
        return None


def item_text(request: ChatRequest) -> str:
    """The text inside the last <item> block of a request (what the answer must quote)."""
    content = request.messages[-1]["content"]
    for message in reversed(request.messages):
        if message["role"] == "user" and "<item id=" in message["content"]:
            content = message["content"]
            break
    body = content.split("<item id=", 1)[-1].split(">", 1)[-1]
    return body.rsplit("</item>", 1)[0].strip()


def item_id(request: ChatRequest) -> str:
    """The id in the last <item id="..."> tag of a request."""
    for message in reversed(request.messages):
        if "<item id=" in message["content"]:
            return message["content"].split('<item id="', 1)[1].split('"', 1)[0]
    return ""
