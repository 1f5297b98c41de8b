"""Evaluate runs against gold codes: per-run agreement with CIs, per-code scores, a human ceiling.

`evaluate` compares each run with the gold coder(s) on the gold items (see `eval_metrics` for how
several gold coders are pooled): accuracy, Cohen's κ, Gwet's AC1, Krippendorff's α and macro-F1,
each with a percentile bootstrap 95% CI; per code precision, recall, F1, support and one-vs-rest
κ with a CI, flagged as **guessing** when that κ is not credibly above chance (CI lower bound
≤ 0, or no CI and κ ≤ 0, or κ undefined). With two or more gold coders their own agreement on the
same items is the human ceiling. With several runs, `eval_paired` adds paired differences. Every
statistic of every run is computed on the same seeded item resamples. The result's JSON is the
contract of `llmcode eval --json` (keys: ``runs``, ``human_ceiling``, ``paired``, ...).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from llmcode.errors import AgreementError, CodesError, ConfigError
from llmcode.quality.agreement.bootstrap import bootstrap_replicates, percentile_interval
from llmcode.quality.alttest import AltTestResult, AltTestSettings, alt_test_run
from llmcode.quality.eval_ceiling import (
    Coefficient,
    HumanCeiling,
    ceiling_result,
    ceiling_statistics,
    explain,
)
from llmcode.quality.eval_inputs import (
    RunInput,
    as_run_input,
    at_level,
    check_gold,
    choose_gold_coders,
    load_gold,
    with_gold_codes,
)
from llmcode.quality.eval_metrics import (
    Comparison,
    FloatArray,
    Statistic,
    build_comparison,
    code_kappa_statistic,
    confusion,
    overall_statistics,
    per_code_scores,
)
from llmcode.quality.eval_paired import Paired, paired_results, paired_statistics
from llmcode.quality.gold import gold_in_split, second_look_warnings
from llmcode.quality.levels import roll_up
from llmcode.store.runs import Run
from llmcode.taxonomy.model import NONE_CODE, Level

OVERALL = ("accuracy", "cohen_kappa", "gwet_ac1", "krippendorff_alpha", "macro_f1")
MIN_ITEMS = 10


class CodeScore(BaseModel):
    precision: float
    recall: float
    f1: float
    support: int
    kappa: Coefficient
    guessing: bool


class RunEvaluation(BaseModel):
    run: str
    model: str
    prompt_hash: str | None
    n_items: int
    accuracy: Coefficient
    cohen_kappa: Coefficient
    gwet_ac1: Coefficient
    krippendorff_alpha: Coefficient
    macro_f1: Coefficient
    per_code: dict[str, CodeScore]
    cost_per_item_usd: float | None
    tokens_per_item: float | None
    settings: dict[str, Any]
    rank: int = 0
    confusion: dict[str, Any] | None = None
    disagreements: list[dict[str, Any]] = []
    alt_test: AltTestResult | None = None


class EvalResult(BaseModel):
    """Everything `llmcode eval` reports; ``model_dump(mode="json")`` is its JSON."""

    gold: dict[str, Any]
    runs: list[RunEvaluation]
    human_ceiling: HumanCeiling | None
    paired: list[Paired]
    bootstrap: dict[str, Any]
    warnings: list[str] = []
    notes: list[str] = []
    alt_test: AltTestResult | None = None
    """The alternative annotator test of the run when one run is evaluated (each run's is in
    ``runs``)."""
    contaminated: dict[str, int] = {}
    """Per run, the gold items it was shown as few-shot examples (scored only when allowed)."""


def evaluate(
    runs: Sequence[Run | RunInput | pd.DataFrame | str | Path],
    gold: pd.DataFrame | str | Path | Sequence[str | Path],
    *,
    coders: Sequence[str] | None = None,
    items: Sequence[str] | None = None,
    splits: str | Path | None = None,
    split: str | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    runs_dir: str | Path | None = None,
    alt_test: AltTestSettings | None = None,
    allow_contaminated: bool = False,
    level: Level | None = None,
) -> EvalResult:
    """Compare ``runs`` (runs, run directories, ids in ``runs_dir``, or one coder's codes made
    elsewhere: a long-format file or DataFrame) with the ``gold`` codes (long format: a
    DataFrame or one or more files) on the gold items.

    ``level`` compares at that level of the runs' taxonomy: ``top`` rolls the runs' and the
    gold's subcategories up to their categories (a run coded at the leaves against gold coded
    at the categories).

    ``splits`` (a split file from `llmcode.quality.gold.draw_sample`) restricts the gold to
    ``split`` (dev or test; every split when None), with a warning for gold items it does not
    list; an evaluation on the test split is recorded in its sidecar, with a warning when it is
    a second look. ``items`` restricts the gold further. ``alt_test`` adds the alternative
    annotator test (`llmcode.quality.alttest`) of each run against the gold coders.

    A run shown gold items as few-shot examples is not scored on them (a ``ConfigError``
    naming the run and the count) unless ``allow_contaminated``; then ``contaminated`` counts
    them and the first warning says so.
    """
    if split is not None and splits is None:
        raise ConfigError(
            f"split {split!r} needs splits, the split file (item_id, split)",
            hint="pass the split file the gold sample was drawn with",
        )
    inputs = [as_run_input(run, runs_dir) for run in runs]
    codes = gold if isinstance(gold, pd.DataFrame) else load_gold(_paths(gold))
    if level is not None:
        scheme = next((r.taxonomy for r in inputs if r.taxonomy is not None), None)
        if scheme is None:
            raise ConfigError(f"level {level} needs a run (its taxonomy rolls the codes up)")
        inputs = [at_level(r, level) for r in inputs]
        codes = roll_up(codes, scheme, level)
    warnings: list[str] = []
    if splits is not None:
        codes, warnings = gold_in_split(codes, splits, split)
    result = _evaluate(
        inputs,
        codes,
        coders=coders,
        items=items,
        bootstrap=bootstrap,
        seed=seed,
        alt=alt_test,
        allow_contaminated=allow_contaminated,
    )
    if contaminated := result.contaminated:
        warnings = [
            f"contaminated: run {run} was shown {n} of the {result.gold['n_items']} gold "
            "item(s) as few-shot examples and is scored on them anyway (allowed)"
            for run, n in contaminated.items()
        ] + warnings
    if split == "test" and splits is not None:
        warnings += second_look_warnings(splits, [r.run for r in inputs])
    if not warnings:
        return result
    return result.model_copy(update={"warnings": [*warnings, *result.warnings]})


def _contaminated(runs: Sequence[RunInput], item_ids: list[str], allow: bool) -> dict[str, int]:
    """Per run, how many of the gold items it was shown as examples; refused unless ``allow``."""
    gold = set(item_ids)
    counts = {r.run: len(gold & r.shown_as_examples) for r in runs}
    counts = {run: n for run, n in counts.items() if n}
    if counts and not allow:
        said = "; ".join(
            f"run {run} was shown {n} of the {len(gold)} gold item(s) as few-shot examples"
            for run, n in counts.items()
        )
        raise ConfigError(
            f"{said}: scoring it on them would overstate its quality",
            hint="evaluate on items it never saw (a test split kept out with `splits`), or "
            "`allow_contaminated` to score it anyway",
        )
    return counts


def _paths(gold: str | Path | Sequence[str | Path]) -> list[str | Path]:
    return [gold] if isinstance(gold, str | Path) else list(gold)


def _evaluate(
    runs: Sequence[RunInput],
    gold: pd.DataFrame,
    *,
    coders: Sequence[str] | None,
    items: Sequence[str] | None,
    bootstrap: int,
    seed: int,
    alt: AltTestSettings | None = None,
    allow_contaminated: bool = False,
) -> EvalResult:
    """Compare ``runs`` with ``gold`` (long format) on the gold items (or ``items`` of them)."""
    if not runs:
        raise AgreementError("nothing to evaluate: give at least one run")
    if len({run.multi_label for run in runs}) > 1:
        raise AgreementError("the runs mix single-label and multi-label taxonomies")
    chosen = choose_gold_coders(gold, coders)
    gold = gold[gold["coder"].isin(chosen)]
    if items is not None:
        gold = gold[gold["item_id"].isin(set(items))]
    if gold.empty:
        raise CodesError(
            "no gold codes left to evaluate on", hint="check the gold coders and split"
        )
    runs = [with_gold_codes(run, gold) for run in runs]
    check_gold(gold, runs)
    item_ids = list(dict.fromkeys(gold["item_id"]))
    contaminated = _contaminated(runs, item_ids, allow_contaminated)
    warnings = []
    if len(item_ids) < MIN_ITEMS:
        warnings.append(
            f"only {len(item_ids)} gold item(s): with fewer than {MIN_ITEMS} the confidence "
            "intervals are too wide to mean anything; code a larger gold sample"
        )
    if bootstrap and len(item_ids) < 2:
        raise AgreementError(
            "bootstrapping needs at least two gold items", hint="set bootstrap to 0"
        )
    multi = runs[0].multi_label
    categories = _categories(runs, gold, multi)
    comparisons = [
        build_comparison(run.codes, gold, item_ids, categories=categories, multi_label=multi)
        for run in runs
    ]
    jobs: dict[Hashable, Statistic] = {}
    for i, comparison in enumerate(comparisons):
        for name, statistic in overall_statistics(comparison).items():
            jobs[(i, name)] = statistic
        for code in per_code_scores(comparison.ratings):
            jobs[(i, "code", code)] = code_kappa_statistic(comparison, code)
    ceiling_jobs, ceiling_info = ceiling_statistics(gold, chosen, item_ids, categories, multi)
    jobs.update(ceiling_jobs)
    if len(runs) > 1:
        jobs.update(paired_statistics(comparisons))
    values, replicates = _evaluate_jobs(jobs, len(item_ids), bootstrap, seed)
    notes: list[str] = []
    results = [_run_result(i, run, comparisons[i], values, notes) for i, run in enumerate(runs)]
    ranked = sorted(
        results, key=lambda r: -(r.cohen_kappa.value if r.cohen_kappa.value is not None else -2)
    )
    for rank, entry in enumerate(ranked, start=1):
        entry.rank = rank
    if alt is not None:
        for run, entry in zip(runs, results, strict=True):
            entry.alt_test = alt_test_run(run, gold, alt)
    ceiling = ceiling_result(ceiling_info, values) if ceiling_info else None
    if len(chosen) < 2:
        notes.append("one gold coder: no human ceiling (have a second person code the gold blind)")
    return EvalResult(
        gold={
            "coders": chosen,
            "n_items": len(item_ids),
            "n_codes": int(gold["code"].notna().sum()),
        },
        runs=results,
        human_ceiling=ceiling,
        paired=paired_results(runs, values, replicates) if len(runs) > 1 else [],
        bootstrap={
            "n_resamples": bootstrap,
            "seed": seed,
            "confidence": 0.95,
            "method": "percentile interval, gold items resampled with replacement, "
            "the same resamples for every run",
        },
        warnings=warnings,
        notes=notes,
        alt_test=results[0].alt_test if len(results) == 1 else None,
        contaminated=contaminated,
    )


def _categories(runs: Sequence[RunInput], gold: pd.DataFrame, multi: bool) -> list[str]:
    """The taxonomy codes (first run's order, then others'), plus ``none`` for single-label
    schemes when the gold or a run has an item with no code."""
    categories = list(dict.fromkeys(code for run in runs for code in run.targets))
    if not multi:
        gold_none = gold["code"].isna().any() or (gold["code"] == NONE_CODE).any()
        items = set(gold["item_id"])
        run_none = any(
            any(not run.codes.get(i) or NONE_CODE in run.codes[i] for i in items) for run in runs
        )
        if gold_none or run_none:
            categories.append(NONE_CODE)
    return categories


def _evaluate_jobs(
    jobs: dict[Hashable, Statistic], n_items: int, bootstrap: int, seed: int
) -> tuple[dict[Hashable, Coefficient], dict[Hashable, FloatArray]]:
    """Point value and CI of every statistic, and the replicates (for paired p-values)."""
    ones = np.ones((1, n_items))
    replicates = (
        bootstrap_replicates(n_items, jobs, n_resamples=bootstrap, seed=seed) if bootstrap else {}
    )
    values: dict[Hashable, Coefficient] = {}
    for key, statistic in jobs.items():
        value = float(statistic(ones)[0])
        if np.isnan(value):
            values[key] = Coefficient(value=None)
            continue
        ci = None
        if key in replicates:
            interval = percentile_interval(replicates[key])
            if interval.low is not None and interval.high is not None:
                ci = (interval.low, interval.high)
        values[key] = Coefficient(value=value, ci95=ci)
    return values, replicates


def is_guessing(kappa: Coefficient) -> bool:
    """Not credibly above chance: CI lower bound ≤ 0 (or, without a CI, κ ≤ 0), or undefined."""
    if kappa.value is None:
        return True
    if kappa.ci95 is not None:
        return kappa.ci95[0] <= 0
    return kappa.value <= 0


def _run_result(
    index: int,
    run: RunInput,
    comparison: Comparison,
    values: dict[Hashable, Coefficient],
    notes: list[str],
) -> RunEvaluation:
    ratings = comparison.ratings
    overall = {
        name: explain(TITLES[name], values[(index, name)], ratings, f"run {run.run}")
        for name in OVERALL
    }
    for entry in overall.values():
        if entry.note:
            notes.append(entry.note)
    per_code = {}
    for code, scores in per_code_scores(ratings).items():
        kappa = values[(index, "code", code)]
        if kappa.value is None:
            kappa = kappa.model_copy(
                update={
                    "note": f"one-vs-rest κ of {code!r} is undefined: "
                    "the model and the gold both applied it to every item or to none"
                }
            )
        per_code[code] = CodeScore(**scores, kappa=kappa, guessing=is_guessing(kappa))
    uncoded = sorted(i for i in set(comparison.pairs["item_id"]) if not run.codes.get(i))
    if uncoded:
        notes.append(
            f"run {run.run}: {len(uncoded)} gold item(s) have no code from the model "
            f"(counted as '{NONE_CODE}'): {', '.join(uncoded[:10])}"
        )
    labels, matrix = confusion(comparison) if not run.multi_label else ([], [])
    return RunEvaluation(
        run=run.run,
        model=run.model,
        prompt_hash=run.prompt_hash,
        n_items=len(set(comparison.pairs["item_id"])),
        **overall,
        per_code=per_code,
        cost_per_item_usd=run.cost_per_item_usd,
        tokens_per_item=run.tokens_per_item,
        settings=run.settings,
        confusion={"rows": "model", "columns": "gold", "labels": labels, "matrix": matrix}
        if labels
        else None,
        disagreements=_disagreements(run, comparison),
    )


def _disagreements(run: RunInput, comparison: Comparison) -> list[dict[str, Any]]:
    """Items where the run's codes differ from some gold coder's, with the justification."""
    pairs = comparison.pairs
    differ = pairs[pairs["model"] != pairs["gold"]]
    out = []
    for item_id in dict.fromkeys(differ["item_id"]):
        rows = pairs[pairs["item_id"] == item_id]
        out.append(
            {
                "item_id": item_id,
                "model": str(rows["model"].iloc[0]),
                "gold": dict(zip(rows["gold_coder"], rows["gold"].map(str), strict=True)),
                "justification": run.justifications.get(item_id, ""),
                "status": run.statuses.get(item_id, "pending"),
            }
        )
    return out


TITLES = {
    "accuracy": "accuracy",
    "cohen_kappa": "Cohen's κ",
    "gwet_ac1": "Gwet's AC1",
    "krippendorff_alpha": "Krippendorff's α",
    "macro_f1": "macro-F1",
}
