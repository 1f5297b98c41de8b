"""How many gold items a target CI width needs, said from a run before anyone codes.

`plan_gold_sample` reads a run's codes and confidences and, for each code's share, predicts the
95% CI width with n uniformly drawn gold items: **classical** 2·1.96·√(p(1−p)/n), and **PPI**
(PPI++) 2·1.96·√(var(y − λŷ)/n + λ²·var(ŷ)/(N − n)) at its best λ, with the moments of y (the
true indicator of the code) that the confidences predict: an item's chance that the true code is
c is the run's probability of c (or its confidence when it chose c, the rest of it shared among
the other codes). The answer is the smallest n that brings every share's CI
below the width. It is as good as the confidences are calibrated; once gold exists,
`analyze --human --plan WIDTH` plans from the errors actually seen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llmcode.errors import ConfigError, RunStoreError
from llmcode.store.runs import Run
from llmcode.taxonomy.model import NONE_CODE

Z95 = 1.959963984540054


@dataclass(frozen=True)
class CodePlan:
    code: str
    share: float
    error_rate: float
    n_classical: int | None
    n_ppi: int | None


@dataclass
class GoldPlan:
    width: float
    n_items: int
    codes: list[CodePlan]
    n_classical: int | None
    n_ppi: int | None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "n_items": self.n_items,
            "n_gold_classical": self.n_classical,
            "n_gold_ppi": self.n_ppi,
            "codes": {
                c.code: {
                    "share": c.share,
                    "error_rate": c.error_rate,
                    "n_gold_classical": c.n_classical,
                    "n_gold_ppi": c.n_ppi,
                }
                for c in self.codes
            },
            "notes": self.notes,
        }


def plan_gold_sample(run: Run, width: float) -> GoldPlan:
    """Gold items needed for every share's 95% CI to be at most ``width`` wide."""
    if not 0 < width < 1:
        raise ConfigError(
            f"plan {width}: a CI width is a share between 0 and 1",
            hint="e.g. 0.1 for CIs at most 10 points wide",
        )
    targets = [c.id for c in run.taxonomy().targets(run.manifest().config.inputs.level)]
    records = run.latest_codings()
    chosen: list[str] = []
    beliefs: list[dict[str, float]] = []
    without = 0
    for record in records.values():
        if record.status not in ("ok", "unverified"):
            continue
        code = record.codes[0].code if record.codes else NONE_CODE
        if record.probabilities:
            belief = dict(record.probabilities)
        elif record.codes and record.codes[0].confidence is not None:
            confidence = float(record.codes[0].confidence)
            others = [c for c in targets if c != code] or [NONE_CODE]
            belief = dict.fromkeys(others, (1 - confidence) / len(others))
            belief[code] = confidence
        else:
            without += 1
            continue
        chosen.append(code)
        beliefs.append(belief)
    big_n = len(chosen)
    if big_n < 2:
        raise RunStoreError(
            f"run {run.run_id} has {big_n} coded item(s) with a confidence: nothing to plan from",
            hint="code with `samples` 3 or a backend with log-probabilities",
        )
    plans = []
    for code in [*targets, *sorted(set(chosen) - set(targets))]:
        yhat = np.array([c == code for c in chosen], dtype=float)
        p = np.array([b.get(code, 0.0) for b in beliefs])
        moments = _Moments(
            var_y=float(p.mean() * (1 - p.mean())),
            var_yhat=float(yhat.var()),
            cov=float((p * yhat).mean() - p.mean() * yhat.mean()),
            error=float((yhat * (1 - p) + (1 - yhat) * p).mean()),
        )
        plans.append(
            CodePlan(
                code,
                float(p.mean()),
                moments.error,
                _needed(moments.classical_width, width, big_n),
                _needed(lambda n, m=moments: m.ppi_width(n, big_n), width, big_n),
            )
        )
    notes = []
    if without:
        notes.append(f"{without} coded item(s) have no confidence and are left out of the plan")
    return GoldPlan(
        width,
        big_n,
        plans,
        _most([p.n_classical for p in plans]),
        _most([p.n_ppi for p in plans]),
        notes,
    )


@dataclass(frozen=True)
class _Moments:
    """What the confidences predict of one code's indicator y and the LLM's ŷ."""

    var_y: float
    var_yhat: float
    cov: float
    error: float  # E[(y − ŷ)²]

    def classical_width(self, n: int) -> float:
        return 2 * Z95 * math.sqrt(self.var_y / n)

    def ppi_width(self, n: int, big_n: int) -> float:
        """PPI++ with its variance-minimising λ (so never wider than classical)."""
        rest = big_n - n
        if rest <= 0 or self.var_yhat <= 0:
            return self.classical_width(n)
        lam = min(max(self.cov / ((1 + n / rest) * self.var_yhat), 0.0), 1.0)
        rectifier = self.var_y - 2 * lam * self.cov + lam**2 * self.var_yhat
        return 2 * Z95 * math.sqrt(max(rectifier, 0.0) / n + lam**2 * self.var_yhat / rest)


def _needed(width_at, target: float, big_n: int) -> int | None:  # type: ignore[no-untyped-def]
    for n in range(2, big_n + 1):
        if width_at(n) <= target:
            return n
    return None


def _most(values: list[int | None]) -> int | None:
    return None if any(v is None for v in values) else max(v for v in values if v is not None)
