"""The adjudication screen (Textual): the disagreements on the left, the item, each coder's
codes and memo, and the adjudicator's decision on the right. It only displays an
``AdjudicationSession`` and forwards keys to it: 1..9 take that coder's codes, c change,
m memo, u undo, j/k move, q quit (every decision is saved before the screen moves on)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Header, Static

from llmcode.errors import LlmcodeError
from llmcode.review.adjudication import AdjudicationSession
from llmcode.review.widgets import CodePicker, TextPrompt
from llmcode.store.final import Disagreement

CSS = """
#queue { width: 34; height: 100%; border-right: solid $primary; }
#detail { padding: 0 1; }
#status { height: 1; background: $boost; }
"""


def render_queue(session: AdjudicationSession) -> Text:
    """One row per disagreement: mark, item id, human–human (HH) or with the model."""
    out = Text()
    for n, tie in enumerate(session.queue):
        verdict = session.verdict(tie.item_id)
        mark = "·" if verdict is None else "✓"
        kind = "HH" if tie.humans_disagree else "+M"
        style = "reverse" if n == session.position else ("dim" if verdict else "")
        out.append(f" {mark} {kind} {tie.item_id[:24]}\n", style)
    return out


def render_detail(session: AdjudicationSession, tie: Disagreement) -> Text:
    """The item text, each coder's codes and memo (numbered), and the decision."""
    item = session.items[tie.item_id]
    out = Text()
    out.append(tie.item_id, "bold")
    out.append("   coders disagree" + (" (human–human)" if tie.humans_disagree else ""), "dim")
    out.append("\n\n")
    out.append(item.text)
    out.append("\n\nCoders", "bold underline")
    out.append("  (press the number to take that coder's codes)\n", "dim")
    for n, (label, coder) in enumerate(session.coders(tie), start=1):
        out.append(f"  {n}  {label}: ", "bold")
        out.append(", ".join(tie.codes[coder]) + "\n")
        if memo := tie.memos.get(coder):
            out.append(f"       memo: {memo}\n", "italic")
    out.append("\nDecision", "bold underline")
    out.append("  ")
    verdict = session.verdict(tie.item_id)
    if verdict is None:
        out.append("open — 1..9 take a coder's codes · c change · m memo\n", "dim")
    else:
        taken = verdict.adjudication.taken_from if verdict.adjudication else None
        label = {c: lab for lab, c in session.coders(tie)}.get(taken or "", "")
        how = f"took {label}'s codes" if taken else "own codes"
        codes = ", ".join(verdict.codes) or "none"
        out.append(f"✓ {codes} ({how}, by {verdict.reviewer})\n", "green")
    if memo := session.memo_of(tie.item_id):
        out.append(f"  memo: {memo}\n", "italic")
    return out


class AdjudicationApp(App[None]):
    """``llmcode adjudicate``: resolve coders' disagreements from the keyboard."""

    TITLE = "llmcode adjudicate"
    CSS = CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(str(n), f"take({n})", "take", show=n == 1) for n in range(1, 10)),
        Binding("c", "change", "change"),
        Binding("m", "memo", "memo"),
        Binding("u", "undo", "undo"),
        Binding("j,down", "move(1)", "next"),
        Binding("k,up", "move(-1)", "prev"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, session: AdjudicationSession) -> None:
        super().__init__()
        self.session = session

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield Static(id="queue")
            with VerticalScroll():
                yield Static(id="detail")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        session = self.session
        self.query_one("#queue", Static).update(render_queue(session))
        self.query_one("#detail", Static).update(render_detail(session, session.current))
        self.query_one("#status", Static).update(
            f" {session.adjudicator}: {session.resolved()}/{len(session.queue)} resolved"
            + ("  ·  coders blind" if session.blind_coders else "")
        )

    def _do(self, action, *args) -> None:  # type: ignore[no-untyped-def]
        try:
            action(*args)
        except LlmcodeError as exc:
            self.notify(exc.message, severity="error")
        self.redraw()

    def action_take(self, number: int) -> None:
        self._do(self.session.take, number)

    def action_move(self, delta: int) -> None:
        self.session.move(delta)
        self.redraw()

    def action_undo(self) -> None:
        self._do(self.session.undo)

    def action_change(self) -> None:
        verdict = self.session.verdict(self.session.current.item_id)
        picker = CodePicker(
            self.session.categories,
            list(verdict.codes) if verdict else [],
            self.session.taxonomy.multi_label,
        )
        self.push_screen(picker, self._change)

    def _change(self, codes: list[str] | None) -> None:
        if codes:
            self._do(self.session.change, codes)

    def action_memo(self) -> None:
        item_id = self.session.current.item_id
        prompt = TextPrompt(f"Memo on {item_id}", self.session.memo_of(item_id))
        self.push_screen(prompt, self._memo)

    def _memo(self, text: str | None) -> None:
        if text is not None:
            self._do(self.session.memo, text)
