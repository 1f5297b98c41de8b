"""The passage review screen driven by Pilot with the real keys: each key's decision on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmcode.cli import get_app
from llmcode.review.passage_app import PassageReviewApp
from llmcode.review.passage_queues import load_human_passages
from llmcode.review.passage_session import PassageSession
from llmcode.review.passage_widgets import (
    DocumentView,
    PassageList,
    code_colours,
    wrap_offsets,
)
from llmcode.review.widgets import CodePicker, HelpScreen
from llmcode.store.runs import DECISIONS, Run
from tests.review.passage_runs import HUMANS, make_segment_run

SIZE = (140, 40)


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return make_segment_run(tmp_path)


def decisions(run: Run) -> list[tuple[str, str, list[str], int | None, int | None]]:
    path = run.path / DECISIONS
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [(r["passage"], r["action"], r["codes"], r["start"], r["end"]) for r in rows]


def text_of(run: Run, item_id: str = "p1-logistics") -> str:
    return next(item.text for item in run.items() if item.item_id == item_id)


async def test_a_accepts_r_rejects_and_the_cursor_goes_to_the_next_undecided(run):
    app = PassageReviewApp(PassageSession(run, "ana"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("j", "a")
        assert app.session.current is not None and app.session.current.key[1] == "m2"
        await pilot.press("r", "k", "k", "k", "a")
    assert decisions(run) == [
        ("m1", "accept", ["documentation"], 1292, 1793),
        ("m2", "reject", [], 1850, 2392),
        ("m0", "accept", ["benchmarks_fit"], 683, 1228),
    ]


async def test_the_bracket_keys_widen_and_narrow_at_either_end(run):
    text = text_of(run)
    app = PassageReviewApp(PassageSession(run, "ana"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right_square_bracket")  # ] the end, a word on
        await pilot.press("right_parenthesis")  # ) and back
        await pilot.press("left_square_bracket")  # [ the start, a word back
        await pilot.press("left_parenthesis")  # ( and on again
        await pilot.press("right_curly_bracket")  # } the end, a sentence on
        await pilot.press("greater_than_sign")  # > and back
        await pilot.press("left_curly_bracket")  # { the start, a sentence back
        await pilot.press("less_than_sign")  # < and on again
    rows = decisions(run)
    assert {r[1] for r in rows} == {"resize"} and {r[0] for r in rows} == {"m0"}
    spans = [text[r[3] : r[4]] for r in rows]
    original = text[683:1228]
    assert spans[0] == original + "\n\nI:"  # the next word: the interviewer's label
    assert spans[1] == original
    assert spans[2] == "P1: " + original
    assert spans[3] == original
    assert spans[4].startswith(original) and spans[4].endswith("decide?")
    assert spans[5] == original
    assert spans[6] == "P1: " + original  # the start of the sentence it starts inside
    assert spans[7].startswith("We sorted")  # that whole first sentence dropped


async def test_c_changes_the_codes_with_the_picker(run):
    app = PassageReviewApp(PassageSession(run, "ana"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        assert isinstance(app.screen, CodePicker)
        await pilot.press("tab")  # untick benchmarks_fit (multi-label: ticks)
        await pilot.press(*"licen", "tab", "enter")
        assert not isinstance(app.screen, CodePicker)
    assert decisions(run) == [("m0", "change", ["licensing"], 683, 1228)]


async def test_i_marks_a_new_passage_word_by_word_and_gives_it_codes(run):
    text = text_of(run)
    app = PassageReviewApp(PassageSession(run, "ana"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("i")  # the cursor starts at the current passage: "Honestly,"
        await pilot.press("right", "space")  # start on "the"
        await pilot.press("right", "right")  # "the first shortlist"
        assert app.screen.marker is not None  # type: ignore[attr-defined]
        await pilot.press("space")
        assert isinstance(app.screen, CodePicker)
        await pilot.press(*"output", "enter")
    (row,) = decisions(run)
    assert row[:3] == ("ana-1", "add", ["output_trust"])
    assert text[row[3] : row[4]] == "the first shortlist"
    assert app.session.current is not None and app.session.current.key[1] == "ana-1"


async def test_marking_moves_by_sentences_and_escape_leaves_without_a_passage(run):
    app = PassageReviewApp(PassageSession(run, "ana"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("i", "space", "down", "down")
        marker = app.screen.marker  # type: ignore[attr-defined]
        assert marker is not None and marker.selection is not None
        two = text_of(run).index("on one GPU.") + len("on one GPU.")
        assert marker.selection == (683, two)  # to the end of the next sentence
        await pilot.press("a", "escape")  # a does nothing while marking
        assert app.screen.marker is None  # type: ignore[attr-defined]
        await pilot.press("j")  # the keys are the review's again
        assert app.session.position == 1
    assert decisions(run) == []


async def test_n_goes_to_the_next_undecided_and_u_undoes(run):
    app = PassageReviewApp(PassageSession(run, "ana"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("j", "a", "k", "k")
        assert app.session.position == 0
        await pilot.press("n", "n")
        assert app.session.current is not None and app.session.current.key[1] == "m3"
        await pilot.press("u")
        assert app.session.current.key[1] == "m1"
    assert [r[1] for r in decisions(run)] == ["accept", "undo"]


async def test_the_current_passage_is_painted_in_its_codes_colour_and_overlaps_underlined(run):
    session = PassageSession(run, "ana")
    session.add("p1-logistics", 690, 700, ["output_trust"])  # inside m0: an overlap
    session.go_to(("p1-logistics", "m1"))
    app = PassageReviewApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = app.screen.query_one(DocumentView)
        styles, base = painted(view), view.rich_style
    assert styles[1300].bgcolor != base.bgcolor and styles[1300].bold  # m1, under the cursor
    assert styles[705].bgcolor == base.bgcolor and styles[705].color != base.color  # m0
    assert styles[705].color == styles[1000].color and not styles[705].underline
    assert all(styles[k].underline for k in range(690, 700))  # two codes: underlined
    assert styles[1250] == base  # between passages: plain


def painted(view: DocumentView) -> dict:
    """Character offset -> style, for the characters on screen."""
    out = {}
    top = round(view.scroll_y)
    for y in range(view.scrollable_content_region.height):
        if top + y >= len(view._lines):
            break
        offset, end = view._lines[top + y]
        for segment in view.render_line(y):
            for _ in segment.text:
                if offset < end:  # not the padding after the line
                    out[offset] = segment.style
                offset += 1
    return out


async def test_blind_review_shows_no_model_passage_and_refuses_accept(run):
    app = PassageReviewApp(PassageSession(run, "cy", blind=True))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        assert decisions(run) == []
        await pilot.press("i", "space", "right", "space")
        await pilot.press(*"docu", "enter")
        assert app.screen.query_one(PassageList).session.queue == [("p1-logistics", "cy-1")]
        await pilot.press("J")  # the next document
        assert app.session.document_id == "p4-mobile"
    rows = [json.loads(line) for line in (run.path / DECISIONS).read_text().splitlines()]
    assert [(r["action"], r["blind"], r["suggested"]) for r in rows] == [("add", True, [])]


async def test_question_mark_lists_the_keys(run):
    app = PassageReviewApp(PassageSession(run, "ana"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = dict(app.screen.keys)
        assert "widen at the end by a sentence" in keys.values()
        assert keys["]"] == "widen at the end by a word"


def test_a_code_keeps_the_colour_its_codebook_gives_it(run):
    session = PassageSession(run, "ana")
    first, second, *rest = session.categories
    session.categories = [first.model_copy(update={"color": "#f0a"}), second, *rest]
    colours = code_colours(session)
    assert colours[first.id] == "#ff00aa" and colours[second.id] == "cyan"  # the palette's 2nd


def test_wrapping_keeps_the_offsets_of_every_line():
    text = "one two three four\nfive six\n\nseven"
    lines = wrap_offsets(text, 9)
    assert [text[s:e] for s, e in lines] == ["one two", "three", "four", "five six", "", "seven"]


def test_llmcode_review_of_a_segment_run_needs_a_terminal_and_refuses_item_options(cli, run):
    runs = run.path.parent
    result = cli("review", "seg", "--runs-dir", runs, "--reviewer", "ana")
    assert result.exit_code == 1 and "needs a terminal" in result.output
    result = cli("review", "seg", "--runs-dir", runs, "--auto-accept-above", "0.9")
    assert result.exit_code == 1 and "--auto-accept-above does not apply" in result.output


def test_snapshot_of_the_passage_screen(run, snap_compare):  # type: ignore[no-untyped-def]
    texts = {item.item_id: item.text for item in run.items()}
    human = load_human_passages(HUMANS, texts)
    app = PassageReviewApp(PassageSession(run, "ana", human=human))
    assert snap_compare(app, press=["a", "right_curly_bracket"], terminal_size=SIZE)


def test_snapshot_of_marking_a_passage(run, snap_compare):  # type: ignore[no-untyped-def]
    app = PassageReviewApp(PassageSession(run, "ana"))
    assert snap_compare(app, press=["i", "right", "space", "down"], terminal_size=SIZE)


def test_review_command_opens_the_passage_screen_with_the_human_passages(run, monkeypatch):
    opened: list[PassageSession] = []
    monkeypatch.setattr(PassageReviewApp, "run", lambda self: opened.append(self.session))
    result = CliRunner().invoke(
        get_app(),
        ["review", "seg", "--reviewer", "ana", "--runs-dir", str(run.path.parent),
         "--human", str(HUMANS), "--queue", "disagreement"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (session,) = opened
    assert session.queue_name == "disagreement"
    assert set(session.document.human) == {"ana", "ben"}
    assert "0/18 passage(s) decided in queue disagreement" in result.output


async def test_capital_h_shows_the_human_coders_passages_in_italic(run):
    texts = {item.item_id: item.text for item in run.items()}
    human = load_human_passages(HUMANS, texts)
    spans = [span for coded in human["p1-logistics"].values() for span in coded]
    ben = min(spans)  # the first human passage of p1
    app = PassageReviewApp(PassageSession(run, "ana", human=human))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = app.screen.query_one(DocumentView)
        assert not painted(view)[ben[0]].italic
        await pilot.press("H")
        shown = painted(view)
        assert shown[ben[0]].italic and shown[ben[0]].overline
        assert not shown[ben[0] - 2].italic  # just before it: no human passage there
        assert all(shown[k].italic for k in range(ben[0], ben[1]) if k in shown)
        await pilot.press("H")
        assert not painted(view)[ben[0]].italic


async def test_capital_h_without_human_passages_says_how_to_give_them(run):
    app = PassageReviewApp(PassageSession(run, "ana"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("H")
        assert not app.screen.query_one(DocumentView).show_human


def lines_of(run: Run) -> list[dict]:
    path = run.path / DECISIONS
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def test_g_steps_to_a_human_passage_the_model_missed_and_capital_a_adopts_it(run):
    texts = {item.item_id: item.text for item in run.items()}
    human = load_human_passages(HUMANS, texts)
    app = PassageReviewApp(PassageSession(run, "rev", human=human))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g")
        view = app.screen.query_one(DocumentView)
        assert view.show_human  # the human passages are shown with it
        shown = painted(view)
        assert shown[3089].reverse and shown[3276].reverse and not shown[3088].reverse
        detail = app.screen._detail  # type: ignore[attr-defined]
        assert "ben's passage [3089, 3277)" in str(detail) and "A adopts" in str(detail)
        await pilot.press("g")  # the next one: p4
        assert app.session.document_id == "p4-mobile"
        await pilot.press("A")
        assert app.session.current is not None and app.session.current.key[1] == "rev-1"
        assert "+ added by you (from ben)" in str(app.screen._detail)  # type: ignore[attr-defined]
        await pilot.press("A")  # nothing under the cursor now: an error, no line
    assert [
        (r["action"], r["adopted_from"], r["start"], r["end"], r["codes"]) for r in lines_of(run)
    ] == [("add", "ben", 542, 1073, ["compute_costs"])]


async def test_g_and_capital_a_are_not_offered_without_human_passages(run):
    app = PassageReviewApp(PassageSession(run, "rev"))
    async with app.run_test(size=SIZE) as pilot:
        offered = {b.binding.action for b in app.screen.active_bindings.values()}
        assert "missed" not in offered and "adopt" not in offered and "human" in offered
        await pilot.press("g", "A")
        assert app.session.human_cursor is None
    assert decisions(run) == []


async def test_g_and_capital_a_are_offered_with_human_passages(run):
    texts = {item.item_id: item.text for item in run.items()}
    human = load_human_passages(HUMANS, texts)
    app = PassageReviewApp(PassageSession(run, "rev", human=human))
    async with app.run_test(size=SIZE):
        offered = {b.binding.action for b in app.screen.active_bindings.values()}
        assert {"missed", "adopt", "human"} <= offered


async def test_m_writes_a_memo_on_the_passage_and_the_detail_shows_it(run):
    app = PassageReviewApp(PassageSession(run, "ana"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("j", "m")
        assert "MEMO" in str(app.screen._detail)  # type: ignore[attr-defined]
        await pilot.press(*"cut shortx", "backspace")  # a, j, r... are the memo's letters now
        await pilot.press("enter")
        assert "memo: cut short" in str(app.screen._detail)  # type: ignore[attr-defined]
        assert app.session.position == 1  # the cursor stays
        await pilot.press("m", *" more", "escape")  # escape: no line, the memo as it was
        assert "memo: cut short" in str(app.screen._detail)  # type: ignore[attr-defined]
        await pilot.press("j")  # the keys are the review's again
        assert app.session.position == 2
    rows = lines_of(run)
    assert [(r["passage"], r["action"], r["memo"]) for r in rows] == [("m1", "memo", "cut short")]


async def test_e_shows_the_next_document_without_a_passage_in_blind_review(run):
    app = PassageReviewApp(PassageSession(run, "cy", blind=True))
    async with app.run_test(size=SIZE) as pilot:
        assert "2 document(s) without one" in str(app.screen._progress)  # type: ignore[attr-defined]
        await pilot.press("i", "space", "right", "space", *"docu", "enter")
        assert "1 document(s) without one" in str(app.screen._progress)  # type: ignore[attr-defined]
        await pilot.press("e")
        assert app.session.document_id == "p4-mobile"
        assert "p4-mobile: i marks a passage" in str(app.screen._detail)  # type: ignore[attr-defined]
        await pilot.press("i", "space", "right", "space", *"lice", "enter", "e")
        assert "0 document(s) without one" in str(app.screen._progress)  # type: ignore[attr-defined]
    assert [(r["item_id"], r["action"], r["blind"]) for r in lines_of(run)] == [
        ("p1-logistics", "add", True),
        ("p4-mobile", "add", True),
    ]
