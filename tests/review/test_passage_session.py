"""The passage review session without any UI: decisions per passage, resize, add, undo, resume,
queues, blind marking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmcode.errors import ConfigError
from llmcode.review.passage_queues import disagrees, load_human_passages
from llmcode.review.passage_session import PassageSession
from llmcode.store.decisions import load_decisions, replay
from llmcode.store.runs import DECISIONS, Run
from tests.review.passage_runs import HUMANS, make_segment_run


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return make_segment_run(tmp_path)


def lines(run: Run) -> list[dict]:
    return [json.loads(line) for line in (run.path / DECISIONS).read_text().splitlines()]


def text_of(run: Run, item_id: str) -> str:
    return next(item.text for item in run.items() if item.item_id == item_id)


def test_the_queue_holds_every_passage_of_every_document_in_order(run):
    session = PassageSession(run, "ana")
    assert len(session.queue) == 18  # 10 passages of p1 (one invented) and 8 of p4
    assert session.queue[0] == ("p1-logistics", "m0")
    assert session.queue[9] == ("p1-logistics", "m9")  # the invented one has no offset: last
    assert session.queue[10] == ("p4-mobile", "m0")
    assert session.current is not None and session.current.start == 683


def test_each_decision_is_one_line_with_the_passage_its_offsets_and_codes(run):
    session = PassageSession(run, "ana")
    session.accept()
    session.reject()
    session.change(["licensing"])
    rows = lines(run)
    assert [(r["passage"], r["action"], r["codes"], r["start"], r["end"]) for r in rows] == [
        ("m0", "accept", ["benchmarks_fit"], 683, 1228),
        ("m1", "reject", [], 1292, 1793),
        ("m2", "change", ["licensing"], 1850, 2392),
    ]
    assert all(r["item_id"] == "p1-logistics" and r["decided_by"] == "human" for r in rows)
    assert rows[2]["suggested"] == ["fine_tuning"]
    assert session.current is not None and session.current.key == ("p1-logistics", "m3")


def test_passage_lines_stay_out_of_the_item_replay(run):
    PassageSession(run, "ana").accept()
    assert replay(load_decisions(run)) == {}


def test_widening_and_narrowing_record_the_new_bounds_and_keep_the_cursor(run):
    session = PassageSession(run, "ana")
    text = text_of(run, "p1-logistics")
    session.widen("end", "sentence")
    session.narrow("start", "word")
    passage = session.current
    assert passage is not None and passage.key == ("p1-logistics", "m0")
    assert text[passage.start : passage.end].startswith("the first shortlist")  # type: ignore[index]
    assert text[passage.start : passage.end].endswith("?")  # the interviewer's next question
    assert [r["action"] for r in lines(run)] == ["resize", "resize"]
    assert passage.action == "resize" and passage.codes == ("benchmarks_fit",)


def test_a_passage_not_in_the_text_can_only_be_rejected(run):
    session = PassageSession(run, "ana")
    session.go_to(("p1-logistics", "m9"))
    with pytest.raises(ConfigError, match="not in the text"):
        session.accept()
    with pytest.raises(ConfigError, match="not in the text"):
        session.widen("end", "word")
    session.reject()
    assert lines(run)[-1]["action"] == "reject"


def test_adding_a_passage_puts_it_in_the_queue_at_its_place_and_the_cursor_on_it(run):
    session = PassageSession(run, "ana")
    text = text_of(run, "p1-logistics")
    start = text.index("We read shipping labels")
    end = text.index("on one crumpled label.") + len("on one crumpled label.")
    session.add("p1-logistics", start, end, ["benchmarks_fit", "output_trust"])
    assert session.current is not None
    assert session.current.key == ("p1-logistics", "ana-1")
    assert session.queue.index(("p1-logistics", "ana-1")) == 0  # before m0 (offset 683)
    row = lines(run)[-1]
    assert (row["action"], row["start"], row["end"], row["suggested"]) == ("add", start, end, [])
    second = session.add("p4-mobile", 0, 10, ["licensing"])
    assert second.passage == "ana-2"
    with pytest.raises(ConfigError, match="not a passage"):
        session.add("p4-mobile", 10, 10, ["licensing"])
    with pytest.raises(ConfigError, match="unknown code"):
        session.add("p4-mobile", 0, 10, ["choosing"])  # a category, not a leaf


def test_undo_takes_back_an_add_and_the_passage_leaves_the_queue(run):
    session = PassageSession(run, "ana")
    session.add("p4-mobile", 0, 10, ["licensing"])
    session.undo()
    assert ("p4-mobile", "ana-1") not in session.queue
    assert len(session.queue) == 18
    assert lines(run)[-1]["action"] == "undo" and lines(run)[-1]["passage"] == "ana-1"
    again = PassageSession(run, "ana")
    assert len(again.queue) == 18 and again.progress().reviewed == 0


def test_undo_of_a_resize_restores_the_bounds_before_it(run):
    session = PassageSession(run, "ana")
    session.widen("end", "word")
    session.widen("end", "word")
    session.undo()
    passage = session.current
    assert passage is not None and passage.action == "resize"
    assert passage.end == lines(run)[0]["end"]
    assert lines(run)[-1]["end"] == passage.end  # the undo line says what is now in effect


def test_reopening_resumes_with_every_decision_and_added_passage(run):
    session = PassageSession(run, "ana")
    session.accept()
    session.widen("start", "sentence")
    session.add("p4-mobile", 0, 10, ["licensing"])
    reopened = PassageSession(run, "ana")
    assert reopened.progress().reviewed == 3
    assert ("p4-mobile", "ana-1") in reopened.queue
    assert reopened.current is not None and reopened.current.key == ("p1-logistics", "m2")
    assert (
        reopened.passage(("p1-logistics", "m1")).start
        == session.passage(("p1-logistics", "m1")).start
    )


def test_a_torn_last_line_is_cut_and_the_session_resumes_before_it(run):
    session = PassageSession(run, "ana")
    session.accept()
    session.accept()
    path = run.path / DECISIONS
    whole = path.read_text()
    path.write_text(whole + '{"reviewer":"ana","item_id":"p1-logistics","passage":"m2","act')
    reopened = PassageSession(run, "ana")
    assert reopened.progress().reviewed == 2
    assert path.read_text() == whole
    reopened.accept()
    assert [r["passage"] for r in lines(run)] == ["m0", "m1", "m2"]


def test_reviewers_keep_their_own_passage_decisions(run):
    PassageSession(run, "ana").reject()
    ben = PassageSession(run, "ben")
    assert ben.progress().reviewed == 0
    assert ben.current is not None and ben.current.action is None


def test_queues_order_passages_by_confidence_and_flag_the_unverified(run):
    low = PassageSession(run, "ana", queue="low-confidence")
    confidences = [low.passage(k).model.confidence for k in low.queue]  # type: ignore[union-attr]
    assert confidences == sorted(confidences)  # type: ignore[type-var]
    unverified = PassageSession(run, "ana", queue="unverified")
    assert unverified.queue == [("p1-logistics", "m9")]
    with pytest.raises(ConfigError, match="does not apply to passages"):
        PassageSession(run, "ana", queue="errors")


def test_the_uncertain_queue_puts_the_invented_passage_first_then_the_least_confident(run):
    session = PassageSession(run, "ana", queue="uncertain")
    assert session.queue[0] == ("p1-logistics", "m9")  # not in the text, confidence 0.9
    rest = [session.passage(k).model.confidence for k in session.queue[1:]]  # type: ignore[union-attr]
    assert rest == sorted(rest)  # type: ignore[type-var]


def test_the_disagreement_queue_puts_passages_a_human_coder_does_not_match_first(run):
    texts = {item.item_id: item.text for item in run.items()}
    human = {k: v for k, v in load_human_passages(HUMANS, texts).items() if k in texts}
    ben_only = {item: {"ben": coders["ben"]} for item, coders in human.items()}
    session = PassageSession(run, "ana", queue="disagreement", human=ben_only)
    flags = []
    for key in session.queue:
        model = session.passage(key).model
        assert model is not None
        flags.append(disagrees(model, ben_only[key[0]]))
    assert flags == sorted(flags, reverse=True)  # the passages ben does not match come first
    assert flags[0] and not flags[-1]
    # ana's p4 "I do not have the data" passage: ben did not code it (see the example's README)
    missed = next(k for k in session.queue if session.passage(k).start == 1510)
    assert flags[session.queue.index(missed)]
    with pytest.raises(ConfigError, match="human coder"):
        PassageSession(run, "ana", queue="disagreement")


def test_blind_review_marks_passages_on_the_bare_document(run):
    session = PassageSession(run, "cy", blind=True)
    assert session.queue == [] and session.current is None
    assert session.passages_in("p1-logistics") == []
    with pytest.raises(ConfigError, match="blind"):
        session.accept()
    session.add("p1-logistics", 0, 20, ["documentation"])
    session.reject()  # removes the passage
    rows = lines(run)
    assert [r["blind"] for r in rows] == [True, True] and rows[0]["suggested"] == []
    assert PassageSession(run, "cy").progress().reviewed == 0  # blind lines replay apart
    with pytest.raises(ConfigError, match="blind"):
        PassageSession(run, "cy", blind=True, queue="low-confidence")


def test_a_run_of_whole_items_is_refused(tmp_path):
    from tests.review.test_review_session import make_run

    with pytest.raises(ConfigError, match="whole items"):
        PassageSession(make_run(tmp_path), "ana")


def human_of(run: Run) -> dict:
    texts = {item.item_id: item.text for item in run.items()}
    return load_human_passages(HUMANS, texts)


def test_adopt_adds_the_human_passage_with_its_missed_codes_naming_the_coder(run):
    session = PassageSession(run, "rev", human=human_of(run))
    session.next_missed()
    session.next_missed()  # ben's [542, 1073) of p4: benchmarks_fit (matched) + compute_costs
    decision = session.adopt()
    row = lines(run)[-1]
    assert (row["action"], row["passage"], row["adopted_from"]) == ("add", "rev-1", "ben")
    assert (row["start"], row["end"], row["codes"]) == (542, 1073, ["compute_costs"])
    assert decision.adopted_from == "ben" and session.human_cursor is None
    assert session.current is not None and session.current.key == ("p4-mobile", "rev-1")
    # adopted, it is matched: the next step goes on to the following missed passage
    following = session.next_missed()
    assert following is not None and (following.start, following.end) == (1123, 1455)
    with pytest.raises(ConfigError, match="no human passage under the cursor"):
        PassageSession(run, "rev", human=human_of(run)).adopt()


def test_a_memo_is_a_line_on_the_passage_kept_on_resume_and_taken_back_by_undo(run):
    session = PassageSession(run, "ana")
    session.accept()  # m0; the cursor goes to m1
    session.memo("  quote cut mid-sentence ")
    assert session.current is not None and session.current.key == ("p1-logistics", "m1")
    row = lines(run)[-1]
    assert (row["action"], row["passage"], row["memo"]) == ("memo", "m1", "quote cut mid-sentence")
    assert row["model_span"] == [1292, 1793] and row["suggested"] == ["documentation"]
    assert session.current.action is None  # a memo is not a verdict
    reopened = PassageSession(run, "ana")
    assert reopened.memo_of(("p1-logistics", "m1")) == "quote cut mid-sentence"
    assert reopened.progress().reviewed == 1
    reopened.undo()
    assert reopened.memo_of(("p1-logistics", "m1")) == ""
    assert reopened.passage(("p1-logistics", "m0")).action == "accept"  # untouched
    session.memo("")  # an empty memo clears it
    assert PassageSession(run, "ana").memo_of(("p1-logistics", "m1")) == ""
