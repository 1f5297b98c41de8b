"""The passages as a reviewer sees them and the cursor over them: stepping to the human coders'
passages no passage matches, and to the documents without any passage."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmcode.errors import ConfigError
from llmcode.review.passage_queues import load_human_passages, missed_passages
from llmcode.review.passage_session import PassageSession
from llmcode.store.runs import Run
from tests.review.passage_runs import HUMANS, make_segment_run


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return make_segment_run(tmp_path)


def human_of(run: Run) -> dict:
    texts = {item.item_id: item.text for item in run.items()}
    return load_human_passages(HUMANS, texts)


def test_next_missed_steps_through_the_human_passages_no_passage_matches_in_order(run):
    session = PassageSession(run, "rev", human=human_of(run))
    seen = []
    for _ in range(4):
        span = session.next_missed()
        assert span is not None and session.human_cursor == span
        assert session.document_id == span.item_id
        seen.append((span.item_id, span.coder, span.start, span.end, span.missed))
    # the model's passages are ana's, so only ben's are missed; the fourth step wraps around
    assert seen == [
        ("p1-logistics", "ben", 3089, 3277, ("compute_costs",)),
        ("p4-mobile", "ben", 542, 1073, ("compute_costs",)),
        ("p4-mobile", "ben", 1123, 1455, ("dependencies",)),
        ("p1-logistics", "ben", 3089, 3277, ("compute_costs",)),
    ]
    session.move(1)  # back on the passages: the human cursor goes
    assert session.human_cursor is None


def test_a_human_passage_is_missed_when_no_kept_passage_of_its_code_has_iou_at_least_half(run):
    session = PassageSession(run, "rev", human=human_of(run))
    ana_m0 = ("p1-logistics", "m0")  # ana's own passage: the model's m0, matched exactly
    assert all(h.start != 683 for h in missed_of(session, "p1-logistics"))
    session.go_to(ana_m0)
    session.reject()  # the model's passage is gone: ana's (and ben's, if any) is missed now
    missed = missed_of(session, "p1-logistics")
    assert ("ana", 683, 1228) in {(h.coder, h.start, h.end) for h in missed}


def missed_of(session: PassageSession, item_id: str) -> list:
    document = next(d for d in session.documents if d.item_id == item_id)
    return missed_passages(document, session.passages_in(item_id))


def test_stepping_to_human_passages_needs_them_and_is_not_for_blind_review(run):
    with pytest.raises(ConfigError, match="human coder's passages"):
        PassageSession(run, "rev").next_missed()
    with pytest.raises(ConfigError, match="human coder's passages"):
        PassageSession(run, "cy", blind=True).next_missed()


def test_next_empty_document_finds_a_document_without_any_passage(run):
    blind = PassageSession(run, "cy", blind=True)
    assert blind.documents_without_passage() == 2
    blind.add("p1-logistics", 0, 20, ["documentation"])
    assert blind.documents_without_passage() == 1
    assert blind.next_empty_document() and blind.document_id == "p4-mobile"
    assert blind.next_empty_document() and blind.document_id == "p4-mobile"  # still the only one
    blind.add("p4-mobile", 0, 10, ["licensing"])
    assert not blind.next_empty_document() and blind.documents_without_passage() == 0
    session = PassageSession(run, "ana")
    assert not session.next_empty_document()  # the model coded both
    for key in [k for k in session.queue if k[0] == "p4-mobile"]:
        session.go_to(key)
        session.reject()
    assert session.next_empty_document() and session.document_id == "p4-mobile"
