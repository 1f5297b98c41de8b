"""The terminal the CLI prints to: data printed as text, never as markup or terminal control.

Item texts, category names, coder names, run ids and model names come from files anyone may
have written. Printed raw, ``\\x1b]...`` retitles or clears the terminal (or hides a line), and
``[/x]`` in a name crashed rich's markup parser mid-command. Every CLI module prints through
`Console` (a rich console) here, which

- strips terminal control characters (C0 but newline and tab, DEL, C1, and the bidirectional
  overrides that reorder what is shown) from every text it writes, leaving rich's own styling;
- prints a string whose markup does not parse as plain text instead of raising, and never turns
  ``:name:`` into an emoji.

`printable` is the same rule for text written without rich (``prompt show``): control
characters are shown as escapes (``\\x1b``), so what the model sees is still visible.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import rich.console
from rich.errors import MarkupError
from rich.segment import Segment
from rich.text import Text

_CONTROL = [
    *range(0x09),
    *range(0x0B, 0x20),
    *range(0x7F, 0xA0),
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
]
_STRIP = dict.fromkeys(_CONTROL)
_SHOW = {code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" for code in _CONTROL}


def printable(text: str) -> str:
    """``text`` with terminal control characters shown as escapes (``\\x1b``, ``\\u202e``)."""
    return text.translate(_SHOW)


def stripped(text: str) -> str:
    """``text`` without terminal control characters (newlines and tabs kept)."""
    return text.translate(_STRIP)


class Console(rich.console.Console):
    """A rich console that prints data as text (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("emoji", False)
        super().__init__(*args, **kwargs)

    def render_str(self, text: str, **options: Any) -> Text:
        try:
            return super().render_str(text, **options)
        except MarkupError:  # data that looks like markup: shown as written
            return super().render_str(text, **{**options, "markup": False})

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        clean = (
            segment if segment.control else Segment(stripped(segment.text), *segment[1:])
            for segment in buffer
        )
        return super()._render_buffer(clean)
