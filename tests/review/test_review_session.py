"""The review session without any UI: decisions, undo, memo, resume, reviewers, queues, export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmcode.coding.lifecycle import start_run
from llmcode.errors import CodesError, ConfigError, RunStoreError
from llmcode.items import load_items
from llmcode.llm.answers import CodeAssignment
from llmcode.llm.backends.fake import FakeBackend
from llmcode.llm.evidence import verify_quotes
from llmcode.llm.prompts import load_prompts
from llmcode.review.queues import QUEUES, load_human_codes, register_queue
from llmcode.review.session import ReviewSession, reviewed_codes
from llmcode.store.decisions import load_decisions
from llmcode.store.models import CodingRecord, RunConfig, Sample
from llmcode.store.runs import DECISIONS, Run, RunStore
from llmcode.taxonomy.model import dump_taxonomy, load_taxonomy

DATA = Path(__file__).parents[1] / "data"


def make_run(root: Path, multi_label: bool = False, run_id: str = "demo") -> Run:
    """A run over tests/data/items.csv: i1, i2 ok; i3 unverified (one invented quote); i4 error."""
    items = load_items(DATA / "items.csv")
    taxonomy = load_taxonomy(DATA / "tiny.yaml")
    if multi_label:
        taxonomy = taxonomy.model_copy(update={"multi_label": True})
    config = RunConfig(
        taxonomy_path=str(DATA / "tiny.yaml"), items_path=str(DATA / "items.csv"), backend="fake"
    )
    run = start_run(
        RunStore(root),
        config,
        items,
        taxonomy,
        dump_taxonomy(taxonomy),
        load_prompts(),
        FakeBackend(model="fake-model"),
        run_id=run_id,
    )
    texts = {item.item_id: item.text for item in items.items}

    def assignment(item_id: str, code: str, quotes: list[str], confidence: float) -> CodeAssignment:
        return CodeAssignment(
            code=code,
            justification=f"the text is about {code}",
            evidence=verify_quotes(quotes, texts[item_id]),
            confidence=confidence,
        )

    records = [
        CodingRecord(
            item_id="i1", status="ok", codes=[assignment("i1", "usage", ["max_length=50"], 0.9)]
        ),
        CodingRecord(
            item_id="i2",
            status="ok",
            codes=[assignment("i2", "resources", ["CUDA out of memory"], 0.8)],
            samples=[
                Sample(codes=["resources"], status="ok"),
                Sample(codes=["usage"], status="ok"),
            ],
        ),
        CodingRecord(
            item_id="i3",
            status="unverified",
            codes=[assignment("i3", "performance", ["takes 12 seconds", "runs on a GPU"], 0.4)],
        ),
        CodingRecord(item_id="i4", status="error", error="fake backend: no answer queued"),
    ]
    for record in records:
        run.append_coding(record)
    return run


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return make_run(tmp_path)


def lines(run: Run) -> list[dict]:
    text = (run.path / DECISIONS).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def test_accept_records_the_models_codes_and_moves_to_the_next_item(run: Run) -> None:
    session = ReviewSession(run, "ana")
    decision = session.accept()
    assert (decision.item_id, decision.action, decision.codes) == ("i1", "accept", ["usage"])
    assert lines(run)[0] | {"decided_at": None} == {
        "reviewer": "ana",
        "decided_at": None,
        "item_id": "i1",
        "action": "accept",
        "codes": ["usage"],
        "memo": "",
        "suggested": ["usage"],
        "undone": None,
        "decided_by": "human",
    }
    assert session.current is not None and session.current.item_id == "i2"


def test_reject_records_no_codes_and_export_has_no_row_for_it(run: Run) -> None:
    session = ReviewSession(run, "ana")
    session.reject()
    session.accept()
    assert lines(run)[0]["action"] == "reject" and lines(run)[0]["codes"] == []
    frame = reviewed_codes(run)
    assert frame.to_dict("records") == [
        {
            "item_id": "i2",
            "coder": "ana",
            "code": "resources",
            "memo": "",
            "action": "accept",
            "decided_by": "human",
        }
    ]


def test_change_replaces_the_codes_and_rejects_codes_outside_the_taxonomy(run: Run) -> None:
    session = ReviewSession(run, "ana")
    with pytest.raises(ConfigError, match="unknown code"):
        session.change(["banana"])
    with pytest.raises(ConfigError, match="single-label"):
        session.change(["usage", "resources"])
    decision = session.change(["resources"])
    assert (decision.action, decision.codes, decision.suggested) == (
        "change",
        ["resources"],
        ["usage"],
    )
    assert reviewed_codes(run)["code"].tolist() == ["resources"]


def test_change_takes_several_codes_when_the_taxonomy_is_multi_label(tmp_path: Path) -> None:
    session = ReviewSession(make_run(tmp_path, multi_label=True), "ana")
    assert session.change(["usage", "resources", "usage"]).codes == ["usage", "resources"]


def test_accept_on_an_item_without_suggestion_asks_for_change_or_reject(run: Run) -> None:
    session = ReviewSession(run, "ana")
    assert session.go_to("i4")
    with pytest.raises(ConfigError, match="nothing to accept"):
        session.accept()
    assert not (run.path / DECISIONS).exists()


def test_undo_takes_back_the_last_decision_and_returns_to_its_item(run: Run) -> None:
    session = ReviewSession(run, "ana")
    session.accept()
    session.change(["usage"])
    undo = session.undo()
    assert undo is not None and (undo.item_id, undo.undone, undo.codes) == ("i2", "change", [])
    assert session.current is not None and session.current.item_id == "i2"
    assert session.verdict("i2") is None and session.verdict("i1") is not None
    assert [line["action"] for line in lines(run)] == ["accept", "change", "undo"]
    assert session.progress().reviewed == 1


def test_undo_of_a_second_verdict_restores_the_first(run: Run) -> None:
    session = ReviewSession(run, "ana")
    session.accept()
    session.go_to("i1")
    session.change(["resources"])
    undo = session.undo()
    assert undo is not None and undo.codes == ["usage"]
    assert reviewed_codes(run)["code"].tolist() == ["usage"]


def test_undo_with_nothing_decided_does_nothing(run: Run) -> None:
    assert ReviewSession(run, "ana").undo() is None
    assert not (run.path / DECISIONS).exists()


def test_memo_is_kept_with_the_verdict_and_can_be_undone(run: Run) -> None:
    session = ReviewSession(run, "ana")
    session.memo("  borderline: could be resources  ")
    assert session.current is not None and session.current.item_id == "i1"
    session.accept()
    assert lines(run)[1]["memo"] == "borderline: could be resources"
    assert reviewed_codes(run)["memo"].tolist() == ["borderline: could be resources"]
    session.memo("second thoughts")
    session.undo()
    assert session.memo_of("i1") == "borderline: could be resources"


def test_a_memo_alone_does_not_count_as_reviewed(run: Run) -> None:
    session = ReviewSession(run, "ana")
    session.memo("look again")
    assert session.progress().reviewed == 0
    assert reviewed_codes(run).empty


def test_reopening_resumes_at_the_first_undecided_item(run: Run) -> None:
    session = ReviewSession(run, "ana")
    session.accept()
    session.accept()
    session.move(1)
    session.reject()
    again = ReviewSession(run, "ana")
    assert again.current is not None and again.current.item_id == "i3"
    assert again.verdict("i4") is not None and again.progress().reviewed == 3


def test_reopening_after_a_torn_last_line_cuts_it_and_keeps_the_rest(run: Run) -> None:
    ReviewSession(run, "ana").accept()
    with (run.path / DECISIONS).open("a", encoding="utf-8") as handle:
        handle.write('{"reviewer": "ana", "item_id": "i2", "act')
    session = ReviewSession(run, "ana")
    session.accept()
    assert [(line["item_id"], line["action"]) for line in lines(run)] == [
        ("i1", "accept"),
        ("i2", "accept"),
    ]


def test_two_reviewers_are_kept_apart(run: Run) -> None:
    ana = ReviewSession(run, "ana")
    ana.accept()
    ben = ReviewSession(run, "ben")
    assert ben.current is not None and ben.current.item_id == "i1"
    ben.change(["resources"])
    ana.undo()
    assert ana.verdict("i1") is None
    assert ReviewSession(run, "ben").verdict("i1") is not None
    frame = reviewed_codes(run)
    assert frame[["coder", "code"]].values.tolist() == [["ben", "resources"]]
    assert reviewed_codes(run, reviewer="ben")["code"].tolist() == ["resources"]


def test_export_for_an_unknown_reviewer_names_the_known_ones(run: Run) -> None:
    ReviewSession(run, "ana").accept()
    with pytest.raises(RunStoreError, match="no decisions by reviewer 'bob'") as info:
        reviewed_codes(run, reviewer="bob")
    assert info.value.hint == "reviewers of this run: ana"


def test_a_corrupt_decision_line_is_reported_with_its_line_number(run: Run) -> None:
    (run.path / DECISIONS).write_text('{"reviewer": "ana"}\n{}\n', encoding="utf-8")
    with pytest.raises(RunStoreError, match=r"decisions.jsonl:1: invalid decision \(item_id"):
        load_decisions(run)


def test_progress_counts_accepted_rejected_and_changed_in_the_queue(run: Run) -> None:
    session = ReviewSession(run, "ana")
    session.accept()
    session.change(["usage"])
    session.reject()
    progress = session.progress()
    assert (progress.reviewed, progress.total) == (3, 4)
    assert (progress.accepted, progress.rejected, progress.changed) == (1, 1, 1)
    assert round(progress.share(progress.accepted), 1) == 33.3


def test_after_the_last_undecided_item_the_cursor_wraps_to_an_earlier_one(run: Run) -> None:
    session = ReviewSession(run, "ana")
    session.go_to("i2")
    session.accept()
    session.reject()
    session.reject()
    assert session.current is not None and session.current.item_id == "i1"
    session.accept()
    assert session.next_undecided() is None


def test_search_finds_the_next_item_with_the_text_and_wraps(run: Run) -> None:
    session = ReviewSession(run, "ana")
    assert session.search("README") == 2
    assert session.search("readme") == 3
    assert session.search("readme") == 2
    assert session.search("no such words") is None and session.position == 2


def test_queues_filter_and_order_items(run: Run) -> None:
    def ids(queue: str, session: ReviewSession | None = None) -> list[str]:
        session = session or ReviewSession(run, "ana", queue=queue)
        return [item.item_id for item in session.queue]

    assert ids("all") == ["i1", "i2", "i3", "i4"]
    assert ids("low-confidence") == ["i4", "i3", "i2", "i1"]
    assert ids("unverified") == ["i3"]
    assert ids("errors") == ["i4"]
    assert ids("disagreement") == ["i2", "i1", "i3", "i4"]  # i2's samples disagree


def test_the_disagreement_queue_puts_human_disagreements_first(run: Run, tmp_path: Path) -> None:
    codes = tmp_path / "human.csv"
    codes.write_text("item_id,coder,code\ni1,ana,usage\ni3,ana,slow\ni9,ana,usage\n")
    session = ReviewSession(run, "ana", queue="disagreement", human=load_human_codes(codes))
    assert [item.item_id for item in session.queue][:2] == ["i2", "i3"]
    assert session.queue[1].human == {"ana": ["slow"]}


def test_the_disagreement_queue_puts_human_human_disagreements_before_the_models(
    run: Run, tmp_path: Path
) -> None:
    codes = tmp_path / "human.csv"  # i1: ana and ben agree with each other, not with the model
    codes.write_text(
        "item_id,coder,code\ni1,ana,performance\ni1,ben,performance\n"
        "i3,ana,usage\ni3,ben,performance\n"
    )
    session = ReviewSession(run, "ana", queue="disagreement", human=load_human_codes(codes))
    assert [item.item_id for item in session.queue][:3] == ["i3", "i1", "i2"]


def test_human_codes_must_share_items_with_the_run(run: Run, tmp_path: Path) -> None:
    codes = tmp_path / "human.csv"
    codes.write_text("item_id,coder,code\nx1,ana,usage\n")
    with pytest.raises(ConfigError, match="share no item_id"):
        ReviewSession(run, "ana", human=load_human_codes(codes))


def test_a_human_codes_file_without_a_coder_column_is_refused(tmp_path: Path) -> None:
    codes = tmp_path / "human.csv"
    codes.write_text("item_id,code\ni1,usage\n")
    with pytest.raises(CodesError, match="no column 'coder'"):
        load_human_codes(codes)


def test_an_unknown_queue_lists_the_known_ones(run: Run) -> None:
    with pytest.raises(ConfigError, match="unknown queue 'newest'") as info:
        ReviewSession(run, "ana", queue="newest")
    assert info.value.hint is not None and "low-confidence" in info.value.hint


def test_the_audit_queue_follows_audit_json(run: Run) -> None:
    with pytest.raises(RunStoreError, match="no audit list"):
        ReviewSession(run, "ana", queue="audit")
    entries = [{"item_id": "i3", "coder": "ben", "human_code": "resources"}, {"item_id": "i1"}]
    (run.path / "audit.json").write_text(json.dumps({"items": entries}))
    queue = ReviewSession(run, "ana", queue="audit").queue
    assert [(item.item_id, item.human) for item in queue] == [
        ("i3", {"ben": ["resources"]}),
        ("i1", {}),
    ]


def test_an_audit_list_naming_unknown_items_is_refused(run: Run) -> None:
    (run.path / "audit.json").write_text(json.dumps({"items": [{"item_id": "zz"}]}))
    with pytest.raises(RunStoreError, match="item\\(s\\) not in the run: zz"):
        ReviewSession(run, "ana", queue="audit")


def test_a_registered_queue_can_be_chosen_by_name(run: Run) -> None:
    @register_queue("reversed")
    def backwards(items, run):  # type: ignore[no-untyped-def]
        return items[::-1]

    try:
        assert ReviewSession(run, "ana", queue="reversed").queue[0].item_id == "i4"
    finally:
        del QUEUES["reversed"]


def test_switching_queue_keeps_decisions_and_recounts_progress(run: Run) -> None:
    session = ReviewSession(run, "ana")
    session.accept()
    session.set_queue("errors")
    assert session.progress().reviewed == 0 and session.progress().total == 1
    session.set_queue("all")
    assert session.progress().reviewed == 1 and session.current is not None
    assert session.current.item_id == "i2"


# --- search hits and filters by code and by decision ----------------------------------------


def test_search_counts_its_hits_and_says_which_one_the_cursor_is_on(run: Run) -> None:
    session = ReviewSession(run, "ana")
    assert session.search_status() is None  # no search yet
    assert session.search("THE") is not None  # in i2, i3 and i4 (case-blind), not in i1
    assert session.current is not None and session.current.item_id == "i2"
    assert session.search_status() == (1, 3)
    session.search("the")
    assert session.current.item_id == "i3" and session.search_status() == (2, 3)
    session.move(-2)
    assert session.search_status() == (None, 3)  # i1 is not a hit


def test_a_filter_by_code_keeps_items_with_that_code(run: Run) -> None:
    session = ReviewSession(run, "ana")
    session.set_queue("all", code="resources")
    assert [item.item_id for item in session.queue] == ["i2"]
    assert "code resources" in session.queue_name


def test_a_filter_by_decision_keeps_the_items_with_that_verdict(run: Run) -> None:
    session = ReviewSession(run, "ana")
    session.reject()  # i1
    session.accept()  # i2
    session.set_queue("all", decision="reject")
    assert [item.item_id for item in session.queue] == ["i1"]
    session.set_queue("all", decision="undecided")
    assert [item.item_id for item in session.queue] == ["i3", "i4"]
    session.set_queue("unverified", decision="undecided")
    assert [item.item_id for item in session.queue] == ["i3"]
    with pytest.raises(ConfigError, match="decision"):
        session.set_queue("all", decision="maybe")


def test_search_finds_every_item_holding_the_text_as_a_scan_of_each_text_would(
    run: Run,
) -> None:
    session = ReviewSession(run, "ana")
    texts = [f"{item.item_id}\n{item.text}".lower() for item in session.queue]
    for query in ("the", "i3", "e", "memory", "a\0b", "zzz"):
        session.search(query)
        expected = [n for n, text in enumerate(texts) if query.strip() in text]
        assert session._hits == expected, query
    session.set_queue("unverified")  # another queue: searched again, on its items
    session.search("the")
    assert [session.queue[n].item_id for n in session._hits] == ["i3"]
