"""A segment run's passages after review: each reviewer's table and the final table, with
provenance; overlapping passages of one coder and code merged."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from llmcode.errors import RunStoreError
from llmcode.review.passage_session import PassageSession
from llmcode.store.reviewed_passages import final_passages, merge_overlaps, reviewed_passages
from llmcode.store.runs import Run
from tests.review.passage_runs import make_segment_run


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return make_segment_run(tmp_path)


def text_of(run: Run, item_id: str) -> str:
    return next(item.text for item in run.items() if item.item_id == item_id)


def test_the_reviewed_table_has_a_row_per_decided_passage_and_code_with_provenance(run):
    session = PassageSession(run, "ana")
    session.accept()  # m0
    session.reject()  # m1
    session.change(["licensing", "output_trust"])  # m2
    session.widen("end", "word")  # m3, the cursor stays
    frame = reviewed_passages(run)
    text = text_of(run, "p1-logistics")
    assert list(frame["passage"]) == ["m0", "m2", "m2", "m3", "m1"]  # the reject last: no offsets
    assert list(frame["action"]) == ["accept", "change", "change", "resize", "reject"]
    assert set(frame["coder"]) == {"ana"} and set(frame["decided_by"]) == {"human"}
    changed = frame[frame["passage"] == "m2"]
    assert list(changed["code"]) == ["licensing", "output_trust"]
    assert set(changed["suggested"]) == {"fine_tuning"}
    resized = frame[frame["passage"] == "m3"].iloc[0]
    assert resized["model_end"] < resized["end"] and resized["start"] == resized["model_start"]
    for row in frame[frame["code"] != ""].itertuples():
        assert text[row.start : row.end] == row.quote
    rejected = frame[frame["action"] == "reject"].iloc[0]
    assert rejected["code"] == "" and pd.isna(rejected["start"])


def test_without_rejected_a_reject_gives_no_row_and_a_reviewer_can_be_chosen(run):
    PassageSession(run, "ana").reject()
    PassageSession(run, "ben").accept()
    assert reviewed_passages(run, include_rejected=False)["coder"].tolist() == ["ben"]
    assert reviewed_passages(run, "ana")["action"].tolist() == ["reject"]
    with pytest.raises(RunStoreError, match="no passage decisions by reviewer 'cy'"):
        reviewed_passages(run, "cy")


def test_a_passage_widened_into_its_neighbour_of_the_same_code_is_merged_with_it(run):
    session = PassageSession(run, "ana")
    text = text_of(run, "p1-logistics")
    start = text.index("Honestly, the first shortlist")
    session.add("p1-logistics", start, start + 30, ["benchmarks_fit"])  # inside m0's span
    session.go_to(("p1-logistics", "m0"))
    session.accept()
    frame = reviewed_passages(run)
    merged = frame[frame["code"] == "benchmarks_fit"]
    assert len(merged) == 1
    row = merged.iloc[0]
    assert row["passage"] == "ana-1+m0" and row["action"] == "add+accept"
    assert text[row["start"] : row["end"]] == row["quote"]


def test_merging_leaves_touching_passages_and_other_codes_apart():
    rows = [
        {"coder": "a", "item_id": "d", "code": "x", "start": 0, "end": 5, "passage": "m0"},
        {"coder": "a", "item_id": "d", "code": "x", "start": 5, "end": 9, "passage": "m1"},
        {"coder": "a", "item_id": "d", "code": "y", "start": 2, "end": 7, "passage": "m2"},
        {"coder": "b", "item_id": "d", "code": "x", "start": 3, "end": 7, "passage": "m3"},
    ]
    assert len(merge_overlaps(rows, {"d": "0123456789"})) == 4


def test_the_final_table_takes_decisions_where_made_and_the_model_elsewhere(run):
    ana = PassageSession(run, "ana")
    ana.accept()  # m0
    ana.reject()  # m1
    ben = PassageSession(run, "ben")
    ben.go_to(("p1-logistics", "m0"))
    ben.change(["prompting"])  # later than ana's accept: wins
    frame = final_passages(run)
    p1 = frame[frame["item_id"] == "p1-logistics"]
    assert "m1" not in set(p1["passage"])  # rejected
    assert "m9" not in set(p1["passage"])  # the invented passage has no offsets
    m0 = p1[p1["passage"] == "m0"].iloc[0]
    assert (m0["code"], m0["resolved_by"], m0["adjudicator"]) == ("prompting", "adjudicator", "ben")
    m2 = p1[p1["passage"] == "m2"].iloc[0]
    assert (m2["resolved_by"], m2["coders"], m2["decided_by"]) == (
        "single-coder",
        "fake-model",
        "model",
    )
    assert set(frame["coder"]) == {"final"}


def test_a_document_left_without_passages_keeps_a_row_without_a_code(run):
    session = PassageSession(run, "ana")
    for _ in range(8):  # every passage of p4-mobile
        session.go_to(
            next(
                k for k in session.queue if k[0] == "p4-mobile" and k not in session.ledger.verdicts
            )
        )
        session.reject()
    frame = final_passages(run)
    p4 = frame[frame["item_id"] == "p4-mobile"]
    assert len(p4) == 1 and p4.iloc[0]["code"] == ""


def test_memos_are_a_column_of_both_tables_and_a_memo_alone_is_a_row_without_a_code(run):
    ana = PassageSession(run, "ana")
    ana.accept()  # m0
    ana.go_to(("p1-logistics", "m0"))
    ana.memo("fits, but says little")
    ana.go_to(("p1-logistics", "m2"))
    ana.memo("unsure: fine-tuning or prompting?")  # m2 left undecided
    PassageSession(run, "ben").memo("too long")  # ben on m0 too
    frame = reviewed_passages(run, reviewer="ana")
    m0 = frame[frame["passage"] == "m0"].iloc[0]
    assert (m0["action"], m0["memo"]) == ("accept", "fits, but says little")
    m2 = frame[frame["passage"] == "m2"].iloc[0]
    assert (m2["action"], m2["code"], m2["memo"]) == (
        "memo",
        "",
        "unsure: fine-tuning or prompting?",
    )
    assert pd.isna(m2["start"])
    final = final_passages(run)
    by_id = final[final["item_id"] == "p1-logistics"].set_index("passage")
    assert by_id.loc["m0", "memo"] == "fits, but says little | too long"
    assert by_id.loc["m2", "memo"] == "unsure: fine-tuning or prompting?"  # the model's, kept
    assert by_id.loc["m3", "memo"] == ""
    assert "memo" not in set(reviewed_passages(run, include_rejected=False)["action"])


def test_an_adopted_human_passage_names_its_coder_in_both_tables(run):
    from llmcode.review.passage_queues import load_human_passages
    from tests.review.passage_runs import HUMANS

    texts = {item.item_id: item.text for item in run.items()}
    session = PassageSession(run, "rev", human=load_human_passages(HUMANS, texts))
    session.next_missed()
    session.adopt()  # ben's [3089, 3277) compute_costs of p1
    row = reviewed_passages(run).iloc[0]
    assert (row["passage"], row["action"], row["adopted_from"]) == ("rev-1", "add", "ben")
    assert (row["start"], row["end"], row["code"]) == (3089, 3277, "compute_costs")
    final = final_passages(run).set_index("passage")
    # inside the model's m4 [2771, 3277) of the same code (IoU 0.37): merged into one passage
    merged = final.loc["m4+rev-1"]
    assert (merged["start"], merged["end"]) == (2771, 3277)
    assert (merged["coders"], merged["adjudicator"]) == ("fake-model+ben", "rev")
