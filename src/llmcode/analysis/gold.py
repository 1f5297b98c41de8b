"""The study's statistics corrected by a gold sample: shares and resolution times by PPI.

`analyze_gold` takes the analysed (LLM) codes, a gold coder's codes on a random sample of the
items, and optionally the resolution times and the PTM split, and returns a `GoldAnalysis`:
per code the share of items with that code (naive / classical / PPI, effective n), the same
for the PTM share, the mean log resolution days per code and their pairwise differences by
PPI, the rank tests on the LLM's and on the gold codes with a line saying whether their
conclusions agree, and an optional plan for more gold items. The population is the items the
analysis counts (those with at least one analysed code); gold items outside it are left out.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from llmcode.analysis.active import active_mean_estimates
from llmcode.analysis.ppi import (
    MIN_GROUP_GOLD,
    Z95,
    Estimate,
    GroupMean,
    MeanEstimates,
    group_difference,
    group_mean,
    mean_estimates,
    plan_gold,
)
from llmcode.analysis.ppi_regression import PpiRegression
from llmcode.analysis.resolution import compare_categories
from llmcode.analysis.significance import ManyGroupTest
from llmcode.errors import AnalysisError
from llmcode.numbers import format_p_clause, json_number

MIN_GOLD = 10
MIN_DAYS = 1 / 1440  # one minute: the floor before taking logs
ALPHA = 0.05


def sampling_record(path: str | Path) -> dict[str, Any] | None:
    """The sidecar ``<gold>.json`` that `llmcode sample` writes next to a sample, if any."""
    sidecar = Path(f"{path}.json")
    if not sidecar.is_file():
        return None
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


@dataclass(frozen=True)
class PairDifference:
    """The PPI difference of two codes' mean log days, adjusted for the number of pairs.

    ``estimate`` is the plain 95% interval; ``adjusted`` the Bonferroni interval at level
    1 − 0.05/m for m pairs (all m hold together with 95% confidence), and ``p_adjusted`` the
    Bonferroni p-value min(1, m·p) of the Wald test the interval inverts, so a pair's adjusted
    interval excludes 0 exactly when its adjusted p is below 0.05."""

    a: str
    b: str
    estimate: Estimate
    p_value: float
    p_adjusted: float
    adjusted: Estimate

    @property
    def differs(self) -> bool:
        return self.adjusted.low > 0 or self.adjusted.high < 0


ADJUSTMENT = "bonferroni"
"""How the pairwise PPI differences are adjusted for multiple comparisons (JSON key
``adjustment``): Bonferroni, whose intervals match its p-values (Holm's step-down has no
intervals that do)."""


def adjust_differences(differences: list[tuple[str, str, Estimate]]) -> list[PairDifference]:
    """Each difference with its Wald p-value and its Bonferroni p and interval over them all."""
    from scipy.stats import norm

    m = len(differences)
    z_adjusted = float(norm.ppf(1 - ALPHA / (2 * max(m, 1))))
    out = []
    for a, b, e in differences:
        se = (e.high - e.low) / (2 * Z95)
        p = float(2 * norm.sf(abs(e.estimate) / se)) if se > 0 else float(e.estimate == 0)
        half = z_adjusted * se
        adjusted = Estimate(e.estimate, e.estimate - half, e.estimate + half)
        out.append(PairDifference(a, b, e, p, min(1.0, m * p), adjusted))
    return out


@dataclass
class GoldResolution:
    """Mean log days per code by PPI, pairwise differences, rank tests on LLM vs gold codes."""

    means: dict[str, GroupMean]
    differences: list[PairDifference]
    llm_test: ManyGroupTest
    gold_test: ManyGroupTest
    agree: bool
    verdict: str


@dataclass
class GoldAnalysis:
    """Everything `analyze_gold` computes, with the gold's provenance."""

    source: str
    coder: str | None
    n_items: int
    n_gold: int
    sampling: dict[str, Any] | None
    prevalence: dict[str, MeanEstimates]
    screening: MeanEstimates | None = None
    resolution: GoldResolution | None = None
    plan: dict[str, Any] | None = None
    regressions: list[PpiRegression] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what puts the CIs' validity in doubt

    def to_json(self) -> dict[str, Any]:
        """``prevalence`` (the stable contract) and ``ppi`` (provenance and the rest)."""
        out: dict[str, Any] = {
            "gold": self.source,
            "gold_coder": self.coder,
            "n_items": self.n_items,
            "n_gold": self.n_gold,
            "sampling_record": self.sampling is not None,
            "method": "PPI++ (ppi-python): power-tuned prediction-powered inference, 95% CIs",
            "lambda": {code: est.lam for code, est in self.prevalence.items()},
            "screening": {"ptm": _share_json(self.screening)} if self.screening else None,
            "resolution": _resolution_json(self.resolution) if self.resolution else None,
            "plan": self.plan,
            "regressions": {r.outcome: r.to_json() for r in self.regressions},
            "warnings": self.warnings,
            "notes": self.notes,
        }
        prevalence = {code: _share_json(est) for code, est in self.prevalence.items()}
        return {"prevalence": prevalence, "ppi": out}

    def tables(self) -> dict[str, pd.DataFrame]:
        rows = []
        shares = dict(self.prevalence)
        if self.screening is not None:
            shares["ptm (screening)"] = self.screening
        for code, est in shares.items():
            row: dict[str, Any] = {"code": code}
            for kind in ("naive", "classical", "ppi"):
                e = getattr(est, kind)
                row |= {kind: e.estimate, f"{kind}_low": e.low, f"{kind}_high": e.high}
            rows.append(row | {"effective_n": est.effective_n, "n_gold": est.n_gold})
        out = {"prevalence_ppi": pd.DataFrame(rows)}
        if self.resolution is not None:
            out["resolution_ppi"] = pd.DataFrame(
                [
                    {
                        "a": d.a,
                        "b": d.b,
                        "difference": d.estimate.estimate,
                        "low": d.estimate.low,
                        "high": d.estimate.high,
                        f"low_{ADJUSTMENT}": d.adjusted.low,
                        f"high_{ADJUSTMENT}": d.adjusted.high,
                        f"p_{ADJUSTMENT}": d.p_adjusted,
                    }
                    for d in self.resolution.differences
                ]
            )
        for regression in self.regressions:
            out[f"regression_{regression.outcome}"] = regression.table()
        return out


def analyze_gold(
    llm: pd.DataFrame,
    gold: pd.DataFrame,
    *,
    source: str,
    coder: str | None,
    order: list[str],
    sampling: dict[str, Any] | None = None,
    times: pd.DataFrame | None = None,
    split: pd.Series | None = None,
    gold_split: pd.Series | None = None,
    plan_width: float | None = None,
) -> GoldAnalysis:
    """PPI shares per code (and PTM share), PPI resolution means and the plan; see the module."""
    notes: list[str] = []
    warnings: list[str] = []
    population = list(dict.fromkeys(llm.dropna(subset=["code"])["item_id"].astype(str)))
    in_gold = set(gold["item_id"].astype(str))
    outside = sorted(in_gold - set(population))
    if outside:
        notes.append(
            f"{len(outside)} gold item(s) are not among the analysed items and are left out: "
            + ", ".join(outside[:5])
            + (" ..." if len(outside) > 5 else "")
        )
    labeled = np.array([i in in_gold for i in population])
    n_gold = int(labeled.sum())
    if sampling is None and n_gold == len(population):
        notes.append(
            "every analysed item has gold codes (a census, not a sample): the classical "
            "estimates are the gold coder's own shares"
        )
    elif sampling is None:
        warnings.append(
            f"{source} has no sampling record ({source}.json): PPI is valid only if the gold "
            "items are a uniform random sample of the items; draw one with `llmcode sample`"
        )
    elif sampling.get("stratify"):
        notes.append(
            f"the gold sample is stratified by '{sampling['stratify']}'; the estimates treat it "
            "as a simple random sample (valid when the strata are sampled in proportion)"
        )
    if n_gold < MIN_GOLD:
        warnings.append(f"only {n_gold} gold item(s): the CIs are rough below {MIN_GOLD}")
    result = GoldAnalysis(
        source, coder, len(population), n_gold, sampling, {}, notes=notes, warnings=warnings
    )
    if n_gold < 2:
        notes.append("PPI needs at least 2 gold items among the analysed items")
        return result
    codes = _codes_in_order(llm, gold, order)
    llm_sets, gold_sets = _sets(llm), _sets(gold)
    pi = _inclusion(sampling, population, in_gold)
    for code in codes:
        yhat = np.array([code in llm_sets.get(i, ()) for i in population], dtype=float)
        y = np.array([code in gold_sets.get(i, ()) for i in population], dtype=float)
        result.prevalence[code] = (
            mean_estimates(y[labeled], yhat[labeled], yhat[~labeled], bounds=(0.0, 1.0))
            if pi is None
            else active_mean_estimates(
                y[labeled], yhat[labeled], pi, yhat[~labeled], bounds=(0.0, 1.0)
            )
        )
    if pi is not None:
        notes.append(
            "the gold items were drawn by the model's uncertainty (sampling record): shares by "
            "active inference, each gold item weighted by 1/its inclusion probability; "
            "the PTM share, resolution times, regressions and the plan assume a uniform sample "
            "and are left out"
        )
        return result
    if split is not None and gold_split is not None:
        result.screening = _screening(split, gold_split, notes)
    if times is not None:
        result.resolution = _resolution(notes, times, llm, gold, population, in_gold, codes)
    if plan_width is not None:
        result.plan = _plan(result, plan_width)
    return result


def uncertainty_sampled(sampling: dict[str, Any] | None) -> bool:
    """Whether a sampling record says the gold was drawn by the model's uncertainty."""
    return bool(sampling) and (sampling or {}).get("strategy") == "uncertainty"


def _inclusion(
    sampling: dict[str, Any] | None, population: list[str], in_gold: set[str]
) -> np.ndarray | None:
    """The gold items' inclusion probabilities (population order) from an uncertainty sample's
    record (None for a uniform sample). A gold item the record does not list, or a drawn item
    without gold codes (the estimator needs every drawn item), is an error naming them."""
    if not uncertainty_sampled(sampling):
        return None
    known = (sampling or {}).get("inclusion_probabilities") or {}
    gold_items = [i for i in population if i in in_gold]
    missing = [i for i in gold_items if i not in known]
    if missing:
        raise AnalysisError(
            f"{len(missing)} gold item(s) have no inclusion probability in the sampling record: "
            + ", ".join(missing[:10]),
            hint="the gold must be items drawn by that `llmcode sample --strategy uncertainty`",
        )
    uncoded = sorted(set(known) & set(population) - in_gold)
    if uncoded:
        raise AnalysisError(
            f"{len(uncoded)} drawn item(s) have no gold code: " + ", ".join(uncoded[:10]),
            hint="code every drawn item (the code 'none' when no code applies): the weights "
            "are only right for the whole draw",
        )
    return np.array([float(known[i]) for i in gold_items])


def _screening(split: pd.Series, gold_split: pd.Series, notes: list[str]) -> MeanEstimates | None:
    items = [str(i) for i in split.index]
    labeled = np.array([i in gold_split.index for i in items])
    if labeled.sum() < 2:
        notes.append("PTM share: fewer than 2 gold screening items among the screened items")
        return None
    yhat = np.array([split[i] == "ptm" for i in items], dtype=float)
    y = np.array([gold_split.get(i) == "ptm" for i in items], dtype=float)
    return mean_estimates(y[labeled], yhat[labeled], yhat[~labeled], bounds=(0.0, 1.0))


def _resolution(
    notes: list[str],
    times: pd.DataFrame,
    llm: pd.DataFrame,
    gold: pd.DataFrame,
    population: list[str],
    in_gold: set[str],
    codes: list[str],
) -> GoldResolution:
    closed = times[~times["open"] & times["item_id"].isin(population)]
    ids = closed["item_id"].astype(str).tolist()
    values = np.log(np.maximum(closed["days"].to_numpy(dtype=float), MIN_DAYS))
    labeled = np.array([i in in_gold for i in ids])
    llm_sets, gold_sets = _sets(llm), _sets(gold)
    member = {
        code: (
            np.array([code in gold_sets.get(i, ()) for i in ids]),
            np.array([code in llm_sets.get(i, ()) for i in ids]),
        )
        for code in codes
    }
    means = {code: group_mean(values, g, h, labeled) for code, (g, h) in member.items()}
    usable = [c for c in codes if means[c].ppi is not None]
    if len(usable) < len(codes):
        notes.append(
            f"no PPI mean log days for {', '.join(c for c in codes if c not in usable)}: fewer "
            f"than {MIN_GROUP_GOLD} closed gold items with the code (by the gold or the LLM)"
        )
    differences = []
    for a, b in itertools.combinations(usable, 2):
        diff = group_difference(
            values, (member[a][0], member[b][0]), (member[a][1], member[b][1]), labeled
        )
        if diff is not None:
            differences.append((a, b, diff))
    population_times = times[times["item_id"].isin(population)]
    _, llm_test = compare_categories(population_times, llm, codes)
    gold_times = population_times[population_times["item_id"].isin(in_gold)]
    _, gold_test = compare_categories(gold_times, gold, codes)
    adjusted = adjust_differences(differences)
    agree, verdict = _verdict(llm_test, gold_test, adjusted)
    return GoldResolution(means, adjusted, llm_test, gold_test, agree, verdict)


def _verdict(
    llm: ManyGroupTest, gold: ManyGroupTest, differences: list[PairDifference]
) -> tuple[bool, str]:
    """Whether Kruskal–Wallis and Dunn (Holm) say the same with the LLM's and the gold codes,
    and which pairs the PPI differences (Bonferroni-adjusted) tell apart. Pairs are named by
    their codes; "no pair" says there is none (a code may be called ``none``)."""

    def reading(test: ManyGroupTest) -> tuple[bool | None, set[tuple[str, str]]]:
        significant = None if test.p_value is None else test.p_value < ALPHA
        pairs = {(min(d.a, d.b), max(d.a, d.b)) for d in test.dunn if d.p_adjusted < ALPHA}
        return significant, pairs

    (kw_llm, pairs_llm), (kw_gold, pairs_gold) = reading(llm), reading(gold)
    agree = kw_llm == kw_gold and pairs_llm == pairs_gold
    word = {True: "significant", False: "not significant", None: "undefined"}
    text = (
        f"Kruskal–Wallis is {word[kw_llm]} with the LLM's codes "
        f"({format_p_clause(llm.p_value)}) and {word[kw_gold]} with the gold codes "
        f"({format_p_clause(gold.p_value)}); pairs of codes that Dunn's test (Holm-adjusted "
        f"p < {ALPHA}) tells apart: with the LLM's codes {_pairs(pairs_llm)}, with the gold "
        f"codes {_pairs(pairs_gold)}"
    )
    ppi_pairs = {(min(d.a, d.b), max(d.a, d.b)) for d in differences if d.differs}
    text += (
        f"; PPI differences whose Bonferroni-adjusted 95% CI ({len(differences)} pair(s)) "
        f"excludes 0: {_pairs(ppi_pairs)}."
    )
    lead = "Conclusions agree" if agree else "Conclusions differ"
    if agree and ppi_pairs != pairs_gold:
        lead += " (rank tests; the PPI differences single out other pairs)"
    return agree, f"{lead}. {text}"


def _plan(result: GoldAnalysis, width: float) -> dict[str, Any]:
    estimates = list(result.prevalence.values())
    if result.screening is not None:
        estimates.append(result.screening)
    needed, widest = plan_gold(estimates, width, result.n_items)
    return {
        "width": width,
        "widest_ci_width": widest,
        "n_gold": result.n_gold,
        "n_gold_needed": needed,
        "more_gold_items": None if needed is None else max(0, needed - result.n_gold),
        "reachable": needed is not None,
    }


def _codes_in_order(llm: pd.DataFrame, gold: pd.DataFrame, order: list[str]) -> list[str]:
    seen = list(dict.fromkeys([*llm["code"].dropna(), *gold["code"].dropna()]))
    return [c for c in order if c in seen] + sorted(c for c in seen if c not in order)


def _sets(codes: pd.DataFrame) -> dict[str, set[str]]:
    usable = codes.dropna(subset=["code"])
    return {str(i): set(g) for i, g in usable.groupby(usable["item_id"].astype(str))["code"]}


def _share_json(est: MeanEstimates) -> dict[str, Any]:
    return {
        "naive": est.naive.to_json(),
        "classical": est.classical.to_json(),
        "ppi": est.ppi.to_json(),
        "effective_n": est.effective_n,
    }


def _resolution_json(res: GoldResolution) -> dict[str, Any]:
    def est(e: Estimate | None) -> dict[str, Any] | None:
        return None if e is None else e.to_json()

    return {
        "estimand": "mean of log(days to close) per code, closed items (open items left out, as "
        "in the rank tests); exp() of it is the geometric mean in days",
        "mean_log_days": {
            code: {"naive": est(m.naive), "classical": est(m.classical), "ppi": est(m.ppi)}
            for code, m in res.means.items()
        },
        "differences": [
            {
                "a": d.a,
                "b": d.b,
                **d.estimate.to_json(),
                "p_value": json_number(d.p_value),
                "p_adjusted": json_number(d.p_adjusted),
                "ci95_adjusted": d.adjusted.to_json()["ci95"],
            }
            for d in res.differences
        ],
        "adjustment": {
            "method": ADJUSTMENT,
            "n_comparisons": len(res.differences),
            "familywise_alpha": ALPHA,
            "applies_to": "p_adjusted and ci95_adjusted of each difference (ci95 is unadjusted)",
        },
        "rank_tests": {
            "llm": {
                "kruskal_h": json_number(res.llm_test.kruskal_h),
                "p_value": json_number(res.llm_test.p_value),
            },
            "gold": {
                "kruskal_h": json_number(res.gold_test.kruskal_h),
                "p_value": json_number(res.gold_test.p_value),
            },
        },
        "conclusions_agree": res.agree,
        "agreement": res.verdict,
    }


def _pairs(pairs: set[tuple[str, str]]) -> str:
    """Pairs of codes by name ("usage–loading", codes in quotes), or "no pair"."""
    return ", ".join(f"'{a}'–'{b}'" for a, b in sorted(pairs)) or "no pair"
