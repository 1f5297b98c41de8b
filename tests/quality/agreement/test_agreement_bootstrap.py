"""Item-level bootstrap: replicates are the coefficients of real resamples, seeded, honest CIs."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import pytest

from llmcode.errors import AgreementError
from llmcode.quality.agreement import bootstrap_replicates, build_ratings, compute_agreement
from llmcode.quality.agreement import coefficients as coef
from llmcode.quality.agreement.bootstrap import percentile_interval, resample_weights
from tests.quality.agreement.test_agreement_coefficients import simulated_codes, simulated_sets


def resampled_codes(codes: pd.DataFrame, item_ids: np.ndarray, counts: np.ndarray) -> pd.DataFrame:
    """The long-format data of one resample: item i copied counts[i] times, under new ids; items
    rated once (which only AC1's chance shares use) kept as they are."""
    copies = []
    for item, count in zip(item_ids, counts.astype(int), strict=True):
        rows = codes[codes["item_id"] == item]
        copies += [rows.assign(item_id=f"{item}#{k}") for k in range(count)]
    singly_rated = codes[~codes["item_id"].isin(item_ids)]  # weight 1 in every resample
    return pd.concat([*copies, singly_rated], ignore_index=True)


BATCHES = {
    "percent_agreement": coef.percent_agreement_batch,
    "fleiss_kappa": coef.fleiss_kappa_batch,
    "gwet_ac1": coef.gwet_ac1_batch,
    "brennan_prediger": coef.brennan_prediger_batch,
    "krippendorff_alpha": coef.krippendorff_alpha_batch,
}
SCALARS = {
    "percent_agreement": coef.percent_agreement,
    "fleiss_kappa": coef.fleiss_kappa,
    "gwet_ac1": coef.gwet_ac1,
    "brennan_prediger": coef.brennan_prediger,
    "krippendorff_alpha": coef.krippendorff_alpha,
}


@pytest.mark.parametrize(
    ("codes", "options"),
    [
        (simulated_codes(21, n_items=60), {}),
        (simulated_codes(22, n_items=60, categories=("1", "2", "3", "4")), {"level": "ordinal"}),
        (simulated_codes(23, n_items=60, categories=("1", "2", "4")), {"level": "interval"}),
        (simulated_sets(24, n_items=60), {"multi_label": True}),
    ],
    ids=["nominal", "ordinal", "interval", "multi-label"],
)
def test_each_replicate_equals_the_coefficient_of_the_resampled_data(codes, options):
    ratings = build_ratings(codes, **options)
    weights = resample_weights(ratings.n_items, 3, np.random.default_rng(5))
    for name, batch in BATCHES.items():
        if ratings.multi_label and name in ("gwet_ac1", "brennan_prediger"):
            continue  # q = distinct sets of the whole sample; a rebuilt resample may lack some
        replicates = batch(ratings, weights)
        for row, counts in enumerate(weights):
            resample = build_ratings(
                resampled_codes(codes, ratings.item_ids, counts),
                categories=None if ratings.multi_label else ratings.labels,
                **options,
            )
            assert replicates[row] == pytest.approx(SCALARS[name](resample), abs=1e-9), name


def test_cohen_kappa_replicates_equal_the_kappa_of_the_resampled_data():
    codes = simulated_codes(25, n_items=80, coders=("human", "llm"), categories=("1", "2", "3"))
    ratings = build_ratings(codes, level="ordinal")
    weights = resample_weights(ratings.n_items, 3, np.random.default_rng(6))
    for weighting in ("none", "linear", "quadratic"):
        replicates = coef.cohen_kappa_batch(ratings, weights, weighting)
        for row, counts in enumerate(weights):
            resample = build_ratings(
                resampled_codes(codes, ratings.item_ids, counts),
                level="ordinal",
                categories=ratings.labels,
            )
            assert replicates[row] == pytest.approx(coef.cohen_kappa(resample, weighting), abs=1e-9)


def test_ac1_and_brennan_prediger_keep_the_sample_q_in_every_resample():
    codes = simulated_sets(31, n_items=40)
    ratings = build_ratings(codes, multi_label=True)
    weights = resample_weights(ratings.n_items, 20, np.random.default_rng(2))
    observed = coef.percent_agreement_batch(ratings, weights)
    q = ratings.n_labels
    expected_bp = (observed - 1 / q) / (1 - 1 / q)
    np.testing.assert_allclose(coef.brennan_prediger_batch(ratings, weights), expected_bp)


def test_resample_weights_draw_as_many_items_as_there_are():
    weights = resample_weights(50, 200, np.random.default_rng(0))
    assert weights.shape == (200, 50)
    assert (weights.sum(axis=1) == 50).all()
    assert weights.mean() == pytest.approx(1.0)


def test_the_same_seed_gives_the_same_intervals_and_another_seed_does_not():
    codes = simulated_codes(26, n_items=150)
    first = compute_agreement(codes, bootstrap=300, seed=7).ci95
    again = compute_agreement(codes, bootstrap=300, seed=7).ci95
    other = compute_agreement(codes, bootstrap=300, seed=8).ci95
    assert first == again
    assert first != other


def test_every_coefficient_gets_an_interval_around_its_estimate():
    codes = simulated_codes(27, n_items=300, coders=("human", "llm"), categories=("1", "2", "3"))
    result = compute_agreement(codes, level="ordinal", bootstrap=500, seed=1)
    expected = {
        "percent_agreement",
        "cohen_kappa",
        "weighted_kappa_linear",
        "weighted_kappa_quadratic",
        "fleiss_kappa",
        "krippendorff_alpha",
        "gwet_ac1",
        "brennan_prediger",
    }
    assert set(result.ci95) == expected
    for name, (low, high) in result.ci95.items():
        value = getattr(result, name)
        assert low < value < high, name
        assert high - low < 0.3, name
    assert result.bootstrap is not None
    assert result.bootstrap.n_resamples == 500
    assert result.bootstrap.seed == 1


def test_per_code_intervals_come_with_by_code():
    codes = simulated_codes(28, n_items=200)
    without = compute_agreement(codes, bootstrap=100)
    assert all(entry.ci95 == {} for entry in without.per_code.values())
    with_codes = compute_agreement(codes, bootstrap=100, by_code=True)
    for entry in with_codes.per_code.values():
        assert set(entry.ci95) == {"kappa", "alpha"}
        assert entry.ci95["kappa"][0] <= entry.kappa <= entry.ci95["kappa"][1]


def test_resamples_without_variation_are_counted_not_hidden():
    rows = [(str(i), coder, "rare" if i == 0 else "common") for i in range(10) for coder in "ab"]
    rows[1] = ("0", "b", "common")  # the only disagreement
    codes = pd.DataFrame(rows, columns=["item_id", "coder", "code"])
    result = compute_agreement(codes, bootstrap=400, seed=3)
    assert result.bootstrap is not None
    undefined = result.bootstrap.n_undefined["cohen_kappa"]
    assert 0 < undefined < 400  # item 0 is left out of about a third of the resamples
    assert any("cohen_kappa in" in note for note in result.notes)


def test_percentile_interval_ignores_undefined_replicates_and_says_how_many():
    values = np.array([np.nan, 0.1, 0.2, 0.3, np.nan])
    interval = percentile_interval(values, 0.5)
    assert interval.n_undefined == 2
    assert interval.n_resamples == 5
    assert (interval.low, interval.high) == pytest.approx((0.15, 0.25))
    empty = percentile_interval(np.array([np.nan, np.nan]))
    assert (empty.low, empty.high, empty.n_undefined) == (None, None, 2)


def test_bootstrap_refuses_a_non_positive_number_of_resamples():
    ratings = build_ratings(simulated_codes(29, n_items=20))
    statistic = partial(coef.percent_agreement_batch, ratings)
    with pytest.raises(AgreementError, match="positive"):
        bootstrap_replicates(ratings.n_items, {"pa": statistic}, n_resamples=0)


def test_large_bootstraps_are_computed_in_chunks_with_the_same_distribution(monkeypatch):
    import llmcode.quality.agreement.bootstrap as bootstrap_module

    ratings = build_ratings(simulated_codes(30, n_items=500))
    statistic = {"alpha": partial(coef.krippendorff_alpha_batch, ratings)}
    whole = bootstrap_replicates(ratings.n_items, statistic, n_resamples=2000, seed=4)["alpha"]
    monkeypatch.setattr(bootstrap_module, "_CELLS_PER_CHUNK", 500 * 7)
    chunked = bootstrap_replicates(ratings.n_items, statistic, n_resamples=2000, seed=4)["alpha"]
    assert chunked.shape == (2000,)
    assert np.mean(chunked) == pytest.approx(np.mean(whole), abs=0.01)
    assert np.std(chunked) == pytest.approx(np.std(whole), rel=0.15)
