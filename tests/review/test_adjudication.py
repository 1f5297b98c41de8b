"""The adjudication session (no UI) and its screen driven by Pilot with the real keys."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from llmcode.errors import ConfigError
from llmcode.review.adjudication import AdjudicationSession
from llmcode.review.adjudication_app import AdjudicationApp
from llmcode.review.widgets import CodePicker, TextPrompt
from llmcode.store.decisions import load_decisions
from llmcode.store.final import Disagreement, coder_codes, disagreements, final_codes, save_coders
from llmcode.store.runs import Run
from tests.review.test_review_session import make_run

SIZE = (110, 30)


def setup(tmp_path: Path) -> tuple[Run, list[Disagreement]]:
    """i2 and i3: ana and ben disagree (ben with a memo on i3); i1: they agree."""
    run = make_run(tmp_path)
    codes = pd.DataFrame(
        [
            ("i1", "ana", "usage", ""),
            ("i1", "ben", "usage", ""),
            ("i2", "ana", "resources", ""),
            ("i2", "ben", "usage", ""),
            ("i3", "ana", "performance", ""),
            ("i3", "ben", "usage", "the user asks how to call it"),
        ],
        columns=["item_id", "coder", "code", "memo"],
    )
    frame = coder_codes(run, codes)
    save_coders(run, frame)
    return run, disagreements(run, frame)


def test_take_change_memo_and_undo_are_recorded_and_a_new_session_resumes(
    tmp_path: Path,
) -> None:
    run, ties = setup(tmp_path)
    session = AdjudicationSession(run, "cy", ties)
    assert session.current.item_id == "i2"
    session.take(1)  # ana's resources
    assert session.current.item_id == "i3"
    session.memo("both readings are defensible")
    session.change(["performance"])  # ana's code, chosen by hand: taken_from is still ana
    with pytest.raises(ConfigError, match="there is no coder 3"):
        session.take(3)
    lines = load_decisions(run)
    assert [(d.action, d.item_id) for d in lines] == [
        ("change", "i2"),
        ("memo", "i3"),
        ("change", "i3"),
    ]
    assert all(d.adjudication is not None and d.decided_by == "human" for d in lines)
    assert lines[2].adjudication.taken_from == "ana"  # type: ignore[union-attr]
    assert lines[2].adjudication.memos == {"ben": "the user asks how to call it"}  # type: ignore[union-attr]
    session.undo()  # i3 open again, its memo kept
    again = AdjudicationSession(run, "cy", ties)
    assert again.current.item_id == "i3" and again.resolved() == 1
    assert again.memo_of("i3") == "both readings are defensible"
    with pytest.raises(ConfigError, match="not adjudicated yet: i3"):
        final_codes(run)


def test_blind_coders_are_numbered_in_an_order_shuffled_per_item(tmp_path: Path) -> None:
    run, ties = setup(tmp_path)
    session = AdjudicationSession(run, "cy", ties, blind_coders=True)
    labels = [session.coders(t) for t in ties]
    assert all([label for label, _ in order] == ["coder 1", "coder 2"] for order in labels)
    assert all(sorted(name for _, name in order) == ["ana", "ben"] for order in labels)
    coder = session.coders()[0][1]
    decision = session.take(1)
    assert decision.adjudication is not None and decision.adjudication.blind_coders
    assert decision.adjudication.taken_from == coder


async def test_the_screen_takes_a_coders_code_with_a_number_key(tmp_path: Path) -> None:
    run, ties = setup(tmp_path)
    app = AdjudicationApp(AdjudicationSession(run, "cy", ties))
    async with app.run_test(size=SIZE) as pilot:
        detail = str(app.query_one("#detail").render())
        assert "1  ana: resources" in detail and "2  ben: usage" in detail
        await pilot.press("2")  # i2: ben's usage
        assert app.session.current.item_id == "i3"
        assert "memo: the user asks how to call it" in str(app.query_one("#detail").render())
        await pilot.press("m")
        assert isinstance(app.screen, TextPrompt)
        await pilot.press(*"close call", "enter")
        await pilot.press("c")
        assert isinstance(app.screen, CodePicker)
        await pilot.press(*"perf", "enter")
        assert "1/2 resolved" not in str(app.query_one("#status").render())
        assert "2/2 resolved" in str(app.query_one("#status").render())
        await pilot.press("u")
        assert "1/2 resolved" in str(app.query_one("#status").render())
        await pilot.press("1")
    final = final_codes(run)
    assert list(zip(final["item_id"], final["code"], final["resolved_by"], strict=True)) == [
        ("i1", "usage", "agreement"),
        ("i2", "usage", "adjudicator"),
        ("i3", "performance", "adjudicator"),
    ]
    assert final.loc[final["item_id"] == "i3", "memo"].item() == "close call"
