"""The agreement result: pydantic models that are the JSON contract, and interpretation bands.

Stable keys: ``n_items, coders, percent_agreement, cohen_kappa, fleiss_kappa,
krippendorff_alpha, gwet_ac1, brennan_prediger, per_code, ci95, confusion``. A coefficient that
does not apply or is undefined is ``null`` and ``undefined[name]`` says why; no NaN is emitted.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from llmcode.quality.agreement.coefficients import Metric
from llmcode.quality.agreement.ratings import Level

KAPPA_LIKE = (
    "cohen_kappa",
    "weighted_kappa_linear",
    "weighted_kappa_quadratic",
    "fleiss_kappa",
    "gwet_ac1",
    "brennan_prediger",
)
ALPHA_LIKE = ("krippendorff_alpha", "krippendorff_alpha_jaccard")
LANDIS_KOCH = (
    (0.20, "slight"),
    (0.40, "fair"),
    (0.60, "moderate"),
    (0.80, "substantial"),
    (1.00, "almost perfect"),
)


def interpret(name: str, value: float | None) -> str | None:
    """Landis–Koch (1977) band for κ-type coefficients; Krippendorff's (2004) for α.

    κ: < 0 poor, ≤ .20 slight, ≤ .40 fair, ≤ .60 moderate, ≤ .80 substantial, else almost
    perfect. α: ≥ .800 reliable, ≥ .667 tentative (conclusions only), else unreliable.

    Bands apply to the value as reported, rounded to three decimals (α = 2/3 is ".667").
    """
    if value is None:
        return None
    value = round(value, 3)
    if name in ALPHA_LIKE or name == "alpha":
        if value >= 0.800:
            return "reliable"
        if value >= 0.667:
            return "tentative"
        return "unreliable"
    if name in KAPPA_LIKE or name == "kappa":
        if value < 0:
            return "poor"
        return next((band for top, band in LANDIS_KOCH if value <= top), LANDIS_KOCH[-1][1])
    return None


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CodeAgreement(_Model):
    """One code, one-vs-rest on the compared items: was it applied or not, per coder.

    ``kappa`` is Cohen's κ for two coders and Fleiss' κ for more; ``alpha`` is nominal α on the
    applied/not-applied values. ``n`` counts codings (item × coder) that applied the code,
    ``prevalence`` is n over all codings, ``n_items`` counts items where any coder applied it.
    """

    kappa: float | None
    alpha: float | None
    prevalence: float
    n: int
    n_items: int
    percent_agreement: float
    counts: dict[str, int]
    ci95: dict[str, tuple[float, float]] = {}
    undefined: dict[str, str] = {}


class ConfusionMatrix(_Model):
    """Rows: the first coder's labels; columns: the second coder's; cells: item counts."""

    coders: tuple[str, str]
    labels: list[str]
    matrix: list[list[int]]


class PairAgreement(_Model):
    """Two coders on the items both coded (an entry of the pairwise coder matrix)."""

    coders: tuple[str, str]
    n_items: int
    percent_agreement: float | None
    cohen_kappa: float | None
    krippendorff_alpha: float | None


class BootstrapInfo(_Model):
    n_resamples: int
    seed: int
    confidence: float
    method: str = "percentile interval, items resampled with replacement"
    n_undefined: dict[str, int] = {}


class AgreementResult(_Model):
    """Everything `llmcode agree` reports; `model_dump(mode="json")` is its JSON output."""

    n_items: int
    coders: list[str]
    level: Level
    multi_label: bool
    distance: Metric
    categories: list[str]
    n_codings: int
    percent_agreement: float
    cohen_kappa: float | None
    weighted_kappa_linear: float | None
    weighted_kappa_quadratic: float | None
    fleiss_kappa: float | None
    krippendorff_alpha: float | None
    krippendorff_alpha_jaccard: float | None
    gwet_ac1: float | None
    brennan_prediger: float | None
    interpretation: dict[str, str]
    per_code: dict[str, CodeAgreement]
    ci95: dict[str, tuple[float, float]]
    confusion: ConfusionMatrix | None
    pairwise: list[PairAgreement] | None
    items_excluded: list[str]
    undefined: dict[str, str]
    notes: list[str]
    bootstrap: BootstrapInfo | None
    warnings: list[str] = []
    """Said about the inputs, e.g. a run with only part of its items coded."""

    def applies(self, name: str) -> bool:
        """Whether coefficient ``name`` is meant for these codes: Cohen's κ needs two coders,
        weighted κ two coders and ordered codes, the Jaccard α code sets."""
        two = len(self.coders) == 2
        if name == "cohen_kappa":
            return two
        if name.startswith("weighted_kappa"):
            return two and self.level != "nominal"
        if name == "krippendorff_alpha_jaccard":
            return self.multi_label
        return True
