"""The final table: each item's final codes with the route that gave them, never blank."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from llmcode.errors import ConfigError
from llmcode.review.adjudication import AdjudicationSession
from llmcode.review.session import ReviewSession
from llmcode.review.triage import auto_accept
from llmcode.store.final import (
    ROUTES,
    coder_codes,
    disagreements,
    final_codes,
    route_counts,
    save_coders,
    unresolved,
)
from llmcode.store.runs import Run
from tests.review.test_review_session import make_run


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return make_run(tmp_path)


def humans(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["item_id", "coder", "code"])


def rows(frame: pd.DataFrame) -> list[tuple[str, str, str, str, str]]:
    columns = ["item_id", "code", "resolved_by", "adjudicator", "coders"]
    return [tuple(r) for r in frame[columns].itertuples(index=False)]  # type: ignore[misc]


def test_without_an_adjudication_the_run_codes_are_single_coder_or_reviewed(run: Run) -> None:
    auto_accept(run, "ana", 0.85, force=True)  # i1 (vote 1.0) automatically
    session = ReviewSession(run, "ben")
    assert session.go_to("i2")
    session.reject()  # ben: no code applies to i2
    table = final_codes(run)
    assert rows(table) == [
        ("i1", "usage", "automatic", "ana", "fake-model"),
        ("i2", "none", "adjudicator", "ben", "fake-model"),
        ("i3", "performance", "single-coder", "", "fake-model"),
    ]  # i4 failed: no code, no row
    assert set(table["coder"]) == {"final"} and table["resolved_by"].isin(ROUTES).all()


def test_agreement_adjudication_and_single_coder_routes(run: Run) -> None:
    codes = humans(
        ("i1", "ana", "usage"),
        ("i1", "ben", "usage"),
        ("i2", "ana", "resources"),
        ("i2", "ben", "usage"),
        ("i3", "ana", "performance"),
        ("x9", "ana", "usage"),  # not an item of the run: left out
    )
    frame = coder_codes(run, codes)
    save_coders(run, frame)
    ties = disagreements(run, frame)
    assert [(t.item_id, t.codes) for t in ties] == [
        ("i2", {"ana": ["resources"], "ben": ["usage"]})
    ]
    with pytest.raises(ConfigError, match=r"1 item\(s\) where the coders disagree .*: i2"):
        final_codes(run)
    session = AdjudicationSession(run, "cy", ties)
    decision = session.take(2)  # ben's code
    assert decision.adjudication is not None and decision.adjudication.taken_from == "ben"
    assert unresolved(run, ties) == []
    table = final_codes(run)
    assert rows(table) == [
        ("i1", "usage", "agreement", "", "ana;ben"),
        ("i2", "usage", "adjudicator", "cy", "ana;ben"),
        ("i3", "performance", "single-coder", "", "ana"),
    ]
    assert route_counts(table) == {
        "agreement": 1,
        "adjudicator": 1,
        "model": 0,
        "automatic": 0,
        "single-coder": 1,
    }


def test_with_model_the_model_is_a_coder_and_human_human_disagreements_come_first(
    run: Run,
) -> None:
    codes = humans(
        ("i1", "ana", "usage"),
        ("i1", "ben", "usage"),  # humans agree, the model too
        ("i2", "ana", "usage"),
        ("i2", "ben", "usage"),  # humans agree, the model (resources) not
        ("i3", "ana", "usage"),
        ("i3", "ben", "resources"),  # humans disagree
    )
    frame = coder_codes(run, codes, ["ana", "ben"], with_model=True)
    ties = disagreements(run, frame, model="fake-model")
    assert [(t.item_id, t.humans_disagree) for t in ties] == [("i3", True), ("i2", False)]
    assert ties[1].codes == {"ana": ["usage"], "ben": ["usage"], "fake-model": ["resources"]}
    assert ties[1].memos["fake-model"] == "the text is about resources"  # its justification


def test_adjudication_needs_two_coders_known_to_the_file(run: Run) -> None:
    codes = humans(("i1", "ana", "usage"), ("i1", "ben", "usage"))
    with pytest.raises(ConfigError, match="no coder cy"):
        coder_codes(run, codes, ["cy"])
    with pytest.raises(ConfigError, match="two coders or more"):
        coder_codes(run, codes, ["ana"])
    with pytest.raises(ConfigError, match="share no item_id"):
        coder_codes(run, humans(("z1", "ana", "usage"), ("z1", "ben", "x")))


def test_analyze_reads_the_final_table_of_a_run_by_name_and_says_its_routes(run: Run, cli) -> None:
    codes = humans(("i1", "ana", "usage"), ("i1", "ben", "usage"), ("i3", "ana", "performance"))
    save_coders(run, coder_codes(run, codes))
    result = cli("analyze", run.path, "--codes", "final", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["final_routes"] == {
        "agreement": 1,
        "adjudicator": 0,
        "model": 0,
        "automatic": 0,
        "single-coder": 2,  # i3 by ana; i2 by the model alone
    }
    assert out["distribution"]["usage"] == 1 and out["distribution"]["resources"] == 1
