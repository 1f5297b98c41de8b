"""Routed review: the uncertain queue's order and automatic accepts above a threshold."""

from __future__ import annotations

import json
from pathlib import Path

from llmcode.review.queues import build_queue, load_review_items
from llmcode.review.session import ReviewSession
from llmcode.review.triage import auto_accept
from llmcode.store.decisions import load_decisions
from llmcode.store.models import CodingRecord
from llmcode.store.runs import DECISIONS, Run
from tests.review.test_review_session import make_run


def add(run: Run, item_id: str, **update) -> None:
    record = run.latest_codings()[item_id]
    run.append_coding(CodingRecord.model_validate(record.model_dump() | update))


def test_the_uncertain_queue_puts_disputed_split_and_unsure_items_first(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    # i1: 0.9, i2: 0.8 with split samples, i3: 0.4, i4: error (no confidence); a dispute
    # weighs as much as split samples
    order = [i.item_id for i in build_queue("uncertain", load_review_items(run), run)]
    assert order == ["i2", "i4", "i3", "i1"]
    codes = run.latest_codings()["i1"].codes
    add(run, "i1", codes=[codes[0].model_copy(update={"disputed": True}).model_dump()])
    order = [i.item_id for i in build_queue("uncertain", load_review_items(run), run)]
    assert order == ["i2", "i1", "i4", "i3"]


def test_auto_accept_marks_its_decisions_with_threshold_and_estimate(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    gold = {"i1": {"usage"}, "i2": {"usage"}, "i3": {"performance"}}
    result = auto_accept(run, "ana", 0.4, gold, force=True)  # votes: i1 1.0, i2 0.5, i3 1.0
    assert [d.item_id for d in result.decisions] == ["i1", "i2"]  # i3 is unverified
    first = json.loads((run.path / DECISIONS).read_text().splitlines()[0])
    assert first["action"] == "accept" and first["codes"] == ["usage"]
    assert first["decided_by"] == "automatic"
    assert first["automatic"] == {
        "threshold": 0.4,
        "confidence": 1.0,
        "source": "vote",
        "error_rate": 0.5,
        "error_high": result.estimate.interval[1],
        "n_gold": 2,
    }
    assert result.estimate.errors == 1 and result.estimate.share_above == 2 / 3


def test_auto_accept_leaves_decided_and_disputed_items_alone(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    session = ReviewSession(run, "ana")
    session.reject()  # i1, by hand
    codes = run.latest_codings()["i2"].codes
    add(run, "i2", codes=[codes[0].model_copy(update={"disputed": True}).model_dump()])
    result = auto_accept(run, "ana", 0.5, force=True)
    assert result.decisions == [] and result.already_decided == 1
    assert result.estimate.error_rate is None
    assert [d.action for d in load_decisions(run)] == ["reject"]


def test_a_persons_decision_line_has_no_automatic_key(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    ReviewSession(run, "ana").accept()
    line = json.loads((run.path / DECISIONS).read_text())
    assert "automatic" not in line and line["decided_by"] == "human"


def test_auto_accept_reads_the_gold_coder_from_long_format_codes(tmp_path: Path) -> None:
    import pandas as pd
    import pytest

    from llmcode.errors import ConfigError

    run = make_run(tmp_path)
    codes = pd.DataFrame(
        {
            "item_id": ["i1", "i2", "i3", "i1", "i2", "i3"],
            "coder": ["ana"] * 3 + ["ben"] * 3,
            "code": ["usage", "usage", "performance", "usage", "performance", "performance"],
        }
    )
    with pytest.raises(ConfigError, match="2 coders") as caught:
        auto_accept(run, "ana", 0.4, codes)
    assert caught.value.hint == "choose one with coder"
    path = tmp_path / "codes.csv"
    codes.to_csv(path, index=False)
    result = auto_accept(run, "ana", 0.4, path, coder="ana", force=True)
    assert [d.item_id for d in result.decisions] == ["i1", "i2"]
    assert result.estimate.errors == 1 and result.estimate.n_gold_above == 2  # as sets give
    with pytest.raises(ConfigError, match=r"threshold must lie in \[0, 1\], not 1.5"):
        auto_accept(run, "ana", 1.5)


def test_auto_accept_refuses_a_threshold_whose_gold_error_bound_exceeds_max_error(
    tmp_path: Path,
) -> None:
    import pytest

    from llmcode.errors import ConfigError

    run = make_run(tmp_path)
    gold = {"i1": {"usage"}, "i2": {"usage"}, "i3": {"performance"}}  # 1 error of 2 above 0.4
    with pytest.raises(ConfigError, match=r"50.0% \(1 of 2 gold item\(s\)\).*`max_error` 10.0%"):
        auto_accept(run, "ana", 0.4, gold)
    assert not (run.path / DECISIONS).exists()
    with pytest.raises(ConfigError, match="no gold codes"):
        auto_accept(run, "ana", 0.4)
    with pytest.raises(ConfigError, match="no gold item is at or above"):
        auto_accept(run, "ana", 0.4, {"i3": {"performance"}})
    assert not (run.path / DECISIONS).exists()
    # the Wilson upper bound of 0 errors in 2 is 65.8%: a ceiling above it lets the pass through
    gold = {"i1": {"usage"}, "i2": {"resources"}}
    assert len(auto_accept(run, "ana", 0.4, gold, max_error=0.7).decisions) == 2


def test_undo_automatic_takes_back_automatic_accepts_and_keeps_them_on_record(
    tmp_path: Path,
) -> None:
    from llmcode.review.triage import undo_automatic
    from llmcode.store.decisions import reviewed_codes

    run = make_run(tmp_path)
    auto_accept(run, "ana", 0.4, force=True)  # i1, i2
    session = ReviewSession(run, "ana")
    assert session.go_to("i2")
    session.change(["performance"])  # a person overrides i2: it stays
    frame = reviewed_codes(run)
    assert list(zip(frame["item_id"], frame["decided_by"], strict=True)) == [
        ("i1", "automatic"),
        ("i2", "human"),
    ]
    undone = undo_automatic(run)
    assert [(d.item_id, d.codes) for d in undone] == [("i1", []), ("i2", ["performance"])]
    frame = reviewed_codes(run)
    assert list(zip(frame["item_id"], frame["code"], frame["decided_by"], strict=True)) == [
        ("i2", "performance", "human")
    ]
    actions = [(d.action, d.decided_by) for d in load_decisions(run)]
    assert actions == [
        ("accept", "automatic"),
        ("accept", "automatic"),
        ("change", "human"),
        ("undo", "human"),
        ("undo", "human"),
    ]
    assert undo_automatic(run) == []  # nothing left to take back
    # the person's undo still takes back their own latest decision
    again = ReviewSession(run, "ana")
    assert again.undo() is not None and again.verdict("i2") is None


def test_a_decision_line_without_decided_by_reads_automatic_when_it_has_automatic_details() -> None:
    from llmcode.store.decisions import Decision

    old = {"reviewer": "ana", "item_id": "i1", "action": "accept", "codes": ["usage"]}
    auto = old | {"automatic": {"threshold": 0.9, "confidence": 0.95}}
    assert Decision.model_validate(old).decided_by == "human"
    assert Decision.model_validate(auto).decided_by == "automatic"
