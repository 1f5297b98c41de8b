"""Windows of a long document: overlapping stretches of its text that fit a model's context.

Owns cutting a text into `Window`s of at most ``max_chars`` characters: each window ends on the
best boundary within its last half — a paragraph break, else a sentence end, else a space, and
only when a stretch has none of them (a run of text with no space) at ``max_chars`` itself —
and the next window starts on a boundary about ``overlap`` characters before that end, so a
passage cut by one window's end is read whole by the next. Windows cover the whole text, in
order; every character lies in some window; nothing is left out. ``halves`` splits a window in
two on its best boundary near the middle (a window that still does not fit is split again,
never truncated).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_SENTENCE = re.compile(r"(?<=[.!?:])[\"')\]]*\s+")
_SPACE = re.compile(r"\s+")
MIN_WINDOW_CHARS = 200


@dataclass(frozen=True)
class Window:
    """Characters ``[start, end)`` of a document; ``text`` is exactly ``document[start:end]``."""

    start: int
    end: int
    text: str

    def __len__(self) -> int:
        return self.end - self.start


def boundaries(text: str) -> list[tuple[int, int]]:
    """(offset, strength) of every place a window may end or start: 3 after a paragraph break,
    2 after a sentence end, 1 after a space, sorted by offset."""
    found: dict[int, int] = {}
    for strength, pattern in ((1, _SPACE), (2, _SENTENCE), (3, _PARAGRAPH)):
        for match in pattern.finditer(text):
            if 0 < match.end() < len(text):
                found[match.end()] = max(found.get(match.end(), 0), strength)
    return sorted(found.items())


def _best(cuts: list[tuple[int, int]], low: int, high: int, prefer_late: bool = True) -> int | None:
    """The strongest boundary in ``(low, high]`` (the latest of equals, or the earliest)."""
    inside = [(o, s) for o, s in cuts if low < o <= high]
    if not inside:
        return None
    strongest = max(s for _, s in inside)
    offsets = [o for o, s in inside if s == strongest]
    return offsets[-1] if prefer_late else offsets[0]


def split_windows(text: str, max_chars: int, overlap: int | None = None) -> list[Window]:
    """``text`` as overlapping windows of at most ``max_chars`` characters (see the module
    docstring); ``overlap`` defaults to a sixth of a window."""
    max_chars = max(MIN_WINDOW_CHARS, int(max_chars))
    overlap = max_chars // 6 if overlap is None else max(0, min(int(overlap), max_chars // 2))
    if len(text) <= max_chars:
        return [Window(0, len(text), text)]
    cuts = boundaries(text)
    windows: list[Window] = []
    start = 0
    while True:
        limit = start + max_chars
        if limit >= len(text):
            windows.append(Window(start, len(text), text[start:]))
            return windows
        end = _best(cuts, start + max_chars // 2, limit) or limit
        windows.append(Window(start, end, text[start:end]))
        following = _best(cuts, max(start, end - overlap - 1), end - 1, prefer_late=False)
        start = following if following is not None and overlap else end


def halves(window: Window) -> list[Window]:
    """``window`` split in two on its strongest boundary nearest the middle (offsets kept);
    a window too short to split is returned alone."""
    if len(window) < 2:
        return [window]
    cuts = [(o, s) for o, s in boundaries(window.text)]
    middle = len(window) // 2
    quarter = max(1, len(window) // 4)
    near = [(o, s) for o, s in cuts if abs(o - middle) <= quarter]
    if near:
        strongest = max(s for _, s in near)
        cut = min((o for o, s in near if s == strongest), key=lambda o: abs(o - middle))
    else:
        cut = middle
    at = window.start + cut
    return [
        Window(window.start, at, window.text[:cut]),
        Window(at, window.end, window.text[cut:]),
    ]
