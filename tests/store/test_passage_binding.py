"""Passage decisions stay with the model's passage they were made on when a document is coded
again: bound by offsets and codes, not by the passage's place in the record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmcode.llm.passages import Segment, SegmentCode
from llmcode.review.passage_session import PassageSession
from llmcode.store.decisions import Decision, load_decisions
from llmcode.store.passage_binding import bind_passage_decisions, model_passages
from llmcode.store.reviewed_passages import final_passages, reviewed_passages
from llmcode.store.runs import DECISIONS, Run
from tests.review.passage_runs import make_segment_run

P1 = "p1-logistics"


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return make_segment_run(tmp_path)


def recode(run: Run, item_id: str, change) -> None:  # type: ignore[no-untyped-def]
    """Append a new record of ``item_id`` whose segments are ``change(old segments)``."""
    record = run.counted_codings()[item_id]
    run.append_coding(record.model_copy(update={"segments": change(list(record.segments))}))


def new_segment(run: Run, start: int, end: int, code: str) -> Segment:
    text = next(i.text for i in run.items() if i.item_id == P1)
    return Segment(
        start=start, end=end, quote=text[start:end], verified=True,
        codes=[SegmentCode(code=code, justification="", confidence=0.5)],
    )  # fmt: skip


def test_a_passage_inserted_before_moves_the_decision_with_its_passage(run):
    session = PassageSession(run, "ana")
    session.accept()  # m0 [683, 1228)
    session.reject()  # m1 [1292, 1793)
    recode(run, P1, lambda old: [new_segment(run, 10, 40, "licensing"), *old])
    reopened = PassageSession(run, "ana")
    assert reopened.passage((P1, "m0")).action is None  # the new passage: undecided
    assert reopened.passage((P1, "m1")).action == "accept"  # the old m0, now m1
    assert reopened.passage((P1, "m1")).start == 683
    assert reopened.passage((P1, "m2")).action == "reject"
    frame = reviewed_passages(run)
    assert set(frame["passage"]) == {"m1", "m2"}


def test_a_passage_the_new_record_no_longer_has_keeps_its_decision_apart(run):
    session = PassageSession(run, "ana")
    session.accept()  # m0 [683, 1228) benchmarks_fit
    session.memo("the model saw it")  # on m1
    recode(run, P1, lambda old: old[1:])  # m0 dropped; the old m1 is now m0
    reopened = PassageSession(run, "ana")
    assert reopened.passage((P1, "m0")).start == 1292
    assert reopened.passage((P1, "m0")).action is None  # not the accept of the dropped passage
    assert reopened.memo_of((P1, "m0")) == "the model saw it"  # the memo followed its passage
    assert (P1, "m0@683-1228") in reopened.ledger.verdicts
    assert (P1, "m0@683-1228") not in reopened.queue
    frame = reviewed_passages(run)
    kept = frame[frame["passage"] == "m0@683-1228"].iloc[0]
    assert (kept["action"], kept["code"], kept["model_start"], kept["model_end"]) == (
        "accept", "benchmarks_fit", 683, 1228,
    )  # fmt: skip
    assert kept["suggested"] == "benchmarks_fit"
    final = final_passages(run)
    assert "m0@683-1228" in set(final["passage"])  # the reviewer's verdict on that text stands


def test_a_passage_whose_codes_changed_is_another_passage(run):
    PassageSession(run, "ana").accept()  # m0 benchmarks_fit

    def relabel(old):  # type: ignore[no-untyped-def]
        first = old[0].model_copy(update={"codes": [SegmentCode(code="licensing")]})
        return [first, *old[1:]]

    recode(run, P1, relabel)
    assert PassageSession(run, "ana").passage((P1, "m0")).action is None


def legacy(run: Run) -> None:
    """Strip ``model_span`` from every line: as written before it existed."""
    path = run.path / DECISIONS
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:
        row.pop("model_span", None)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def test_old_lines_are_bound_by_the_bounds_of_their_first_accept_reject_or_change(run):
    session = PassageSession(run, "ana")
    session.accept()  # m0
    session.go_to((P1, "m0"))
    session.widen("end", "word")  # a later resize: its bounds are not the model's
    legacy(run)
    recode(run, P1, lambda old: [new_segment(run, 10, 40, "licensing"), *old])
    reopened = PassageSession(run, "ana")
    assert reopened.passage((P1, "m1")).action == "resize"
    assert reopened.passage((P1, "m0")).action is None


def test_an_old_line_whose_first_is_a_resize_stays_only_while_its_codes_agree(run):
    session = PassageSession(run, "ana")
    session.widen("end", "word")  # m0: first line a resize, model bounds unknown in old lines
    legacy(run)
    decisions = load_decisions(run)
    model = model_passages(run)
    assert bind_passage_decisions(decisions, model)[0].passage == "m0"  # same codes: trusted
    recode(run, P1, lambda old: old[1:])  # m0 is now documentation, not benchmarks_fit
    bound = bind_passage_decisions(load_decisions(run), model_passages(run))
    assert bound[0].passage == "m0@earlier"


def test_item_lines_and_added_passages_are_left_as_they_are():
    lines = [
        Decision(reviewer="ana", item_id="a", action="accept", codes=["x"]),
        Decision(reviewer="ana", item_id="a", action="add", passage="ana-1", start=0, end=3),
    ]
    assert bind_passage_decisions(lines, {}) == lines


async def test_undo_of_a_decision_on_a_passage_the_new_record_dropped_takes_it_back(run):
    from llmcode.review.passage_app import PassageReviewApp

    session = PassageSession(run, "ana")
    session.memo("about to vanish")  # on m0, undecided
    recode(run, P1, lambda old: old[1:])
    reopened = PassageSession(run, "ana")
    assert reopened.ledger.memos == {(P1, "m0@683-1228"): "about to vanish"}
    app = PassageReviewApp(reopened)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("u")
        assert reopened.ledger.memos == {}
    assert json.loads((run.path / DECISIONS).read_text().splitlines()[-1])["action"] == "undo"
