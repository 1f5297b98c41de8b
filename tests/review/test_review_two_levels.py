"""Blind coding of a taxonomy with subcategories (issue 23 #5): the picker offers category and
subcategory in one list, each subcategory under its category; a decision records both levels,
and the export of the blind codes has each code's category beside it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmcode.errors import ConfigError
from llmcode.review.app import ReviewApp
from llmcode.review.session import ReviewSession
from llmcode.review.widgets import CodePicker
from llmcode.store.decisions import reviewed_codes
from llmcode.store.runs import DECISIONS, Run
from tests.review.test_review_session import make_run

SIZE = (120, 32)


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return make_run(tmp_path)  # tiny.yaml: performance has the subcategories slow, inaccurate


def lines(run: Run) -> list[dict]:
    return [json.loads(x) for x in (run.path / DECISIONS).read_text().splitlines()]


def test_blind_coding_offers_both_levels_and_records_both(run: Run) -> None:
    session = ReviewSession(run, "ana", blind=True)
    assert session.two_levels
    assert [c.id for c in session.pickable] == [
        "usage",
        "performance",
        "slow",
        "inaccurate",
        "resources",
    ]
    session.change(["slow"])  # i1: a subcategory, so its category too
    session.change(["performance"])  # i2: the category alone
    session.change(["usage"])  # i3
    assert [(d["item_id"], d["codes"], d["categories"]) for d in lines(run)] == [
        ("i1", ["slow"], ["performance"]),
        ("i2", ["performance"], ["performance"]),
        ("i3", ["usage"], ["usage"]),
    ]
    exported = reviewed_codes(run)
    assert list(zip(exported["item_id"], exported["code"], exported["category"], strict=True)) == [
        ("i1", "slow", "performance"),
        ("i2", "performance", "performance"),
        ("i3", "usage", "usage"),
    ]


def test_an_ordinary_review_keeps_the_runs_level(run: Run) -> None:
    session = ReviewSession(run, "ana")
    assert not session.two_levels
    assert [c.id for c in session.pickable] == ["usage", "performance", "resources"]
    with pytest.raises(ConfigError, match="unknown code"):
        session.change(["slow"])
    session.change(["resources"])
    assert "categories" not in lines(run)[0] or lines(run)[0]["categories"] == []
    assert "category" not in reviewed_codes(run).columns


async def test_the_blind_picker_lists_subcategories_under_their_category(run: Run) -> None:
    app = ReviewApp(ReviewSession(run, "ana", blind=True))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        assert isinstance(app.screen, CodePicker)
        options = app.screen.query_one("#picker-options")
        labels = [str(o.prompt) for o in options.options]  # type: ignore[attr-defined]
        assert labels[1:4] == [
            "performance  Model Performance",
            "  ↳ slow  Slow inference",
            "  ↳ inaccurate  Accuracy drop",
        ]
        await pilot.press("s", "l", "o")  # a subcategory keeps its category in view
        ids = [o.id for o in options.options]  # type: ignore[attr-defined]
        assert ids == ["performance", "slow"]
        assert options.highlighted_option.id == "slow"  # type: ignore[attr-defined]
        await pilot.press("enter")
        assert not isinstance(app.screen, CodePicker)
    assert [(d["item_id"], d["codes"], d["categories"]) for d in lines(run)] == [
        ("i1", ["slow"], ["performance"])
    ]
