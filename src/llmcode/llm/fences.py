"""Markdown code fences around a model's JSON answer: the one rule for taking them off.

JSON-mode servers and chat models sometimes wrap an answer in a fence (```` ```json ... ``` ````).
Every parser of a model's answer (`answers`, `logprobs`, `checks`, `ask.parse_json`) reads it
through `strip_fences`, so a fenced answer means the same thing to all of them.
"""

from __future__ import annotations

import re

FENCE = "```"
# a language tag glued to a one-line fence's JSON: ```json {"codes": []}```
_TAG = re.compile(r"^[A-Za-z][\w+.-]*\s*(?=[\[{])")


def strip_fences(content: str) -> str:
    """``content`` without surrounding whitespace and without a Markdown code fence if it has one.

    The opening fence and its info string (a language tag such as ``json``) are dropped up to
    the end of their line; everything from the last closing fence on is dropped (so prose after
    the fence goes too); an unclosed fence keeps the rest. A one-line fence (```` ```json {...}```
    ````) loses its tag when JSON follows it. Text that does not open with a fence is only
    stripped of whitespace.
    """
    text = content.strip()
    if not text.startswith(FENCE):
        return text
    opening, newline, body = text[len(FENCE) :].partition("\n")
    if not newline:
        body = _TAG.sub("", opening, count=1)
    if FENCE in body:
        body = body.rsplit(FENCE, 1)[0]
    return body.strip()
