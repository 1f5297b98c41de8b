"""compute_agreement and find_disagreements: the contract, input checks, missing and undefined."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score, confusion_matrix

from llmcode.codes import load_codes
from llmcode.errors import AgreementError, ConfigError
from llmcode.quality.agreement import (
    build_ratings,
    compute_agreement,
    find_disagreements,
    interpret,
    krippendorff_alpha,
)
from tests.quality.agreement.test_agreement_coefficients import simulated_codes

DATA = Path(__file__).parents[2] / "data" / "agreement"
CONTRACT = {
    "n_items",
    "coders",
    "percent_agreement",
    "cohen_kappa",
    "fleiss_kappa",
    "krippendorff_alpha",
    "gwet_ac1",
    "brennan_prediger",
    "per_code",
    "ci95",
    "confusion",
}


def frame(rows: list[tuple[str, str, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["item_id", "coder", "code"])


def interviews() -> pd.DataFrame:
    return pd.concat(
        [load_codes(DATA / "interviews_humans.csv"), load_codes(DATA / "interviews_llm.jsonl")],
        ignore_index=True,
    )


# --- the result ------------------------------------------------------------------------------


def test_the_json_result_has_every_contract_key_and_no_nan():
    result = compute_agreement(interviews(), bootstrap=50)
    payload = result.model_dump(mode="json")
    assert payload.keys() >= CONTRACT
    text = json.dumps(payload, allow_nan=False)
    assert json.loads(text)["coders"] == ["ana", "ben", "gpt-4o-mini"]


def test_every_null_coefficient_comes_with_a_reason():
    result = compute_agreement(interviews())
    payload = result.model_dump(mode="json")
    for name in ("cohen_kappa", "weighted_kappa_linear", "krippendorff_alpha_jaccard"):
        assert payload[name] is None
        assert result.undefined[name]
    assert "two coders" in result.undefined["cohen_kappa"]


def test_items_coded_by_one_coder_are_reported_and_only_count_in_ac1_chance_shares():
    codes = simulated_codes(40, n_items=100, coders=("a", "b", "c"), missing=0.5)
    result = compute_agreement(codes)
    lonely = result.items_excluded
    assert lonely
    assert result.n_items == codes["item_id"].nunique() - len(lonely)
    assert any("fewer than two coders" in note for note in result.notes)
    without = compute_agreement(codes[~codes["item_id"].isin(lonely)])
    for name in ("percent_agreement", "fleiss_kappa", "krippendorff_alpha"):
        assert getattr(result, name) == pytest.approx(getattr(without, name), abs=1e-12)
    assert result.gwet_ac1 != pytest.approx(without.gwet_ac1, abs=1e-6)  # Gwet (2014)


def test_two_coders_get_a_confusion_matrix_like_scikit_learn():
    codes = simulated_codes(41, coders=("human", "llm"))
    result = compute_agreement(codes)
    both = codes.pivot(index="item_id", columns="coder", values="code").dropna()
    assert result.confusion is not None
    expected = confusion_matrix(both["human"], both["llm"], labels=result.confusion.labels)
    assert result.confusion.coders == ("human", "llm")
    assert result.confusion.matrix == expected.tolist()
    assert result.pairwise is None


def test_more_than_two_coders_get_a_pairwise_matrix_of_cohen_kappas():
    codes = simulated_codes(42, coders=("a", "b", "c", "d"))
    result = compute_agreement(codes)
    assert result.confusion is None
    assert result.pairwise is not None
    assert len(result.pairwise) == 6
    table = codes.pivot(index="item_id", columns="coder", values="code")
    for pair in result.pairwise:
        both = table[list(pair.coders)].dropna()
        assert pair.n_items == len(both)
        expected = cohen_kappa_score(both[pair.coders[0]], both[pair.coders[1]])
        assert pair.cohen_kappa == pytest.approx(expected, abs=1e-9)


def test_coders_option_restricts_the_comparison_and_keeps_the_given_order():
    result = compute_agreement(interviews(), coders=["gpt-4o-mini", "ana"])
    assert result.coders == ["gpt-4o-mini", "ana"]
    assert result.cohen_kappa is not None


def test_interpretation_bands_follow_landis_koch_and_krippendorff():
    assert interpret("cohen_kappa", -0.1) == "poor"
    assert interpret("cohen_kappa", 0.20) == "slight"
    assert interpret("fleiss_kappa", 0.35) == "fair"
    assert interpret("gwet_ac1", 0.55) == "moderate"
    assert interpret("cohen_kappa", 0.80) == "substantial"
    assert interpret("cohen_kappa", 0.81) == "almost perfect"
    assert interpret("krippendorff_alpha", 0.80) == "reliable"
    assert interpret("krippendorff_alpha", 2 / 3) == "tentative"
    assert interpret("krippendorff_alpha", 0.66) == "unreliable"
    assert interpret("percent_agreement", 0.9) is None


def test_results_name_their_bands_for_the_human_table():
    result = compute_agreement(load_codes(DATA / "cohen_textbook.csv"))
    assert result.interpretation["cohen_kappa"] == "fair"
    assert "percent_agreement" not in result.interpretation


# --- per code ----------------------------------------------------------------------------------


def test_a_category_nobody_used_has_an_explained_null_per_code_kappa():
    codes = simulated_codes(43, coders=("a", "b"), categories=("x", "y"))
    result = compute_agreement(codes, categories=["x", "y", "z"])
    entry = result.per_code["z"]
    assert entry.kappa is None and entry.alpha is None
    assert entry.n == 0 and entry.prevalence == 0
    assert "never applied" in entry.undefined["kappa"]


def test_multi_label_per_code_counts_codings_and_items():
    codes = load_codes(DATA / "posts_multilabel.jsonl")
    result = compute_agreement(codes, multi_label=True)
    assert set(result.per_code) == {"barrier", "cost", "family", "stigma", "support"}
    total_codings = result.n_codings
    for code, entry in result.per_code.items():
        assert entry.n == sum(entry.counts.values())
        assert entry.prevalence == pytest.approx(entry.n / total_codings)
        assert 0 < entry.n_items <= result.n_items, code


# --- undefined coefficients and bad input -------------------------------------------------------


def test_a_single_category_gives_explained_nulls_not_nan():
    codes = frame([(str(i), coder, "cost") for i in range(5) for coder in ("a", "b")])
    result = compute_agreement(codes)
    assert result.percent_agreement == 1.0
    for name in ("cohen_kappa", "fleiss_kappa", "krippendorff_alpha", "gwet_ac1"):
        assert getattr(result, name) is None
        assert "'cost'" in result.undefined[name]
    json.dumps(result.model_dump(mode="json"), allow_nan=False)


def test_the_single_value_functions_raise_with_the_reason_when_undefined():
    ratings = build_ratings(frame([(str(i), c, "cost") for i in range(3) for c in "ab"]))
    with pytest.raises(AgreementError, match="every coding on the 3 compared items is 'cost'"):
        krippendorff_alpha(ratings)


def test_unknown_coders_are_named_along_with_the_coders_available():
    with pytest.raises(AgreementError, match="unknown coder 'zoe'") as info:
        compute_agreement(interviews(), coders=["ana", "zoe"])
    assert info.value.hint is not None and "ana, ben, gpt-4o-mini" in info.value.hint


def test_one_coder_is_not_enough():
    with pytest.raises(AgreementError, match="at least two coders"):
        compute_agreement(frame([("1", "a", "x"), ("2", "a", "y")]))


def test_a_missing_column_is_named():
    with pytest.raises(AgreementError, match="column coder"):
        compute_agreement(pd.DataFrame({"item_id": ["1"], "code": ["x"]}))


def test_empty_codes_are_refused():
    with pytest.raises(AgreementError, match="no codes"):
        compute_agreement(frame([]))


def test_a_coder_who_shares_no_item_with_the_others_is_named():
    codes = frame([("1", "a", "x"), ("1", "b", "x"), ("2", "a", "y"), ("2", "b", "x")])
    codes = pd.concat([codes, frame([("9", "c", "x")])])
    with pytest.raises(AgreementError, match="'c' shares no item") as info:
        compute_agreement(codes)
    assert (
        info.value.hint is not None and "coders" in info.value.hint and "--" not in info.value.hint
    )


def test_two_coders_without_common_items_are_refused_with_a_hint_about_item_ids():
    codes = frame([("1", "a", "x"), ("2", "b", "x")])
    with pytest.raises(AgreementError, match="no item was coded by two") as info:
        compute_agreement(codes)
    assert info.value.hint is not None and "item ids" in info.value.hint


def test_several_codes_for_one_item_need_multi_label():
    codes = frame([("1", "a", "x"), ("1", "a", "y"), ("1", "b", "x")])
    with pytest.raises(AgreementError, match="more than one code") as info:
        compute_agreement(codes)
    assert info.value.hint is not None and "multi_label" in info.value.hint


def test_repeated_identical_rows_count_once():
    codes = frame([("1", "a", "x"), ("1", "a", "x"), ("1", "b", "x"), ("2", "a", "y")])
    codes = pd.concat([codes, frame([("2", "b", "x")])])
    assert compute_agreement(codes).percent_agreement == 0.5


def test_non_numeric_ordinal_codes_need_an_order():
    codes = frame([("1", "a", "low"), ("1", "b", "high"), ("2", "a", "mid"), ("2", "b", "mid")])
    with pytest.raises(AgreementError, match="explicit order") as info:
        compute_agreement(codes, level="ordinal")
    assert (
        info.value.hint is not None
        and "categories" in info.value.hint
        and "--" not in info.value.hint
    )
    result = compute_agreement(codes, level="ordinal", categories=["low", "mid", "high"])
    assert result.categories == ["low", "mid", "high"]


def test_interval_codes_must_be_numbers():
    codes = frame([("1", "a", "low"), ("1", "b", "high")])
    with pytest.raises(AgreementError, match="numeric"):
        compute_agreement(codes, level="interval")


def test_numeric_codes_are_ordered_as_numbers():
    codes = frame([("1", "a", "10"), ("1", "b", "9"), ("2", "a", "2"), ("2", "b", "10")])
    assert build_ratings(codes, level="ordinal").labels == ("2", "9", "10")


def test_codes_outside_the_given_categories_are_named():
    codes = frame([("1", "a", "x"), ("1", "b", "q")])
    with pytest.raises(AgreementError, match="not among the given categories: q"):
        compute_agreement(codes, categories=["x", "y"])


def test_multi_label_sets_have_no_ordinal_level():
    with pytest.raises(ConfigError, match="multi-label"):
        compute_agreement(
            frame([("1", "a", "x"), ("1", "b", "x")]), multi_label=True, level="ordinal"
        )


def test_an_empty_code_means_not_coded_for_single_labels_and_the_empty_set_for_multi_labels():
    codes = frame([("1", "a", "x"), ("1", "b", None), ("2", "a", "x"), ("2", "b", "x")])
    codes = pd.concat([codes, frame([("3", "a", "y"), ("3", "b", "x")])])
    single = build_ratings(codes)
    assert single.excluded_item_ids == ("1",)
    sets = build_ratings(codes, multi_label=True)
    assert sets.n_items == 3
    assert "(none)" in sets.labels


def test_item_ids_are_compared_as_strings():
    codes = pd.DataFrame(
        {"item_id": [1, 1, 2, 2], "coder": ["a", "b", "a", "b"], "code": list("xxyy")}
    )
    text = frame([("1", "a", "x"), ("1", "b", "x"), ("2", "a", "y"), ("2", "b", "y")])
    assert compute_agreement(codes).fleiss_kappa == compute_agreement(text).fleiss_kappa


# --- disagreements -------------------------------------------------------------------------------


def test_disagreements_list_only_items_where_coders_differ_with_each_coders_code():
    codes = interviews()
    table = find_disagreements(codes)
    assert list(table.columns[:4]) == ["item_id", "ana", "ben", "gpt-4o-mini"]
    wide = codes.pivot(index="item_id", columns="coder", values="code")
    pairable = wide[wide.notna().sum(axis=1) >= 2]
    differing = pairable[pairable.nunique(axis=1) > 1]
    assert sorted(table["item_id"]) == sorted(differing.index)
    row = table.iloc[0]
    for coder in ("ana", "ben", "gpt-4o-mini"):
        expected = wide.loc[row["item_id"], coder]
        assert row[coder] == ("" if pd.isna(expected) else expected)


def test_disagreements_carry_the_llm_justification():
    table = find_disagreements(interviews())
    assert "gpt-4o-mini_justification" in table.columns
    assert "ana_justification" not in table.columns
    coded = table[table["gpt-4o-mini"] != ""]
    assert coded["gpt-4o-mini_justification"].str.startswith("The excerpt").all()


def test_multi_label_disagreements_compare_sets_not_row_order():
    codes = frame(
        [
            ("1", "a", "cost"),
            ("1", "a", "stigma"),
            ("1", "b", "stigma"),
            ("1", "b", "cost"),
            ("2", "a", "cost"),
            ("2", "b", "family"),
        ]
    )
    table = find_disagreements(codes, multi_label=True)
    assert table.to_dict("records") == [{"item_id": "2", "a": "cost", "b": "family"}]


def test_no_disagreement_gives_an_empty_table_with_the_coder_columns():
    codes = frame([("1", "a", "x"), ("1", "b", "x")])
    table = find_disagreements(codes)
    assert table.empty
    assert list(table.columns) == ["item_id", "a", "b"]


def test_agreement_on_large_data_stays_exact_for_every_label():
    codes = simulated_codes(44, n_items=5000, coders=("a", "b", "c"))
    ratings = build_ratings(codes)
    assert ratings.n_items + len(ratings.excluded_item_ids) == codes["item_id"].nunique()
    assert np.asarray(ratings.counts.sum()).item() == len(
        codes[codes["item_id"].isin(ratings.item_ids)]
    )


def test_a_result_says_which_coefficients_apply_to_its_codes():
    rows = [("1", "a", "1"), ("1", "b", "2"), ("2", "a", "2"), ("2", "b", "2")]
    nominal = compute_agreement(frame(rows))
    assert nominal.applies("cohen_kappa") and not nominal.applies("weighted_kappa_linear")
    assert not nominal.applies("krippendorff_alpha_jaccard") and nominal.applies("gwet_ac1")
    assert compute_agreement(frame(rows), level="ordinal").applies("weighted_kappa_quadratic")
    three = compute_agreement(frame([*rows, ("1", "c", "1"), ("2", "c", "2")]), level="ordinal")
    assert not three.applies("cohen_kappa") and not three.applies("weighted_kappa_linear")
    sets = compute_agreement(frame(rows), multi_label=True)
    assert sets.applies("krippendorff_alpha_jaccard")
