"""`llmcode.analysis.ppi_regression`: the study's regressions from code tables and item columns.

The designs are rebuilt here independently (pandas dummies) and handed to ``ppi_py`` and
statsmodels: with a perfect LLM the PPI coefficients are ``ppi_ols_ci``'s on the same arrays;
the classical ones are statsmodels' OLS (HC0) on the gold items, the naive ones the same on all
items with the LLM's codes. Bad inputs raise errors naming what is missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from ppi_py import ppi_ols_ci

from llmcode.analysis.ppi_regression import (
    binary_outcome,
    item_column,
    outcome_regression,
    resolution_regression,
    study_regressions,
)
from llmcode.errors import AnalysisError

CODES = ["usage", "loading", "performance"]


def synthetic(seed: int = 0, n_items: int = 200, n_gold: int = 60, flip: float = 0.2):
    rng = np.random.default_rng(seed)
    ids = [f"i{k:03d}" for k in range(n_items)]
    truth = rng.choice(CODES, size=n_items, p=[0.5, 0.3, 0.2])
    llm = np.where(rng.random(n_items) < flip, rng.choice(CODES, size=n_items), truth)
    project = rng.choice(["acme", "beta", "gamma"], size=n_items)
    effect = {"usage": 0.0, "loading": 0.7, "performance": 1.2}
    log_days = 1 + np.array([effect[c] for c in truth]) + 0.4 * (project == "beta")
    log_days = log_days + rng.normal(scale=0.8, size=n_items)
    is_open = rng.random(n_items) < 0.1
    gold_ids = list(rng.choice(ids, size=n_gold, replace=False))
    items = pd.DataFrame(
        {
            "item_id": ids,
            "project": project,
            "bug": np.where(rng.random(n_items) < 0.3 + 0.3 * (truth == "loading"), "yes", "no"),
        }
    )
    times = pd.DataFrame({"item_id": ids, "days": np.exp(log_days), "open": is_open})
    llm_codes = pd.DataFrame({"item_id": ids, "code": llm})
    gold = pd.DataFrame({"item_id": ids, "code": truth})
    gold = gold[gold["item_id"].isin(gold_ids)]
    return items, times, llm_codes, gold


def dummies(codes: pd.Series, project: pd.Series | None) -> np.ndarray:
    parts = [pd.Series(1.0, index=codes.index, name="intercept")]
    code_dummies = pd.get_dummies(codes).astype(float)
    parts.append(code_dummies[[c for c in CODES[1:] if c in code_dummies]])
    if project is not None:
        reference = project.value_counts().sort_index().idxmax()
        levels = sorted(set(project) - {reference})
        parts.append(pd.get_dummies(project).astype(float)[levels])
    return pd.concat(parts, axis=1).to_numpy()


def test_with_a_perfect_llm_the_ppi_coefficients_are_ppi_ols_ci_on_the_same_arrays() -> None:
    items, times, _, gold = synthetic()
    all_codes = synthetic(flip=0.0)[2]  # the LLM's codes equal the truth everywhere
    covariate = item_column(items, "project")
    result = resolution_regression(all_codes, gold, times, order=CODES, covariate=covariate)
    closed = times[~times["open"]].set_index("item_id")
    y = np.log(closed["days"].to_numpy())
    codes = all_codes.set_index("item_id")["code"].reindex(closed.index)
    project = items.set_index("item_id")["project"].reindex(closed.index)
    x = dummies(codes, project)
    labeled = closed.index.isin(gold["item_id"]).astype(bool)
    low, high = ppi_ols_ci(x[labeled], y[labeled], y[labeled], x[~labeled], y[~labeled], alpha=0.05)
    assert [t.term for t in result.terms] == [
        "intercept",
        "loading",
        "performance",
        *[f"project={p}" for p in sorted(set(project) - {project.value_counts().idxmax()})],
    ]
    np.testing.assert_allclose([t.ppi.low for t in result.terms], low, atol=1e-6)
    np.testing.assert_allclose([t.ppi.high for t in result.terms], high, atol=1e-6)
    assert result.reference == "usage"
    assert result.n_gold == int(labeled.sum())
    assert result.n_items == len(closed)


def test_classical_and_naive_coefficients_are_statsmodels_ols_with_hc0() -> None:
    _, times, llm, gold = synthetic(seed=1)
    result = resolution_regression(llm, gold, times, order=CODES)
    closed = times[~times["open"]].set_index("item_id")
    y = pd.Series(np.log(closed["days"].to_numpy()), index=closed.index)
    gold_codes = gold.set_index("item_id")["code"]
    in_gold = [i for i in closed.index if i in gold_codes.index]
    classical = sm.OLS(y[in_gold].to_numpy(), dummies(gold_codes[in_gold], None)).fit()
    naive_codes = llm.set_index("item_id")["code"].reindex(closed.index)
    naive = sm.OLS(y.to_numpy(), dummies(naive_codes, None)).fit()
    for k, term in enumerate(result.terms):
        assert term.classical.estimate == pytest.approx(classical.params[k], abs=1e-9)
        half = 1.959963984540054 * classical.HC0_se[k]
        assert term.classical.high - term.classical.estimate == pytest.approx(half, abs=1e-9)
        assert term.naive.estimate == pytest.approx(naive.params[k], abs=1e-9)
    # the LLM confuses codes: its 'performance' effect is attenuated, the PPI one is not
    performance = result.terms[2]
    assert performance.naive.estimate < performance.ppi.estimate
    assert performance.ppi.low <= 1.2 <= performance.ppi.high
    assert performance.effective_n is not None and performance.effective_n > result.n_gold


def test_logistic_regression_of_a_binary_column() -> None:
    items, _, llm, gold = synthetic(seed=2)
    outcome = binary_outcome(items, "bug")
    result = outcome_regression(llm, gold, outcome, order=CODES)
    assert result.kind == "logistic"
    assert set(outcome.unique()) == {0.0, 1.0}
    assert outcome[items["bug"].to_numpy() == "yes"].eq(1.0).all()
    gold_codes = gold.set_index("item_id")["code"]
    reference = sm.Logit(outcome[gold_codes.index].to_numpy(), dummies(gold_codes, None)).fit(
        disp=0
    )
    for k, term in enumerate(result.terms):
        assert term.classical.estimate == pytest.approx(reference.params[k], abs=1e-6)
    assert "log odds ratios" in result.estimand
    assert set(result.to_json()["coefficients"]) == {"intercept", "loading", "performance"}


def test_a_missing_covariate_column_is_named() -> None:
    items = synthetic()[0]
    with pytest.raises(AnalysisError, match="no column 'team'"):
        item_column(items, "team")


def test_a_constant_covariate_is_refused() -> None:
    items = synthetic()[0].assign(project="acme")
    with pytest.raises(AnalysisError, match="'project' is constant"):
        item_column(items, "project")


def test_empty_covariate_values_are_named() -> None:
    items = synthetic()[0]
    items.loc[3, "project"] = ""
    with pytest.raises(AnalysisError, match=r"empty for 1 item.*i003"):
        item_column(items, "project")


def test_an_outcome_with_three_values_is_not_binary() -> None:
    items = synthetic()[0]
    with pytest.raises(AnalysisError, match="'project' has 3 distinct values"):
        binary_outcome(items, "project")


def test_a_code_the_gold_never_uses_makes_the_gold_fit_impossible() -> None:
    _, times, llm, gold = synthetic()
    gold = gold[gold["code"] != "performance"]
    with pytest.raises(AnalysisError, match="performance never occur"):
        resolution_regression(llm, gold, times, order=CODES)


def test_too_few_gold_items_are_refused() -> None:
    _, times, llm, gold = synthetic(n_gold=8)
    with pytest.raises(AnalysisError, match="at least 10 gold items"):
        resolution_regression(llm, gold, times, order=CODES)


def test_the_default_log_days_regression_that_cannot_be_fitted_is_a_note() -> None:
    items, times, llm, gold = synthetic()
    gold = gold[gold["code"] != "performance"]
    regressions, notes = study_regressions(llm, gold, items, order=CODES, times=times)
    assert regressions == []
    assert notes == [
        "no PPI regression of log days: the regression cannot be fitted: performance never "
        "occur(s) on the gold items (with the gold codes)"
    ]
    with pytest.raises(AnalysisError, match="performance never occur"):
        study_regressions(llm, gold, items, order=CODES, times=times, covariate="project")


def test_study_regressions_fit_log_days_and_the_named_outcome() -> None:
    items, times, llm, gold = synthetic(seed=4)
    regressions, notes = study_regressions(
        llm, gold, items, order=CODES, times=times, covariate="project", outcome="bug"
    )
    assert [(r.kind, r.outcome, r.covariate) for r in regressions] == [
        ("ols", "log_days", "project"),
        ("logistic", "bug", "project"),
    ]
    assert notes == []
    with pytest.raises(AnalysisError, match="no resolution times and no outcome"):
        study_regressions(llm, gold, items, order=CODES, covariate="project")


def test_when_every_item_is_gold_the_ppi_fit_is_the_classical_one() -> None:
    _, times, llm, _ = synthetic()
    gold = llm.copy()
    result = resolution_regression(llm, gold, times, order=CODES)
    for term in result.terms:
        assert term.ppi.estimate == pytest.approx(term.classical.estimate, abs=1e-9)
    assert result.lam == 0.0
