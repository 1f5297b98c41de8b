"""Robustness across runs: conclusions valued per run, flips found, bad run sets refused."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from scipy import stats

import llmcode
from llmcode.analysis.robustness import robustness
from llmcode.errors import AnalysisError
from tests.support.analysis_runs import DATA, META, RUN_CODES, make_study_run

# Run "moved" answers resources on i1 and i4: usage falls from 4 items (rank 1) to 2 (rank 2,
# tied with performance) and resources rises from 2 items to 4 (rank 1).
MOVED = {**RUN_CODES, "i1": "resources", "i4": "resources"}


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    root = tmp_path_factory.mktemp("robust")
    _, paths = make_study_run(root, "first")
    make_study_run(root, "second")
    make_study_run(root, "moved", codes=MOVED)
    return root, paths


def test_a_rank_that_changes_in_one_run_of_three_flips_with_two_thirds_agreement(study) -> None:
    root, paths = study
    result = robustness(["first", "second", "moved"], paths["items"], runs_dir=root / "runs")
    by_key = {c.key: c for c in result.conclusions}
    usage = by_key["rank:usage"]
    assert usage.values == {"first": "1", "second": "1", "moved": "2"}
    assert not usage.holds
    assert usage.agreement == pytest.approx(2 / 3)
    assert by_key["rank:resources"].values == {"first": "2", "second": "2", "moved": "1"}
    assert by_key["rank:performance"].holds  # 2 items, rank 2, in every run
    data = result.to_json()
    assert "rank:usage" in data["flipping"] and "rank:performance" in data["holding"]
    assert data["n_holding"] == len(data["holding"])
    assert data["shares"]["moved"]["resources"] == {"n": 4, "share": 0.5, "rank": 1}


def test_each_runs_shares_are_what_analyze_gives_for_that_run(study) -> None:
    root, paths = study
    result = robustness(["first", "moved"], paths["items"], runs_dir=root / "runs")
    for run_id in ("first", "moved"):
        alone = llmcode.analyze(run_id, runs_dir=root / "runs").distribution
        mine = result.shares[result.shares["run_id"] == run_id]
        assert dict(zip(mine["code"], mine["share"], strict=True)) == dict(
            zip(alone["code"], alone["share"], strict=True)
        )


def test_the_omnibus_conclusion_is_scipys_kruskal_on_closed_items_at_five_percent(study) -> None:
    root, paths = study
    result = robustness(["first", "moved"], paths["items"], runs_dir=root / "runs")
    omnibus = next(c for c in result.conclusions if c.key == "omnibus")
    for run_id, answers in (("first", RUN_CODES), ("moved", MOVED)):
        days: dict[str, list[float]] = {}
        for item, (_, created, closed, _) in META.items():
            if closed:
                delta = pd.Timestamp(closed) - pd.Timestamp(created)
                days.setdefault(answers[item], []).append(delta.total_seconds() / 86400)
        p_value = stats.kruskal(*days.values()).pvalue
        expected = "significant" if p_value < 0.05 else "not significant"
        assert omnibus.values[run_id] == expected


def test_gold_puts_each_runs_ppi_share_beside_the_naive_one(study) -> None:
    root, paths = study
    result = robustness(
        ["first", "moved"],
        paths["items"],
        human=paths["human"],
        coder="ana",
        runs_dir=root / "runs",
    )
    assert result.gold == str(paths["human"])
    moved = result.shares[result.shares["run_id"] == "moved"].set_index("code")
    # gold covers every item: the PPI point estimate is ana's share whatever the run said
    ana = {"usage": 3 / 8, "performance": 2 / 8, "resources": 3 / 8}
    for code, share in ana.items():
        assert moved.loc[code, "ppi"] == pytest.approx(share, abs=1e-9)
    by_key = {c.key: c for c in result.conclusions}
    assert not by_key["rank:usage"].holds  # naive: rank 1 in first, 2 in moved
    assert by_key["ppi_rank:usage"].values == {"first": "1", "moved": "1"}  # tied with resources
    assert by_key["ppi_rank:performance"].values == {"first": "3", "moved": "3"}
    entry = result.to_json()["shares"]["moved"]["usage"]
    assert entry["share"] == 0.25 and entry["ppi"]["estimate"] == pytest.approx(0.375)


def test_runs_over_other_items_are_refused_naming_them(study, tmp_path: Path) -> None:
    root, paths = study
    fewer = pd.read_csv(paths["items"], dtype=str).iloc[:6]
    fewer.to_csv(tmp_path / "fewer.csv", index=False)
    with pytest.raises(AnalysisError, match=r"first \(0 of the items missing, 2 others\)"):
        robustness(["first", "moved"], tmp_path / "fewer.csv", runs_dir=root / "runs")


def test_runs_with_other_codes_are_refused_naming_the_run_and_the_codes(
    study, tmp_path: Path
) -> None:
    root, paths = study
    scheme = yaml.safe_load((DATA / "tiny.yaml").read_text())
    scheme["categories"].append({"id": "docs", "name": "Docs", "definition": "Documentation."})
    wider = tmp_path / "wider.yaml"
    wider.write_text(yaml.safe_dump(scheme))
    make_study_run(root, "wider", taxonomy_path=wider)
    with pytest.raises(AnalysisError, match=r"other codes than first: wider \(docs\)"):
        robustness(["first", "wider"], paths["items"], runs_dir=root / "runs")


def test_one_run_is_not_a_comparison(study) -> None:
    root, paths = study
    with pytest.raises(AnalysisError, match="at least two"):
        robustness(["first"], paths["items"], runs_dir=root / "runs")
