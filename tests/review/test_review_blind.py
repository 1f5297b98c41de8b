"""Blind review (`review --blind`): coding from scratch, with nothing from the model on screen."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from llmcode.errors import ConfigError, RunStoreError
from llmcode.review.app import ReviewApp
from llmcode.review.session import ReviewSession
from llmcode.review.widgets import CodePicker
from llmcode.store.decisions import reviewed_codes
from llmcode.store.runs import DECISIONS, Run
from tests.review.test_review_session import make_run

SIZE = (120, 32)
MODEL_CODES = {"i1": "usage", "i2": "resources", "i3": "performance"}
LEAKS = (
    "the text is about",
    "0.90",
    "0.80",
    "0.40",
    "confidence",
    "unverified",
    "Model (",
    "coded: ",
    "accepted",
    "queue ",
)


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return make_run(tmp_path)


def screen_text(app: ReviewApp) -> str:
    """Every character on the terminal screen (from the SVG screenshot), spaces normalised."""
    svg = app.export_screenshot()
    text = " ".join(html.unescape(t) for t in re.findall(r">([^<>]*)</text>", svg))
    return text.replace("\xa0", " ")


def lines(run: Run) -> list[dict]:
    return [json.loads(x) for x in (run.path / DECISIONS).read_text().splitlines()]


def test_blind_decisions_are_marked_and_carry_no_suggestion(run: Run) -> None:
    session = ReviewSession(run, "ana", blind=True)
    session.change(["performance"])
    session.reject()
    session.memo("unclear")
    assert [(d["item_id"], d["action"], d["blind"], d["suggested"]) for d in lines(run)] == [
        ("i1", "change", True, []),
        ("i2", "reject", True, []),
        ("i3", "memo", True, []),
    ]
    undone = session.undo()
    assert undone is not None and undone.blind


def test_blind_review_offers_nothing_derived_from_the_model(run: Run) -> None:
    session = ReviewSession(run, "ana", blind=True)
    with pytest.raises(ConfigError, match="no model codes to accept"):
        session.accept()
    with pytest.raises(ConfigError, match="one queue"):
        session.set_queue("low-confidence")
    with pytest.raises(ConfigError, match="queue 'all'"):
        ReviewSession(run, "ana", blind=True, queue="disagreement")
    with pytest.raises(ConfigError, match="blind review shows no other coder"):
        ReviewSession(run, "ana", blind=True, human={"i1": {"ben": ["usage"]}})


def test_blind_and_ordinary_reviews_of_one_reviewer_are_kept_apart(run: Run) -> None:
    ordinary = ReviewSession(run, "ana")
    ordinary.accept()  # i1 usage
    blind = ReviewSession(run, "ana", blind=True)
    assert blind.verdict("i1") is None and blind.position == 0
    blind.change(["resources"])
    blind.reject()  # i2: no code applies
    again = ReviewSession(run, "ana")
    assert again.verdict("i1") is not None and again.verdict("i1").codes == ["usage"]
    exported = reviewed_codes(run, reviewer="ana")
    assert list(zip(exported["item_id"], exported["code"], exported["blind"], strict=True)) == [
        ("i1", "resources", True),
        ("i2", "none", True),
    ]


def test_only_restricts_the_items_and_names_ids_the_run_lacks(run: Run) -> None:
    session = ReviewSession(run, "ana", blind=True, only=["i3", "i1"])
    assert [item.item_id for item in session.queue] == ["i1", "i3"]
    with pytest.raises(RunStoreError, match="not in run demo: x9"):
        ReviewSession(run, "ana", blind=True, only=["i1", "x9"])


async def test_the_blind_screen_shows_no_model_code_justification_or_confidence(run: Run):
    app = ReviewApp(ReviewSession(run, "ana", blind=True))
    async with app.run_test(size=SIZE) as pilot:
        for item_id in ("i1", "i2", "i3"):
            assert app.session.current is not None and app.session.current.item_id == item_id
            text = screen_text(app)
            assert item_id in text and "BLIND" in text
            assert "accept" not in text and "filter" not in text  # gone from the footer
            for leak in (*LEAKS, MODEL_CODES[item_id]):
                assert leak not in text, f"{leak!r} on screen at {item_id}"
            await pilot.press("j")
        await pilot.press("k", "k", "k", "a")  # accept does nothing but say why
        assert not (run.path / DECISIONS).exists()
        await pilot.press("f")  # no queue picker
        assert not app.screen.query("#queue-options")
        await pilot.press("c")
        assert isinstance(app.screen, CodePicker) and app.screen.chosen == []
        await pilot.press("p", "e", "r", "f", "enter")
        await pilot.press("r")
        text = screen_text(app)
        assert "the text is about" not in text and "coded 2/4" in text
    assert [(d["item_id"], d["action"], d["codes"]) for d in lines(run)] == [
        ("i1", "change", ["performance"]),
        ("i2", "reject", []),
    ]


async def test_the_ordinary_screen_does_show_the_model_for_contrast(run: Run) -> None:
    app = ReviewApp(ReviewSession(run, "ana"))
    async with app.run_test(size=SIZE):
        text = screen_text(app)
        assert "the text is about usage" in text and "0.90" in text


def test_multi_label_blind_coding_exports_one_row_per_code(tmp_path: Path) -> None:
    run = make_run(tmp_path, multi_label=True)
    session = ReviewSession(run, "ana", blind=True)
    session.change(["usage", "resources"])
    exported = reviewed_codes(run, reviewer="ana")
    assert list(zip(exported["item_id"], exported["code"], strict=True)) == [
        ("i1", "usage"),
        ("i1", "resources"),
    ]


async def test_the_blind_picker_ticks_several_codes_in_a_multi_label_scheme(tmp_path: Path):
    run = make_run(tmp_path, multi_label=True)
    app = ReviewApp(ReviewSession(run, "ana", blind=True))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        assert isinstance(app.screen, CodePicker) and app.screen.chosen == []
        # usage, then past performance and its subcategories slow and inaccurate, resources
        await pilot.press("tab", "down", "down", "down", "down", "tab", "enter")
    assert [(d["item_id"], d["codes"], d["blind"]) for d in lines(run)] == [
        ("i1", ["usage", "resources"], True)
    ]


async def test_the_blind_help_lists_no_accept_or_filter_key(run: Run) -> None:
    app = ReviewApp(ReviewSession(run, "ana", blind=True))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        text = screen_text(app)
        assert "undo your last decision" in text
        assert "accept the model" not in text and "choose the queue" not in text


def test_snapshot_of_the_blind_screen(run: Run, snap_compare) -> None:  # type: ignore[no-untyped-def]
    app = ReviewApp(ReviewSession(run, "ana", blind=True))
    assert snap_compare(app, press=["r"], terminal_size=SIZE)
