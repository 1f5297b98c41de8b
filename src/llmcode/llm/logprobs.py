"""Token log-probabilities of a JSON answer: the probability the model gave each chosen code.

A code's probability is the joint probability of the tokens that spell its value (and the
closing quote) in the answer. Backends that return log-probabilities (openai, local) feed it.
In a multi-item answer each entry's codes are read from the tokens that spell that entry only,
so two items with the same code each get their own probability.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import re
from collections.abc import Sequence

from llmcode.llm.fences import strip_fences

_CODE_VALUE = re.compile(r'"code"\s*:\s*"((?:[^"\\]|\\.)*)"')
_ITEMS = re.compile(r'"items"\s*:\s*\[')


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
    text = "".join(token for token, _ in logprobs)
    return _probabilities(logprobs, set(_answer_codes(content)), text, 0, len(text))


def entry_probabilities(
    logprobs: Sequence[tuple[str, float]] | None,
) -> dict[str, dict[str, float]]:
    """For a multi-item answer (``{"items": [{"item_id": ..., "codes": [...]}, ...]}``), each
    entry's code probabilities from the tokens that spell that entry, by item id (first wins)."""
    if not logprobs:
        return {}
    text = "".join(token for token, _ in logprobs)
    out: dict[str, dict[str, float]] = {}
    for entry, begin, end in _entries(text):
        item_id = entry.get("item_id")
        if isinstance(item_id, str) and item_id not in out:
            out[item_id] = _probabilities(logprobs, set(_codes_of(entry)), text, begin, end)
    return out


def _probabilities(
    logprobs: Sequence[tuple[str, float]], wanted: set[str], text: str, begin: int, end: int
) -> dict[str, float]:
    """The probability of each ``wanted`` code spelled within ``text[begin:end]``."""
    ends = list(itertools.accumulate(len(token) for token, _ in logprobs))
    out: dict[str, float] = {}
    for match in _CODE_VALUE.finditer(text, begin, end):
        code = match.group(1)
        if code in out or code not in wanted:
            continue
        low, high = match.start(1), match.end(1) + 1  # the value and its closing quote
        total = 0.0  # the tokens overlapping [low, high): ends past low, starts before high
        for index in range(bisect.bisect_right(ends, low), len(ends)):
            token, logprob = logprobs[index]
            if ends[index] - len(token) >= high:
                break
            total += logprob
        out[code] = math.exp(total)
    return out


def _entries(text: str) -> list[tuple[dict, int, int]]:
    """The objects of the ``"items"`` array in ``text`` with their character spans."""
    found = _ITEMS.search(text)
    if found is None:
        return []
    decoder = json.JSONDecoder(strict=False)
    out: list[tuple[dict, int, int]] = []
    index = found.end()
    while index < len(text):
        index = _skip(text, index)
        if index >= len(text) or text[index] == "]":
            break
        try:
            value, end = decoder.raw_decode(text, index)
        except json.JSONDecodeError:
            break
        if isinstance(value, dict):
            out.append((value, index, end))
        index = _skip(text, end)
        if index < len(text) and text[index] == ",":
            index += 1
    return out


def _skip(text: str, index: int) -> int:
    while index < len(text) and text[index].isspace():
        index += 1
    return index


def chosen_code_probability(
    content: str, logprobs: Sequence[tuple[str, float]] | None
) -> float | None:
    """Probability of the first (for single-label: the only) code of an answer, or None."""
    probabilities = code_probabilities(content, logprobs)
    first = next(iter(_answer_codes(content)), None)
    return probabilities.get(first) if first is not None else None


def _answer_codes(content: str) -> list[str]:
    """The code ids of a JSON answer in order (fences allowed); [] when it does not parse."""
    try:
        answer = json.loads(strip_fences(content))
    except json.JSONDecodeError:
        return []
    return _codes_of(answer) if isinstance(answer, dict) else []


def _codes_of(answer: dict) -> list[str]:
    codes = answer.get("codes")
    if not isinstance(codes, list):
        return []
    return [c["code"] for c in codes if isinstance(c, dict) and isinstance(c.get("code"), str)]
