"""Verify evidence quotes verbatim against an item's text and return their character spans.

Matching forgives only what copying text through an LLM changes without changing the words:
runs of whitespace, typographic quotes and dashes, and surrounding quote marks or ellipses.
Letters, digits and punctuation inside the quote must match exactly (case included).
"""

from __future__ import annotations

from pydantic import BaseModel

_TRANSLATE = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"',
        "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u00a0": " ",
    }
)  # fmt: skip
_TRIM = " \t\n\"'`\u2026."


class Span(BaseModel):
    """A quote found in the item text at [start, end) (character offsets into the original text)."""

    quote: str
    start: int | None = None
    end: int | None = None
    verified: bool = False


def normalise(text: str) -> tuple[str, list[int]]:
    """Fold whitespace runs to one space and typographic marks to ASCII.

    Returns the folded text and, for each of its characters, the offset in ``text``.
    """
    out: list[str] = []
    offsets: list[int] = []
    folded = text.translate(_TRANSLATE)
    in_space = False
    for index, char in enumerate(folded):
        if char.isspace():
            if not in_space and out:
                out.append(" ")
                offsets.append(index)
            in_space = True
            continue
        in_space = False
        out.append(char)
        offsets.append(index)
    if out and out[-1] == " ":
        out.pop()
        offsets.pop()
    return "".join(out), offsets


def locate(quote: str, text: str) -> Span:
    """Find ``quote`` in ``text``; a verified Span with offsets, or an unverified one."""
    needle, _ = normalise(quote)
    needle = needle.strip(_TRIM)
    if len(needle) < 3:
        return Span(quote=quote)
    haystack, offsets = normalise(text)
    at = haystack.find(needle)
    if at < 0:
        return Span(quote=quote)
    start = offsets[at]
    end = offsets[at + len(needle) - 1] + 1
    return Span(quote=text[start:end], start=start, end=end, verified=True)


def verify_quotes(quotes: list[str], text: str) -> list[Span]:
    """Locate each quote; unverified spans are kept (flagged), never dropped."""
    return [locate(quote, text) for quote in quotes]
