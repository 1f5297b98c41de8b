"""Widgets of the review app: the virtual item list and the modal screens (picker, prompt, help).

``ItemList`` draws only the visible rows of a session's queue (the Line API), so a queue of
50,000 items costs no more than one of 50. The modals return their result with ``dismiss``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.geometry import Size
from textual.screen import ModalScreen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from llmcode.review.session import Decision, ReviewSession
from llmcode.taxonomy.model import Category

if TYPE_CHECKING:
    from llmcode.review.queues import ReviewItem

MARKS = {None: "·", "accept": "✓", "reject": "✗", "change": "✎"}
WHO_MARKS = {"automatic": "A", "model": "M"}
"""A decision no person made shows who made it instead of the action's mark."""


def mark(verdict: Decision | None) -> str:
    """The list's mark for a verdict: undecided, the action, or A (automatic) / M (model)."""
    if verdict is None:
        return MARKS[None]
    return WHO_MARKS.get(verdict.decided_by, MARKS[verdict.action])


FLAGS = {"ok": " ", "unverified": "?", "invalid": "!", "error": "!", "skipped": "-", "pending": "…"}
DISPUTED = "~"
"""The flag of an item whose code a second look (``--verify``) disputed."""


def item_flags(item: ReviewItem) -> str:
    """Two flag cells: the coding's status (else ``~`` when a second look disputed a code),
    then ``≠`` when a human coder disagrees (else ``~`` when disputed and the status took the
    first cell)."""
    status = FLAGS.get(item.status, " ")
    second = "≠" if item.human and item.disagrees else " "
    if item.disputed:
        if status == " ":
            status = DISPUTED
        elif second == " ":
            second = DISPUTED
    return status + second


class ItemList(ScrollView, can_focus=False):
    """The queue, one row per item: decision mark, flags, item id, codes, confidence.

    Codes are the reviewer's final codes once decided, the model's before.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "item-list--cursor",
        "item-list--decided",
        "item-list--flag",
    }

    def __init__(self, session: ReviewSession, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.session = session
        self._styles: dict[str, Style] | None = None
        self._drawn: int | None = None  # the cursor row last drawn
        self._widths: tuple[object, int] = (None, 6)  # (queue, its longest item id)
        self._rows: dict[int, tuple[tuple[object, ...], Decision | None, Strip]] = {}
        """Rows drawn, by position: a scroll by one row redraws one new row, not the page."""

    def on_mount(self) -> None:
        self.sync()

    def on_resize(self, event: events.Resize) -> None:
        self.sync()

    def sync(self, full: bool = True) -> None:
        """Fit the virtual size to the queue and keep the cursor row in view; redraw every row,
        or (``full=False``) only the rows of the old and the new cursor when nothing scrolled."""
        self.virtual_size = Size(self.scrollable_content_region.width, len(self.session.queue))
        height = self.scrollable_content_region.height
        top, cursor = round(self.scroll_y), self.session.position
        if cursor < top:
            self.scroll_to(y=cursor, animate=False, immediate=True)
        elif height and cursor >= top + height:
            self.scroll_to(y=cursor - height + 1, animate=False, immediate=True)
        if full or round(self.scroll_y) != top or self._drawn is None:
            self.refresh()
        else:
            for row in {self._drawn, cursor}:
                self.refresh_line(row)
        self._drawn = cursor

    def _id_width(self) -> int:
        """The longest item id of the queue (measured once per queue)."""
        queue = self.session.queue
        if self._widths[0] is not queue:
            self._widths = (queue, max((len(i.item_id) for i in queue), default=6))
        return self._widths[1]

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None
        self._rows.clear()

    def _row_styles(self) -> dict[str, Style]:
        if self._styles is None:
            base = self.rich_style
            self._styles = {
                "base": base,
                "cursor": base + self.get_component_rich_style("item-list--cursor"),
                "decided": base + self.get_component_rich_style("item-list--decided"),
                "flag": self.get_component_rich_style("item-list--flag"),
            }
        return self._styles

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        row = round(self.scroll_y) + y
        styles = self._row_styles()
        if row >= len(self.session.queue):
            return Strip.blank(width, styles["base"])
        item = self.session.queue[row]
        verdict = self.session.verdict(item.item_id)
        key = (
            item.item_id,
            row == self.session.position,
            width,
            self._id_width(),
            self.session.blind,
            self.session.confidence_kind,
        )
        drawn = self._rows.get(row)
        if drawn is not None and drawn[1] is verdict and drawn[0] == key:
            return drawn[2]
        if len(self._rows) > 8 * max(self.size.height, 8):
            self._rows.clear()  # keep only about a few screens of rows
        blind = self.session.blind  # blind: only the reviewer's own codes, no model flags
        codes = verdict.codes if verdict else ([] if blind else item.codes)
        value = None if blind else item.confidence_as(self.session.confidence_kind)
        confidence = "" if value is None else f"{value:.2f}"  # the kind the detail pane names
        style = styles["base"]
        if row == self.session.position:
            style = styles["cursor"]
        elif verdict is not None:
            style = styles["decided"]
        flag = "  " if blind else item_flags(item)
        flag_style = style + styles["flag"] if flag.strip() else style
        id_width = min(self._id_width(), max(6, width // 2))
        rest = width - id_width - 12
        segments = [
            Segment(f" {mark(verdict)} ", style),
            Segment(flag, flag_style),
            Segment(f" {_fit(item.item_id, id_width)} {_fit(','.join(codes), rest)}", style),
            Segment(f"{confidence:>5} ", style),
        ]
        strip = Strip(segments).adjust_cell_length(width, style)
        self._rows[row] = (key, verdict, strip)
        return strip


class DetailView(ScrollView, can_focus=False):
    """The current item's detail, wrapped once per item and drawn line by line.

    Drawing pre-wrapped lines (rather than a Static) means moving to the next item repaints
    the pane once, without a layout pass over the screen.
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.text = Text()
        self._lines: list[list[Segment]] = []
        self._strips: dict[int, Strip] = {}  # lines drawn so far, built when first shown
        self._blank = Strip([])
        self._wrapped_at = 0

    def show(self, text: Text, top: bool) -> None:
        """Display ``text``; ``top`` scrolls back to its first line (a new item)."""
        self.text = text
        self._wrap()
        if top:
            self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self._wrap()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._wrapped_at = 0  # colours changed: wrap again on the next draw

    def _wrap(self) -> None:
        width = self.scrollable_content_region.width
        if width <= 0:
            return
        console, base = self.app.console, self.rich_style
        options = console.options.update_width(width)
        self._lines = console.render_lines(self.text, options, pad=False)
        self._strips = {}
        self._blank = Strip.blank(width, base)
        self._wrapped_at = width
        size = Size(width, len(self._lines))
        if size != self.virtual_size:
            # Not `self.virtual_size = size`: that reactive lays out the whole screen, on nearly
            # every item (texts differ in length). The pane's width is fixed (a stable
            # scrollbar gutter), so only its scrollbar needs updating; a scrollbar that appears
            # or goes still asks for a layout itself.
            self.set_reactive(ScrollView.virtual_size, size)
            self._scroll_update(size)

    def render_line(self, y: int) -> Strip:
        if self.scrollable_content_region.width != self._wrapped_at:
            self._wrap()
        row = round(self.scroll_y) + y
        if row >= len(self._lines):
            return self._blank
        strip = self._strips.get(row)
        if strip is None:  # one Strip per shown line (each carries seven caches)
            width, base = self._wrapped_at, self.rich_style
            line = Segment.adjust_line_length(
                list(Segment.apply_style(self._lines[row], base)), width, style=base
            )
            strip = self._strips[row] = Strip(line, width)
        return strip


def _fit(text: str, width: int) -> str:
    width = max(width, 1)
    return text.ljust(width) if len(text) <= width else text[: width - 1] + "…"


class CodePicker(ModalScreen[list[str] | None]):
    """Choose codes: type to filter, ↑/↓ to move, tab to tick (multi-label), enter to confirm.

    With ``parents`` (a subcategory's id -> its category's id) the list holds both levels, each
    category followed by its subcategories (marked ↳): choosing a subcategory codes both levels
    at once, choosing a category codes the category alone. A filter that matches a subcategory
    keeps its category in view."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "cancel"),
        Binding("down", "move(1)", "next", show=False),
        Binding("up", "move(-1)", "previous", show=False),
        Binding("tab", "tick", "tick", priority=True, show=False),
    ]

    def __init__(
        self,
        categories: list[Category],
        chosen: list[str],
        multi: bool,
        parents: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.categories = categories
        self.chosen = [c for c in chosen if any(cat.id == c for cat in categories)]
        self.multi = multi
        self.parents = parents or {}

    def compose(self) -> ComposeResult:
        how = "tab ticks, enter confirms" if self.multi else "enter chooses"
        levels = " · a ↳ subcategory codes its category too" if self.parents else ""
        with Vertical(id="picker"):
            yield Static(
                f"[b]Change codes[/b]  type to filter · ↑/↓ move · {how} · esc cancels{levels}"
            )
            yield Input(placeholder="filter codes", id="picker-filter")
            options = OptionList(id="picker-options")
            options.can_focus = False  # keys stay in the filter; ↑/↓ move the highlight
            yield options
            yield Static(id="picker-definition")

    def on_mount(self) -> None:
        self._fill("")
        options = self.query_one(OptionList)
        first = next((n for n, c in enumerate(self.categories) if c.id in self.chosen), 0)
        options.highlighted = first

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        category = next((c for c in self.categories if c.id == event.option.id), None)
        parent = self.parents.get(event.option.id or "")
        where = f"(in {parent}) " if parent else ""
        self.query_one("#picker-definition", Static).update(
            Text(f"{where}{category.definition}" if category else "", style="italic")
        )

    def _fill(self, query: str) -> None:
        needle = query.strip().lower()
        options = self.query_one(OptionList)
        highlighted = options.highlighted_option.id if options.highlighted_option else None
        matched = {c.id for c in self.categories if needle in f"{c.id} {c.name}".lower()}
        matched |= {self.parents[c] for c in matched if c in self.parents}  # keep the category
        shown = [c for c in self.categories if c.id in matched]
        options.clear_options()
        options.add_options(Option(self._label(c), id=c.id) for c in shown)
        ids = [c.id for c in shown]
        if highlighted not in ids and needle:  # the first match itself, not its category
            highlighted = next(
                (c.id for c in shown if needle in f"{c.id} {c.name}".lower()), highlighted
            )
        options.highlighted = ids.index(highlighted) if highlighted in ids else (0 if ids else None)

    def _label(self, category: Category) -> Text:
        tick = ("[x] " if category.id in self.chosen else "[ ] ") if self.multi else ""
        indent = "  ↳ " if category.id in self.parents else ""
        return Text.assemble(tick, indent, (category.id, "bold"), f"  {category.name}")

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            options.highlighted = ((options.highlighted or 0) + step) % options.option_count

    def action_tick(self) -> None:
        option = self.query_one(OptionList).highlighted_option
        if not self.multi or option is None or option.id is None:
            return
        if option.id in self.chosen:
            self.chosen.remove(option.id)
        else:
            self.chosen.append(option.id)
        self._fill(self.query_one(Input).value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        option = self.query_one(OptionList).highlighted_option
        if self.multi and self.chosen:
            self.dismiss([c.id for c in self.categories if c.id in self.chosen])
        elif option is not None and option.id is not None:
            self.dismiss([option.id])

    def action_cancel(self) -> None:
        self.dismiss(None)


class TextPrompt(ModalScreen[str | None]):
    """One line of text (a memo, a search); enter confirms, escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, title: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.title_text, self.value, self.placeholder = title, value, placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt"):
            yield Static(f"[b]{self.title_text}[/b]  enter confirms · esc cancels")
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class FilterPicker(ModalScreen[tuple[str, str] | None]):
    """Choose what the list shows: a queue, a code, or a decision; type to narrow the choices.

    Returns ``(kind, value)``: ``("queue", name)``, ``("code", id or "any")`` or
    ``("decision", undecided|accept|reject|change|"any")``.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "cancel"),
        Binding("down", "move(1)", "next", show=False),
        Binding("up", "move(-1)", "previous", show=False),
    ]

    def __init__(self, choices: list[tuple[str, str, str]], current: str) -> None:
        super().__init__()
        self.choices = choices  # (kind, value, description)
        self.current = current  # the "kind value" highlighted first

    def compose(self) -> ComposeResult:
        with Vertical(id="queues"):
            yield Static("[b]Filter[/b]  type to narrow · ↑/↓ move · enter chooses · esc cancels")
            yield Input(placeholder="queue, code or decision", id="filter-input")
            options = OptionList(id="queue-options")
            options.can_focus = False  # keys stay in the input; ↑/↓ move the highlight
            yield options

    def on_mount(self) -> None:
        self._fill("")
        keys = [f"{kind} {value}" for kind, value, _ in self.choices]
        options = self.query_one(OptionList)
        options.highlighted = keys.index(self.current) if self.current in keys else 0

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def _fill(self, query: str) -> None:
        needle = " ".join(query.lower().split())
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(
            Option(
                Text.assemble((kind, "dim"), " ", (value, "bold"), f"  {doc}"), id=f"{kind} {value}"
            )
            for kind, value, doc in self.choices
            if needle in f"{kind} {value} {doc}".lower()
        )
        options.highlighted = 0 if options.option_count else None

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            options.highlighted = ((options.highlighted or 0) + step) % options.option_count

    def on_input_submitted(self, event: Input.Submitted) -> None:
        option = self.query_one(OptionList).highlighted_option
        if option is not None and option.id is not None:
            kind, value = option.id.split(" ", 1)
            self.dismiss((kind, value))

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    """The keys, from the review screen's bindings (and the picker's)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q", "close", "close")]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        for key, description in self.keys:
            table.add_row(key, description)
        with Vertical(id="help"):
            yield Static("[b]Review keys[/b]  (esc, ? or q closes)")
            yield Static(table)
            yield Static(
                "Marks: · undecided  ✓ accepted  ✗ rejected  ✎ changed  "
                "A accepted automatically (no one looked)  M decided by a model.  "
                "Flags: ? unverified evidence  ! error or invalid answer  … not coded yet  "
                "~ disputed by the second look (--verify)  ≠ a human coder disagrees.\n"
                "Every decision is saved to runs/<id>/decisions.jsonl before the screen moves on.",
                id="help-marks",
            )

    def action_close(self) -> None:
        self.dismiss(None)


def evidence_colour(index: int) -> str:
    """The highlight colour of the evidence of the ``index``-th suggested code."""
    colours = ["yellow", "cyan", "magenta", "green", "blue"]
    return colours[index % len(colours)]
