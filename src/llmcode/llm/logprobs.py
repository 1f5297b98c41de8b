"""Token log-probabilities of a JSON answer: the probability the model gave each chosen code.

A code's probability is the joint probability of the tokens that spell its value (and the
closing quote) in the answer. Backends that return log-probabilities (openai, local) feed it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence

import numpy as np

_CODE_VALUE = re.compile(r'"code"\s*:\s*"((?:[^"\\]|\\.)*)"')


def code_probabilities(
    content: str, logprobs: Sequence[tuple[str, float]] | None
) -> dict[str, float]:
    """Probability of each code in a JSON answer from its tokens' log-probabilities.

    A code's probability is the joint probability of the tokens that overlap its value and the
    closing quote (which decides that the value ends there: ``model`` vs ``model_usage``).
    Codes that are in the token stream but not in ``content`` are ignored; no log-probabilities,
    or tokens that do not spell a code, give ``{}``.
    """
    if not logprobs:
        return {}
    tokens = [token for token, _ in logprobs]
    text = "".join(tokens)
    wanted = set(_answer_codes(content))
    ends = np.cumsum([len(token) for token in tokens])
    starts = ends - np.array([len(token) for token in tokens])
    values = np.array([logprob for _, logprob in logprobs], dtype=float)
    out: dict[str, float] = {}
    for match in _CODE_VALUE.finditer(text):
        code = match.group(1)
        if code in out or code not in wanted:
            continue
        begin, end = match.start(1), match.end(1) + 1  # the value and its closing quote
        overlap = (starts < end) & (ends > begin)
        out[code] = float(math.exp(values[overlap].sum()))
    return out


def chosen_code_probability(
    content: str, logprobs: Sequence[tuple[str, float]] | None
) -> float | None:
    """Probability of the first (for single-label: the only) code of an answer, or None."""
    probabilities = code_probabilities(content, logprobs)
    first = next(iter(_answer_codes(content)), None)
    return probabilities.get(first) if first is not None else None


def _answer_codes(content: str) -> list[str]:
    """The code ids of a JSON answer in order (fences allowed); [] when it does not parse."""
    text = content.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    try:
        answer = json.loads(text)
    except json.JSONDecodeError:
        return []
    codes = answer.get("codes") if isinstance(answer, dict) else None
    if not isinstance(codes, list):
        return []
    return [c["code"] for c in codes if isinstance(c, dict) and isinstance(c.get("code"), str)]
