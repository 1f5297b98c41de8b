"""The human ceiling: how well the gold coders agree with each other on the gold items.

With two or more gold coders, their agreement (accuracy = percent agreement, Cohen's κ for two
coders or Fleiss' κ for more, Gwet's AC1, Krippendorff's α, macro-F1 for two, and one-vs-rest κ
per code) is what a model can fairly be held to. The statistics take weights over the gold items,
so they are bootstrapped on the same resamples as the runs.
"""

from __future__ import annotations

from collections.abc import Hashable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from llmcode.errors import AgreementError
from llmcode.quality.agreement import coefficients as coef
from llmcode.quality.agreement.ratings import Ratings, build_ratings
from llmcode.quality.eval_metrics import Statistic, macro_f1_batch
from llmcode.taxonomy.model import NONE_CODE


class Coefficient(BaseModel):
    """A value with its bootstrap 95% CI; ``value`` None means undefined (``note`` says why)."""

    value: float | None
    ci95: tuple[float, float] | None = None
    note: str | None = None


class HumanCeiling(BaseModel):
    coders: list[str]
    n_items: int
    accuracy: Coefficient
    macro_f1: Coefficient | None
    cohen_kappa: Coefficient
    gwet_ac1: Coefficient
    krippendorff_alpha: Coefficient
    kappa_kind: str
    per_code: dict[str, Coefficient] = {}


def explain(name: str, coefficient: Coefficient, ratings: Ratings, subject: str) -> Coefficient:
    if coefficient.value is not None:
        return coefficient
    reason = coef.undefined_reason(ratings, name)
    return coefficient.model_copy(update={"note": f"{subject}: {reason}"})


def ceiling_statistics(
    gold: pd.DataFrame,
    coders: list[str],
    item_ids: list[str],
    categories: list[str],
    multi: bool,
) -> tuple[dict[Hashable, Statistic], dict[str, Any] | None]:
    """The gold coders' agreement on the gold items (two or more coders)."""
    if len(coders) < 2:
        return {}, None
    frame = gold.copy()
    if multi:
        frame["code"] = frame["code"].where(frame["code"] != NONE_CODE)
    else:
        frame["code"] = frame["code"].fillna(NONE_CODE)
    try:
        ratings = build_ratings(frame, coders=coders, multi_label=multi, categories=categories)
    except AgreementError as exc:
        raise AgreementError(f"human ceiling: {exc.message}", hint=exc.hint) from exc
    position = {item: n for n, item in enumerate(item_ids)}
    columns = np.array([position[str(item)] for item in ratings.item_ids], dtype=np.int64)

    def on_items(statistic: Statistic) -> Statistic:
        return lambda weights: statistic(weights[:, columns])

    kappa = coef.cohen_kappa_batch if len(coders) == 2 else coef.fleiss_kappa_batch
    jobs: dict[Hashable, Statistic] = {
        ("ceiling", "accuracy"): on_items(partial(coef.percent_agreement_batch, ratings)),
        ("ceiling", "cohen_kappa"): on_items(partial(kappa, ratings)),
        ("ceiling", "gwet_ac1"): on_items(partial(coef.gwet_ac1_batch, ratings)),
        ("ceiling", "krippendorff_alpha"): on_items(
            partial(coef.krippendorff_alpha_batch, ratings)
        ),
    }
    if len(coders) == 2:
        jobs[("ceiling", "macro_f1")] = on_items(partial(macro_f1_batch, ratings))
    for code in ratings.base_codes:
        if ratings.membership[:, ratings.base_codes.index(code)].any():
            jobs[("ceiling", "code", code)] = on_items(partial(kappa, ratings.indicator(code)))
    info = {"coders": coders, "ratings": ratings, "two": len(coders) == 2}
    return jobs, info


def ceiling_result(info: dict[str, Any], values: dict[Hashable, Coefficient]) -> HumanCeiling:
    ratings = info["ratings"]
    per_code = {
        key[2]: entry
        for key, entry in values.items()
        if isinstance(key, tuple) and key[:2] == ("ceiling", "code")
    }
    return HumanCeiling(
        coders=info["coders"],
        n_items=ratings.n_items,
        accuracy=values[("ceiling", "accuracy")],
        macro_f1=values.get(("ceiling", "macro_f1")),
        cohen_kappa=explain("Cohen's κ", values[("ceiling", "cohen_kappa")], ratings, "gold"),
        gwet_ac1=explain("Gwet's AC1", values[("ceiling", "gwet_ac1")], ratings, "gold"),
        krippendorff_alpha=explain(
            "Krippendorff's α", values[("ceiling", "krippendorff_alpha")], ratings, "gold"
        ),
        kappa_kind="Cohen's κ" if info["two"] else "Fleiss' κ (more than two gold coders)",
        per_code=per_code,
    )
