"""The review TUI: a Textual shell over a ``ReviewSession``.

Keys go to the session (which saves each decision before anything moves); the screen then
redraws the item list, the detail pane (text with the evidence highlighted, each suggested
code with its justification, definitions on demand) and the progress line.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from llmcode.errors import ConfigError, LlmcodeError
from llmcode.quality.confidence import KIND_NAMES, confidence_of
from llmcode.review.queues import QUEUES, ReviewItem
from llmcode.review.session import DECISION_FILTERS, Decision, ReviewSession
from llmcode.review.widgets import (
    CodePicker,
    DetailView,
    FilterPicker,
    HelpScreen,
    ItemList,
    TextPrompt,
    evidence_colour,
)

KEY_NAMES = {
    "slash": "/",
    "question_mark": "?",
    "down": "↓",
    "up": "↑",
    "pagedown": "PgDn",
    "pageup": "PgUp",
    "space": "space",
}
PICKER_KEYS = [
    ("(picker) type", "filter the codes by id or name"),
    ("(picker) ↑ ↓", "move the highlight"),
    ("(picker) tab", "tick or untick a code (multi-label taxonomies)"),
    ("(picker) enter", "confirm; esc cancels"),
]
DECISION_TEXT = {
    "undecided": "not decided yet",
    "accept": "accepted",
    "reject": "rejected",
    "change": "changed",
}
VERDICT_TEXT = {
    "accept": "✓ accepted",
    "reject": "✗ rejected (no code applies)",
    "change": "✎ changed to",
}
BLIND_HIDDEN = ("accept", "filter")  # nothing to accept; every other queue follows the model
BLIND_VERDICT_TEXT = {"reject": "✗ no code applies", "change": "✎ coded"}


class ReviewScreen(Screen[None]):
    """Item list, detail pane, progress line and footer."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "accept", "accept", tooltip="accept the model's codes"),
        Binding("r", "reject", "reject", tooltip="reject: no code applies"),
        Binding("c", "change", "change", tooltip="change the codes with a searchable picker"),
        Binding("m", "memo", "memo", tooltip="write a memo on the item (empty clears it)"),
        Binding("u", "undo", "undo", tooltip="undo your last decision"),
        Binding("j,down", "move(1)", "next", tooltip="next item"),
        Binding("k,up", "move(-1)", "prev", tooltip="previous item"),
        Binding("slash", "search", "search", tooltip="search the item texts"),
        Binding("n", "search_next", "next match", show=False, tooltip="next search match"),
        Binding("f", "filter", "filter", tooltip="filter by queue, code or decision"),
        Binding("d", "definitions", "definitions", tooltip="show or hide category definitions"),
        Binding(
            "pagedown,space",
            "scroll_detail(1)",
            "scroll",
            show=False,
            tooltip="scroll the item text down",
        ),
        Binding(
            "pageup",
            "scroll_detail(-1)",
            "scroll up",
            show=False,
            tooltip="scroll the item text up",
        ),
        Binding("question_mark", "help", "help", tooltip="this help"),
        Binding("q", "app.quit", "quit", tooltip="quit (every decision is already saved)"),
    ]

    def __init__(self, session: ReviewSession) -> None:
        super().__init__()
        self.session = session
        self.definitions = False
        self.query_text = ""
        self._shown: str | None = None
        self._progress: Text | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            yield ItemList(self.session, id="items")
            yield DetailView(id="detail")
        yield Static(id="progress")
        yield Footer()

    def on_mount(self) -> None:
        self.redraw(full=True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Blind review: accept and the queue filter are gone (from the footer too)."""
        return not (self.session.blind and action in BLIND_HIDDEN)

    def redraw(self, full: bool = False) -> None:
        """Bring the screen up to date with the session (``full``: every row of the list)."""
        session = self.session
        self.query_one(ItemList).sync(full)
        item = session.current
        try:
            text = (
                render_detail(session, item, self.definitions, session.query)
                if item
                else Text(f"queue '{session.queue_name}' is empty: press f for another")
            )
        except LlmcodeError as exc:  # a damaged record: say so, keep the review going
            text = Text(str(exc), style="red")
        shown = item.item_id if item else None
        self.query_one(DetailView).show(text, top=shown != self._shown)
        self._shown = shown
        p = session.progress()
        if session.blind:  # nothing about the model: no accepted/changed shares, no queue
            progress = Text.assemble(
                (" BLIND ", "bold reverse"),
                (f" coded {p.reviewed}/{p.total}", "bold"),
                f"  no code applies {p.rejected}   reviewer {session.reviewer}"
                f"   run {session.run.run_id}",
            )
        else:
            progress = Text.assemble(
                (f" reviewed {p.reviewed}/{p.total}", "bold"),
                (search_label(session), "reverse"),
                f"  queue {session.queue_name}"
                f"  accepted {p.share(p.accepted):.0f}%  changed {p.share(p.changed):.0f}%"
                f"  rejected {p.share(p.rejected):.0f}%"
                f"   reviewer {session.reviewer}   run {session.run.run_id}",
            )
        if progress != self._progress:  # an unchanged line costs no layout
            self._progress = progress
            # one line of fixed size (app.tcss): no layout pass for new text
            self.query_one("#progress", Static).update(progress, layout=False)

    def _do(self, step: Callable[..., Any], *args: Any, full: bool = False) -> None:
        try:
            step(*args)
        except LlmcodeError as exc:
            self.notify(str(exc), severity="error", timeout=6)
            return
        self.redraw(full)

    def action_accept(self) -> None:
        self._do(self.session.accept)

    def action_reject(self) -> None:
        self._do(self.session.reject)

    def action_undo(self) -> None:
        if self.session.ledger.last() is None:
            self.notify("nothing to undo")
            return
        self._do(self.session.undo)

    def action_move(self, step: int) -> None:
        self.session.move(step)
        self.redraw()

    def action_change(self) -> None:
        item = self.session.current
        if item is None:
            return
        verdict = self.session.verdict(item.item_id)
        chosen = verdict.codes if verdict else ([] if self.session.blind else item.codes)
        session = self.session
        parents = {  # coding both levels at once: each subcategory under its category
            c.id: parent.id
            for c in session.pickable
            if session.two_levels
            and (parent := session.taxonomy.parent_of(c.id)) is not None
            and parent.id != c.id
        }
        picker = CodePicker(session.pickable, chosen, session.taxonomy.multi_label, parents)
        self.app.push_screen(picker, self._change)

    def _change(self, codes: list[str] | None) -> None:
        if codes:
            self._do(self.session.change, codes)

    def action_memo(self) -> None:
        item = self.session.current
        if item is None:
            return
        prompt = TextPrompt(f"Memo on {item.item_id}", self.session.memo_of(item.item_id))
        self.app.push_screen(prompt, self._memo)

    def _memo(self, text: str | None) -> None:
        if text is not None:
            self._do(self.session.memo, text)

    def action_search(self) -> None:
        prompt = TextPrompt("Search the item texts", self.query_text, "words to find")
        self.app.push_screen(prompt, self._search)

    def action_search_next(self) -> None:
        self._search(self.query_text)

    def _search(self, query: str | None) -> None:
        if not query:
            return
        self.query_text = query
        if self.session.search(query) is None:
            self.notify(f"no item in this queue contains '{query}'", severity="warning")
        self.redraw(full=True)

    def action_filter(self) -> None:
        if self.session.blind:
            self.notify("blind review has one queue (all): the others follow the model's codes")
            return
        session = self.session
        choices = [
            ("queue", name, (fn.__doc__ or "").strip().splitlines()[0])
            for name, fn in QUEUES.items()
        ]
        choices += [("code", c.id, c.name) for c in session.categories]
        choices.append(("code", "any", "every code"))
        choices += [("decision", d, DECISION_TEXT[d]) for d in DECISION_FILTERS]
        choices.append(("decision", "any", "decided or not"))
        picker = FilterPicker(choices, f"queue {session.queue_base}")
        self.app.push_screen(picker, self._switch_filter)

    def _switch_filter(self, choice: tuple[str, str] | None) -> None:
        if not choice:
            return
        session, (kind, value) = self.session, choice
        queue, code, decision = session.queue_base, session.code_filter, session.decision_filter
        if kind == "queue":
            queue = value
        elif kind == "code":
            code = None if value == "any" else value
        else:
            decision = None if value == "any" else value
        self._do(session.set_queue, queue, code, decision, full=True)

    def action_definitions(self) -> None:
        self.definitions = not self.definitions
        self.redraw()

    def action_scroll_detail(self, direction: int) -> None:
        detail = self.query_one(DetailView)
        (detail.scroll_page_down if direction > 0 else detail.scroll_page_up)(animate=False)

    def action_help(self) -> None:
        keys = [
            (" / ".join(KEY_NAMES.get(k, k) for k in b.key.split(",")), b.tooltip or b.description)
            for b in self.BINDINGS
            if isinstance(b, Binding) and self.check_action(b.action, ())
        ]
        self.app.push_screen(HelpScreen(keys + PICKER_KEYS))


class ReviewApp(App[None]):
    """``llmcode review``: accept, reject or change the model's codes from the keyboard."""

    CSS_PATH = "app.tcss"
    TITLE = "llmcode review"
    ENABLE_COMMAND_PALETTE = False

    def __init__(self, session: ReviewSession) -> None:
        super().__init__()
        self.session = session
        self.sub_title = (
            f"{session.run.run_id} · {session.taxonomy.name} {session.taxonomy.version}"
            + (" · blind" if session.blind else "")
        )

    def get_default_screen(self) -> ReviewScreen:
        return ReviewScreen(self.session)

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Open the app in the terminal; without one (a pipe, a scheduler, CI) refuse at once
        instead of waiting forever for keys that never come."""
        headless = kwargs.get("headless", False)  # tests and snapshots need no terminal
        if not headless and not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise ConfigError(
                "review needs a terminal: its input or output is not one",
                hint="run it in a terminal, or accept confident codes unattended with "
                "--auto-accept-above T",
            )
        return super().run(*args, **kwargs)

    def on_mount(self) -> None:
        # The session's items live as long as the app: keep the garbage collector from walking
        # them (millions of objects on a large run) every time it collects.
        gc.freeze()

    def on_unmount(self) -> None:
        gc.unfreeze()


def search_label(session: ReviewSession) -> str:
    """ "  /word: match 3 of 7" (or "7 matches" off a hit) for the progress line; "" without."""
    status = session.search_status()
    if status is None:
        return ""
    which, total = status
    if not total:
        return f"  /{session.query}: no match "
    if which is None:
        return f"  /{session.query}: {total} match{'es' if total > 1 else ''} "
    return f"  /{session.query}: match {which} of {total} "


def render_detail(
    session: ReviewSession, item: ReviewItem, definitions: bool, query: str = ""
) -> Text:
    """The detail pane: the text with evidence highlighted (and the search's hits reversed),
    the model's codes and the verdict."""
    if session.blind:
        return render_blind_detail(session, item, definitions)
    out = Text()
    out.append(item.item_id, "bold")
    out.append(f"   coded: {item.status}", "red" if item.status in ("error", "invalid") else "")
    kind = session.confidence_kind
    confidence = item.confidence_as(kind)
    if confidence is not None:
        out.append(f"   confidence {confidence:.2f} ({KIND_NAMES[kind]})")
    meta = [
        f"{k}: {v}"
        for k, v in item.metadata.items()
        if k not in session.text_columns and v and len(v) <= 60
    ]
    if meta:
        out.append("\n" + "   ".join(meta[:3]), "dim")
    out.append("\n\n")
    out.append_text(_highlighted(item, query))
    _append_model(out, session, item)
    _append_human(out, item)
    _append_decision(out, session, item)
    if definitions:
        _append_definitions(out, session, item)
    else:
        out.append("\n  d shows the category definitions", "dim")
    return out


def _highlighted(item: ReviewItem, query: str) -> Text:
    """The item's text, verified evidence in each code's colour, the search's hits reversed."""
    text = Text(item.text)
    codes = item.record.codes if item.record else []
    for index, code in enumerate(codes):
        for span in code.evidence:
            if span.verified and span.start is not None and span.end is not None:
                text.stylize(f"black on {evidence_colour(index)}", span.start, span.end)
    if query:
        lowered, start = item.text.lower(), 0
        while (start := lowered.find(query, start)) >= 0:
            text.stylize("reverse bold", start, start + len(query))
            start += len(query)
    return text


def _append_model(out: Text, session: ReviewSession, item: ReviewItem) -> None:
    """The model's codes with justification, unverified quotes, suggestion and problems."""
    record = item.record
    codes = record.codes if record else []
    kind = session.confidence_kind
    out.append(f"\n\nModel ({session.model})\n", "bold underline")
    if not codes:
        out.append("  no code suggested\n", "italic")
    for index, code in enumerate(codes):
        category = session.category(code.code)
        out.append("  ■ ", evidence_colour(index))
        out.append(code.code, "bold")
        out.append(f"  {category.name if category else ''}")
        value = confidence_of(record, code.code, kind) if record else None
        if value is not None:
            out.append(f"  ({value:.2f})", "dim")
        out.append(f"\n    {code.justification or '(no justification)'}\n")
        if code.disputed:
            reasons = [c.reason for c in record.checks if c.code == code.code] if record else []
            reason = next((r for r in reasons if r), "")
            out.append(
                "    ~ disputed by the second look" + (f": {reason}" if reason else "") + "\n",
                "yellow",
            )
        for span in code.evidence:
            if not span.verified:
                out.append(f'    not in the text: "{span.quote}"\n', "red")
    dropped = [c for c in record.checks if c.outcome in ("dropped", "replaced")] if record else []
    for check in dropped:
        instead = f", replaced by {check.alternative}" if check.outcome == "replaced" else ""
        out.append(f"  ~ {check.code} {check.outcome} by the second look{instead}", "yellow")
        out.append(f": {check.reason}\n" if check.reason else "\n", "yellow")
    if record and record.suggested_code:
        new = record.suggested_code
        out.append(f"  suggests a new code: {new.name} — {new.definition}\n", "italic")
    if record and (record.problems or record.error):
        for problem in [*record.problems, *([record.error] if record.error else [])]:
            out.append(f"  ! {problem}\n", "red")


def _append_human(out: Text, item: ReviewItem) -> None:
    """Each human coder's codes, marked where they differ from the model's."""
    if not item.human:
        return
    out.append("\nHuman\n", "bold underline")
    for coder, human_codes in item.human.items():
        differs = set(human_codes) != set(item.codes)
        out.append(f"  {coder}: {', '.join(human_codes) or '(no code)'}", "bold" if differs else "")
        out.append("  ≠ model\n" if differs else "\n", "yellow" if differs else "")


def _append_decision(out: Text, session: ReviewSession, item: ReviewItem) -> None:
    """The reviewer's verdict (or how to give one) and memo."""
    verdict = session.verdict(item.item_id)
    out.append("\nYour decision", "bold underline")
    out.append("  ")
    if verdict is None:
        out.append("undecided — a accept · r reject · c change\n", "dim")
    else:
        final = f": {', '.join(verdict.codes)}" if verdict.action != "reject" else ""
        if verdict.decided_by == "human":
            out.append(f"{VERDICT_TEXT[verdict.action]}{final}\n", "green")
        else:
            out.append(f"{who_decided(verdict)}{final}\n", "yellow")
    memo = session.memo_of(item.item_id)
    if memo:
        out.append(f"  memo: {memo}\n", "italic")


def who_decided(verdict: Decision) -> str:
    """A verdict no person made, said as such (automatic accept, a model's decision)."""
    if verdict.decided_by == "automatic":
        auto = verdict.automatic
        why = f" at confidence {auto.confidence:.2f} >= {auto.threshold:g}" if auto else ""
        return f"A accepted automatically{why} — no one looked (a accept · c change)"
    return f"M {VERDICT_TEXT[verdict.action]} by a model — no one looked"


def _append_definitions(out: Text, session: ReviewSession, item: ReviewItem) -> None:
    """The definitions of every code in play (all categories when none is)."""
    verdict = session.verdict(item.item_id)
    shown = dict.fromkeys(
        [
            *item.codes,
            *(verdict.codes if verdict else []),
            *(c for codes in item.human.values() for c in codes),
        ]
    )
    out.append("\nDefinitions\n", "bold underline")
    for code_id in shown or [c.id for c in session.categories]:
        category = session.category(code_id)
        if category is not None:
            out.append(f"  {category.id}", "bold")
            out.append(f"  {category.definition}\n")
            for include in category.include:
                out.append(f"    + {include}\n", "dim")
            for exclude in category.exclude:
                out.append(f"    − {exclude}\n", "dim")


def render_blind_detail(session: ReviewSession, item: ReviewItem, definitions: bool) -> Text:
    """The blind detail pane: the item and the reviewer's own codes — nothing from the model
    (no status, confidence, evidence highlight, codes or justification) and no other coder."""
    out = Text()
    out.append(item.item_id, "bold")
    out.append("   blind: code it yourself", "dim")
    meta = [
        f"{k}: {v}"
        for k, v in item.metadata.items()
        if k not in session.text_columns and v and len(v) <= 60
    ]
    if meta:
        out.append("\n" + "   ".join(meta[:3]), "dim")
    out.append("\n\n")
    out.append(item.text)
    verdict = session.verdict(item.item_id)
    out.append("\n\nYour codes", "bold underline")
    out.append("  ")
    if verdict is None:
        out.append("not coded yet — c choose codes · r no code applies\n", "dim")
    else:
        final = f": {', '.join(verdict.codes)}" if verdict.action != "reject" else ""
        out.append(f"{BLIND_VERDICT_TEXT.get(verdict.action, verdict.action)}{final}\n", "green")
    memo = session.memo_of(item.item_id)
    if memo:
        out.append(f"  memo: {memo}\n", "italic")
    if definitions:
        out.append("\nDefinitions\n", "bold underline")
        for category in session.categories:
            out.append(f"  {category.id}", "bold")
            out.append(f"  {category.definition}\n")
    else:
        out.append("\n  d shows the category definitions", "dim")
    return out
