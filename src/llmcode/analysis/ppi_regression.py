"""Regressions on the codes that stay valid: naive, classical (gold only) and PPI coefficients.

Two models, each a regression of an outcome known for every item on the codes (and optionally a
covariate column of the items, e.g. ``project``): OLS of log(days to close) over closed items,
and a logistic regression of a binary column. The design is an intercept, one indicator per code
(single-label schemes leave the first code out as the reference; multi-label schemes keep every
code, the intercept being an item with none), and the covariate's levels (the most frequent
level is the reference) or the covariate itself when it is numeric.

**Estimand**: the coefficients of that regression fitted to every item of the population *with
the gold coder's codes* (the least-squares projection, or the logistic fit, in the population).
Each coefficient is reported three ways with a 95% CI: **naive** (the LLM's codes on all items,
as if true), **classical** (the gold items alone) and **PPI** (`ppi_glm`: the LLM's codes on
all items, rectified by its errors on the gold items), with the effective n (gold items a
classical estimate would need for the PPI CI's width). Valid when the gold items are a uniform
random sample of the population. Bad input (a missing or constant covariate, an outcome that is
not binary, a code or level absent from the gold so the gold-only fit is singular) raises
`AnalysisError` naming what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from llmcode.analysis.ppi import Estimate
from llmcode.analysis.ppi_glm import Kind, classical_glm, ppi_glm
from llmcode.errors import AnalysisError

MIN_DAYS = 1 / 1440  # one minute: the floor before taking logs (as the resolution analysis)
MIN_GOLD = 10
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f"}


@dataclass(frozen=True)
class Term:
    """One coefficient: naive, classical and PPI estimates with CIs, and the effective n."""

    term: str
    naive: Estimate
    classical: Estimate
    ppi: Estimate
    effective_n: float | None


@dataclass
class PpiRegression:
    kind: Kind
    outcome: str
    estimand: str
    reference: str | None
    covariate: str | None
    n_items: int
    n_gold: int
    lam: float
    terms: list[Term]
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.kind,
            "outcome": self.outcome,
            "estimand": self.estimand,
            "reference_code": self.reference,
            "covariate": self.covariate,
            "n_items": self.n_items,
            "n_gold": self.n_gold,
            "lambda": self.lam,
            "coefficients": {
                t.term: {
                    "naive": t.naive.to_json(),
                    "classical": t.classical.to_json(),
                    "ppi": t.ppi.to_json(),
                    "effective_n": t.effective_n,
                }
                for t in self.terms
            },
            "notes": self.notes,
        }

    def table(self) -> pd.DataFrame:
        rows = []
        for t in self.terms:
            row: dict[str, Any] = {"term": t.term}
            for kind in ("naive", "classical", "ppi"):
                e = getattr(t, kind)
                row |= {kind: e.estimate, f"{kind}_low": e.low, f"{kind}_high": e.high}
            rows.append(row | {"effective_n": t.effective_n})
        return pd.DataFrame(rows)


def resolution_regression(
    llm: pd.DataFrame,
    gold: pd.DataFrame,
    times: pd.DataFrame,
    *,
    order: list[str],
    covariate: pd.Series | None = None,
) -> PpiRegression:
    """OLS of log(days to close) on the codes (+ covariate) over the closed analysed items.

    ``times`` is the resolution table (item_id, days, open); open items are left out."""
    closed = times[~times["open"].astype(bool)]
    days = pd.Series(
        np.log(np.maximum(closed["days"].to_numpy(dtype=float), MIN_DAYS)),
        index=closed["item_id"].astype(str),
    )
    estimand = (
        "OLS coefficients of log(days to close) on the gold coder's code indicators"
        + (f" and {covariate.name}" if covariate is not None else "")
        + ", fitted to every closed item (open items left out); a code's coefficient is its "
        "difference in mean log days from the reference code, exp() of it a ratio of "
        "geometric means"
    )
    return _regression("ols", "log_days", days, llm, gold, order, covariate, estimand)


def outcome_regression(
    llm: pd.DataFrame,
    gold: pd.DataFrame,
    outcome: pd.Series,
    *,
    order: list[str],
    covariate: pd.Series | None = None,
) -> PpiRegression:
    """Logistic regression of a binary outcome (item_id -> 0/1, see `binary_outcome`)."""
    estimand = (
        f"logistic-regression coefficients (log odds ratios) of {outcome.name} = 1 on the gold "
        "coder's code indicators"
        + (f" and {covariate.name}" if covariate is not None else "")
        + ", fitted to every analysed item"
    )
    return _regression(
        "logistic", str(outcome.name), outcome, llm, gold, order, covariate, estimand
    )


def study_regressions(
    llm: pd.DataFrame,
    gold: pd.DataFrame,
    items: pd.DataFrame,
    *,
    order: list[str],
    times: pd.DataFrame | None = None,
    covariate: str | None = None,
    outcome: str | None = None,
) -> tuple[list[PpiRegression], list[str]]:
    """The regressions `analyze --human` reports: log days when there are resolution times, a
    binary ``outcome`` column when named, each with the ``covariate`` column when named.

    What was asked for (a covariate, an outcome) raises on bad input; the log-days regression
    that comes by default is left out with a note when it cannot be fitted."""
    extra = None if covariate is None else item_column(items, covariate)
    target = None if outcome is None else binary_outcome(items, outcome)
    out: list[PpiRegression] = []
    notes: list[str] = []
    if times is not None:
        try:
            out.append(resolution_regression(llm, gold, times, order=order, covariate=extra))
        except AnalysisError as exc:
            if covariate is not None:
                raise
            notes.append(f"no PPI regression of log days: {exc.message}")
    elif covariate is not None and target is None:
        raise AnalysisError(
            f"covariate {covariate!r} has no regression to enter: the items have no resolution "
            "times and no outcome column was named",
            hint="name a binary outcome column (outcome), or give the timestamps",
        )
    if target is not None:
        out.append(outcome_regression(llm, gold, target, order=order, covariate=extra))
    return out, notes


def item_column(items: pd.DataFrame, column: str, id_column: str = "item_id") -> pd.Series:
    """A column of the items table as item_id -> value; missing, empty or constant -> error."""
    if column not in items.columns:
        raise AnalysisError(
            f"the items have no column {column!r}",
            hint=f"columns: {', '.join(map(str, items.columns))}",
        )
    values = pd.Series(items[column].to_numpy(), index=items[id_column].astype(str), name=column)
    empty = values[values.isna() | (values.astype(str).str.strip() == "")]
    if len(empty):
        raise AnalysisError(
            f"column {column!r} is empty for {len(empty)} item(s): {_ids(list(empty.index))}",
            hint="fill it in, or leave those items out of the analysis",
        )
    values = values.astype(str).str.strip()
    if values.nunique() < 2:
        raise AnalysisError(
            f"column {column!r} is constant ({values.iloc[0]!r} for every item): it cannot "
            "enter a regression",
            hint="choose a column that varies across the items",
        )
    return values


def binary_outcome(items: pd.DataFrame, column: str, id_column: str = "item_id") -> pd.Series:
    """A two-valued column as 0/1: true/false, yes/no, 1/0, or any two values (the later one,
    in sorted order, is 1)."""
    values = item_column(items, column, id_column)
    levels = sorted(values.str.lower().unique())
    if len(levels) != 2:
        raise AnalysisError(
            f"outcome column {column!r} has {len(levels)} distinct values "
            f"({', '.join(levels[:6])}{' ...' if len(levels) > 6 else ''}); a logistic "
            "regression needs exactly two",
            hint="choose a binary column (true/false, yes/no, 1/0)",
        )
    lowered = values.str.lower()
    positive = next((v for v in levels if v in _TRUE), None)
    if positive is None or not set(levels) - {positive} <= _FALSE:
        positive = levels[1]
    return (lowered == positive).astype(float).rename(column)


def _regression(
    kind: Kind,
    outcome_name: str,
    outcome: pd.Series,
    llm: pd.DataFrame,
    gold: pd.DataFrame,
    order: list[str],
    covariate: pd.Series | None,
    estimand: str,
) -> PpiRegression:
    llm_sets, gold_sets = _sets(llm), _sets(gold)
    population = [i for i in dict.fromkeys(outcome.index.astype(str)) if i in llm_sets]
    labeled = np.array([i in gold_sets for i in population])
    n_gold = int(labeled.sum())
    if n_gold < MIN_GOLD:
        raise AnalysisError(
            f"a regression needs at least {MIN_GOLD} gold items among the analysed items with "
            f"an outcome; there are {n_gold}",
            hint="code a larger gold sample (llmcode sample)",
        )
    if covariate is not None:
        missing = [i for i in population if i not in covariate.index]
        if missing:
            raise AnalysisError(
                f"covariate {covariate.name!r} is missing for {len(missing)} item(s): "
                f"{_ids(missing)}",
                hint="every analysed item needs a value",
            )
    seen = {c for s in (*llm_sets.values(), *gold_sets.values()) for c in s}
    codes = [c for c in order if c in seen] + sorted(seen - set(order))
    multi = any(len(s) > 1 for s in (*llm_sets.values(), *gold_sets.values()))
    reference = None if multi else codes[0]
    columns = [c for c in codes if c != reference]
    names = ["intercept", *columns]
    extra, extra_names = _covariate_columns(covariate, population)
    names += extra_names
    y = outcome.reindex(population).to_numpy(dtype=float)

    def design(sets: dict[str, set[str]], ids: list[str]) -> np.ndarray:
        indicators = [[float(c in sets.get(i, ())) for c in columns] for i in ids]
        return np.column_stack([np.ones(len(ids)), np.array(indicators).reshape(len(ids), -1)])

    xhat = np.column_stack([design(llm_sets, population), extra])
    gold_ids = [i for i, lab in zip(population, labeled, strict=True) if lab]
    x = np.column_stack([design(gold_sets, gold_ids), extra[labeled]])
    _check_rank(x, names, "gold items (with the gold codes)")
    _check_rank(xhat, names, "analysed items (with the LLM's codes)")
    if kind == "logistic":
        _check_separation(x, y[labeled], names, outcome_name)
    naive = _classical(kind, xhat, y)
    classical = _classical(kind, x, y[labeled])
    fit = ppi_glm(kind, x, y[labeled], xhat[labeled], y[labeled], xhat[~labeled], y[~labeled])
    low, high = fit.ci()
    terms = []
    for k, name in enumerate(names):
        ppi = Estimate(float(fit.theta[k]), float(low[k]), float(high[k]))
        terms.append(
            Term(name, naive[k], classical[k], ppi, _effective_n(classical[k], ppi, n_gold))
        )
    notes = []
    if fit.gold_hessian:
        notes.append(
            "the rectified Hessian was not positive definite: the PPI variance uses the gold "
            "items' Hessian"
        )
    return PpiRegression(
        kind,
        outcome_name,
        estimand,
        reference,
        None if covariate is None else str(covariate.name),
        len(population),
        n_gold,
        fit.lam,
        terms,
        notes,
    )


def _covariate_columns(
    covariate: pd.Series | None, population: list[str]
) -> tuple[np.ndarray, list[str]]:
    if covariate is None:
        return np.empty((len(population), 0)), []
    values = covariate.reindex(population)
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all():
        return numeric.to_numpy(dtype=float)[:, None], [str(covariate.name)]
    counts = values.value_counts()
    reference = sorted(counts[counts == counts.max()].index)[0]
    levels = sorted(v for v in counts.index if v != reference)
    matrix = np.column_stack([(values == level).to_numpy(dtype=float) for level in levels])
    return matrix, [f"{covariate.name}={level}" for level in levels]


def _check_rank(x: np.ndarray, names: list[str], where: str) -> None:
    if np.linalg.matrix_rank(x) == x.shape[1]:
        return
    absent = [n for k, n in enumerate(names) if k and not x[:, k].any()]
    what = (
        f"{', '.join(absent)} never occur(s) on the {where}"
        if absent
        else f"the terms are collinear on the {where}"
    )
    raise AnalysisError(
        f"the regression cannot be fitted: {what}",
        hint="code a larger gold sample, or leave the covariate out",
    )


def _check_separation(x: np.ndarray, y: np.ndarray, names: list[str], outcome: str) -> None:
    """A logistic fit on the gold items has no finite estimate when the outcome is constant on
    them, or on every gold item with some indicator (a code or a covariate level)."""
    if len(set(y)) < 2:
        raise AnalysisError(
            f"outcome {outcome!r} takes one value on every gold item",
            hint="code a larger gold sample",
        )
    separated = []
    for k, name in enumerate(names[1:], start=1):
        column = x[:, k]
        if set(np.unique(column)) <= {0.0, 1.0} and column.any():
            values = set(y[column == 1])
            if len(values) == 1:
                count = int(column.sum())
                separated.append(f"{name} ({count} item(s), all {int(values.pop())})")
    if separated:
        raise AnalysisError(
            f"the logistic regression of {outcome!r} has no finite estimate: on the gold items "
            f"the outcome is constant for {', '.join(separated)}",
            hint="code a larger gold sample, merge rare codes, or leave the covariate out",
        )


def _classical(kind: Kind, x: np.ndarray, y: np.ndarray) -> list[Estimate]:
    low, high = classical_glm(kind, x, y).ci()
    return [
        Estimate(float((lo + hi) / 2), float(lo), float(hi))
        for lo, hi in zip(low, high, strict=True)
    ]


def _effective_n(classical: Estimate, ppi: Estimate, n_gold: int) -> float | None:
    if classical.width() <= 0 or ppi.width() <= 0:
        return None
    return n_gold * (classical.width() / ppi.width()) ** 2


def _sets(codes: pd.DataFrame) -> dict[str, set[str]]:
    usable = codes.dropna(subset=["code"])
    return {str(i): set(g) for i, g in usable.groupby(usable["item_id"].astype(str))["code"]}


def _ids(ids: list[str]) -> str:
    return ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
