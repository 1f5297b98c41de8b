"""The review screen's widgets keep a key press cheap: no layout pass per item, rows and
detail lines drawn once, and still every change shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.screen import Screen

from llmcode.review.app import ReviewApp
from llmcode.review.session import ReviewSession
from llmcode.review.widgets import DetailView, ItemList
from llmcode.store.runs import Run
from tests.review.test_review_session import make_run


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return make_run(tmp_path)


def row_text(items: ItemList, y: int) -> str:
    return "".join(segment.text for segment in items.render_line(y))


def pane_lines(detail: DetailView) -> list[str]:
    return [
        "".join(s.text for s in detail.render_line(y)).rstrip()
        for y in range(detail.scrollable_content_region.height)
    ]


async def test_moving_between_items_of_different_lengths_lays_out_nothing(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    layouts: list[Screen[object]] = []
    original = Screen._refresh_layout

    def counted(self: Screen[object], *args: object, **kwargs: object) -> None:
        layouts.append(self)
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    app = ReviewApp(ReviewSession(run, "ana"))
    async with app.run_test(size=(120, 32)) as pilot:
        await pilot.pause()
        detail = app.screen.query_one(DetailView)
        monkeypatch.setattr(Screen, "_refresh_layout", counted)
        heights = set()
        for key in "jjjkkk":
            await pilot.press(key)
            await pilot.pause()
            heights.add(detail.virtual_size.height)
        assert len(heights) > 1  # the items' details differ in length
        assert layouts == []


async def test_a_decision_redraws_its_row_although_rows_are_kept(run: Run) -> None:
    app = ReviewApp(ReviewSession(run, "ana"))
    async with app.run_test(size=(120, 32)) as pilot:
        items = app.screen.query_one(ItemList)
        before = row_text(items, 0)
        assert before.startswith(" · ") and "i1" in before
        assert items._rows  # drawn once, kept
        await pilot.press("a")
        await pilot.pause()
        after = row_text(items, 0)
        assert after.startswith(" ✓ ") and "i1" in after
        await pilot.press("k", "u")  # undo: undecided again
        await pilot.pause()
        assert row_text(items, 0).startswith(" · ")


async def test_the_cursor_row_moves_with_the_cursor(run: Run) -> None:
    app = ReviewApp(ReviewSession(run, "ana"))
    async with app.run_test(size=(120, 32)) as pilot:
        items = app.screen.query_one(ItemList)
        cursor = items._row_styles()["cursor"]
        assert items.render_line(0)._segments[0].style == cursor
        await pilot.press("j")
        await pilot.pause()
        assert items.render_line(0)._segments[0].style != cursor
        assert items.render_line(1)._segments[0].style == cursor


async def test_the_detail_pages_through_a_text_longer_than_the_pane(run: Run) -> None:
    app = ReviewApp(ReviewSession(run, "ana"))
    async with app.run_test(size=(60, 12)) as pilot:
        await pilot.press("d")  # definitions: more lines than the pane holds
        await pilot.pause()
        detail = app.screen.query_one(DetailView)
        assert detail.virtual_size.height > detail.scrollable_content_region.height
        first = pane_lines(detail)
        assert first[0].startswith("i1")
        await pilot.press("pagedown")
        await pilot.pause()
        assert detail.scroll_y > 0
        later = pane_lines(detail)
        assert later != first
        everything = app.console.render_lines(
            detail.text,
            app.console.options.update_width(detail.scrollable_content_region.width),
            pad=False,
        )
        top = round(detail.scroll_y)
        expected = "".join(s.text for s in everything[top]).rstrip()
        assert later[0] == expected
        await pilot.press("j")  # the next item starts at its top
        await pilot.pause()
        assert detail.scroll_y == 0 and pane_lines(detail)[0].startswith("i2")
