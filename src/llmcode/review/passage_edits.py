"""Moving a passage's bounds on the words and sentences of its document (no UI).

`Boundaries` finds a text's words (runs of non-space characters) and sentences (ending after
``.``, ``!`` or ``?`` and any closing quotes or brackets, or at a line break) once, as sorted
offsets, so each edit is a binary search. A passage is ``[start, end)``:

- widening at the end by a word ends it at the end of the next word (or completes the word it
  ends inside); narrowing drops its last word;
- widening at the start begins it at the start of the previous word (or of the word it starts
  inside); narrowing drops its first word;
- the same by a sentence, on sentence starts and ends.

An edit that would empty the passage, or go past either end of the text, is a `ConfigError`
saying so. `step` moves a text cursor (marking a new passage) by a word or a sentence.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from typing import Literal

from llmcode.errors import ConfigError

Edge = Literal["start", "end"]
Unit = Literal["word", "sentence"]
_WORD = re.compile(r"\S+")
_SENTENCE = re.compile(r"[^\n]*?(?:[.!?][\"'\)\]\u201d\u2019]*(?=\s|$)|(?=\n)|$)")


class Boundaries:
    """The word and sentence starts and ends of one text, found on first use."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._spans: dict[Unit, tuple[list[int], list[int]]] = {}

    def spans(self, unit: Unit) -> tuple[list[int], list[int]]:
        """(starts, ends) of the text's words or sentences, in order."""
        if unit not in self._spans:
            self._spans[unit] = _words(self.text) if unit == "word" else _sentences(self.text)
        return self._spans[unit]

    def widen(self, start: int, end: int, edge: Edge, unit: Unit) -> tuple[int, int]:
        """The passage grown by one word or sentence at ``edge``."""
        starts, ends = self.spans(unit)
        if edge == "end":
            i = bisect_right(ends, end)
            if i >= len(ends):
                raise ConfigError(f"the passage already reaches the last {unit} of the text")
            return start, ends[i]
        i = bisect_left(starts, start) - 1
        if i < 0:
            raise ConfigError(f"the passage already starts at the first {unit} of the text")
        return starts[i], end

    def narrow(self, start: int, end: int, edge: Edge, unit: Unit) -> tuple[int, int]:
        """The passage shrunk by one word or sentence at ``edge`` (never to nothing)."""
        starts, ends = self.spans(unit)
        if edge == "end":
            last = bisect_left(starts, end) - 1  # the last unit that begins inside
            new = ends[last - 1] if last >= 1 else start
            if new <= start:
                raise ConfigError(f"the passage is one {unit}: it cannot be narrowed by one")
            return start, new
        first = bisect_right(ends, start)  # the first unit that ends inside
        new = starts[first + 1] if first + 1 < len(starts) else end
        if new >= end:
            raise ConfigError(f"the passage is one {unit}: it cannot be narrowed by one")
        return new, end

    def step(self, offset: int, unit: Unit, direction: int, to: Edge = "start") -> int:
        """The next (``direction`` > 0) or previous word or sentence ``to``-edge from
        ``offset``; the offset itself at either end of the text."""
        starts, ends = self.spans(unit)
        marks = starts if to == "start" else ends
        if not marks:
            return offset
        if direction > 0:
            i = bisect_right(marks, offset)
            return marks[i] if i < len(marks) else offset
        i = bisect_left(marks, offset) - 1
        return marks[i] if i >= 0 else offset

    def snap(self, offset: int, to: Edge) -> int:
        """``offset`` moved to a word edge: at or before it (a start), at or after it (an end)."""
        starts, ends = self.spans("word")
        if to == "start":
            i = bisect_right(starts, offset) - 1
            return starts[i] if i >= 0 else offset
        i = bisect_left(ends, offset)
        return ends[i] if i < len(ends) else offset


def _words(text: str) -> tuple[list[int], list[int]]:
    starts, ends = [], []
    for match in _WORD.finditer(text):
        starts.append(match.start())
        ends.append(match.end())
    return starts, ends


def _sentences(text: str) -> tuple[list[int], list[int]]:
    """Sentences without their surrounding spaces; a line break always ends one."""
    starts, ends = [], []
    position = 0
    while position < len(text):
        match = _SENTENCE.match(text, position)
        stop = match.end() if match else len(text)
        piece = text[position:stop]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            starts.append(position + lead)
            ends.append(position + len(piece.rstrip()))
        position = max(stop, position + 1)
    return starts, ends


class Marker:
    """A text cursor marking a new passage: move it by words or sentences, mark the start,
    move on, mark the end. Before the start is marked it stops on word starts; after, on
    word (or sentence) ends, and the selection runs from the start to it."""

    def __init__(self, boundaries: Boundaries, cursor: int = 0) -> None:
        self.boundaries = boundaries
        self.cursor = boundaries.snap(cursor, "start")
        self.anchor: int | None = None

    def move(self, unit: Unit, direction: int) -> None:
        to: Edge = "start" if self.anchor is None else "end"
        self.cursor = self.boundaries.step(self.cursor, unit, direction, to)

    def mark(self) -> tuple[int, int] | None:
        """Mark the start (returns None), then the end: returns the passage ``(start, end)``."""
        if self.anchor is None:
            self.anchor = self.cursor
            self.cursor = self.boundaries.snap(self.cursor + 1, "end")
            return None
        start, end = sorted((self.anchor, self.cursor))
        if start == end:
            raise ConfigError("the passage is empty", hint="move the cursor past its start")
        return start, end

    @property
    def selection(self) -> tuple[int, int] | None:
        """The passage marked so far (start to cursor), None before the start is marked."""
        if self.anchor is None:
            return None
        return min(self.anchor, self.cursor), max(self.anchor, self.cursor)
