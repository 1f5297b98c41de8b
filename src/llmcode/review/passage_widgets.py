"""Widgets of the passage review: the document with its passages painted, and the passage list.

Both draw only what is on screen (the Line API). `DocumentView` wraps a document once per
width into lines of character offsets, and turns the passages into painted stretches once per
change (a sweep over their starts and ends); each visible line then takes the stretches it
crosses by binary search, so a keypress on a 60,000-character document with 300 passages costs
a few dozen short lines, not the document. Every code has its colour: a passage's text is
written in it, the passage under the cursor has it as background, and text under two or more
codes (overlapping passages, or a passage with several codes) is underlined; with ``show_human``
the human coders' passages are italic with a line above, and the one the reviewer stepped to
(``PassageSession.human_cursor``) is reversed.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from llmcode.review.passage_edits import Marker
from llmcode.review.passage_session import Passage, PassageSession

PALETTE = ("yellow", "cyan", "magenta", "green", "bright_blue", "red", "bright_yellow", "white")
HUMAN_STYLE = Style(italic=True, overline=True)
"""Text a human coder marked (``H`` shows it): italic, a line above."""
HUMAN_CURSOR_STYLE = Style(reverse=True, italic=True)
"""The human coder's passage the reviewer stepped to (``g``)."""
MARKS = {None: "·", "accept": "✓", "reject": "✗", "change": "✎", "resize": "↔", "add": "+"}


def code_colours(session: PassageSession) -> dict[str, str]:
    """One colour per code: the codebook's own (``color``, as QDA tools keep it), else one of
    the palette in the taxonomy's order."""
    return {
        c.id: _hex(c.color) if c.color else PALETTE[n % len(PALETTE)]
        for n, c in enumerate(session.categories)
    }


def _hex(color: str) -> str:
    """``#RGB`` as ``#RRGGBB`` (what a terminal style takes)."""
    return "#" + "".join(d * 2 for d in color[1:]) if len(color) == 4 else color


def wrap_offsets(text: str, width: int) -> list[tuple[int, int]]:
    """The text's screen lines as ``(start, end)`` offsets: each line of the text wrapped at
    spaces to ``width`` characters (the space a line breaks at is not drawn)."""
    width = max(width, 1)
    out: list[tuple[int, int]] = []
    position = 0
    for line in text.split("\n"):
        start, end = position, position + len(line)
        while end - start > width:
            cut = text.rfind(" ", start, start + width + 1)
            if cut <= start:
                out.append((start, start + width))
                start += width
            else:
                out.append((start, cut))
                start = cut + 1
        out.append((start, end))
        position = end + 1
    return out


class DocumentView(ScrollView, can_focus=False):
    """The document on screen with its passages painted (see the module docstring)."""

    def __init__(self, session: PassageSession, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.session = session
        self.colours = code_colours(session)
        self.marker: Marker | None = None
        self.show_human = False
        self._item_id = ""
        self._text = ""
        self._lines: list[tuple[int, int]] = []
        self._line_starts: list[int] = []
        self._wrapped: tuple[str, int] = ("", 0)
        self._bounds: list[int] = []  # painted stretches: starts, sorted
        self._stretches: list[tuple[int, int, Style]] = []
        self._styles: dict[tuple[str, bool, bool], Style] = {}
        self._base: Style | None = None
        self._focus: list[tuple[int, int]] = []  # what changes between keys: cursor, marker

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._base = None

    def show(
        self, scroll: bool = True, full: bool = False, also: tuple[tuple[int, int], ...] = ()
    ) -> None:
        """Paint the session's current document and passage; ``scroll`` brings the passage
        (or the marker) into view. Only the lines of what changed are drawn again (the old and
        the new current passage, the marker, and ``also``: spans that changed elsewhere), unless
        the document or the scroll moved."""
        document = self.session.document
        same = document.item_id == self._item_id
        self._item_id, self._text = document.item_id, document.text
        self._wrap()
        current = self.session.current
        self._paint(self.session.passages_in(document.item_id), current)
        top = round(self.scroll_y)
        if scroll:
            self._scroll_to_focus()
        focus = self._focus_spans(current)
        if full or not same or round(self.scroll_y) != top:
            self.refresh()
        else:
            for start, end in {*self._focus, *focus, *also}:
                first = self.line_of(start)
                self.refresh_lines(first, self.line_of(max(start, end - 1)) - first + 1)
        self._focus = focus

    def _focus_spans(self, current: Passage | None) -> list[tuple[int, int]]:
        spans = []
        if current is not None and current.start is not None and current.end is not None:
            spans.append((current.start, current.end))
        if self.marker is not None:
            spans.append(self.marker.selection or (self.marker.cursor, self.marker.cursor + 1))
        human = self.session.human_cursor
        if human is not None:
            spans.append((human.start, human.end))
        return spans

    def on_resize(self, event: events.Resize) -> None:
        self._wrap()
        self._scroll_to_focus()

    def _wrap(self) -> None:
        width = self.scrollable_content_region.width
        if width <= 0 or self._wrapped == (self._item_id, width):
            return
        self._lines = wrap_offsets(self._text, width)
        self._line_starts = [start for start, _ in self._lines]
        self._wrapped = (self._item_id, width)
        self.virtual_size = Size(width, len(self._lines))

    def line_of(self, offset: int) -> int:
        """The screen line showing character ``offset``."""
        return max(0, bisect_right(self._line_starts, offset) - 1)

    def _scroll_to_focus(self) -> None:
        if not self._lines:
            return
        current = self.session.current
        human = self.session.human_cursor
        if self.marker is not None:
            focus: int | None = self.marker.cursor
        elif human is not None and human.item_id == self._item_id:
            focus = human.start
        elif current is not None and current.item_id == self._item_id:
            focus = current.start
        else:
            focus = None
        if focus is None:
            return
        line, top = self.line_of(focus), round(self.scroll_y)
        height = self.scrollable_content_region.height
        if height and not top <= line < top + height - 1:
            self.scroll_to(y=max(0, line - height // 3), animate=False, immediate=True)

    def _style(self, code: str, current: bool, many: bool) -> Style:
        key = (code, current, many)
        if key not in self._styles:
            colour = self.colours.get(code, "white")
            style = Style.parse(f"bold black on {colour}" if current else colour)
            self._styles[key] = style + Style(underline=True) if many else style
        return self._styles[key]

    def _paint(self, passages: list[Passage], current: Passage | None) -> None:
        """Sweep the passages' starts and ends (and the human coders', when shown) into
        stretches of one style each."""
        events: list[tuple[int, int, int]] = []  # (offset, +1 start / -1 end, index)
        kept = [p for p in passages if p.kept]
        for index, passage in enumerate(kept):
            assert passage.start is not None and passage.end is not None
            events += [(passage.start, 1, index), (passage.end, -1, index)]
        if self.show_human:  # a human coder's passage: index below zero
            spans = [s for coded in self.session.document.human.values() for s in coded]
            for index, (start, end, _) in enumerate(spans):
                events += [(start, 1, -1 - index), (end, -1, -1 - index)]
        events.sort(key=lambda e: (e[0], e[1]))
        stretches: list[tuple[int, int, Style]] = []
        active: dict[int, Passage] = {}
        humans = 0
        previous = 0
        for offset, kind, index in events:
            if (active or humans) and offset > previous:
                style = self._stretch_style(active, current) if active else Style()
                if humans:
                    style += HUMAN_STYLE
                stretches.append((previous, offset, style))
            if index < 0:
                humans += kind
            elif kind > 0:
                active[index] = kept[index]
            else:
                active.pop(index, None)
            previous = offset
        rejected = current is not None and current.item_id == self._item_id and not current.kept
        if rejected and current is not None and current.start is not None and current.end:
            stretches = _overlay(stretches, current.start, current.end, Style(strike=True))
        human = self.session.human_cursor
        if human is not None and human.item_id == self._item_id:
            stretches = _overlay(stretches, human.start, human.end, HUMAN_CURSOR_STYLE)
        if self.marker is not None:
            selection = self.marker.selection or (self.marker.cursor, self.marker.cursor + 1)
            stretches = _overlay(stretches, *selection, Style(reverse=True, bold=True))
        self._stretches = stretches
        self._bounds = [start for start, _, _ in stretches]

    def _stretch_style(self, active: dict[int, Passage], current: Passage | None) -> Style:
        codes = list(dict.fromkeys(c for p in active.values() for c in p.codes))
        on_current = current is not None and any(p.key == current.key for p in active.values())
        first = codes[0]
        if on_current and current is not None:
            first = current.codes[0]
        return self._style(first, on_current, len(codes) > 1)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if self.scrollable_content_region.width and self._wrapped[1] != width:
            self._wrap()
        row = round(self.scroll_y) + y
        if self._base is None:
            self._base = self.rich_style
        base = self._base
        if row >= len(self._lines):
            return Strip.blank(width, base)
        start, end = self._lines[row]
        segments: list[Segment] = []
        position = start
        first = max(0, bisect_right(self._bounds, start) - 1)
        last = bisect_left(self._bounds, end)
        for s, e, style in self._stretches[first:last]:
            s, e = max(s, start), min(e, end)
            if e <= s:
                continue
            if s > position:
                segments.append(Segment(self._text[position:s], base))
            segments.append(Segment(self._text[s:e], base + style))
            position = e
        if position < end:
            segments.append(Segment(self._text[position:end], base))
        return Strip(segments).adjust_cell_length(width, base)


def _overlay(
    stretches: list[tuple[int, int, Style]], start: int, end: int, style: Style
) -> list[tuple[int, int, Style]]:
    """``stretches`` with ``style`` added on ``[start, end)`` (gaps in it filled)."""
    out: list[tuple[int, int, Style]] = []
    position = start
    for s, e, own in stretches:
        if e <= start or s >= end:
            out.append((s, e, own))
            continue
        if s < start:
            out.append((s, start, own))
        if max(s, start) > position:
            out.append((position, max(s, start), style))
        out.append((max(s, start), min(e, end), own + style))
        if e > end:
            out.append((end, e, own))
        position = min(e, end)
    if position < end:
        out.append((position, end, style))
    return sorted(out, key=lambda stretch: stretch[0])


class PassageList(ScrollView, can_focus=False):
    """The queue of passages, one row each: decision mark, document, offsets, codes, confidence."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"passage-list--cursor", "passage-list--decided"}

    def __init__(self, session: PassageSession, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.session = session
        self.colours = code_colours(session)
        self._styles: dict[str, Style] | None = None
        self._drawn: tuple[int, int] | None = None  # (queue length, cursor row) last drawn

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None

    def on_mount(self) -> None:
        self.sync()

    def on_resize(self, event: events.Resize) -> None:
        self.sync()

    def sync(self, full: bool = True) -> None:
        """Fit the virtual size to the queue and keep the cursor row in view; redraw every row,
        or (``full=False``) the rows of the old and the new cursor when nothing else moved."""
        length, cursor = len(self.session.queue), self.session.position
        size = Size(self.scrollable_content_region.width, length)
        if size != self.virtual_size:
            # Not `self.virtual_size = size`: that reactive lays out the whole screen (a second
            # frame after an added passage); only the scrollbar needs to know, and one that
            # appears or goes asks for a layout itself.
            self.set_reactive(ScrollView.virtual_size, size)
            self._scroll_update(size)
        height = self.scrollable_content_region.height
        top = round(self.scroll_y)
        if cursor < top:
            self.scroll_to(y=cursor, animate=False, immediate=True)
        elif height and cursor >= top + height:
            self.scroll_to(y=cursor - height + 1, animate=False, immediate=True)
        drawn = self._drawn
        if full or drawn is None or drawn[0] != length or round(self.scroll_y) != top:
            self.refresh()
        else:
            for row in {drawn[1], cursor}:
                self.refresh_line(row)
        self._drawn = (length, cursor)

    def _row_styles(self) -> dict[str, Style]:
        if self._styles is None:
            base = self.rich_style
            self._styles = {
                "base": base,
                "cursor": base + self.get_component_rich_style("passage-list--cursor"),
                "decided": base + self.get_component_rich_style("passage-list--decided"),
            }
        return self._styles

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        row = round(self.scroll_y) + y
        styles = self._row_styles()
        if row >= len(self.session.queue):
            return Strip.blank(width, styles["base"])
        passage = self.session.passage(self.session.queue[row])
        style = styles["base"]
        if row == self.session.position:
            style = styles["cursor"]
        elif passage.action is not None:
            style = styles["decided"]
        where = "not in text" if passage.start is None else f"{passage.start}–{passage.end}"
        value = passage.model.confidence if passage.model and not self.session.blind else None
        confidence = "" if value is None else f"{value:.2f}"
        segments = [Segment(f" {MARKS.get(passage.action, '?')} ", style)]
        for code in passage.codes[:3]:
            segments.append(Segment("■", style + Style.parse(self.colours.get(code, "white"))))
        head = f" {_short(passage.item_id, 10)} {where:>11} "
        codes = ",".join(passage.codes)
        room = max(1, width - len(head) - 3 - min(3, len(passage.codes)) - 6)
        codes = codes if len(codes) <= room else codes[: room - 1] + "…"
        segments += [Segment(head + codes.ljust(room), style), Segment(f"{confidence:>5} ", style)]
        return Strip(segments).adjust_cell_length(width, style)


def _short(text: str, width: int) -> str:
    return text.ljust(width) if len(text) <= width else text[: width - 1] + "…"
