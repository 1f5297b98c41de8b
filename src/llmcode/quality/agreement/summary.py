"""One call from long-format codes to every coefficient, per-code figures and bootstrap CIs.

Decides which coefficients apply (Cohen's κ needs two coders, weighted κ ordered labels, the
Jaccard α sets), records why any value is missing, and runs all of them — overall and per code —
on the same seeded item resamples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from llmcode.quality.agreement import coefficients as coef
from llmcode.quality.agreement.bootstrap import bootstrap_replicates, percentile_interval
from llmcode.quality.agreement.inputs import MIN_COVERAGE, Input, agreement_codes
from llmcode.quality.agreement.ratings import Level, Ratings, build_ratings
from llmcode.quality.agreement.result import (
    AgreementResult,
    BootstrapInfo,
    CodeAgreement,
    ConfusionMatrix,
    PairAgreement,
    interpret,
)

Statistic = Callable[[coef.FloatArray], coef.FloatArray]
TITLES = {
    "percent_agreement": "Percent agreement",
    "cohen_kappa": "Cohen's κ",
    "weighted_kappa_linear": "Cohen's κ (linear)",
    "weighted_kappa_quadratic": "Cohen's κ (quadratic)",
    "fleiss_kappa": "Fleiss' κ",
    "krippendorff_alpha": "Krippendorff's α",
    "krippendorff_alpha_jaccard": "Krippendorff's α (Jaccard)",
    "gwet_ac1": "Gwet's AC1",
    "brennan_prediger": "Brennan–Prediger",
}


def compute_agreement(
    codes: pd.DataFrame | Input | Sequence[Input],
    *,
    coders: Sequence[str] | None = None,
    level: Level = "nominal",
    multi_label: bool = False,
    categories: Sequence[str] | None = None,
    bootstrap: int = 0,
    seed: int = 0,
    by_code: bool = False,
    confidence: float = 0.95,
    min_coverage: float = MIN_COVERAGE,
    runs_dir: str | Path | None = None,
) -> AgreementResult:
    """All coefficients for long-format codes (item_id, coder, code); see `build_ratings`.

    ``codes`` is a DataFrame, or code files, runs, run directories and run ids (in ``runs_dir``)
    read by `llmcode.quality.agreement.inputs.agreement_codes`: a run is a coder named after its
    model, and a run with less than ``min_coverage`` of its items coded is refused.
    `bootstrap` > 0 adds percentile CIs from that many item-level resamples drawn with `seed`;
    with `by_code` the per-code κ and α get CIs too (per-code point values are always there).
    """
    warnings: list[str] = []
    if not isinstance(codes, pd.DataFrame):
        codes, warnings = agreement_codes(codes, min_coverage=min_coverage, runs_dir=runs_dir)
    ratings = build_ratings(
        codes, coders=coders, level=level, multi_label=multi_label, categories=categories
    )
    result = summarize_ratings(
        ratings, bootstrap=bootstrap, seed=seed, by_code=by_code, confidence=confidence
    )
    return result.model_copy(update={"warnings": warnings}) if warnings else result


def summarize_ratings(
    ratings: Ratings,
    *,
    bootstrap: int = 0,
    seed: int = 0,
    by_code: bool = False,
    confidence: float = 0.95,
) -> AgreementResult:
    """`compute_agreement` for ratings already built."""
    statistics, undefined = _overall_statistics(ratings)
    sample = coef.ones(ratings)
    values: dict[str, float | None] = dict.fromkeys(TITLES)
    for name, statistic in statistics.items():
        value = float(statistic(sample)[0])
        if np.isnan(value):
            undefined[name] = coef.undefined_reason(ratings, _title(name, ratings))
        else:
            values[name] = value
    per_code = {code: _code_agreement(ratings, code) for code in ratings.base_codes}
    notes = _notes(ratings)
    ci95: dict[str, tuple[float, float]] = {}
    info = None
    if bootstrap:
        jobs: dict[tuple[str, ...], Statistic] = {
            (name,): statistic for name, statistic in statistics.items() if values[name] is not None
        }
        if by_code:
            for code, entry in per_code.items():
                for kind, statistic in _code_statistics(ratings, code).items():
                    if getattr(entry, kind) is not None:
                        jobs[(code, kind)] = statistic
        replicates = bootstrap_replicates(ratings.n_items, jobs, n_resamples=bootstrap, seed=seed)
        n_undefined: dict[str, int] = {}
        code_ci: dict[str, dict[str, tuple[float, float]]] = {}
        for key, values_b in replicates.items():
            interval = percentile_interval(values_b, confidence)
            label = key[0] if len(key) == 1 else f"{key[0]}/{key[1]}"
            if interval.n_undefined:
                n_undefined[label] = interval.n_undefined
            if interval.low is None or interval.high is None:
                continue
            if len(key) == 1:
                ci95[key[0]] = (interval.low, interval.high)
            else:
                code_ci.setdefault(key[0], {})[key[1]] = (interval.low, interval.high)
        notes.extend(_undefined_resamples_notes(n_undefined, bootstrap))
        per_code = {
            code: entry.model_copy(update={"ci95": code_ci.get(code, {})})
            for code, entry in per_code.items()
        }
        info = BootstrapInfo(
            n_resamples=bootstrap, seed=seed, confidence=confidence, n_undefined=n_undefined
        )
    two = ratings.n_coders == 2
    return AgreementResult(
        n_items=ratings.n_items,
        coders=list(ratings.coders),
        level=ratings.level,
        multi_label=ratings.multi_label,
        distance=coef.default_metric(ratings),
        categories=list(ratings.labels),
        n_codings=int((ratings.codes >= 0).sum()),
        percent_agreement=float(values["percent_agreement"] or 0.0),
        cohen_kappa=values["cohen_kappa"],
        weighted_kappa_linear=values["weighted_kappa_linear"],
        weighted_kappa_quadratic=values["weighted_kappa_quadratic"],
        fleiss_kappa=values["fleiss_kappa"],
        krippendorff_alpha=values["krippendorff_alpha"],
        krippendorff_alpha_jaccard=values["krippendorff_alpha_jaccard"],
        gwet_ac1=values["gwet_ac1"],
        brennan_prediger=values["brennan_prediger"],
        interpretation={
            name: band
            for name, value in values.items()
            if (band := interpret(name, value)) is not None
        },
        per_code=per_code,
        ci95=ci95,
        confusion=_confusion(ratings) if two else None,
        pairwise=None if two else _pairwise(ratings, notes),
        items_excluded=[str(item) for item in ratings.excluded_item_ids],
        undefined=undefined,
        notes=notes,
        bootstrap=info,
    )


def _title(name: str, ratings: Ratings) -> str:
    if name == "krippendorff_alpha":
        return f"Krippendorff's α ({coef.default_metric(ratings)})"
    return TITLES[name]


def _overall_statistics(ratings: Ratings) -> tuple[dict[str, Statistic], dict[str, str]]:
    """The coefficients that apply to these ratings, and why the others do not."""
    r = ratings
    statistics: dict[str, Statistic] = {
        "percent_agreement": partial(coef.percent_agreement_batch, r),
        "fleiss_kappa": partial(coef.fleiss_kappa_batch, r),
        "krippendorff_alpha": partial(coef.krippendorff_alpha_batch, r),
        "gwet_ac1": partial(coef.gwet_ac1_batch, r),
        "brennan_prediger": partial(coef.brennan_prediger_batch, r),
    }
    undefined: dict[str, str] = {}
    ordered = r.level in ("ordinal", "interval")
    if r.n_coders == 2:
        statistics["cohen_kappa"] = partial(coef.cohen_kappa_batch, r)
        if ordered:
            for weighting in ("linear", "quadratic"):
                statistics[f"weighted_kappa_{weighting}"] = partial(
                    coef.cohen_kappa_batch, r, weighting=weighting
                )
    else:
        undefined["cohen_kappa"] = (
            f"Cohen's κ needs exactly two coders ({r.n_coders} here); see Fleiss' κ and the "
            "pairwise matrix"
        )
    if r.n_coders != 2 or not ordered:
        undefined["weighted_kappa_linear"] = undefined["weighted_kappa_quadratic"] = (
            "weighted κ needs exactly two coders and ordinal or interval codes"
        )
    if r.multi_label:
        statistics["krippendorff_alpha_jaccard"] = partial(
            coef.krippendorff_alpha_batch, r, metric="jaccard"
        )
    else:
        undefined["krippendorff_alpha_jaccard"] = "the Jaccard α is for multi-label code sets"
    ordered_statistics = {name: statistics[name] for name in TITLES if name in statistics}
    return ordered_statistics, undefined


def _code_statistics(ratings: Ratings, code: str) -> dict[str, Statistic]:
    binary = ratings.indicator(code)
    kappa = coef.cohen_kappa_batch if ratings.n_coders == 2 else coef.fleiss_kappa_batch
    return {
        "kappa": partial(kappa, binary),
        "alpha": partial(coef.krippendorff_alpha_batch, binary, metric="nominal"),
    }


def _code_agreement(ratings: Ratings, code: str) -> CodeAgreement:
    binary = ratings.indicator(code)
    sample = coef.ones(binary)
    applied = binary.codes == 1
    n = int(applied.sum())
    total = int((binary.codes >= 0).sum())
    values: dict[str, float | None] = {}
    undefined: dict[str, str] = {}
    for kind, statistic in _code_statistics(ratings, code).items():
        value = float(statistic(sample)[0])
        values[kind] = None if np.isnan(value) else value
        if np.isnan(value):
            if n == 0:
                undefined[kind] = f"{code!r} was never applied to the compared items"
            elif n == total:
                undefined[kind] = f"{code!r} was applied to every compared item by every coder"
            else:
                undefined[kind] = coef.undefined_reason(binary, kind)
    return CodeAgreement(
        kappa=values["kappa"],
        alpha=values["alpha"],
        prevalence=n / total,
        n=n,
        n_items=int(applied.any(axis=1).sum()),
        percent_agreement=coef.percent_agreement(binary),
        counts={coder: int(applied[:, j].sum()) for j, coder in enumerate(ratings.coders)},
        undefined=undefined,
    )


def _confusion(ratings: Ratings) -> ConfusionMatrix:
    k = ratings.n_labels
    cells = ratings.codes[:, 0] * k + ratings.codes[:, 1]
    matrix = np.bincount(cells, minlength=k * k).reshape(k, k)
    return ConfusionMatrix(
        coders=(ratings.coders[0], ratings.coders[1]),
        labels=list(ratings.labels),
        matrix=matrix.tolist(),
    )


def _pairwise(ratings: Ratings, notes: list[str]) -> list[PairAgreement]:
    pairs = []
    for j, first in enumerate(ratings.coders):
        for second in ratings.coders[j + 1 :]:
            pair = ratings.select([first, second])
            if pair.n_items == 0:
                notes.append(f"{first} and {second} coded no item in common")
                pairs.append(PairAgreement(coders=(first, second), n_items=0, **_no_values()))
                continue
            sample = coef.ones(pair)
            kappa = float(coef.cohen_kappa_batch(pair, sample)[0])
            alpha = float(coef.krippendorff_alpha_batch(pair, sample)[0])
            if np.isnan(kappa) or np.isnan(alpha):
                notes.append(f"{first} × {second}: {coef.undefined_reason(pair, 'κ and α')}")
            pairs.append(
                PairAgreement(
                    coders=(first, second),
                    n_items=pair.n_items,
                    percent_agreement=coef.percent_agreement(pair),
                    cohen_kappa=None if np.isnan(kappa) else kappa,
                    krippendorff_alpha=None if np.isnan(alpha) else alpha,
                )
            )
    return pairs


def _no_values() -> dict[str, None]:
    return {"percent_agreement": None, "cohen_kappa": None, "krippendorff_alpha": None}


def _notes(ratings: Ratings) -> list[str]:
    notes = []
    excluded = len(ratings.excluded_item_ids)
    if excluded:
        shown = ", ".join(map(str, ratings.excluded_item_ids[:5]))
        more = ", ..." if excluded > 5 else ""
        notes.append(
            f"{excluded} item{'s' if excluded > 1 else ''} coded by fewer than two coders "
            f"{'were' if excluded > 1 else 'was'} left out ({shown}{more})"
        )
    return notes


def _undefined_resamples_notes(n_undefined: dict[str, int], total: int) -> list[str]:
    """One note per overall coefficient, one for all per-code figures, when resamples drew a
    single category (the coefficient is 0/0 there and its interval uses the other resamples)."""
    overall = [f"{name} in {count}" for name, count in n_undefined.items() if "/" not in name]
    codes: dict[str, int] = {}
    for name, count in n_undefined.items():
        if "/" in name:
            code = name.rsplit("/", 1)[0]
            codes[code] = max(codes.get(code, 0), count)
    notes = []
    if overall:
        notes.append(
            f"undefined in some of the {total} resamples (a single category was drawn): "
            f"{', '.join(overall)}; their intervals use the other resamples"
        )
    if codes:
        shown = ", ".join(f"{code} ({count})" for code, count in codes.items())
        notes.append(
            f"per-code κ/α undefined in some of the {total} resamples (the code was always or "
            f"never applied there): {shown}; their intervals use the other resamples"
        )
    return notes
