"""A second look's disputes in review (issue 23 #6): the ``~`` flag in the queue, the reason in
the detail pane, ``--queue disputed``; and in the report, their count and share."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmcode.cli import get_app
from llmcode.errors import ConfigError
from llmcode.llm.checks import CodeCheck
from llmcode.review.app import ReviewApp
from llmcode.review.queues import build_queue, load_review_items
from llmcode.review.session import ReviewSession
from llmcode.review.widgets import DetailView, item_flags
from llmcode.store.models import CodingRecord
from llmcode.store.runs import Run
from tests.review.test_review_session import make_run


def verified(run: Run) -> Run:
    """``run`` as coded with ``--verify flag``: i1 kept, i2 disputed (kept, flagged), i3
    (unverified) disputed, i4 (error) unchecked."""
    manifest = run.manifest()
    run.write_manifest(
        manifest.model_copy(update={"config": manifest.config.replace(verify="flag")})
    )
    latest = run.latest_codings()
    for item_id, outcome in (("i1", "kept"), ("i2", "disputed"), ("i3", "disputed")):
        record = latest[item_id]
        code = record.codes[0]
        check = CodeCheck(
            code=code.code,
            verdict="keep" if outcome == "kept" else "reject",
            reason="" if outcome == "kept" else "the text asks how, not why it is slow",
            outcome=outcome,
        )
        codes = [code.model_copy(update={"disputed": outcome == "disputed"})]
        run.append_coding(record.model_copy(update={"codes": codes, "checks": [check]}))
    return run


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return verified(make_run(tmp_path))


def test_the_disputed_queue_holds_the_disputed_items_and_their_flag_says_so(run: Run) -> None:
    items = load_review_items(run)
    assert [i.item_id for i in build_queue("disputed", items, run)] == ["i2", "i3"]
    flags = {item.item_id: item_flags(item) for item in items}
    assert flags == {"i1": "  ", "i2": "~ ", "i3": "?~", "i4": "! "}


def test_a_dropped_code_counts_as_disputed(run: Run) -> None:
    record = run.latest_codings()["i1"]
    check = CodeCheck(code="usage", verdict="reject", outcome="dropped")
    run.append_coding(CodingRecord.model_validate(record.model_dump() | {"codes": []}))
    run.append_coding(run.latest_codings()["i1"].model_copy(update={"checks": [check]}))
    items = load_review_items(run)
    assert [i.item_id for i in build_queue("disputed", items, run)] == ["i1", "i2", "i3"]


def test_the_disputed_queue_of_a_run_without_a_second_look_says_why_it_is_empty(
    tmp_path: Path,
) -> None:
    plain = make_run(tmp_path)
    with pytest.raises(ConfigError, match="without a second look"):
        build_queue("disputed", load_review_items(plain), plain)


async def test_the_screen_shows_the_flag_and_the_reason(run: Run) -> None:
    app = ReviewApp(ReviewSession(run, "ana", queue="disputed"))
    async with app.run_test(size=(120, 32)):
        assert app.session.current.item_id == "i2"
        text = app.screen.query_one(DetailView).text.plain
        assert "~ disputed by the second look: the text asks how, not why it is slow" in text


def test_review_queue_disputed_is_a_choice_of_the_command(run: Run) -> None:
    result = CliRunner().invoke(
        get_app(), ["review", run.run_id, "--queue", "nope", "--runs-dir", str(run.path.parent)]
    )
    assert result.exit_code == 2 and "disputed" in result.output


def test_the_report_counts_the_disputed_codes_and_their_share(run: Run, tmp_path: Path) -> None:
    out, tables = tmp_path / "r.html", tmp_path / "tables"
    args = ["report", run.run_id, "--runs-dir", str(run.path.parent), "-o", str(out)]
    result = CliRunner().invoke(get_app(), [*args, "--tables", str(tables)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "<th>second look</th><td>2 of 3 checked code(s) disputed (67%)" in html
    assert json.loads((tables / "analysis.json").read_text())["second_look"] == {
        "verify": "flag",
        "checked": 3,
        "disputed": 2,
        "share_disputed": 2 / 3,
    }
    md = tmp_path / "r.md"
    result = CliRunner().invoke(get_app(), [*args[:-2], "-o", str(md), "-f", "md"])
    assert result.exit_code == 0, result.output
    assert "2 of 3 checked code(s) disputed (67%)" in md.read_text(encoding="utf-8")
