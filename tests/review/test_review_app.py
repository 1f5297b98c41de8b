"""The review TUI driven by Pilot with the real keys, SVG snapshots, and `llmcode review`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmcode.cli import get_app
from llmcode.review.app import ReviewApp
from llmcode.review.queues import load_human_codes
from llmcode.review.session import ReviewSession
from llmcode.review.widgets import CodePicker, DetailView, HelpScreen
from llmcode.store.runs import DECISIONS, Run
from tests.review.test_review_session import make_run

SIZE = (120, 32)


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return make_run(tmp_path)


def decisions(run: Run) -> list[tuple[str, str, list[str]]]:
    path = run.path / DECISIONS
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [(r["item_id"], r["action"], r["codes"]) for r in rows]


def detail_text(app: ReviewApp) -> str:
    return app.screen.query_one(DetailView).text.plain


async def test_a_and_r_decide_and_the_cursor_moves_to_the_next_undecided(run: Run) -> None:
    app = ReviewApp(ReviewSession(run, "ana"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("j", "a")
        assert app.session.current is not None and app.session.current.item_id == "i3"
        await pilot.press("r")
        assert app.session.current.item_id == "i4"
        await pilot.press("k", "k", "k", "a")
    assert decisions(run) == [
        ("i2", "accept", ["resources"]),
        ("i3", "reject", []),
        ("i1", "accept", ["usage"]),
    ]


async def test_arrow_keys_move_like_j_and_k(run: Run) -> None:
    app = ReviewApp(ReviewSession(run, "ana"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "down", "up")
        assert app.session.position == 1
        await pilot.press("up", "up")
        assert app.session.position == 0


async def test_c_opens_a_picker_that_filters_as_you_type(run: Run) -> None:
    app = ReviewApp(ReviewSession(run, "ana"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        assert isinstance(app.screen, CodePicker)
        await pilot.press("r", "e", "s")
        options = app.screen.query_one("#picker-options")
        assert [o.id for o in options.options] == ["resources"]  # type: ignore[attr-defined]
        await pilot.press("enter")
        assert not isinstance(app.screen, CodePicker)
    assert decisions(run) == [("i1", "change", ["resources"])]


async def test_escape_leaves_the_picker_without_a_decision(run: Run) -> None:
    app = ReviewApp(ReviewSession(run, "ana"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c", "down", "escape")
        assert not isinstance(app.screen, CodePicker)
    assert decisions(run) == []


async def test_the_picker_ticks_several_codes_with_tab_in_a_multi_label_taxonomy(
    tmp_path: Path,
) -> None:
    app = ReviewApp(ReviewSession(make_run(tmp_path, multi_label=True), "ana"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c", "down", "down", "tab", "enter")  # usage was ticked already
    assert decisions(app.session.run) == [("i1", "change", ["usage", "resources"])]


async def test_m_writes_a_memo_and_u_undoes_it(run: Run) -> None:
    app = ReviewApp(ReviewSession(run, "ana"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("m", *"unclear", "enter")
        assert "memo: unclear" in detail_text(app)
        await pilot.press("u")
        assert "memo:" not in detail_text(app)
    assert [(item, action) for item, action, _ in decisions(run)] == [
        ("i1", "memo"),
        ("i1", "undo"),
    ]


async def test_u_takes_back_the_last_decision_and_returns_to_its_item(run: Run) -> None:
    app = ReviewApp(ReviewSession(run, "ana"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a", "a", "u")
        assert app.session.current is not None and app.session.current.item_id == "i2"
        assert app.session.progress().reviewed == 1


async def test_slash_searches_the_texts_and_n_finds_the_next_match(run: Run) -> None:
    app = ReviewApp(ReviewSession(run, "ana"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *"readme", "enter")
        assert app.session.current is not None and app.session.current.item_id == "i3"
        await pilot.press("n")
        assert app.session.current.item_id == "i4"


async def test_f_switches_the_queue(run: Run) -> None:
    app = ReviewApp(ReviewSession(run, "ana"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f", "down", "down", "down", "enter")
        assert app.session.queue_name == "unverified"
        assert [item.item_id for item in app.session.queue] == ["i3"]


async def test_accepting_an_item_without_suggestion_warns_and_saves_nothing(run: Run) -> None:
    app = ReviewApp(ReviewSession(run, "ana"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("k", "k", "k", "k")  # stops at the top
        app.session.go_to("i4")
        await pilot.press("a")
        messages = [n.message for n in app._notifications]
        assert any("nothing to accept" in m for m in messages)
    assert decisions(run) == []


async def test_d_shows_the_definitions_of_the_codes(run: Run) -> None:
    app = ReviewApp(ReviewSession(run, "ana"))
    async with app.run_test(size=SIZE) as pilot:
        assert "How to call or configure the model." not in detail_text(app)
        await pilot.press("d")
        assert "How to call or configure the model." in detail_text(app)


async def test_keys_inside_help_do_not_decide(run: Run) -> None:
    app = ReviewApp(ReviewSession(run, "ana"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("a", "r", "escape")
        assert not isinstance(app.screen, HelpScreen)
    assert decisions(run) == []


async def test_the_detail_shows_unverified_quotes_and_human_codes(run: Run, tmp_path: Path) -> None:
    codes = tmp_path / "human.csv"
    codes.write_text("item_id,coder,code\ni3,ben,slow\n")
    session = ReviewSession(run, "ana", human=load_human_codes(codes))
    app = ReviewApp(session)
    async with app.run_test(size=SIZE) as pilot:
        session.go_to("i3")
        await pilot.press("j", "k")
        text = detail_text(app)
        assert 'not in the text: "runs on a GPU"' in text
        assert "ben: slow  ≠ model" in text


async def test_q_quits(run: Run) -> None:
    app = ReviewApp(ReviewSession(run, "ana"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        assert not app.is_running


def test_snapshot_of_the_main_screen(run: Run, tmp_path: Path, snap_compare) -> None:  # type: ignore[no-untyped-def]
    codes = tmp_path / "human.csv"
    codes.write_text("item_id,coder,code\ni1,ben,usage\ni2,ben,usage\n")
    app = ReviewApp(ReviewSession(run, "ana", human=load_human_codes(codes)))
    assert snap_compare(app, press=["a"], terminal_size=SIZE)


def test_snapshot_of_the_code_picker(run: Run, snap_compare) -> None:  # type: ignore[no-untyped-def]
    app = ReviewApp(ReviewSession(run, "ana"))
    assert snap_compare(app, press=["c", "s"], terminal_size=SIZE)


def test_snapshot_of_the_help(run: Run, snap_compare) -> None:  # type: ignore[no-untyped-def]
    app = ReviewApp(ReviewSession(run, "ana"))
    assert snap_compare(app, press=["question_mark"], terminal_size=SIZE)


def test_review_command_opens_the_app_on_the_run(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[ReviewSession] = []
    monkeypatch.setattr(ReviewApp, "run", lambda self: opened.append(self.session))
    result = CliRunner().invoke(
        get_app(),
        [
            "review",
            "demo",
            "--reviewer",
            "ana",
            "--queue",
            "unverified",
            "--runs-dir",
            str(run.path.parent),
        ],
    )
    assert result.exit_code == 0, result.output
    assert [(s.reviewer, s.queue_name, len(s.queue)) for s in opened] == [("ana", "unverified", 1)]
    assert "ana: 0/1 reviewed in queue unverified" in " ".join(result.output.split())


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--queue", "audit"], "no audit list"),  # a bad --queue is a usage error: test_choices
        (["--against", "missing.csv"], "missing.csv: no such file"),
        (["--reviewer", " "], "the reviewer name is empty"),
    ],
)
def test_review_command_refuses_bad_options_with_a_message(
    run: Run, arguments: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ReviewApp, "run", lambda self: pytest.fail("the app must not open"))
    result = CliRunner().invoke(
        get_app(), ["review", "demo", *arguments, "--runs-dir", str(run.path.parent)]
    )
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())


def test_review_command_names_a_missing_run(tmp_path: Path) -> None:
    result = CliRunner().invoke(get_app(), ["review", "nope", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 1 and "no run 'nope'" in result.output


def test_export_reviewed_writes_every_decision_a_reject_as_a_row_without_code(
    run: Run, tmp_path: Path
) -> None:
    session = ReviewSession(run, "ana")
    session.accept()
    session.change(["usage"])
    session.reject()
    out = tmp_path / "reviewed.csv"
    result = CliRunner().invoke(
        get_app(),
        ["export", "demo", "--reviewed", "-o", str(out), "--runs-dir", str(run.path.parent)],
    )
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines() == [
        "item_id,coder,code,memo,action,decided_by",
        "i1,ana,usage,,accept,human",
        "i2,ana,usage,,change,human",
        "i3,ana,,,reject,human",
    ]


SMALL = (80, 24)


async def test_at_80_by_24_the_text_gets_at_least_half_the_width(run: Run) -> None:
    app = ReviewApp(ReviewSession(run, "ana"))
    async with app.run_test(size=SMALL):
        assert app.screen.query_one(DetailView).size.width >= 40


async def test_search_highlights_the_hits_and_says_which_of_how_many(run: Run) -> None:
    app = ReviewApp(ReviewSession(run, "ana"))
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("slash", *"readme", "enter")
        assert "match 1 of 2" in progress_text(app)
        shown = app.screen.query_one(DetailView).text
        hits = [
            shown.plain[s.start : s.end].lower() for s in shown.spans if "reverse" in str(s.style)
        ]
        assert hits == ["readme"]
        await pilot.press("n")
        assert "match 2 of 2" in progress_text(app)


async def test_f_filters_by_code_and_by_decision(run: Run) -> None:
    app = ReviewApp(ReviewSession(run, "ana"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f")
        picker = app.screen
        await pilot.press(*"code resources")
        await pilot.press("enter")
        assert [item.item_id for item in app.session.queue] == ["i2"]
        await pilot.press("r", "f", *"decision undecided", "enter")
        assert app.session.code_filter == "resources" and app.session.decision_filter == "undecided"
        assert app.session.queue == []
        await pilot.press("f", *"code any", "enter")
        assert [item.item_id for item in app.session.queue] == ["i1", "i3", "i4"]
        assert picker is not app.screen


def progress_text(app: ReviewApp) -> str:
    from textual.widgets import Static

    return str(app.screen.query_one("#progress", Static).render())


def test_snapshot_of_a_search_at_80_by_24(run: Run, snap_compare) -> None:  # type: ignore[no-untyped-def]
    app = ReviewApp(ReviewSession(run, "ana"))
    assert snap_compare(app, press=["slash", *"readme", "enter"], terminal_size=SMALL)


def test_snapshot_of_the_filter(run: Run, snap_compare) -> None:  # type: ignore[no-untyped-def]
    app = ReviewApp(ReviewSession(run, "ana"))
    assert snap_compare(app, press=["f", *"code"], terminal_size=SIZE)


async def test_the_detail_says_which_confidence_it_shows(run: Run) -> None:
    app = ReviewApp(ReviewSession(run, "ana"))
    async with app.run_test(size=SIZE):
        assert "confidence 0.90 (stated)" in detail_text(app)


async def test_the_list_and_the_detail_show_the_same_kind_of_confidence(tmp_path: Path) -> None:
    from llmcode.review.widgets import ItemList

    run = make_run(tmp_path)
    records = run.latest_codings()
    for record in records.values():  # token probabilities beside the stated numbers
        if record.codes:
            probabilities = {c.code: 0.25 for c in record.codes}
            run.append_coding(record.model_copy(update={"probabilities": probabilities}))
    app = ReviewApp(ReviewSession(run, "ana"))
    async with app.run_test(size=SIZE):
        assert "confidence 0.25 (log-probability)" in detail_text(app)
        row = "".join(s.text for s in app.screen.query_one(ItemList).render_line(0))
        assert "0.25" in row and "0.90" not in row


def test_review_without_a_terminal_is_refused_at_once(run: Run) -> None:
    """Issue 25, defect 17: `review` with its input or output not a terminal waited forever."""
    import os
    import subprocess
    import sys

    from tests.support import ROOT

    done = subprocess.run(
        [sys.executable, "-m", "llmcode", "review", "demo", "--runs-dir", str(run.path.parent)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert done.returncode == 1
    assert "review needs a terminal" in done.stderr and "--auto-accept-above" in done.stderr
    assert not (run.path / DECISIONS).exists()


async def test_an_automatic_accept_is_marked_on_the_list_and_in_the_detail(run: Run) -> None:
    from llmcode.review.triage import auto_accept
    from llmcode.review.widgets import ItemList

    auto_accept(run, "ana", 0.85, force=True)  # i1 only (one vote, 1.0); i2's samples split
    app = ReviewApp(ReviewSession(run, "ana"))
    async with app.run_test(size=SIZE) as pilot:
        items = app.screen.query_one(ItemList)
        first = "".join(segment.text for segment in items.render_line(0))
        assert first.startswith(" A ") and "i1" in first
        await pilot.press("k")  # back to the first item, decided automatically
        assert app.session.current is not None and app.session.current.item_id == "i1"
        text = detail_text(app)
        assert "A accepted automatically at confidence 1.00 >= 0.85 — no one looked" in text
        await pilot.press("a")  # a person accepts it: now theirs
        assert app.session.verdict("i1").decided_by == "human"  # type: ignore[union-attr]
        await pilot.press("k")
        assert "✓ accepted: usage" in detail_text(app)
