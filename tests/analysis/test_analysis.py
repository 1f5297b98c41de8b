"""The study's analysis: distribution, resolution times with censoring, tests, the JSON contract."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from llmcode.analysis.resolution import compare_categories, resolution_times
from llmcode.analysis.sources import (
    file_items,
    human_codes,
    screening_split,
    select_coder,
    split_from_codes,
    split_from_column,
)
from llmcode.analysis.studies import AnalysisOptions, run_analysis
from llmcode.analysis.study import analyze_codes, distribution, distribution_by_project
from llmcode.errors import AnalysisError, CodesError, ConfigError
from llmcode.store.runs import RunStore

DAY = "2024-01-{:02d}T00:00:00Z"

# item: (project, created day, closed day or None (open), codes, screening)
ITEMS = {
    "a1": ("acme", 1, 3, ["usage"], "ptm"),
    "a2": ("acme", 1, 5, ["usage", "loading"], "ptm"),
    "a3": ("acme", 2, 12, ["quality"], "ptm"),
    "a4": ("acme", 2, None, ["quality"], "ptm"),
    "b1": ("beta", 3, 4, ["loading"], "ptm"),
    "b2": ("beta", 3, 7, ["usage"], "ptm"),
    "b3": ("beta", 4, 20, ["quality"], "ptm"),
    "b4": ("beta", 4, 5, ["single"], "ptm"),
    "c1": ("beta", 5, 6, [], "not_ptm"),
    "c2": ("acme", 5, 7, [], "not_ptm"),
    "c3": ("acme", 6, None, [], "not_ptm"),
    "c4": ("beta", 6, 7, [], "not_ptm"),
}
ORDER = ["usage", "loading", "quality", "single"]


def items_frame() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "item_id": item_id,
                "project": project,
                "created_at": DAY.format(created),
                "closed_at": DAY.format(closed) if closed else "",
            }
            for item_id, (project, created, closed, _, _) in ITEMS.items()
        ]
    )


def codes_frame() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"item_id": item_id, "coder": "ana", "code": code}
            for item_id, (*_, codes, _) in ITEMS.items()
            for code in codes
        ]
    )


def screening_frame() -> pd.DataFrame:
    return pd.DataFrame(
        [{"item_id": i, "coder": "ana", "code": row[-1]} for i, row in ITEMS.items()]
    )


def days(item_id: str) -> float:
    _, created, closed, _, _ = ITEMS[item_id]
    return float(closed - created)


def closed_days(code: str) -> list[float]:
    return [days(i) for i, r in ITEMS.items() if code in r[3] and r[2] is not None]


# distribution ---------------------------------------------------------------------------


def test_distribution_counts_an_item_with_several_codes_in_each():
    dist = distribution(codes_frame(), ORDER).set_index("code")
    assert dist["n"].to_dict() == {"usage": 3, "loading": 2, "quality": 3, "single": 1}
    assert dist.attrs["n_coded_items"] == 8
    assert dist.loc["usage", "share"] == pytest.approx(3 / 8)


def test_distribution_ignores_repeated_rows_and_empty_codes():
    codes = pd.concat([codes_frame(), codes_frame().head(2)])
    codes.loc[len(codes)] = {"item_id": "c1", "coder": "ana", "code": np.nan}
    dist = distribution(codes, ORDER).set_index("code")
    assert dist.loc["usage", "n"] == 3
    assert dist.attrs["n_coded_items"] == 8


def test_distribution_without_taxonomy_orders_by_count_then_name():
    assert list(distribution(codes_frame())["code"]) == ["quality", "usage", "loading", "single"]


def test_distribution_by_project_crosses_projects_and_codes():
    table = distribution_by_project(codes_frame(), items_frame(), "project", ORDER)
    assert table.loc["acme"].to_dict() == {"usage": 2, "loading": 1, "quality": 2, "single": 0}
    assert table.loc["beta"].to_dict() == {"usage": 1, "loading": 1, "quality": 1, "single": 1}


# resolution times -----------------------------------------------------------------------


def test_resolution_times_are_days_and_open_items_are_censored_at_the_latest_timestamp():
    times, as_of, no_created = resolution_times(items_frame())
    times = times.set_index("item_id")
    assert times.loc["a3", "days"] == 10.0
    assert not times.loc["a3", "open"]
    assert as_of == pd.Timestamp("2024-01-20T00:00:00Z")
    assert times.loc["a4", "open"]
    assert times.loc["a4", "days"] == 18.0  # created Jan 2, still open on Jan 20
    assert no_created == []


def test_resolution_times_censor_at_a_given_date():
    as_of = pd.Timestamp("2024-02-01", tz="UTC")
    times, _, _ = resolution_times(items_frame(), as_of=as_of)
    assert times.set_index("item_id").loc["c3", "days"] == 26.0


def test_items_without_a_created_timestamp_are_listed_not_dropped_silently():
    items = items_frame()
    items.loc[0, "created_at"] = ""
    times, _, no_created = resolution_times(items)
    assert no_created == ["a1"]
    assert "a1" not in set(times["item_id"])


def test_an_unparseable_timestamp_names_the_column_and_the_item():
    items = items_frame()
    items.loc[2, "closed_at"] = "next tuesday"
    with pytest.raises(AnalysisError, match=r"closed_at.*a3.*next tuesday"):
        resolution_times(items)


def test_an_item_closed_before_it_was_created_is_an_error_naming_it():
    items = items_frame()
    items.loc[4, "closed_at"] = "2023-12-01T00:00:00Z"
    with pytest.raises(AnalysisError, match="b1"):
        resolution_times(items)


def test_a_missing_timestamp_column_lists_the_columns():
    with pytest.raises(AnalysisError, match=r"no column 'opened'.*project"):
        resolution_times(items_frame(), created_column="opened")


# comparisons ----------------------------------------------------------------------------


def test_per_category_medians_and_kruskal_use_closed_items_and_match_scipy():
    times, _, _ = resolution_times(items_frame())
    summary, test = compare_categories(times, codes_frame(), ORDER)
    summary = summary.set_index("code")
    for code in ORDER:
        assert summary.loc[code, "median_days"] == pytest.approx(np.median(closed_days(code)))
    assert summary.loc["quality", "n_closed"] == 2
    assert summary.loc["quality", "n_open"] == 1
    expected = stats.kruskal(*(closed_days(code) for code in ORDER))
    assert test.kruskal_h == pytest.approx(expected.statistic)
    assert test.p_value == pytest.approx(expected.pvalue)
    assert test.n == 8  # item-codes of closed items: a2 counts for usage and loading
    assert len(test.dunn) == 6


def test_a_category_with_one_item_takes_part_in_the_tests():
    times, _, _ = resolution_times(items_frame())
    summary, test = compare_categories(times, codes_frame(), ORDER)
    assert summary.set_index("code").loc["single", "median_days"] == 1.0
    assert "single" in test.groups
    assert any("single" in (pair.a, pair.b) for pair in test.dunn)


def test_ptm_vs_other_matches_scipy_on_closed_items():
    split = split_from_codes(screening_frame(), "ptm", "screening")
    result = analyze_codes(codes_frame(), items_frame(), codes_source="test", split=split).to_json()
    ptm_closed = [days(i) for i, r in ITEMS.items() if r[4] == "ptm" and r[2]]
    other_closed = [days(i) for i, r in ITEMS.items() if r[4] == "not_ptm" and r[2]]
    expected = stats.mannwhitneyu(ptm_closed, other_closed, alternative="two-sided")
    block = result["resolution"]["ptm_vs_other"]
    assert block["mannwhitney_u"] == pytest.approx(expected.statistic)
    assert block["p_value"] == pytest.approx(expected.pvalue, rel=1e-5)
    assert block["median_days"] == {
        "ptm": pytest.approx(np.median(ptm_closed)),
        "other": pytest.approx(np.median(other_closed)),
    }
    assert block["n_open"] == {"ptm": 1, "other": 1}
    assert block["magnitude"] in ("negligible", "small", "medium", "large")


def test_the_json_contract_has_its_keys_and_no_nan():
    split = split_from_codes(screening_frame(), "ptm", "screening")
    result = analyze_codes(codes_frame(), items_frame(), codes_source="t", order=ORDER, split=split)
    data = json.loads(json.dumps(result.to_json(), allow_nan=False))
    assert data["distribution"] == {"usage": 3, "loading": 2, "quality": 3, "single": 1}
    by_category = data["resolution"]["by_category"]
    assert {"kruskal_h", "p_value", "n", "median_days", "dunn"} <= set(by_category)
    assert set(by_category["dunn"][0]) == {"a", "b", "z", "p_value", "p_adjusted"}
    ptm = data["resolution"]["ptm_vs_other"]
    assert {"mannwhitney_u", "p_value", "cliffs_delta", "median_days"} <= set(ptm)
    assert set(ptm["median_days"]) == {"ptm", "other"}
    assert data["by_project"]["beta"]["single"] == 1


def test_without_a_split_there_is_no_ptm_comparison():
    result = analyze_codes(codes_frame(), items_frame(), codes_source="t").to_json()
    assert "ptm_vs_other" not in result["resolution"]


def test_without_timestamp_columns_resolution_is_null_and_a_note_says_why():
    items = items_frame().drop(columns=["closed_at"])
    analysis = analyze_codes(codes_frame(), items, codes_source="t")
    assert analysis.to_json()["resolution"] is None
    assert any("closed_at" in note for note in analysis.notes)


def test_explicit_timestamp_columns_that_are_missing_are_an_error():
    items = items_frame().drop(columns=["closed_at"])
    with pytest.raises(AnalysisError, match="closed_at"):
        analyze_codes(codes_frame(), items, codes_source="t", require_times=True)


def test_codes_of_unknown_items_are_left_out_with_a_note():
    codes = pd.concat(
        [codes_frame(), pd.DataFrame([{"item_id": "zz", "coder": "ana", "code": "usage"}])]
    )
    analysis = analyze_codes(codes, items_frame(), codes_source="t")
    assert analysis.to_json()["distribution"]["usage"] == 3
    assert any("zz" in note for note in analysis.notes)


def test_tables_hold_every_table_for_re_plotting():
    split = split_from_codes(screening_frame(), "ptm", "screening")
    tables = analyze_codes(codes_frame(), items_frame(), codes_source="t", split=split).tables()
    assert set(tables) == {
        "distribution",
        "distribution_by_project",
        "resolution_times",
        "resolution_by_category",
        "dunn",
        "resolution_ptm_vs_other",
    }
    times = tables["resolution_times"].set_index("item_id")
    assert times.loc["a2", "codes"] == "usage;loading"
    assert times.loc["c1", "group"] == "other"


# the PTM split --------------------------------------------------------------------------


def test_split_from_a_yes_no_column():
    items = items_frame().assign(
        is_ptm=["yes", "1", "true", "ptm", "", "no", "0", "false"] * 1
        + ["not_ptm", "other", "Yes", "NO"]
    )
    groups = split_from_column(items, "is_ptm").groups
    assert groups["a1"] == "ptm"
    assert "b1" not in groups  # blank: unknown
    assert groups["b2"] == "other"
    assert groups["c3"] == "ptm"


def test_split_from_a_column_rejects_values_that_are_not_yes_or_no():
    items = items_frame().assign(is_ptm="maybe")
    with pytest.raises(AnalysisError, match=r"is_ptm.*a1.*maybe"):
        split_from_column(items, "is_ptm")


# sources --------------------------------------------------------------------------------


def test_select_coder_defaults_to_the_first_coder_in_file_order():
    codes = pd.concat([codes_frame(), codes_frame().assign(coder="ben")])
    frame, chosen = select_coder(codes.iloc[::-1], None, "f.csv")
    assert chosen == "ben"
    assert set(frame["coder"]) == {"ben"}


def test_select_coder_names_the_coders_when_the_one_asked_for_is_missing():
    with pytest.raises(AnalysisError, match="no coder 'zed'; coders are: ana"):
        select_coder(codes_frame(), "zed", "f.csv")


def write_inputs(tmp_path: Path) -> tuple[Path, Path, Path]:
    items = tmp_path / "items.csv"
    items_frame().to_csv(items, index=False)
    codes = tmp_path / "codes.csv"
    pd.concat([codes_frame(), codes_frame().assign(coder="ben", code="usage")]).to_csv(
        codes, index=False
    )
    screening = tmp_path / "screening.csv"
    screening_frame().to_csv(screening, index=False)
    return items, codes, screening


def test_human_codes_keep_one_coder_and_say_which_others_exist(tmp_path):
    _, codes, _ = write_inputs(tmp_path)
    source = human_codes(codes, "ben")
    assert source.coder == "ben"
    assert source.available == ("ana", "ben")
    assert set(source.codes["coder"]) == {"ben"}


def test_screening_split_falls_back_to_the_first_coder_of_its_own_file(tmp_path):
    _, _, screening = write_inputs(tmp_path)
    split, coder = screening_split(str(screening), RunStore(tmp_path / "runs"), coder="model")
    assert coder == "ana"
    assert (split.groups == "ptm").sum() == 8


def test_screening_split_without_the_ptm_code_suggests_ptm_code(tmp_path):
    _, codes, _ = write_inputs(tmp_path)
    with pytest.raises(AnalysisError, match="no item is coded 'ptm'") as info:
        screening_split(str(codes), RunStore(tmp_path / "runs"))
    assert "ptm_code" in (info.value.hint or "")


def test_run_analysis_from_files_states_the_default_coder(tmp_path):
    items, codes, screening = write_inputs(tmp_path)
    options = AnalysisOptions(codes=str(codes), screening=str(screening))
    analysis, source = run_analysis(options, RunStore(tmp_path / "runs"), items_path=items)
    assert source.coder == "ana"
    assert analysis.notes[0].startswith("coder 'ana' analysed (the first of ana, ben)")
    assert "ptm_vs_other" in analysis.to_json()["resolution"]


def test_run_analysis_refuses_two_split_sources(tmp_path):
    items, codes, screening = write_inputs(tmp_path)
    options = AnalysisOptions(codes=str(codes), screening=str(screening), ptm_column="x")
    with pytest.raises(ConfigError, match="not both"):
        run_analysis(options, RunStore(tmp_path), items_path=items)


def test_run_analysis_without_run_or_items_says_what_to_give(tmp_path):
    with pytest.raises(ConfigError, match="give a run, or items with codes"):
        run_analysis(AnalysisOptions(), RunStore(tmp_path))


def test_a_bad_as_of_date_is_a_config_error(tmp_path):
    items, codes, _ = write_inputs(tmp_path)
    options = AnalysisOptions(codes=str(codes), as_of="soon")
    with pytest.raises(ConfigError, match="as_of: 'soon' is not a date"):
        run_analysis(options, RunStore(tmp_path), items_path=items)


def test_file_items_rejects_duplicate_ids(tmp_path):
    path = tmp_path / "items.csv"
    pd.concat([items_frame(), items_frame().head(1)]).to_csv(path, index=False)
    with pytest.raises(AnalysisError, match="duplicate item ids: a1"):
        file_items(path)


def test_a_missing_codes_file_is_a_codes_error(tmp_path):
    with pytest.raises(CodesError, match="no such file"):
        human_codes(tmp_path / "nope.csv")


def test_the_json_contract_keeps_full_precision_for_machines():
    split = split_from_codes(screening_frame(), "ptm", "screening")
    result = analyze_codes(codes_frame(), items_frame(), codes_source="t", order=ORDER, split=split)
    data = result.to_json()
    test = result.resolution.category_test
    assert data["resolution"]["by_category"]["kruskal_h"] == test.kruskal_h
    assert data["resolution"]["by_category"]["p_value"] == test.p_value
    assert data["resolution"]["ptm_vs_other"]["p_value"] == result.resolution.group_test.p_value
    shares = dict(zip(result.distribution["code"], result.distribution["share"], strict=True))
    assert data["shares"] == {code: float(share) for code, share in shares.items()}
