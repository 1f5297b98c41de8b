"""The token counts an OpenAI-compatible server reports (``usage``), trusted only when plausible.

A misbehaving or hostile server can report negative, fractional, non-numeric or absurd counts
(``-5``, ``1e15``); added to a run's usage they would make its cost negative (so ``--max-cost``
never trips) or meaningless. A count that is not a whole number from 0 to ``MAX_TOKENS`` is not
counted (0) and the answer says so (``extra["usage_refused"]``), and a ``UsageWarning`` is
issued naming the field and the value.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

MAX_TOKENS = 10_000_000
"""More tokens than any model reads or writes in one request: a count above it is not real."""


class UsageWarning(UserWarning):
    """A server reported token counts that cannot be true; they were not counted."""


@dataclass
class ReportedUsage:
    """The plausible counts of one answer, and what was refused."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    refused: list[str] = field(default_factory=list)

    def note(self) -> dict[str, Any]:
        """What the answer's ``extra`` records about refused counts (nothing when all were fine)."""
        return {"usage_refused": "; ".join(self.refused)} if self.refused else {}


def reported_usage(usage: Any) -> ReportedUsage:
    """The counts of a response body's ``usage`` (missing counts are 0, impossible ones refused)."""
    usage = usage if isinstance(usage, dict) else {}
    out = ReportedUsage()

    def count(value: Any, name: str) -> int:
        if value is None:
            return 0
        whole = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
        if whole and 0 <= value <= MAX_TOKENS:
            return int(value)
        out.refused.append(f"usage.{name} = {value!r} (not a count from 0 to {MAX_TOKENS:,})")
        return 0

    out.prompt_tokens = count(usage.get("prompt_tokens"), "prompt_tokens")
    out.completion_tokens = count(usage.get("completion_tokens"), "completion_tokens")
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    out.cached_prompt_tokens = min(
        count(cached, "prompt_tokens_details.cached_tokens"), out.prompt_tokens
    )
    if out.refused:
        warnings.warn(
            "the server reported impossible token counts, not counted: " + "; ".join(out.refused),
            UsageWarning,
            stacklevel=2,
        )
    return out
