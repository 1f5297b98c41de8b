"""`llmcode.quality.eval`: model vs gold against scikit-learn, the agreement module and by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    cohen_kappa_score,
    f1_score,
)
from sklearn.preprocessing import MultiLabelBinarizer

from llmcode.errors import AgreementError, CodesError, RunStoreError
from llmcode.quality.agreement import compute_agreement
from llmcode.quality.eval import evaluate, is_guessing
from llmcode.quality.eval_ceiling import Coefficient
from llmcode.quality.eval_inputs import RunInput
from llmcode.quality.eval_paired import bootstrap_p

CODES = ("a", "b", "c")


def run_of(name: str, codes: dict[str, list[str]], multi: bool = False, **kw) -> RunInput:
    return RunInput(
        run=name,
        model=f"model-{name}",
        prompt_hash="h",
        targets=CODES,
        multi_label=multi,
        item_ids=frozenset(codes) | frozenset(kw.pop("extra_ids", ())),
        codes=codes,
        **kw,
    )


def gold_of(**coders: dict[str, str]) -> pd.DataFrame:
    rows = [
        {"item_id": item, "coder": coder, "code": code}
        for coder, codes in coders.items()
        for item, code in codes.items()
    ]
    return pd.DataFrame(rows)


def synthetic(n: int = 40, seed: int = 3) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Truth, a noisy model and a second (less noisy) human on n items."""
    rng = np.random.default_rng(seed)
    items = [f"i{k:02d}" for k in range(n)]
    truth = {i: CODES[rng.integers(3)] for i in items}

    def noisy(p: float) -> dict[str, str]:
        return {i: truth[i] if rng.random() > p else CODES[rng.integers(3)] for i in items}

    return truth, noisy(0.4), noisy(0.15)


def test_one_gold_coder_matches_scikit_learn():
    truth, model, _ = synthetic()
    result = evaluate(
        [run_of("r", {i: [c] for i, c in model.items()})], gold_of(ana=truth), bootstrap=0
    )
    entry = result.runs[0]
    y_true, y_pred = list(truth.values()), [model[i] for i in truth]
    assert entry.accuracy.value == pytest.approx(accuracy_score(y_true, y_pred))
    assert entry.cohen_kappa.value == pytest.approx(cohen_kappa_score(y_true, y_pred))
    assert entry.macro_f1.value == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    report = classification_report(y_true, y_pred, output_dict=True)
    for code, score in entry.per_code.items():
        assert score.precision == pytest.approx(report[code]["precision"])
        assert score.recall == pytest.approx(report[code]["recall"])
        assert score.f1 == pytest.approx(report[code]["f1-score"])
        assert score.support == report[code]["support"]
        ovr = cohen_kappa_score([t == code for t in y_true], [p == code for p in y_pred])
        assert score.kappa.value == pytest.approx(ovr)
    assert result.human_ceiling is None
    assert entry.n_items == len(truth)


def test_ac1_and_alpha_are_the_agreement_modules():
    truth, model, _ = synthetic()
    gold = gold_of(ana=truth)
    result = evaluate([run_of("r", {i: [c] for i, c in model.items()})], gold, bootstrap=0)
    both = pd.concat([gold, gold_of(model=model)], ignore_index=True)
    reference = compute_agreement(both, coders=["model", "ana"], categories=list(CODES))
    assert result.runs[0].gwet_ac1.value == pytest.approx(reference.gwet_ac1)
    assert result.runs[0].krippendorff_alpha.value == pytest.approx(reference.krippendorff_alpha)


def test_two_gold_coders_pool_the_pairs_and_give_the_human_ceiling():
    truth, model, second = synthetic()
    gold = gold_of(ana=truth, ben=second)
    result = evaluate([run_of("r", {i: [c] for i, c in model.items()})], gold, bootstrap=0)
    items = list(truth)
    y_true = [truth[i] for i in items] + [second[i] for i in items]
    y_pred = [model[i] for i in items] * 2
    entry = result.runs[0]
    assert entry.accuracy.value == pytest.approx(accuracy_score(y_true, y_pred))
    assert entry.cohen_kappa.value == pytest.approx(cohen_kappa_score(y_true, y_pred))
    assert entry.macro_f1.value == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    ceiling = result.human_ceiling
    assert ceiling is not None and ceiling.coders == ["ana", "ben"]
    human_true, human_second = [truth[i] for i in items], [second[i] for i in items]
    assert ceiling.cohen_kappa.value == pytest.approx(cohen_kappa_score(human_true, human_second))
    assert ceiling.accuracy.value == pytest.approx(accuracy_score(human_true, human_second))
    reference = compute_agreement(gold, categories=list(CODES))
    assert ceiling.gwet_ac1.value == pytest.approx(reference.gwet_ac1)
    assert ceiling.krippendorff_alpha.value == pytest.approx(reference.krippendorff_alpha)


def test_a_hand_computed_example():
    # 10 items; the model is right on 8 (a→a ×4, b→b ×3, c→c ×1), wrong on 2 (a→b, c→a).
    truth = dict(zip([f"i{k}" for k in range(10)], "aaaaabbbcc", strict=True))
    model = dict(zip(truth, "aaaabbbbca", strict=True))
    result = evaluate(
        [run_of("r", {i: [c] for i, c in model.items()})], gold_of(ana=truth), bootstrap=0
    )
    entry = result.runs[0]
    # p_o = 0.8; gold marginals a .5 b .3 c .2; model a .5 b .4 c .1 -> p_e = .25+.12+.02 = .39
    assert entry.accuracy.value == pytest.approx(0.8)
    assert entry.cohen_kappa.value == pytest.approx((0.8 - 0.39) / (1 - 0.39))
    # a: tp 4 fp 1 fn 1 -> P .8 R .8 ; b: tp 3 fp 1 fn 0 -> P .75 R 1 ; c: tp 1 fp 0 fn 1
    assert entry.per_code["a"].precision == pytest.approx(0.8)
    assert entry.per_code["b"].recall == pytest.approx(1.0)
    assert entry.per_code["c"].f1 == pytest.approx(2 / 3)
    assert entry.macro_f1.value == pytest.approx((0.8 + 6 / 7 + 2 / 3) / 3)
    assert entry.confusion is not None and entry.confusion["matrix"][0] == [4, 0, 1]
    assert [d["item_id"] for d in entry.disagreements] == ["i4", "i9"]


def test_paired_bootstrap_matches_a_direct_resampling_loop():
    truth, worse, better = synthetic(n=30, seed=5)
    runs = [
        run_of(n, {i: [c] for i, c in codes.items()}) for n, codes in (("A", worse), ("B", better))
    ]
    result = evaluate(runs, gold_of(ana=truth), bootstrap=300, seed=11)
    items = list(truth)
    draws = np.random.default_rng(11).integers(0, len(items), size=(300, len(items)))
    deltas, f1_deltas = [], []
    for row in draws:
        y = [truth[items[k]] for k in row]
        a = [worse[items[k]] for k in row]
        b = [better[items[k]] for k in row]
        deltas.append(
            cohen_kappa_score(y, b, labels=list(CODES))
            - cohen_kappa_score(y, a, labels=list(CODES))
        )
        f1_deltas.append(f1_score(y, b, average="macro") - f1_score(y, a, average="macro"))
    (pair,) = result.paired
    assert (pair.a, pair.b) == ("A", "B")
    low, high = np.percentile(deltas, [2.5, 97.5])
    assert pair.delta_kappa.ci95 == pytest.approx((low, high))
    low, high = np.percentile(f1_deltas, [2.5, 97.5])
    assert pair.delta_macro_f1.ci95 == pytest.approx((low, high))
    expected_p = min(1.0, 2 * min(np.mean(np.array(deltas) <= 0), np.mean(np.array(deltas) >= 0)))
    assert pair.p == pytest.approx(expected_p)
    assert pair.delta_kappa.value == pytest.approx(
        result.runs[1].cohen_kappa.value - result.runs[0].cohen_kappa.value
    )
    assert [r.rank for r in result.runs] == [2, 1]


def test_bootstrap_p_is_two_sided():
    assert bootstrap_p(np.array([0.1, 0.2, 0.3, -0.1])) == pytest.approx(0.5)
    assert bootstrap_p(np.array([0.1, 0.2])) == 0.0
    assert bootstrap_p(np.array([np.nan])) is None


def test_a_code_not_credibly_above_chance_is_flagged_guessing():
    assert is_guessing(Coefficient(value=0.3, ci95=(-0.05, 0.6)))
    assert not is_guessing(Coefficient(value=0.3, ci95=(0.05, 0.6)))
    assert is_guessing(Coefficient(value=None))
    truth, _, _ = synthetic(n=30)
    rng = np.random.default_rng(0)
    random_model = {i: [CODES[rng.integers(3)]] for i in truth}
    result = evaluate([run_of("r", random_model)], gold_of(ana=truth), bootstrap=300)
    assert any(score.guessing for score in result.runs[0].per_code.values())


def test_an_item_the_run_left_uncoded_counts_as_none_and_is_noted():
    truth, model, _ = synthetic(n=12)
    codes = {i: [c] for i, c in model.items()}
    del codes["i00"]
    result = evaluate([run_of("r", codes, extra_ids={"i00"})], gold_of(ana=truth), bootstrap=0)
    assert "none" in result.runs[0].per_code
    assert result.runs[0].n_items == 12
    assert any("i00" in note for note in result.notes)


def test_multi_label_scores_match_scikit_learn_and_alpha_is_masi():
    gold_sets = {
        f"i{k}": s
        for k, s in enumerate(["a", "ab", "b", "c", "ac", "bc", "a", "b", "c", "abc", "a", "b"])
    }
    model_sets = {
        f"i{k}": s
        for k, s in enumerate(["a", "a", "bc", "c", "ac", "b", "ab", "b", "", "abc", "a", "c"])
    }
    gold = pd.DataFrame(
        [{"item_id": i, "coder": "ana", "code": c} for i, s in gold_sets.items() for c in s]
    )
    codes = {i: list(s) for i, s in model_sets.items() if s}
    result = evaluate(
        [run_of("r", codes, multi=True, extra_ids=set(model_sets))], gold, bootstrap=0
    )
    binarizer = MultiLabelBinarizer(classes=list(CODES))
    y_true = binarizer.fit_transform([list(s) for s in gold_sets.values()])
    y_pred = binarizer.transform([list(model_sets[i]) for i in gold_sets])
    per_code = f1_score(y_true, y_pred, average=None)
    for code, value in zip(CODES, per_code, strict=True):
        assert result.runs[0].per_code[code].f1 == pytest.approx(value)
    assert result.runs[0].macro_f1.value == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    model_rows = pd.DataFrame(
        [{"item_id": i, "coder": "model", "code": c} for i, s in model_sets.items() for c in s]
        + [{"item_id": "i8", "coder": "model", "code": None}]
    )
    reference = compute_agreement(
        pd.concat([model_rows, gold]),
        coders=["model", "ana"],
        multi_label=True,
        categories=list(CODES),
    )
    assert result.runs[0].krippendorff_alpha.value == pytest.approx(reference.krippendorff_alpha)
    assert result.runs[0].confusion is None


def test_bad_gold_is_refused_with_the_names_in_the_message():
    truth, model, _ = synthetic(n=12)
    run = run_of("r", {i: [c] for i, c in model.items()})
    with pytest.raises(CodesError, match="'zed'"):
        evaluate([run], gold_of(ana=truth), coders=["zed"], bootstrap=0)
    with pytest.raises(CodesError, match=r"outside the taxonomy.*bogus \(item i03\)"):
        evaluate([run], gold_of(ana={**truth, "i03": "bogus"}), bootstrap=0)
    with pytest.raises(RunStoreError, match=r"1 gold item\(s\) not in run r: x9"):
        evaluate([run], gold_of(ana={**truth, "x9": "a"}), bootstrap=0)
    two = pd.concat([gold_of(ana=truth), gold_of(ana={"i01": "b" if truth["i01"] != "b" else "c"})])
    with pytest.raises(CodesError, match=r"several codes.*i01 by ana"):
        evaluate([run], two, bootstrap=0)
    with pytest.raises(AgreementError, match="at least one run"):
        evaluate([], gold_of(ana=truth))


def test_fewer_than_ten_gold_items_warn_that_the_cis_mean_little():
    truth, model, _ = synthetic(n=6)
    result = evaluate(
        [run_of("r", {i: [c] for i, c in model.items()})], gold_of(ana=truth), bootstrap=50
    )
    assert any("only 6 gold item(s)" in w for w in result.warnings)
    truth, model, _ = synthetic(n=10)
    result = evaluate([run_of("r", {i: [c] for i, c in model.items()})], gold_of(ana=truth))
    assert result.warnings == []


def test_an_undefined_coefficient_is_null_with_a_reason_never_nan():
    items = [f"i{k}" for k in range(10)]
    result = evaluate(
        [run_of("r", {i: ["a"] for i in items})],
        gold_of(ana=dict.fromkeys(items, "a")),
        bootstrap=20,
    )
    entry = result.runs[0]
    assert entry.cohen_kappa.value is None and "undefined" in (entry.cohen_kappa.note or "")
    assert entry.per_code["a"].kappa.value is None and entry.per_code["a"].guessing
    assert "NaN" not in result.model_dump_json()
