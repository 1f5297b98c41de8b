"""`llmcode.quality.alttest`: the alternative annotator test (Calderon, Reichart & Dror, ACL 2025).

Checked three ways: a fixture whose t statistics, p-values, BY decisions, ω and ρ are worked out
by hand below; an independent re-implementation of the authors' published procedure
(github.com/nitaytech/AltTest, `alt_test_example.ipynb`) written here with scipy and statsmodels'
Benjamini–Yekutieli, run on random inputs to 1e-9; and the refusals the method's minimums call for.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from llmcode.errors import AgreementError, CodesError, ConfigError
from llmcode.quality.alttest import (
    AltTestMetric,
    AltTestSettings,
    alt_test,
    alt_test_run,
    alt_test_settings,
    benjamini_yekutieli,
    human_annotations,
    model_annotations,
    one_sided_ttest,
)
from llmcode.quality.eval_inputs import RunInput


def hand_fixture() -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Three coders and a model on 40 items of three kinds:

    - X (30 items): everyone codes x. Any left-out coder ties the model: d = 0, both win.
    - Y (4 items): the coders code x, the model y. The coder wins alone: d = +1.
    - Z (6 items): a codes x; b, c and the model code y. Left out a: the others (b, c) agree
      with the model (1.0) not with a (0.0): d = -1. Left out b: the others (a, c) give 0.5 to
      b and 0.5 to the model: a tie, d = 0 (same for c).
    """
    model, a, b, c = {}, {}, {}, {}
    for k in range(40):
        item = f"i{k:02d}"
        if k < 30:
            model[item] = a[item] = b[item] = c[item] = "x"
        elif k < 34:
            model[item], a[item], b[item], c[item] = "y", "x", "x", "x"
        else:
            model[item], a[item], b[item], c[item] = "y", "x", "y", "y"
    return model, {"a": a, "b": b, "c": c}


def test_hand_computed_fixture_gives_the_worked_values() -> None:
    model, humans = hand_fixture()
    result = alt_test(model, humans, epsilon=0.2, q=0.05)
    # a: d = 4 ones, 6 minus ones, 30 zeros; mean -0.05, s² = (10 - 40·0.05²)/39 = 9.9/39
    t_a = (-0.05 - 0.2) / math.sqrt(9.9 / 39 / 40)
    # b, c: d = 4 ones, 36 zeros; mean 0.1, s² = (4 - 40·0.1²)/39 = 3.6/39
    t_b = (0.1 - 0.2) / math.sqrt(3.6 / 39 / 40)
    assert t_a == pytest.approx(-3.13823, abs=1e-5)
    assert t_b == pytest.approx(-2.08167, abs=1e-5)
    a, b, c = (result.per_coder[k] for k in "abc")
    assert a.t_statistic == pytest.approx(t_a, abs=1e-12)
    assert b.t_statistic == pytest.approx(t_b, abs=1e-12)
    assert a.p_value == pytest.approx(stats.t.cdf(t_a, df=39), abs=1e-12)
    assert b.p_value == pytest.approx(stats.t.cdf(t_b, df=39), abs=1e-12)
    assert a.p_value == pytest.approx(0.00161, abs=5e-5)
    assert b.p_value == c.p_value == pytest.approx(0.02197, abs=5e-5)
    # the model wins X and Z items against everyone: 36 of 40
    assert (a.model_advantage, b.model_advantage, c.model_advantage) == (0.9, 0.9, 0.9)
    # a wins X and Y (34 of 40); b and c win X, Y and tie Z (40 of 40)
    assert (a.coder_advantage, b.coder_advantage) == (0.85, 1.0)
    # BY at q = 0.05, m = 3, H = 11/6: thresholds k·0.05/(3·11/6) = 0.00909, 0.01818, 0.02727.
    # Sorted p: 0.0016 ≤ 0.00909; 0.0220 > 0.01818; 0.0220 ≤ 0.02727: step-up rejects all three.
    assert [a.rejected, b.rejected, c.rejected] == [True, True, True]
    assert result.winning_rate == 1.0
    assert result.advantage_probability == pytest.approx(0.9)
    assert result.passed
    assert result.n_items == 40
    assert result.excluded_items == []


def test_a_smaller_epsilon_makes_the_same_fixture_fail() -> None:
    model, humans = hand_fixture()
    result = alt_test(model, humans, epsilon=0.05)
    # a: t = (-0.05 - 0.05) / sqrt(9.9/39/40) = -1.2553, p = 0.108 > every threshold
    assert result.per_coder["a"].t_statistic == pytest.approx(-0.1 / math.sqrt(9.9 / 39 / 40))
    assert result.per_coder["b"].p_value > 0.5  # mean 0.1 is above ε: no evidence at all
    assert result.winning_rate == 0.0
    assert not result.passed
    assert result.advantage_probability == pytest.approx(0.9)  # ρ does not depend on ε


def test_negative_rmse_fixture_by_hand() -> None:
    """Two coders rating 1-5 on 30 items. On 20 items both say 3 and the model 3 (ties, d = 0);
    on 10 items a says 1, b says 5 and the model 4. Left out a: b's distance to a's rating is
    4, the model's 1: the model wins, d = -1. Left out b: a's distance to b is 4, the model's 3:
    the model wins, d = -1. So each coder's d is 20 zeros and 10 minus ones."""
    model = {f"i{k}": 3 if k < 20 else 4 for k in range(30)}
    a = {f"i{k}": 3 if k < 20 else 1 for k in range(30)}
    b = {f"i{k}": 3 if k < 20 else 5 for k in range(30)}
    result = alt_test(model, {"a": a, "b": b}, metric="neg_rmse", epsilon=0.2)
    mean, var = -1 / 3, (10 - 30 / 9) / 29
    t = (mean - 0.2) / math.sqrt(var / 30)
    for coder in "ab":
        assert result.per_coder[coder].t_statistic == pytest.approx(t, abs=1e-12)
        assert result.per_coder[coder].model_advantage == 1.0
        assert result.per_coder[coder].coder_advantage == pytest.approx(2 / 3)
        assert result.per_coder[coder].rejected
    assert result.metric is AltTestMetric.neg_rmse
    assert result.winning_rate == 1.0


# --- the authors' procedure, re-implemented independently for the comparison ----------------


def reference_alt_test(model, humans, score, epsilon, q, min_instances=30):
    """The published procedure: keep items with >= 2 coders and an LLM label; per coder with
    >= min_instances items, indicators of 'model score >= coder score' and the reverse, a
    one-sided one-sample t-test of their difference against ε, BY over coders."""
    coders_of: dict = {}
    for h, anns in humans.items():
        for i in anns:
            coders_of.setdefault(i, []).append(h)
    keep = {i for i, hs in coders_of.items() if len(hs) >= 2 and i in model}
    p_values, rhos, names = [], [], []
    for h, anns in humans.items():
        items = [i for i in anns if i in keep]
        if len(items) < min_instances:
            continue
        llm_ind, hum_ind = [], []
        for i in items:
            rest = [humans[o][i] for o in coders_of[i] if o != h]
            hs, ls = score(anns[i], rest), score(model[i], rest)
            llm_ind.append(int(ls >= hs))
            hum_ind.append(int(hs >= ls))
        diff = [x - y for x, y in zip(hum_ind, llm_ind, strict=True)]
        p_values.append(stats.ttest_1samp(diff, epsilon, alternative="less").pvalue)
        rhos.append(np.mean(llm_ind))
        names.append(h)
    rejected = multipletests(p_values, alpha=q, method="fdr_by")[0]
    return {
        "winning_rate": float(np.sum(rejected)) / len(names),
        "advantage_probability": float(np.mean(rhos)),
        "p_values": dict(zip(names, p_values, strict=True)),
        "rejected": dict(zip(names, map(bool, rejected), strict=True)),
    }


def accuracy_score(pred, anns):
    return sum(pred == a for a in anns) / len(anns)


def neg_rmse_score(pred, anns):
    return -math.sqrt(sum((pred - a) ** 2 for a in anns) / len(anns))


def random_study(seed: int, numeric: bool):
    """Four coders over 80 items with partial overlap (some items coded by one coder only)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 6, size=90) if numeric else rng.integers(0, 4, size=90)

    def label(k: int, noise: float):
        if rng.random() < noise:
            return int(rng.integers(1, 6)) if numeric else "abcd"[rng.integers(0, 4)]
        return int(truth[k]) if numeric else "abcd"[truth[k]]

    humans = {}
    for n, coder in enumerate(["h1", "h2", "h3", "h4"]):
        span = range(80) if n < 2 else range(10 * n + 10, 10 * n + 60)
        humans[coder] = {f"i{k}": label(k, 0.25 + 0.05 * n) for k in span}
    model = {f"i{k}": label(k, float(rng.uniform(0.1, 0.5))) for k in range(80)}
    return model, humans


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("numeric", [False, True])
@pytest.mark.parametrize("epsilon", [0.0, 0.1, 0.2])
def test_equals_the_authors_procedure_on_random_studies(seed, numeric, epsilon) -> None:
    model, humans = random_study(seed, numeric)
    expected = reference_alt_test(
        model, humans, neg_rmse_score if numeric else accuracy_score, epsilon, 0.05
    )
    result = alt_test(
        model, humans, metric="neg_rmse" if numeric else "accuracy", epsilon=epsilon, q=0.05
    )
    assert result.winning_rate == pytest.approx(expected["winning_rate"], abs=1e-9)
    assert result.advantage_probability == pytest.approx(
        expected["advantage_probability"], abs=1e-9
    )
    for coder, p in expected["p_values"].items():
        assert result.per_coder[coder].p_value == pytest.approx(p, abs=1e-9)
        assert result.per_coder[coder].rejected == expected["rejected"][coder]
    assert result.passed == (expected["winning_rate"] >= 0.5)
    # h1, h2 code all 80; h3 codes i30-i79, h4 codes i40-i89 (items i80-i89 only by h4)
    assert result.n_items == 80
    assert result.excluded_items == sorted(f"i{k}" for k in range(80, 90))


def test_items_only_one_human_coded_are_left_out_and_listed() -> None:
    model, humans = hand_fixture()
    humans["a"]["solo"] = "x"
    model["solo"] = "x"
    result = alt_test(model, humans)
    assert result.excluded_items == ["solo"]
    assert result.per_coder["a"].n_items == 40


@pytest.mark.parametrize("seed", range(20))
def test_benjamini_yekutieli_matches_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 0.05, size=int(rng.integers(1, 12))) ** rng.uniform(0.5, 2)
    assert benjamini_yekutieli(list(p), 0.05) == list(multipletests(p, 0.05, "fdr_by")[0])


def test_constant_differences_have_a_certain_p_value() -> None:
    assert one_sided_ttest(np.zeros(40), 0.2) == (-math.inf, 0.0)
    assert one_sided_ttest(np.ones(40), 0.2) == (math.inf, 1.0)
    assert one_sided_ttest(np.full(40, 0.2), 0.2)[1] == 1.0


# --- refusals ----------------------------------------------------------------------------


def test_one_human_coder_is_refused() -> None:
    model, humans = hand_fixture()
    with pytest.raises(AgreementError, match=r"at least 2 human coders.*have 1 \(a\)"):
        alt_test(model, {"a": humans["a"]})


def test_a_coder_with_too_few_shared_items_is_named() -> None:
    model, humans = hand_fixture()
    humans["c"] = {i: v for k, (i, v) in enumerate(humans["c"].items()) if k < 29}
    with pytest.raises(AgreementError, match=r"at least 30 items per coder.*c has 29"):
        alt_test(model, humans)


def test_items_the_model_never_answered_are_refused() -> None:
    model, humans = hand_fixture()
    del model["i03"], model["i07"]
    with pytest.raises(AgreementError, match=r"2 item\(s\).*no code from the model: i03, i07"):
        alt_test(model, humans)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epsilon": 1.0}, "epsilon 1.0 is outside"),
        ({"epsilon": -0.1}, "epsilon -0.1 is outside"),
        ({"q": 0.0}, "q 0.0 is outside"),
        ({"metric": "kappa"}, "unknown alt-test metric 'kappa'"),
    ],
)
def test_bad_settings_are_config_errors(kwargs, message) -> None:
    model, humans = hand_fixture()
    with pytest.raises(ConfigError, match=message):
        alt_test(model, humans, **kwargs)


# --- long-format codes and runs ---------------------------------------------------------


def long_format(humans: dict[str, dict[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"item_id": i, "coder": h, "code": v}
            for h, anns in humans.items()
            for i, v in anns.items()
        ]
    )


def run_of(codes: dict[str, list[str]], statuses: dict[str, str], multi: bool = False) -> RunInput:
    return RunInput(
        run="r1",
        model="m",
        prompt_hash=None,
        targets=("x", "y"),
        multi_label=multi,
        item_ids=frozenset(statuses),
        codes=codes,
        statuses=statuses,
    )


def test_a_run_and_long_format_codes_give_the_dict_result() -> None:
    model, humans = hand_fixture()
    run = run_of({i: [v] for i, v in model.items()}, dict.fromkeys(model, "ok"))
    assert alt_test_run(run, long_format(humans)) == alt_test(model, humans)
    strict = alt_test_settings(True, epsilon=0.05)
    assert alt_test_run(run, long_format(humans), strict) == alt_test(model, humans, epsilon=0.05)


def test_alt_test_settings_without_the_test_are_an_error() -> None:
    assert alt_test_settings(False) is None
    assert alt_test_settings(True) == AltTestSettings(epsilon=0.2, q=0.05, metric="accuracy")
    with pytest.raises(ConfigError, match="epsilon, q only apply"):
        alt_test_settings(False, epsilon=0.1, q=0.01)
    with pytest.raises(ConfigError, match=r"epsilon 1\.5 is outside"):
        alt_test_settings(True, epsilon=1.5)


def test_failed_items_have_no_model_annotation_and_answers_without_codes_are_none() -> None:
    run = run_of({"i1": ["x"]}, {"i1": "ok", "i2": "ok", "i3": "error"})
    assert model_annotations(run) == {"i1": "x", "i2": "none"}


def test_multi_label_codes_are_compared_as_sets() -> None:
    codes = pd.DataFrame(
        [
            {"item_id": "i1", "coder": "a", "code": "y"},
            {"item_id": "i1", "coder": "a", "code": "x"},
            {"item_id": "i1", "coder": "b", "code": "none"},
        ]
    )
    assert human_annotations(codes, multi_label=True) == {
        "a": {"i1": frozenset({"x", "y"})},
        "b": {"i1": frozenset()},
    }


def test_several_codes_in_a_single_label_scheme_are_refused() -> None:
    codes = pd.DataFrame(
        [
            {"item_id": "i1", "coder": "a", "code": "y"},
            {"item_id": "i1", "coder": "a", "code": "x"},
        ]
    )
    with pytest.raises(CodesError, match="item i1 by a: several codes"):
        human_annotations(codes, multi_label=False)


def test_a_code_that_is_not_a_number_is_refused_for_negative_rmse() -> None:
    codes = pd.DataFrame([{"item_id": "i1", "coder": "a", "code": "high"}])
    with pytest.raises(CodesError, match="item i1 by a: code 'high' is not a number"):
        human_annotations(codes, multi_label=False, metric="neg_rmse")
