"""The passage review TUI: a Textual shell over a `PassageSession`.

The document fills the left with its passages painted (``review/passage_widgets.py``); the
passage queue is on the right; below, the passage under the cursor (codes, confidence,
justification, the human coders' matching passages) and the progress line. Keys go to the
session, which saves each decision before anything moves; the screen then repaints what
changed. ``i`` enters marking: the arrow keys move a text cursor by words (←/→) and sentences
(↑/↓), space marks the start and then the end, and the code picker gives the new passage its
codes. With ``--human``, ``g`` steps to the next human coder's passage no passage matches
(shown with the human passages, on a reversed background) and ``A`` adopts it; ``m`` writes a
memo on the passage under the cursor; ``e`` shows the next document without any passage.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header

from llmcode.errors import ConfigError, LlmcodeError
from llmcode.review.passage_edits import Marker
from llmcode.review.passage_queues import best_match
from llmcode.review.passage_session import Passage, PassageSession
from llmcode.review.passage_widgets import DocumentView, PassageList, code_colours
from llmcode.review.widgets import CodePicker, DetailView, HelpScreen

EDGE_KEYS = [
    ("left_square_bracket", "widen('start','word')", "widen at the start by a word"),
    ("right_square_bracket", "widen('end','word')", "widen at the end by a word"),
    ("left_curly_bracket", "widen('start','sentence')", "widen at the start by a sentence"),
    ("right_curly_bracket", "widen('end','sentence')", "widen at the end by a sentence"),
    ("left_parenthesis", "narrow('start','word')", "narrow at the start by a word"),
    ("right_parenthesis", "narrow('end','word')", "narrow at the end by a word"),
    ("less_than_sign", "narrow('start','sentence')", "narrow at the start by a sentence"),
    ("greater_than_sign", "narrow('end','sentence')", "narrow at the end by a sentence"),
]
KEY_NAMES = {
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "left_curly_bracket": "{",
    "right_curly_bracket": "}",
    "left_parenthesis": "(",
    "right_parenthesis": ")",
    "less_than_sign": "<",
    "greater_than_sign": ">",
    "question_mark": "?",
    "down": "↓",
    "up": "↑",
    "left": "←",
    "right": "→",
    "space": "space",
    "escape": "esc",
}
MARKING = {"mark_move", "mark", "mark_cancel"}  # the only actions while marking
HUMAN_ACTIONS = {"missed", "adopt"}  # need human coders' passages (--human); H says so
ACTION_TEXT = {
    None: "undecided — a accept · r reject · c change codes · [ ] { } ( ) < > resize",
    "accept": "✓ accepted",
    "reject": "✗ rejected",
    "change": "✎ codes changed",
    "resize": "↔ resized (a accepts it as it stands)",
    "add": "+ added by you",
}


class PassageScreen(Screen[None]):
    """Document, passage list, passage detail, progress line and footer."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "accept", "accept", tooltip="accept the passage as it stands"),
        Binding("r", "reject", "reject", tooltip="reject the passage (blind: remove yours)"),
        Binding("c", "change", "codes", tooltip="change the passage's codes with a picker"),
        Binding("i", "add", "add passage", tooltip="mark a passage the model missed"),
        Binding("u", "undo", "undo", tooltip="undo your last decision"),
        Binding("j,down", "move(1)", "next", tooltip="next passage"),
        Binding("k,up", "move(-1)", "prev", tooltip="previous passage"),
        Binding("n", "next_undecided", "undecided", tooltip="next undecided passage"),
        Binding("m", "memo", "memo", tooltip="write a memo on the passage (empty clears it)"),
        Binding("H", "human", "human", tooltip="show or hide the human coders' passages (italic)"),
        Binding("g", "missed", "missed", tooltip="next human passage no passage matches (--human)"),
        Binding("A", "adopt", "adopt", tooltip="adopt that human passage as yours"),
        Binding("e", "empty", "empty doc", show=False, tooltip="next document without a passage"),
        Binding("J", "document(1)", "next doc", show=False, tooltip="next document"),
        Binding("K", "document(-1)", "prev doc", show=False, tooltip="previous document"),
        *(Binding(key, action, text, show=False, tooltip=text) for key, action, text in EDGE_KEYS),
        Binding("left,h", "mark_move('word',-1)", "word back", tooltip="(marking) a word back"),
        Binding("right,l", "mark_move('word',1)", "word on", tooltip="(marking) a word on"),
        Binding(
            "up", "mark_move('sentence',-1)", "sentence back", tooltip="(marking) a sentence back"
        ),
        Binding(
            "down", "mark_move('sentence',1)", "sentence on", tooltip="(marking) a sentence on"
        ),
        Binding("space,enter", "mark", "mark", tooltip="(marking) mark the start, then the end"),
        Binding("escape", "mark_cancel", "cancel", tooltip="(marking) stop without a passage"),
        Binding("question_mark", "help", "help", tooltip="this help"),
        Binding("q", "app.quit", "quit", tooltip="quit (every decision is already saved)"),
    ]

    def __init__(self, session: PassageSession) -> None:
        super().__init__()
        self.session = session
        self.marker: Marker | None = None
        self.memo: list[str] | None = None  # the memo being written, in the detail line
        self._progress: Text | None = None
        self._detail: Text | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="passage-main"):
            yield DocumentView(self.session, id="document")
            yield PassageList(self.session, id="passages")
        yield DetailView(id="passage-detail")  # drawn line by line: an update costs no layout
        yield DetailView(id="passage-progress")
        yield Footer()

    def on_mount(self) -> None:
        self.redraw(full=True)

    @property
    def has_human(self) -> bool:
        """Whether there are human coders' passages to show, step to and adopt."""
        session = self.session
        return not session.blind and any(d.human for d in session.documents)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.memo is not None:  # writing a memo: the keys are its text (see on_key)
            return False
        marking = self.marker is not None
        if action in MARKING:
            return marking
        if action in HUMAN_ACTIONS and not self.has_human:
            return False  # no human coders' passages (none given, or blind): g, A not shown
        return not (marking and action not in ("help", "quit"))

    # --- drawing ------------------------------------------------------------------------------

    def redraw(
        self, scroll: bool = True, full: bool = False, also: tuple[tuple[int, int], ...] = ()
    ) -> None:
        """Repaint the document (``also``: spans that changed away from the cursor), the
        list's cursor, the detail and the progress line."""
        view = self.query_one(DocumentView)
        view.marker = self.marker
        view.show(scroll, full, also)
        self.query_one(PassageList).sync(full)
        self._update("#passage-detail", "_detail", self._detail_text())
        self._update("#passage-progress", "_progress", self._progress_text())

    def _update(self, selector: str, cache: str, text: Text) -> None:
        if text != getattr(self, cache):  # an unchanged line is not drawn again
            setattr(self, cache, text)
            self.query_one(selector, DetailView).show(text, top=True)

    def _detail_text(self) -> Text:
        session = self.session
        if self.memo is not None and session.current is not None:
            return Text.assemble(
                ("MEMO ", "bold reverse"),
                f" on {session.current.item_id} {session.current.key[1]}: ",
                ("".join(self.memo), "italic"),
                ("▏", "blink"),
                ("\n  enter saves (an empty memo clears it) · esc leaves it as it was", "dim"),
            )
        if self.marker is not None:
            what = "the start" if self.marker.anchor is None else "the end"
            return Text.assemble(
                ("MARKING ", "bold reverse"),
                f" a new passage of {session.document.item_id}: ←/→ a word, ↑/↓ a sentence, "
                f"space marks {what}, esc cancels",
            )
        if session.human_cursor is not None:
            return human_detail(session)
        passage = session.current
        if passage is None or passage.item_id != session.document_id:
            hint = "i marks a passage" if session.blind else "no passage of this queue here"
            return Text(f"{session.document.item_id}: {hint}", style="dim")
        return passage_detail(session, passage)

    def _progress_text(self) -> Text:
        session, p = self.session, self.session.progress()
        index = [d.item_id for d in session.documents].index(session.document_id) + 1
        where = f"   document {index}/{len(session.documents)} {session.document_id}"
        if session.blind:
            empty = session.documents_without_passage()
            return Text.assemble(
                (" BLIND ", "bold reverse"),
                (f" marked {p.total} passage(s)", "bold"),
                f"  {empty} document(s) without one (e){where}"
                f"   reviewer {session.reviewer}   run {session.run.run_id}",
            )
        return Text.assemble(
            (f" passages reviewed {p.reviewed}/{p.total}", "bold"),
            f"  queue {session.queue_name}  accepted {p.accepted}  changed {p.changed}"
            f"  rejected {p.rejected}  added {p.added}{where}"
            f"   reviewer {session.reviewer}   run {session.run.run_id}",
        )

    # --- actions ------------------------------------------------------------------------------

    def _do(
        self,
        step: Callable[..., Any],
        *args: Any,
        scroll: bool = True,
        also: tuple[tuple[int, int], ...] = (),
    ) -> None:
        try:
            step(*args)
        except LlmcodeError as exc:
            self.notify(exc.message + (f" — {exc.hint}" if exc.hint else ""), severity="error")
            return
        self.redraw(scroll, also=also)

    def action_accept(self) -> None:
        self._do(self.session.accept)

    def action_reject(self) -> None:
        self._do(self.session.reject)

    def action_undo(self) -> None:
        last = self.session.ledger.last()
        if last is None:
            self.notify("nothing to undo")
            return
        # its passage may be away from the cursor (or gone from a re-coded record): redraw it
        span = () if last.start is None else ((last.start, last.end or last.start),)
        self._do(self.session.undo, also=span)

    def action_move(self, step: int) -> None:
        self._do(self.session.move, step)

    def action_next_undecided(self) -> None:
        if not self.session.go_to_next_undecided():
            self.notify("every passage of this queue is decided")
        self.redraw()

    def action_human(self) -> None:
        view = self.query_one(DocumentView)
        if not any(d.human for d in self.session.documents):
            self.notify("no human passages: give --human CODES with start and end columns")
            return
        view.show_human = not view.show_human
        self.redraw(full=True)

    def action_memo(self) -> None:
        """Write the memo in the detail line: typed there, no modal screen or input widget (a
        focus change re-composes the footer: 80 ms)."""
        passage = self.session.current
        if passage is None:
            self.notify("no passage under the cursor", severity="error")
            return
        self.memo = list(self.session.memo_of(passage.key))
        self.redraw(scroll=False)

    def on_key(self, event: events.Key) -> None:
        """While writing a memo: characters, backspace, enter (save) and escape (leave)."""
        if self.memo is None:
            return
        event.stop()
        event.prevent_default()
        if event.key == "enter":
            text, self.memo = "".join(self.memo), None
            self._do(self.session.memo, text, scroll=False)
            return
        if event.key == "escape":
            self.memo = None
        elif event.key == "backspace":
            self.memo = self.memo[:-1]
        elif event.is_printable and event.character is not None:
            self.memo.append(event.character)
        self.redraw(scroll=False)

    def action_missed(self) -> None:
        try:
            span = self.session.next_missed()
        except LlmcodeError as exc:
            self.notify(exc.message + (f" — {exc.hint}" if exc.hint else ""), severity="error")
            return
        if span is None:
            self.notify("every human passage is matched by a passage")
            return
        view = self.query_one(DocumentView)
        shown, view.show_human = view.show_human, True
        self.redraw(full=not shown)  # the human passages appear: every line changes

    def action_adopt(self) -> None:
        span = self.session.human_cursor
        self._do(self.session.adopt, also=() if span is None else ((span.start, span.end),))

    def action_empty(self) -> None:
        if not self.session.next_empty_document():
            self.notify("every document has a passage")
        self.redraw()

    def action_document(self, step: int) -> None:
        self._do(self.session.move_document, step)

    def action_widen(self, edge: str, unit: str) -> None:
        self._do(self.session.widen, edge, unit, scroll=False)

    def action_narrow(self, edge: str, unit: str) -> None:
        self._do(self.session.narrow, edge, unit, scroll=False)

    def action_change(self) -> None:
        passage = self.session.current
        if passage is None:
            return
        self._pick(list(passage.codes), lambda codes: self._do(self.session.change, codes))

    def action_add(self) -> None:
        session = self.session
        current = session.current
        here = (
            current.start if current is not None and current.item_id == session.document_id else 0
        )
        self.marker = Marker(session.boundaries(session.document_id), here or 0)
        self.redraw()

    def action_mark_move(self, unit: str, direction: int) -> None:
        if self.marker is not None:
            self.marker.move(unit, direction)  # type: ignore[arg-type]
            self.redraw()

    def action_mark(self) -> None:
        if self.marker is None:
            return
        try:
            span = self.marker.mark()
        except ConfigError as exc:
            self.notify(exc.message, severity="error")
            return
        if span is None:
            self.redraw()
            return
        item_id = self.session.document_id
        self.marker = None

        def add(codes: list[str]) -> None:
            self._do(self.session.add, item_id, span[0], span[1], codes)

        self._pick([], add)
        self.redraw(scroll=False)

    def action_mark_cancel(self) -> None:
        self.marker = None
        self.redraw()

    def _pick(self, chosen: list[str], then: Callable[[list[str]], None]) -> None:
        session = self.session
        picker = CodePicker(session.categories, chosen, session.taxonomy.multi_label)

        def done(codes: list[str] | None) -> None:
            if codes:
                then(codes)

        self.app.push_screen(picker, done)

    def action_help(self) -> None:
        keys = [
            (" / ".join(KEY_NAMES.get(k, k) for k in b.key.split(",")), b.tooltip or b.description)
            for b in self.BINDINGS
            if isinstance(b, Binding)
        ]
        self.app.push_screen(HelpScreen(keys))


def passage_detail(session: PassageSession, passage: Passage) -> Text:
    """The passage under the cursor: where, codes (in their colours), confidence, the model's
    justification, the human coders' best matches, and the reviewer's decision."""
    colours = code_colours(session)
    out = Text()
    where = "not in the text" if passage.start is None else f"[{passage.start}, {passage.end})"
    out.append(f"{passage.item_id} {passage.key[1]} {where}  ", "bold")
    for code in passage.codes:
        out.append("■ ", colours.get(code, "white"))
        out.append(f"{code}  ")
    model = passage.model
    if model is not None and model.confidence is not None:
        out.append(f"confidence {model.confidence:.2f}  ", "dim")
    if model is not None and (model.start, model.end, model.codes) != (
        passage.start,
        passage.end,
        passage.codes,
    ):
        shown = "" if model.start is None else f"[{model.start}, {model.end}) "
        out.append(f"model: {shown}{','.join(model.codes)}", "dim")
    out.append("\n")
    if model is not None and model.justification:
        out.append(f"  {model.justification}\n", "italic")
    document = session.document
    if model is not None and document.human:
        matches = []
        for coder, coded in document.human.items():
            for code in passage.codes:
                span, iou = best_match(model, code, coded)
                said = f"{coder} {code}: " + (
                    f"[{span[0]}, {span[1]}) IoU {iou:.2f}" if span else "no passage"
                )
                matches.append(said)
        out.append("  " + " · ".join(matches) + "\n", "yellow")
    out.append(f"  {ACTION_TEXT.get(passage.action, passage.action or '')}", "green")
    if passage.action == "add":
        verdict = session.ledger.verdicts.get(passage.key)
        if verdict is not None and verdict.adopted_from:
            out.append(f" (from {verdict.adopted_from})", "green")
    memo = session.memo_of(passage.key)
    if memo:
        out.append(f"   memo: {memo}", "italic")
    return out


def human_detail(session: PassageSession) -> Text:
    """The human coder's passage under the cursor (`PassageSession.next_missed`): who, where,
    its codes (the missed ones bold), its opening words, and how to adopt it."""
    span = session.human_cursor
    assert span is not None
    colours = code_colours(session)
    out = Text()
    out.append(f"{span.item_id} {span.coder}'s passage [{span.start}, {span.end})  ", "bold")
    for code in span.codes:
        out.append("■ ", colours.get(code, "white"))
        missed = code in span.missed
        out.append(f"{code}{' (missed)' if missed else ''}  ", "bold" if missed else "dim")
    text = session.document.text[span.start : span.end].replace("\n", " ")
    # one line: a fifth line would bring the pane's scrollbar, and a layout, at every step
    out.append(f"\n  “{text[:90]}{'…' if len(text) > 90 else ''}”\n", "italic")
    out.append("  no passage of the missed code(s) here at IoU ≥ 0.5\n", "yellow")
    out.append("  A adopts it as your passage · g the next one · j/k back to the passages", "green")
    return out


class PassageReviewApp(App[None]):
    """``llmcode review`` of a segment run: passages from the keyboard."""

    CSS_PATH = "app.tcss"
    TITLE = "llmcode review · passages"
    ENABLE_COMMAND_PALETTE = False
    DEFAULT_CSS = """
    #passage-main { height: 1fr; }
    #document { width: 1fr; padding: 0 1; scrollbar-gutter: stable; }
    #passages { width: 58; border-left: tall $panel; }
    PassageList > .passage-list--cursor { background: $accent; color: $text; text-style: bold; }
    PassageList > .passage-list--decided { color: $text-muted; }
    #passage-detail { height: 4; padding: 0 1; background: $boost; }
    #passage-progress { height: 1; background: $panel; }
    """

    def __init__(self, session: PassageSession) -> None:
        super().__init__()
        self.session = session
        self.sub_title = (
            f"{session.run.run_id} · {session.taxonomy.name} {session.taxonomy.version}"
            + (" · blind" if session.blind else "")
        )

    def get_default_screen(self) -> PassageScreen:
        return PassageScreen(self.session)

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Open the app in the terminal; without one, refuse at once."""
        headless = kwargs.get("headless", False)
        if not headless and not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise ConfigError(
                "review needs a terminal: its input or output is not one",
                hint="run it in a terminal",
            )
        return super().run(*args, **kwargs)

    def on_mount(self) -> None:
        gc.freeze()

    def on_unmount(self) -> None:
        gc.unfreeze()
