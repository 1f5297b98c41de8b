"""Verify evidence quotes verbatim against an item's text and return their character spans.

Matching forgives only what copying text through an LLM changes without changing the words:
runs of whitespace, typographic quotes and dashes, and surrounding quote marks or ellipses.
Letters, digits and punctuation inside the quote must match exactly (case included).
"""

from __future__ import annotations

import bisect
import functools
import re

from pydantic import BaseModel

_TRANSLATE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u00a0": " ",
    }
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9`\"'(\[])")
_NON_SPACE = re.compile(r"\S+")
_UNQUOTABLE = re.compile(r'[\n\r"\\\x00-\x1f]+')
_TRIM = " \t\n\"'`\u2026."


class Span(BaseModel):
    """A quote found in the item text at [start, end) (character offsets into the original text)."""

    quote: str
    start: int | None = None
    end: int | None = None
    verified: bool = False


def normalise(text: str) -> tuple[str, list[int]]:
    """Fold whitespace runs to one space and typographic marks to ASCII.

    Returns the folded text and, for each of its characters, the offset in ``text`` (a folded
    space maps to the first character of its run). Leading and trailing whitespace is dropped.
    """
    parts: list[str] = []
    offsets: list[int] = []
    previous_end = 0
    for run in _NON_SPACE.finditer(text.translate(_TRANSLATE)):
        if parts:
            parts.append(" ")
            offsets.append(previous_end)
        parts.append(run.group())
        offsets.extend(range(run.start(), run.end()))
        previous_end = run.end()
    return "".join(parts), offsets


@functools.lru_cache(maxsize=64)
def _normalised_item(text: str) -> _Folded:
    """``normalise`` of an item text, kept while its quotes are located."""
    return _Folded(text)


class _Folded:
    """`normalise` of a text as its word runs: the folded text, and any of its positions mapped
    back by bisection (two look-ups per quote, instead of an offset for every character)."""

    def __init__(self, text: str) -> None:
        translated = text.translate(_TRANSLATE)
        runs = [m.span() for m in _NON_SPACE.finditer(translated)]
        self.text = " ".join(translated[start:end] for start, end in runs)
        self._folded_starts: list[int] = []
        self._runs = runs
        position = 0
        for start, end in runs:
            self._folded_starts.append(position)
            position += end - start + 1

    def offset(self, position: int) -> int:
        """The offset in the original text of the folded text's character at ``position`` (a
        folded space maps to the end of the word before it, as `normalise` maps it)."""
        run = bisect.bisect_right(self._folded_starts, position) - 1
        start, end = self._runs[run]
        inside = position - self._folded_starts[run]
        return start + inside if inside < end - start else end


def locate(quote: str, text: str) -> Span:
    """Find ``quote`` in ``text``; a verified Span with offsets, or an unverified one."""
    needle, _ = normalise(quote)
    needle = needle.strip(_TRIM)
    if len(needle) < 3:
        return Span(quote=quote)
    haystack = _normalised_item(text)
    at = haystack.text.find(needle)
    if at < 0:
        return Span(quote=quote)
    start = haystack.offset(at)
    end = haystack.offset(at + len(needle) - 1) + 1
    return Span(quote=text[start:end], start=start, end=end, verified=True)


def candidate_quotes(text: str, max_chars: int = 200, limit: int = 40) -> list[str]:
    """Verbatim segments of ``text`` (sentences and lines) an LLM may choose evidence from.

    Used as an enum in the answer schema, so constrained decoding can only quote the item.
    Long sentences are cut at a word boundary, and segments stop at line breaks, double quotes
    and backslashes (which grammar-constrained decoders handle badly): each is still a substring
    of ``text``.
    """
    segments: list[str] = []
    for line in _UNQUOTABLE.split(text):
        for sentence in _SENTENCE_END.split(line):
            sentence = sentence.strip()
            if len(sentence) > max_chars:
                sentence = sentence[:max_chars].rsplit(" ", 1)[0].rstrip()
            if len(sentence) >= 8 and sentence not in segments:
                segments.append(sentence)
            if len(segments) >= limit:
                return segments
    return segments or [text.strip()[:max_chars]]


def verify_quotes(quotes: list[str], text: str) -> list[Span]:
    """Locate each quote; unverified spans are kept (flagged), never dropped."""
    return [locate(quote, text) for quote in quotes]
