"""`analyze_gold`: PPI shares and resolution from code tables, checked against ppi-python."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import ppi_py
import pytest

from llmcode.analysis.gold import analyze_gold, sampling_record

CODES = ["usage", "performance", "loading"]


def study(n_items: int = 400, n_gold: int = 80, accuracy: float = 0.85, seed: int = 0):
    """LLM codes on every item, gold codes on a random sample, and resolution times."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(3, size=n_items, p=[0.5, 0.3, 0.2])
    llm = np.where(rng.random(n_items) < accuracy, truth, (truth + 1) % 3)
    ids = [f"i{i}" for i in range(n_items)]
    gold_ids = set(rng.choice(ids, size=n_gold, replace=False))
    llm_codes = pd.DataFrame({"item_id": ids, "coder": "llm", "code": [CODES[c] for c in llm]})
    gold_codes = pd.DataFrame(
        [
            {"item_id": i, "coder": "ana", "code": CODES[t]}
            for i, t in zip(ids, truth, strict=True)
            if i in gold_ids
        ]
    )
    days = np.exp(rng.normal(1.0 + truth, 0.5))  # loading is slowest
    times = pd.DataFrame({"item_id": ids, "days": days, "open": rng.random(n_items) < 0.1})
    return llm_codes, gold_codes, times, truth, llm, ids, gold_ids


def test_shares_are_ppi_python_on_the_indicator_columns():
    llm_codes, gold_codes, _, truth, llm, ids, gold_ids = study()
    result = analyze_gold(llm_codes, gold_codes, source="gold.csv", coder="ana", order=CODES)
    labeled = np.array([i in gold_ids for i in ids])
    assert result.n_gold == 80 and result.n_items == 400
    for index, code in enumerate(CODES):
        y, yhat = (truth == index).astype(float), (llm == index).astype(float)
        low, high = ppi_py.ppi_mean_ci(y[labeled], yhat[labeled], yhat[~labeled], alpha=0.05)
        est = result.prevalence[code]
        assert (est.ppi.low, est.ppi.high) == pytest.approx((float(low[0]), float(high[0])))
        assert est.naive.estimate == pytest.approx(yhat.mean())
        assert est.classical.estimate == pytest.approx(y[labeled].mean())


def test_json_has_exactly_the_contract_keys():
    llm_codes, gold_codes, *_ = study()
    data = analyze_gold(llm_codes, gold_codes, source="g", coder="ana", order=CODES).to_json()
    assert list(data["prevalence"]) == CODES
    for share in data["prevalence"].values():
        assert set(share) == {"naive", "classical", "ppi", "effective_n"}
        for kind in ("naive", "classical", "ppi"):
            assert set(share[kind]) == {"estimate", "ci95"}
            low, high = share[kind]["ci95"]
            assert 0.0 <= low <= share[kind]["estimate"] <= high <= 1.0
    json.dumps(data)  # plain JSON types


def test_gold_items_outside_the_analysed_items_are_left_out_with_a_note():
    llm_codes, gold_codes, *_ = study()
    extra = pd.DataFrame([{"item_id": "elsewhere", "coder": "ana", "code": "usage"}])
    result = analyze_gold(
        llm_codes, pd.concat([gold_codes, extra]), source="g", coder="ana", order=CODES
    )
    assert result.n_gold == 80
    assert any("1 gold item(s) are not among the analysed items" in n for n in result.notes)


def test_a_missing_sampling_record_is_noted_and_a_sidecar_is_read(tmp_path):
    llm_codes, gold_codes, *_ = study()
    gold = tmp_path / "gold.csv"
    gold_codes.to_csv(gold, index=False)
    assert sampling_record(gold) is None
    result = analyze_gold(llm_codes, gold_codes, source=str(gold), coder="ana", order=CODES)
    assert any("no sampling record" in n for n in result.warnings)
    (tmp_path / "gold.csv.json").write_text(json.dumps({"seed": 7, "n": 80}))
    record = sampling_record(gold)
    assert record == {"seed": 7, "n": 80}
    result = analyze_gold(
        llm_codes, gold_codes, source=str(gold), coder="ana", order=CODES, sampling=record
    )
    assert result.warnings == []


def test_resolution_agrees_when_the_llm_is_perfect_and_finds_the_slow_code():
    llm_codes, gold_codes, times, *_ = study(accuracy=1.0)
    result = analyze_gold(llm_codes, gold_codes, source="g", coder="ana", order=CODES, times=times)
    res = result.resolution
    assert res is not None
    assert res.verdict.startswith("Conclusions agree") and res.agree
    loading = res.means["loading"].ppi
    assert loading is not None and loading.low <= 3.0 <= loading.high  # true mean log days
    slow = {(d.a, d.b): d for d in res.differences}
    assert slow[("usage", "loading")].adjusted.high < 0  # usage is faster than loading
    assert "'loading'–'usage'" in res.verdict


def test_resolution_says_when_the_conclusions_differ():
    llm_codes, gold_codes, times, *_ = study(accuracy=1.0)
    shuffled = llm_codes.assign(
        code=np.random.default_rng(3).permutation(llm_codes["code"].to_numpy())
    )
    result = analyze_gold(shuffled, gold_codes, source="g", coder="ana", order=CODES, times=times)
    assert result.resolution is not None
    assert result.resolution.verdict.startswith("Conclusions differ.")
    assert not result.resolution.agree


def test_screening_share_and_plan():
    llm_codes, gold_codes, *_ = study()
    rng = np.random.default_rng(5)
    ids = llm_codes["item_id"].tolist()
    split = pd.Series(np.where(rng.random(len(ids)) < 0.7, "ptm", "other"), index=ids)
    gold_split = split.iloc[:60].copy()
    gold_split.iloc[:6] = "other"
    result = analyze_gold(
        llm_codes,
        gold_codes,
        source="g",
        coder="ana",
        order=CODES,
        split=split,
        gold_split=gold_split,
        plan_width=0.1,
    )
    assert result.screening is not None and result.screening.n_gold == 60
    assert result.screening.classical.estimate == pytest.approx((gold_split == "ptm").mean())
    plan = result.plan
    assert plan is not None and plan["reachable"]
    assert plan["n_gold_needed"] > 80 and plan["more_gold_items"] == plan["n_gold_needed"] - 80


def test_fewer_than_two_gold_items_give_no_estimates_but_a_note():
    llm_codes, gold_codes, *_ = study()
    result = analyze_gold(llm_codes, gold_codes.iloc[:1], source="g", coder="ana", order=CODES)
    assert result.prevalence == {}
    assert any("at least 2 gold items" in n for n in result.notes)


def test_pairwise_ppi_differences_are_bonferroni_adjusted_as_statsmodels_multipletests():
    from scipy.stats import norm
    from statsmodels.stats.multitest import multipletests

    llm_codes, gold_codes, times, *_ = study(accuracy=0.9, n_gold=60, seed=4)
    result = analyze_gold(llm_codes, gold_codes, source="g", coder="ana", order=CODES, times=times)
    assert result.resolution is not None
    pairs = result.resolution.differences
    assert len(pairs) == 3
    raw = []
    for d in pairs:  # the Wald p-value of the plain 95% interval, from scratch
        se = (d.estimate.high - d.estimate.low) / (2 * norm.ppf(0.975))
        raw.append(2 * (1 - norm.cdf(abs(d.estimate.estimate) / se)))
    reject, adjusted, _, bonferroni_alpha = multipletests(raw, alpha=0.05, method="bonferroni")
    for d, p, p_adj, rejected in zip(pairs, raw, adjusted, reject, strict=True):
        assert d.p_value == pytest.approx(p, abs=1e-6)
        assert d.p_adjusted == pytest.approx(p_adj, abs=1e-6)
        se = (d.estimate.high - d.estimate.low) / (2 * norm.ppf(0.975))
        half = norm.ppf(1 - bonferroni_alpha / 2) * se
        assert d.adjusted.low == pytest.approx(d.estimate.estimate - half, abs=1e-6)
        assert d.adjusted.high == pytest.approx(d.estimate.estimate + half, abs=1e-6)
        assert d.adjusted.width() > d.estimate.width()
        assert d.differs == bool(rejected)
    data = result.to_json()["ppi"]["resolution"]
    assert data["adjustment"]["method"] == "bonferroni"
    assert data["adjustment"]["n_comparisons"] == 3
    assert [d["p_adjusted"] for d in data["differences"]] == pytest.approx(list(adjusted))
    assert "Bonferroni-adjusted 95% CI (3 pair(s))" in result.resolution.verdict


def test_the_conclusion_names_codes_even_when_a_code_is_called_none():
    codes = ["none", "performance", "loading"]
    llm_codes, gold_codes, times, *_ = study(accuracy=1.0)
    rename = dict(zip(CODES, codes, strict=True))
    llm_codes, gold_codes = (
        frame.assign(code=frame["code"].map(rename)) for frame in (llm_codes, gold_codes)
    )
    result = analyze_gold(llm_codes, gold_codes, source="g", coder="ana", order=codes, times=times)
    assert result.resolution is not None
    verdict = result.resolution.verdict
    assert "none vs none" not in verdict and ": none" not in verdict
    # 'none' (fastest) and 'loading' (slowest) differ in every reading, named by their codes
    assert "with the LLM's codes 'loading'–'none'" in verdict
    assert "with the gold codes 'loading'–'none'" in verdict
    assert "excludes 0: 'loading'–'none'" in verdict
    flat = llm_codes.assign(code="performance")  # one code: no pair to tell apart
    times_flat = times.assign(days=1.0)
    result = analyze_gold(flat, gold_codes, source="g", coder="ana", order=codes, times=times_flat)
    assert result.resolution is not None
    assert "with the LLM's codes no pair" in result.resolution.verdict
