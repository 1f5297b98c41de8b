"""The alternative annotator test: may the model replace one of the human coders?

Calderon, Reichart & Dror, "The Alternative Annotator Test for LLM-as-a-Judge" (ACL 2025), as
their published implementation (github.com/nitaytech/AltTest) computes it. Leave one human coder
j out at a time. On each item j coded that at least one other coder coded too, score how well
the model's annotation and j's annotation align with the *other* coders' annotations (accuracy
for nominal codes, negative RMSE for numeric ones); the model "wins" the item when its score is
at least j's, j wins when j's is at least the model's (a tie is a win for both). With d_i =
j-wins_i − model-wins_i, a one-sided one-sample t-test of H0: mean(d) ≥ ε against H1: mean(d) < ε
(ε, the cost-benefit margin, by default 0.2 for expert coders) gives j's p-value. The
Benjamini–Yekutieli procedure at level q (0.05) over the coders decides which nulls are
rejected; the winning rate ω is the share of coders whose null is rejected, and the model
passes when ω ≥ 0.5. The advantage probability ρ is the mean over coders of the share of items
the model wins.

Where we are stricter than the reference code, we refuse rather than skip: fewer than two human
coders, a coder with fewer than 30 items shared with another coder (the t-test's normality
minimum), an item the humans coded that the model never answered. Items that only one human
coded cannot be compared and are left out, as in the reference, and listed in the result.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Hashable, Mapping, Sequence
from enum import StrEnum

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict
from scipy.stats import ttest_1samp

from llmcode.errors import AgreementError, CodesError, ConfigError
from llmcode.quality.eval_inputs import RunInput
from llmcode.taxonomy.model import NONE_CODE

MIN_ITEMS_PER_CODER = 30
MIN_CODERS_PER_ITEM = 2
EPSILON = 0.2
Q = 0.05
_SHOWN = 10
_ANSWERED = ("ok", "unverified")

Annotation = Hashable


class AltTestMetric(StrEnum):
    """How an annotation is scored against the other coders' annotations of the same item."""

    accuracy = "accuracy"  # share of the other coders who gave the same code (or code set)
    neg_rmse = "neg_rmse"  # minus the root mean squared difference (numeric codes)


class CoderTest(BaseModel):
    """The comparison of the model with one left-out human coder."""

    n_items: int
    model_advantage: float
    """ρ_j: share of the coder's items where the model aligns with the others at least as well."""
    coder_advantage: float
    """Share of the coder's items where the coder aligns with the others at least as well."""
    t_statistic: float | None
    p_value: float
    rejected: bool


class AltTestResult(BaseModel):
    """The outcome; ``model_dump(mode="json")`` is ``alt_test`` of ``llmcode eval --json``."""

    winning_rate: float
    advantage_probability: float
    epsilon: float
    q: float
    metric: AltTestMetric
    passed: bool
    per_coder: dict[str, CoderTest]
    n_items: int
    excluded_items: list[str] = []
    """Items coded by fewer than two human coders: no one to compare with, left out."""


class AltTestSettings(BaseModel):
    """How `evaluate` runs the test on each run: ε, the false discovery rate q, the metric."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    epsilon: float = EPSILON
    q: float = Q
    metric: AltTestMetric = AltTestMetric.accuracy


def alt_test_settings(
    enabled: bool,
    *,
    epsilon: float | None = None,
    q: float | None = None,
    metric: AltTestMetric | str | None = None,
) -> AltTestSettings | None:
    """The settings when the test is asked for; ε, q or a metric without it is an error."""
    given = [
        name
        for name, value in (("epsilon", epsilon), ("q", q), ("alt_metric", metric))
        if value is not None
    ]
    if not enabled:
        if given:
            raise ConfigError(
                f"{', '.join(given)} only apply to the alternative annotator test",
                hint="ask for the test (alt_test) or leave them out",
            )
        return None
    settings = AltTestSettings(
        epsilon=EPSILON if epsilon is None else epsilon,
        q=Q if q is None else q,
        metric=_metric(metric or AltTestMetric.accuracy),
    )
    _check_settings(settings.epsilon, settings.q)
    return settings


def alt_test(
    model: Mapping[str, Annotation],
    humans: Mapping[str, Mapping[str, Annotation]],
    *,
    metric: AltTestMetric | str = AltTestMetric.accuracy,
    epsilon: float = EPSILON,
    q: float = Q,
    min_items_per_coder: int = MIN_ITEMS_PER_CODER,
) -> AltTestResult:
    """Run the test on the model's annotations (item -> annotation) and the humans' (coder ->
    item -> annotation). Annotations are compared with ``==`` (accuracy) or as numbers
    (``neg_rmse``)."""
    metric = _metric(metric)
    _check_settings(epsilon, q)
    if len(humans) < MIN_CODERS_PER_ITEM:
        raise AgreementError(
            f"the alternative annotator test needs at least {MIN_CODERS_PER_ITEM} human coders; "
            f"the human codes have {len(humans)} ({', '.join(humans) or 'none'})",
            hint="have a second person code the same items blind (Calderon et al. recommend "
            "three or more coders over 50-100 items)",
        )
    coders_of: dict[str, list[str]] = {}
    for coder, coded in humans.items():
        for item in coded:
            coders_of.setdefault(item, []).append(coder)
    shared = {i for i, coders in coders_of.items() if len(coders) >= MIN_CODERS_PER_ITEM}
    unanswered = sorted(i for i in shared if i not in model)
    if unanswered:
        raise AgreementError(
            f"{len(unanswered)} item(s) coded by the humans have no code from the model: "
            f"{_ids(unanswered)}",
            hint="resume the run so every item is coded, or leave those items out of the "
            "human codes",
        )
    short = {
        coder: n
        for coder, coded in humans.items()
        if (n := sum(1 for i in coded if i in shared)) < min_items_per_coder
    }
    if short:
        counts = ", ".join(f"{coder} has {n}" for coder, n in short.items())
        raise AgreementError(
            f"the alternative annotator test needs at least {min_items_per_coder} items per "
            f"coder that another coder also coded: {counts}",
            hint="have them code more items (50-100 are recommended), or leave them out "
            "with --coder",
        )
    score = _SCORES[metric]
    numeric = metric is AltTestMetric.neg_rmse
    tests: dict[str, tuple[int, float, float, float | None, float]] = {}
    for left_out, coded in humans.items():
        model_wins, coder_wins = [], []
        for item, own in coded.items():
            if item not in shared:
                continue
            others = [humans[c][item] for c in coders_of[item] if c != left_out]
            coder_score = score(_value(own, numeric), [_value(o, numeric) for o in others])
            model_score = score(_value(model[item], numeric), [_value(o, numeric) for o in others])
            model_wins.append(1 if model_score >= coder_score else 0)
            coder_wins.append(1 if coder_score >= model_score else 0)
        diffs = np.array(coder_wins, dtype=float) - np.array(model_wins, dtype=float)
        statistic, p_value = one_sided_ttest(diffs, epsilon)
        tests[left_out] = (
            len(diffs),
            float(np.mean(model_wins)),
            float(np.mean(coder_wins)),
            statistic,
            p_value,
        )
    rejected = benjamini_yekutieli([t[4] for t in tests.values()], q)
    per_coder = {
        coder: CoderTest(
            n_items=n,
            model_advantage=rho,
            coder_advantage=own,
            t_statistic=statistic,
            p_value=p_value,
            rejected=reject,
        )
        for (coder, (n, rho, own, statistic, p_value)), reject in zip(
            tests.items(), rejected, strict=True
        )
    }
    winning_rate = sum(rejected) / len(per_coder)
    return AltTestResult(
        winning_rate=winning_rate,
        advantage_probability=float(np.mean([t.model_advantage for t in per_coder.values()])),
        epsilon=epsilon,
        q=q,
        metric=metric,
        passed=winning_rate >= 0.5,
        per_coder=per_coder,
        n_items=len(shared),
        excluded_items=sorted(set(coders_of) - shared),
    )


def one_sided_ttest(diffs: np.ndarray, epsilon: float) -> tuple[float | None, float]:
    """t statistic and p-value of H0: mean(diffs) ≥ ε against H1: mean(diffs) < ε.

    Constant differences have no variance: the mean is then known exactly, so p is 0 when it
    is below ε and 1 otherwise (scipy gives the same 0 and 1, or NaN at exactly ε, with a
    precision warning)."""
    if np.ptp(diffs) == 0:
        below = float(diffs[0]) < epsilon
        return (-math.inf if below else math.inf), (0.0 if below else 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = ttest_1samp(diffs, epsilon, alternative="less")
    return float(result.statistic), float(result.pvalue)


def benjamini_yekutieli(p_values: Sequence[float], q: float) -> list[bool]:
    """Which nulls the Benjamini–Yekutieli step-up procedure rejects at false discovery rate q:
    the k smallest p-values, for the largest k with p_(k) ≤ k/m · q / (1 + 1/2 + … + 1/m)."""
    m = len(p_values)
    if m == 0:
        return []
    order = np.argsort(np.asarray(p_values, dtype=float), kind="stable")
    harmonic = float(np.sum(1.0 / np.arange(1, m + 1)))
    thresholds = np.arange(1, m + 1) / m * (q / harmonic)
    below = np.asarray(p_values, dtype=float)[order] <= thresholds
    k = int(np.nonzero(below)[0].max()) + 1 if below.any() else 0
    rejected = [False] * m
    for index in order[:k]:
        rejected[int(index)] = True
    return rejected


def alt_test_run(
    run: RunInput, human: pd.DataFrame, settings: AltTestSettings | None = None
) -> AltTestResult:
    """The test for a run (or codes read as one) against long-format human codes."""
    settings = settings or AltTestSettings()
    try:
        return alt_test(
            model_annotations(run, metric=settings.metric),
            human_annotations(human, multi_label=run.multi_label, metric=settings.metric),
            metric=settings.metric,
            epsilon=settings.epsilon,
            q=settings.q,
        )
    except AgreementError as exc:
        raise AgreementError(
            f"alternative annotator test of {run.run}: {exc.message}", exc.hint
        ) from exc


def model_annotations(
    run: RunInput, *, metric: AltTestMetric | str = "accuracy"
) -> dict[str, Annotation]:
    """Item -> the run's annotation, for the items the model answered (status ``ok`` or
    ``unverified``; an answer without codes is ``none``). Failed items have none."""
    metric = _metric(metric)
    answered = [i for i, status in run.statuses.items() if status in _ANSWERED] + [
        i for i in run.codes if i not in run.statuses
    ]
    return {
        item: annotation(
            run.codes.get(item) or [NONE_CODE],
            multi_label=run.multi_label,
            metric=metric,
            where=f"item {item} in {run.run}",
        )
        for item in answered
    }


def human_annotations(
    codes: pd.DataFrame, *, multi_label: bool, metric: AltTestMetric | str = "accuracy"
) -> dict[str, dict[str, Annotation]]:
    """Coder -> item -> annotation from long-format codes (item_id, coder, code).

    Single-label: the item's one code (an empty code is ``none``); several codes from one coder
    for one item are an error. Multi-label: the set of codes (``none`` and empty codes left
    out). ``neg_rmse``: the code read as a number."""
    metric = _metric(metric)
    out: dict[str, dict[str, Annotation]] = {}
    for (coder, item), rows in codes.groupby(["coder", "item_id"], sort=False):
        values = [NONE_CODE if pd.isna(c) else str(c) for c in rows["code"]]
        out.setdefault(str(coder), {})[str(item)] = annotation(
            values, multi_label=multi_label, metric=metric, where=f"item {item} by {coder}"
        )
    return out


def annotation(
    codes: Sequence[str], *, multi_label: bool, metric: AltTestMetric, where: str
) -> Annotation:
    """One coder's (or the model's) codes for one item as the test compares them."""
    distinct = list(dict.fromkeys(codes))
    if metric is AltTestMetric.neg_rmse:
        if len(distinct) != 1:
            raise CodesError(
                f"{where}: negative RMSE needs one numeric code per item, got {distinct}",
                hint="use the accuracy metric for nominal or multi-label codes",
            )
        try:
            return float(distinct[0])
        except ValueError as exc:
            raise CodesError(
                f"{where}: code {distinct[0]!r} is not a number",
                hint="negative RMSE is for numeric codes; use the accuracy metric",
            ) from exc
    if multi_label:
        return frozenset(c for c in distinct if c != NONE_CODE)
    named = [c for c in distinct if c != NONE_CODE] or [NONE_CODE]
    if len(named) > 1:
        raise CodesError(
            f"{where}: several codes ({', '.join(named)}) in a single-label scheme",
            hint="keep one code per item and coder",
        )
    return named[0]


def _accuracy(value: Annotation, others: list[Annotation]) -> float:
    return float(np.mean([value == other for other in others]))


def _neg_rmse(value: Annotation, others: list[Annotation]) -> float:
    return -float(np.sqrt(np.mean([(value - other) ** 2 for other in others])))  # type: ignore[operator]


_SCORES: dict[AltTestMetric, Callable[[Annotation, list[Annotation]], float]] = {
    AltTestMetric.accuracy: _accuracy,
    AltTestMetric.neg_rmse: _neg_rmse,
}


def _value(value: Annotation, numeric: bool) -> Annotation:
    if not numeric:
        return value
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise CodesError(
            f"annotation {value!r} is not a number",
            hint="negative RMSE is for numeric codes; use the accuracy metric",
        ) from exc


def _metric(metric: AltTestMetric | str) -> AltTestMetric:
    try:
        return AltTestMetric(metric)
    except ValueError as exc:
        raise ConfigError(
            f"unknown alt-test metric {metric!r}",
            hint=f"one of {', '.join(m.value for m in AltTestMetric)}",
        ) from exc


def _check_settings(epsilon: float, q: float) -> None:
    if not 0 <= epsilon < 1:
        raise ConfigError(
            f"epsilon {epsilon} is outside [0, 1)",
            hint="ε is a margin on a difference of win rates: 0.2 for experts, 0.15 for "
            "trained coders, 0.1 for crowd workers",
        )
    if not 0 < q < 1:
        raise ConfigError(f"q {q} is outside (0, 1)", hint="the false discovery rate, e.g. 0.05")


def _ids(ids: Sequence[str]) -> str:
    more = f" and {len(ids) - _SHOWN} more" if len(ids) > _SHOWN else ""
    return ", ".join(ids[:_SHOWN]) + more
