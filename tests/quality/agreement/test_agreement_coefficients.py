"""Every coefficient against independent implementations and published worked examples.

Independent implementations (test-only dependencies): scikit-learn and statsmodels (Cohen's κ,
weighted κ, Fleiss' κ), krippendorff (α nominal/ordinal/interval with missing values), NLTK's
AnnotationTask (α with MASI and Jaccard set distances), irrCAC (Fleiss' κ with missing values,
Gwet's AC1, Brennan–Prediger, percent agreement). llmcode computes every coefficient on the
items coded by at least two coders, so items coded once are dropped before calling irrCAC
(which would otherwise count them in the category shares π_k) — except for Gwet's AC1, whose
chance shares take every item rated at least once, as Gwet (2014) and irrCAC define them.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest
from irrCAC.raw import CAC
from nltk.metrics.agreement import AnnotationTask
from nltk.metrics.distance import jaccard_distance as nltk_jaccard
from nltk.metrics.distance import masi_distance as nltk_masi
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from llmcode.codes import load_codes
from llmcode.quality.agreement import (
    brennan_prediger,
    build_ratings,
    cohen_kappa,
    compute_agreement,
    fleiss_kappa,
    gwet_ac1,
    jaccard_distance,
    krippendorff_alpha,
    masi_distance,
    percent_agreement,
)

DATA = Path(__file__).parents[2] / "data" / "agreement"
TOL = 1e-9
CODES = ("access", "cost", "quality", "staff", "trust")


def simulated_codes(
    seed: int,
    *,
    n_items: int = 400,
    coders: tuple[str, ...] = ("ana", "ben", "cai", "gpt-4o"),
    categories: tuple[str, ...] = CODES,
    missing: float = 0.25,
    accuracy: float = 0.7,
) -> pd.DataFrame:
    """Long-format single-label codes: a true code per item, noisy coders, missing codings."""
    rng = np.random.default_rng(seed)
    prevalence = rng.dirichlet(np.full(len(categories), 2.0))
    truth = rng.choice(len(categories), size=n_items, p=prevalence)
    rows = []
    for coder in coders:
        for item in range(n_items):
            if rng.random() < missing:
                continue
            code = truth[item] if rng.random() < accuracy else rng.choice(len(categories))
            rows.append((f"{item:05d}", coder, categories[code]))
    return pd.DataFrame(rows, columns=["item_id", "coder", "code"])


def simulated_sets(
    seed: int, *, n_items: int = 250, coders: tuple[str, ...] = ("ana", "ben", "llm")
) -> pd.DataFrame:
    """Long-format multi-label codes (non-empty sets), with missing codings."""
    rng = np.random.default_rng(seed)
    prevalence = np.array([0.4, 0.3, 0.25, 0.15, 0.35])
    truth = rng.random((n_items, len(CODES))) < prevalence
    rows = []
    for coder in coders:
        for item in range(n_items):
            if rng.random() < 0.2:
                continue
            chosen = truth[item] ^ (rng.random(len(CODES)) < 0.12)
            if not chosen.any():
                chosen[rng.integers(len(CODES))] = True
            rows += [(f"{item:05d}", coder, CODES[k]) for k in np.flatnonzero(chosen)]
    return pd.DataFrame(rows, columns=["item_id", "coder", "code"])


def wide(codes: pd.DataFrame, pairable_only: bool = True) -> pd.DataFrame:
    """Items × coders with NaN where a coder did not code the item."""
    table = codes.pivot(index="item_id", columns="coder", values="code")
    if pairable_only:
        table = table[table.notna().sum(axis=1) >= 2]
    return table


def reliability_matrix(codes: pd.DataFrame, order: list[str], values: bool = False) -> np.ndarray:
    """Coders × items for the krippendorff package: label positions (or numeric values)."""
    table = wide(codes, pairable_only=False)
    position = {label: float(label) if values else float(i) for i, label in enumerate(order)}
    return table.T.apply(lambda column: column.map(position)).to_numpy(dtype=float)


def irr(codes: pd.DataFrame, categories: list[str]) -> CAC:
    return CAC(wide(codes), categories=categories, digits=20)


def annotation_task(codes: pd.DataFrame, distance) -> AnnotationTask:
    sets = codes.groupby(["coder", "item_id"])["code"].agg(frozenset)
    triples = [(coder, item, labels) for (coder, item), labels in sets.items()]
    return AnnotationTask(data=triples, distance=distance)


SEEDS = [1, 2, 3]


# --- percent agreement, Fleiss, Gwet, Brennan–Prediger vs irrCAC and statsmodels ----------


@pytest.mark.parametrize("seed", SEEDS)
def test_percent_agreement_equals_irrcac_observed_agreement_with_missing_codes(seed):
    codes = simulated_codes(seed)
    expected = irr(codes, list(CODES)).fleiss()["est"]["pa"]
    assert percent_agreement(build_ratings(codes)) == pytest.approx(expected, abs=TOL)


@pytest.mark.parametrize("seed", SEEDS)
def test_fleiss_kappa_matches_irrcac_when_coders_skip_items(seed):
    codes = simulated_codes(seed, missing=0.3)
    expected = irr(codes, list(CODES)).fleiss()["est"]["coefficient_value"]
    assert fleiss_kappa(build_ratings(codes)) == pytest.approx(expected, abs=TOL)


@pytest.mark.parametrize("seed", SEEDS)
def test_fleiss_kappa_matches_statsmodels_when_every_coder_codes_every_item(seed):
    codes = simulated_codes(seed, missing=0.0, coders=("a", "b", "c", "d", "e"))
    table, _ = aggregate_raters(wide(codes).to_numpy())
    expected = sm_fleiss_kappa(table, method="fleiss")
    assert fleiss_kappa(build_ratings(codes)) == pytest.approx(expected, abs=TOL)


@pytest.mark.parametrize("seed", SEEDS)
def test_gwet_ac1_matches_irrcac_on_every_item_rated_at_least_once(seed):
    """Gwet (2014): chance shares from every item rated at least once, observed agreement from
    items rated at least twice. irrCAC gets the whole table, single ratings included."""
    codes = simulated_codes(seed, missing=0.6)
    ratings = build_ratings(codes)
    assert ratings.single_labels.size > 0  # the data really has singly rated items
    expected = CAC(wide(codes, pairable_only=False), categories=list(CODES), digits=20).gwet()
    assert gwet_ac1(ratings) == pytest.approx(expected["est"]["coefficient_value"], abs=TOL)


def test_gwet_ac1_of_gwets_four_rater_example_with_missing_ratings_is_the_published_0_77544():
    """Gwet (2014) / irrCAC's raw_4raters: unit 12 has one rating; it counts in the chance
    shares (p_e = 0.19032) but not in the observed agreement (p_a = 0.81818)."""
    ratings = build_ratings(load_codes(DATA / "krippendorff_2011.csv"))
    assert round(gwet_ac1(ratings), 5) == 0.77544


def test_gwet_ac1_with_fewer_coders_counts_items_left_with_one_rating_as_singles():
    codes = simulated_codes(8, missing=0.3)
    ratings = build_ratings(codes).select(["ana", "ben"])
    pair = codes[codes["coder"].isin(["ana", "ben"])]
    expected = CAC(wide(pair, pairable_only=False), categories=list(CODES), digits=20).gwet()
    assert gwet_ac1(ratings) == pytest.approx(expected["est"]["coefficient_value"], abs=TOL)


@pytest.mark.parametrize("seed", SEEDS)
def test_brennan_prediger_matches_irrcac_with_missing_codes(seed):
    codes = simulated_codes(seed)
    expected = irr(codes, list(CODES)).bp()["est"]["coefficient_value"]
    assert brennan_prediger(build_ratings(codes)) == pytest.approx(expected, abs=TOL)


def test_unused_categories_count_in_q_for_ac1_and_brennan_prediger_as_in_irrcac():
    codes = simulated_codes(4, categories=("access", "cost", "quality"))
    every = ["access", "cost", "quality", "staff", "trust", "waiting_time"]
    ratings = build_ratings(codes, categories=every)
    every_item = CAC(wide(codes, pairable_only=False), categories=every, digits=20)
    assert gwet_ac1(ratings) == pytest.approx(
        every_item.gwet()["est"]["coefficient_value"], abs=TOL
    )
    assert brennan_prediger(ratings) == pytest.approx(
        irr(codes, every).bp()["est"]["coefficient_value"], abs=TOL
    )


# --- Cohen's κ vs scikit-learn and statsmodels ------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_cohen_kappa_matches_scikit_learn_on_the_items_both_coders_coded(seed):
    codes = simulated_codes(seed, coders=("human", "gpt-4o"))
    both = wide(codes).dropna()
    expected = cohen_kappa_score(both["human"], both["gpt-4o"])
    assert cohen_kappa(build_ratings(codes)) == pytest.approx(expected, abs=TOL)


@pytest.mark.parametrize(("weighting", "wt"), [("linear", "linear"), ("quadratic", "quadratic")])
@pytest.mark.parametrize("seed", SEEDS)
def test_weighted_kappa_matches_scikit_learn_and_statsmodels_for_ordinal_codes(seed, weighting, wt):
    scale = ("1", "2", "3", "4", "5", "6", "7")
    codes = simulated_codes(seed, coders=("a", "b"), categories=scale, accuracy=0.5)
    both = wide(codes).dropna()
    ratings = build_ratings(codes, level="ordinal", categories=scale)
    ours = cohen_kappa(ratings, weighting)
    assert ours == pytest.approx(
        cohen_kappa_score(both["a"], both["b"], labels=list(scale), weights=weighting), abs=TOL
    )
    table = pd.crosstab(both["a"], both["b"]).reindex(index=scale, columns=scale, fill_value=0)
    assert ours == pytest.approx(cohens_kappa(table.to_numpy(), wt=wt).kappa, abs=TOL)


def test_weighted_kappa_follows_the_given_category_order_not_the_alphabet():
    order = ["never", "rarely", "sometimes", "often", "always"]
    codes = simulated_codes(7, coders=("a", "b"), categories=tuple(order), accuracy=0.5)
    both = wide(codes).dropna()
    ratings = build_ratings(codes, level="ordinal", categories=order)
    expected = cohen_kappa_score(both["a"], both["b"], labels=order, weights="quadratic")
    assert cohen_kappa(ratings, "quadratic") == pytest.approx(expected, abs=TOL)


# --- Krippendorff's α vs the krippendorff package ---------------------------------------------


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
@pytest.mark.parametrize("seed", SEEDS)
def test_alpha_matches_the_krippendorff_package_with_missing_values(seed, level):
    scale = ("1", "2", "3", "5", "8")  # unequal gaps, so interval differs from ordinal
    codes = simulated_codes(seed, categories=scale, missing=0.35)
    data = reliability_matrix(codes, list(scale), values=level == "interval")
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
    ours = krippendorff_alpha(build_ratings(codes, level=level))
    assert ours == pytest.approx(expected, abs=TOL)


def test_alpha_matches_the_krippendorff_package_with_many_coders_and_items_coded_once():
    coders = tuple(f"coder_{i}" for i in range(8))
    codes = simulated_codes(11, coders=coders, missing=0.8)
    ratings = build_ratings(codes)
    assert ratings.excluded_item_ids  # some items were coded by one coder only
    data = reliability_matrix(codes, list(CODES))
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert krippendorff_alpha(ratings) == pytest.approx(expected, abs=TOL)


# --- multi-label: MASI and Jaccard α vs NLTK --------------------------------------------------


def test_masi_and_jaccard_distances_match_nltk_on_every_pair_of_small_sets():
    universe = ["a", "b", "c", "d"]
    sets = [
        frozenset(combo) for size in range(1, 5) for combo in itertools.combinations(universe, size)
    ]
    for first, second in itertools.product(sets, repeat=2):
        assert masi_distance(first, second) == pytest.approx(nltk_masi(first, second), abs=TOL)
        assert jaccard_distance(first, second) == pytest.approx(
            nltk_jaccard(first, second), abs=TOL
        )


def test_two_empty_code_sets_are_at_distance_zero():
    assert masi_distance(frozenset(), frozenset()) == 0.0
    assert jaccard_distance(frozenset(), frozenset()) == 0.0
    assert masi_distance(frozenset(), frozenset({"a"})) == 1.0


@pytest.mark.parametrize("seed", SEEDS)
def test_masi_alpha_matches_nltk_annotation_task_with_missing_codings(seed):
    codes = simulated_sets(seed)
    expected = annotation_task(codes, nltk_masi).alpha()
    ratings = build_ratings(codes, multi_label=True)
    assert krippendorff_alpha(ratings) == pytest.approx(expected, abs=TOL)
    assert krippendorff_alpha(ratings, "masi") == pytest.approx(expected, abs=TOL)


@pytest.mark.parametrize("seed", SEEDS)
def test_jaccard_alpha_matches_nltk_annotation_task_with_missing_codings(seed):
    codes = simulated_sets(seed)
    expected = annotation_task(codes, nltk_jaccard).alpha()
    ratings = build_ratings(codes, multi_label=True)
    assert krippendorff_alpha(ratings, "jaccard") == pytest.approx(expected, abs=TOL)


def test_multi_label_alpha_in_the_result_is_the_masi_alpha_of_nltk():
    codes = load_codes(DATA / "posts_multilabel.jsonl")
    result = compute_agreement(codes, multi_label=True)
    assert result.distance == "masi"
    assert result.krippendorff_alpha == pytest.approx(
        annotation_task(codes, nltk_masi).alpha(), abs=TOL
    )
    assert result.krippendorff_alpha_jaccard == pytest.approx(
        annotation_task(codes, nltk_jaccard).alpha(), abs=TOL
    )


def test_multi_label_kappas_treat_each_code_set_as_one_category_like_irrcac():
    codes = simulated_sets(5)
    as_text = codes.groupby(["item_id", "coder"])["code"].agg(lambda s: "; ".join(sorted(s)))
    labelled = as_text.rename("code").reset_index()
    categories = sorted(labelled["code"].unique(), key=lambda s: (s.count(";"), s))
    ratings = build_ratings(codes, multi_label=True)
    reference = irr(labelled, categories)
    assert fleiss_kappa(ratings) == pytest.approx(
        reference.fleiss()["est"]["coefficient_value"], abs=TOL
    )
    every_item = CAC(wide(labelled, pairable_only=False), categories=categories, digits=20)
    assert gwet_ac1(ratings) == pytest.approx(
        every_item.gwet()["est"]["coefficient_value"], abs=TOL
    )
    assert percent_agreement(ratings) == pytest.approx(reference.fleiss()["est"]["pa"], abs=TOL)


def test_multi_label_percent_agreement_requires_the_exact_same_set():
    codes = pd.DataFrame(
        [
            ("1", "a", "cost"),
            ("1", "a", "stigma"),
            ("1", "b", "stigma"),
            ("1", "b", "cost"),
            ("2", "a", "cost"),
            ("2", "b", "cost"),
            ("2", "b", "family"),
        ],
        columns=["item_id", "coder", "code"],
    )
    assert percent_agreement(build_ratings(codes, multi_label=True)) == 0.5


# --- per code (one-vs-rest) --------------------------------------------------------------------


def test_per_code_kappa_and_alpha_are_one_vs_rest_on_the_compared_items():
    codes = simulated_codes(8, coders=("human", "llm"))
    both = wide(codes).dropna()
    result = compute_agreement(codes)
    for code in CODES:
        human, llm = both["human"] == code, both["llm"] == code
        entry = result.per_code[code]
        assert entry.kappa == pytest.approx(cohen_kappa_score(human, llm), abs=TOL)
        data = np.vstack([human.to_numpy(float), llm.to_numpy(float)])
        assert entry.alpha == pytest.approx(
            krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"), abs=TOL
        )
        assert entry.n == int(human.sum() + llm.sum())
        assert entry.prevalence == pytest.approx(entry.n / (2 * len(both)), abs=TOL)
        assert entry.counts == {"human": int(human.sum()), "llm": int(llm.sum())}


def test_per_code_kappa_for_three_coders_is_fleiss_kappa_on_the_code_indicator():
    codes = simulated_sets(9)
    result = compute_agreement(codes, multi_label=True)
    for code in CODES:
        flags = codes.assign(code=np.where(codes["code"] == code, "present", "absent"))
        flags = flags.sort_values("code").drop_duplicates(["item_id", "coder"], keep="last")
        expected = irr(flags, ["absent", "present"]).fleiss()["est"]["coefficient_value"]
        assert result.per_code[code].kappa == pytest.approx(expected, abs=TOL)


# --- published worked examples -----------------------------------------------------------------


def test_krippendorffs_own_reliability_data_with_missing_values_gives_the_published_alphas():
    """Krippendorff (2011), Computing Krippendorff's Alpha-Reliability: 4 coders, 12 units."""
    codes = load_codes(DATA / "krippendorff_2011.csv")
    published = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849}
    for level, value in published.items():
        assert round(krippendorff_alpha(build_ratings(codes, level=level)), 3) == value


def test_the_wikipedia_three_coder_alpha_example_matches_to_six_decimals():
    data = [
        [None, None, None, None, None, 3, 4, 1, 2, 1, 1, 3, 3, None, 3],
        [1, None, 2, 1, 3, 3, 4, 3, None, None, None, None, None, None, None],
        [None, None, 2, 1, 3, 4, 4, None, 2, 1, 1, 3, 3, None, 4],
    ]
    codes = pd.DataFrame(
        [
            (f"unit{u}", f"coder{c}", str(v))
            for c, row in enumerate(data)
            for u, v in enumerate(row)
            if v is not None
        ],
        columns=["item_id", "coder", "code"],
    )
    assert round(krippendorff_alpha(build_ratings(codes)), 6) == 0.691358
    assert round(krippendorff_alpha(build_ratings(codes, level="interval")), 6) == 0.810845


def test_the_textbook_cohen_kappa_example_gives_0_4():
    """50 proposals read by two readers: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no."""
    codes = load_codes(DATA / "cohen_textbook.csv")
    ratings = build_ratings(codes)
    assert percent_agreement(ratings) == pytest.approx(0.7, abs=TOL)
    assert cohen_kappa(ratings) == pytest.approx(0.4, abs=TOL)


def test_fleiss_1971_example_with_fourteen_raters_gives_0_210():
    codes = load_codes(DATA / "fleiss_1971.csv")
    ratings = build_ratings(codes)
    assert round(percent_agreement(ratings), 3) == 0.378
    assert round(fleiss_kappa(ratings), 3) == 0.210


def test_gwet_example_with_missing_ratings_agrees_with_irrcac_once_the_single_rating_is_dropped():
    """Gwet's 4-rater example (irrCAC's raw_4raters) is Krippendorff's data: unit 12 has one
    rating. Its published p_a (0.81818) only uses units rated twice, so it matches as is."""
    ratings = build_ratings(load_codes(DATA / "krippendorff_2011.csv"))
    assert ratings.excluded_item_ids == ("u12",)
    assert round(percent_agreement(ratings), 5) == 0.81818
