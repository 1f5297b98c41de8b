"""The report's Evaluation section: the run against gold codes, beside the human ceiling.

`evaluation_section` calls `llmcode.quality.eval.evaluate` for one run and lays the result out
as two tables a methods section can cite: the coefficients (model vs gold with 95% CIs, and the
gold coders' own agreement on the same items beside them) and the per-code scores (precision,
recall, F1, support, one-vs-rest κ with CI, the human κ for the code, and the guessing flag).
With ``alt_test`` settings it also runs the alternative annotator test (`llmcode.quality.alttest`)
on the same gold codes, as ``evaluate(..., alt_test=...)`` does; when the test cannot be run
(one coder, fewer than 30 shared items) the section keeps the reason instead of failing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from llmcode.errors import AgreementError
from llmcode.quality.alttest import AltTestResult, AltTestSettings, alt_test_run
from llmcode.quality.eval import Coefficient, EvalResult, evaluate
from llmcode.quality.eval_inputs import choose_gold_coders, load_gold, run_input, with_gold_codes
from llmcode.store.runs import Run

ROWS = {
    "accuracy": "Accuracy",
    "cohen_kappa": "Cohen's κ",
    "gwet_ac1": "Gwet's AC1",
    "krippendorff_alpha": "Krippendorff's α",
    "macro_f1": "Macro-F1",
}
_COEFFICIENT_COLUMNS = [
    "coefficient",
    "model",
    "model_ci_low",
    "model_ci_high",
    "human",
    "human_ci_low",
    "human_ci_high",
]
_CODE_COLUMNS = [
    "code",
    "precision",
    "recall",
    "f1",
    "support",
    "kappa",
    "kappa_ci_low",
    "kappa_ci_high",
    "human_kappa",
    "guessing",
]


@dataclass
class EvaluationSection:
    """Model vs gold per coefficient and per code, with the human ceiling beside it."""

    coefficients: pd.DataFrame  # _COEFFICIENT_COLUMNS
    per_code: pd.DataFrame  # _CODE_COLUMNS
    gold_coders: list[str]
    n_items: int
    guessing: list[str]
    result: EvalResult
    notes: list[str] = field(default_factory=list)
    alt_test: AltTestResult | None = None
    """The alternative annotator test against the gold coders, when it could be run."""
    alt_test_reason: str | None = None
    """Why the alternative annotator test was not run (asked for, but not computable)."""


def evaluation_section(
    run: Run,
    gold_paths: Sequence[str | Path],
    *,
    coders: Sequence[str] | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    alt_test: AltTestSettings | None = None,
) -> EvaluationSection:
    """Evaluate ``run`` against the gold files and shape the tables of the section; with
    ``alt_test``, add the alternative annotator test (or the reason it cannot be run)."""
    gold = load_gold(gold_paths)
    result = evaluate([run_input(run)], gold, coders=coders, bootstrap=bootstrap, seed=seed)
    section = section_of(result)
    if alt_test is not None:
        chosen = gold[gold["coder"].isin(choose_gold_coders(gold, coders))]
        try:  # the gold and run as `evaluate` passes them to the test
            section.alt_test = alt_test_run(
                with_gold_codes(run_input(run), chosen), chosen, alt_test
            )
        except AgreementError as exc:
            section.alt_test_reason = exc.message.removeprefix(
                f"alternative annotator test of {run.run_id}: "
            )
    return section


def alt_test_table(result: AltTestResult) -> pd.DataFrame:
    """One row per left-out coder: items, model and coder advantage, t, p, rejected."""
    rows = [{"coder": coder, **test.model_dump()} for coder, test in result.per_coder.items()]
    columns = ["coder", "n_items", "model_advantage", "coder_advantage", "t_statistic"]
    return pd.DataFrame(rows, columns=[*columns, "p_value", "rejected"])


def section_of(result: EvalResult) -> EvaluationSection:
    """The section's tables from an evaluation of one run."""
    entry = result.runs[0]
    ceiling = result.human_ceiling
    rows = []
    for name, title in ROWS.items():
        model: Coefficient = getattr(entry, name)
        human = getattr(ceiling, name, None) if ceiling is not None else None
        rows.append(
            {
                "coefficient": title,
                "model": model.value,
                "model_ci_low": _end(model, 0),
                "model_ci_high": _end(model, 1),
                "human": human.value if human is not None else None,
                "human_ci_low": _end(human, 0),
                "human_ci_high": _end(human, 1),
            }
        )
    codes = []
    for code, score in entry.per_code.items():
        human_kappa = ceiling.per_code.get(code) if ceiling is not None else None
        codes.append(
            {
                "code": code,
                "precision": score.precision,
                "recall": score.recall,
                "f1": score.f1,
                "support": score.support,
                "kappa": score.kappa.value,
                "kappa_ci_low": _end(score.kappa, 0),
                "kappa_ci_high": _end(score.kappa, 1),
                "human_kappa": human_kappa.value if human_kappa is not None else None,
                "guessing": score.guessing,
            }
        )
    notes = [*result.warnings, *result.notes]
    if result.bootstrap["n_resamples"]:
        notes.insert(
            0,
            f"95% CIs: {result.bootstrap['n_resamples']} bootstrap resamples of the gold items "
            f"(percentile), seed {result.bootstrap['seed']}",
        )
    if ceiling is not None and ceiling.kappa_kind != "Cohen's κ":
        notes.append(f"human κ is {ceiling.kappa_kind}")
    return EvaluationSection(
        coefficients=pd.DataFrame(rows, columns=_COEFFICIENT_COLUMNS),
        per_code=pd.DataFrame(codes, columns=_CODE_COLUMNS),
        gold_coders=list(result.gold["coders"]),
        n_items=entry.n_items,
        guessing=[code for code, score in entry.per_code.items() if score.guessing],
        result=result,
        notes=notes,
    )


def _end(coefficient: Coefficient | None, index: int) -> float | None:
    if coefficient is None or coefficient.ci95 is None:
        return None
    return coefficient.ci95[index]
