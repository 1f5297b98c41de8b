"""The report's comparison with human codes: agreement coefficients with bootstrap CIs, per-code
κ/α and the confusion matrix (computed by `llmcode.quality.agreement`), a second human coder's
agreement beside the model's, and the list of items where the run and the human disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from llmcode.analysis.excerpts import item_title, max_confidence
from llmcode.analysis.sources import CodeSource
from llmcode.errors import AgreementError
from llmcode.items import Item
from llmcode.store.models import CodingRecord

_COEFFICIENT_COLUMNS = ["coefficient", "value", "ci_low", "ci_high", "interpretation", "n_items"]


@dataclass
class AgreementSection:
    """Agreement of the run with one human coder: coefficients with CIs and a confusion matrix."""

    coefficients: pd.DataFrame  # coefficient, value, ci_low, ci_high, interpretation, n_items
    per_code: pd.DataFrame  # code, kappa, kappa_ci_low, kappa_ci_high, alpha, n_run, n_human
    confusion: pd.DataFrame  # rows: the run's codes, columns: the human's
    n_items: int
    notes: list[str] = field(default_factory=list)
    human_pair: str | None = None
    """"ana vs ben" when the human file has two coders: ``coefficients`` then also holds their
    agreement (human_value, human_ci_low, human_ci_high), next to the model's."""


def agreement_section(
    llm: pd.DataFrame,
    human: pd.DataFrame,
    order: list[str],
    multi_label: bool,
    bootstrap: int = 1000,
    seed: int = 0,
) -> AgreementSection:
    """Run vs one human coder via `llmcode.quality.agreement`: coefficients with bootstrap CIs,
    per-code κ/α and the confusion matrix (rows: the run, columns: the human)."""
    from llmcode.quality.agreement import compute_agreement
    from llmcode.quality.agreement.summary import TITLES

    run_name = str(llm["coder"].iloc[0]) if len(llm) else "run"
    human_name = str(human["coder"].iloc[0]) if len(human) else "human"
    if human_name == run_name:
        run_name = f"run:{run_name}"
    both = pd.concat(
        [
            llm[["item_id", "code"]].assign(coder=run_name),
            human[["item_id", "code"]].assign(coder=human_name),
        ],
        ignore_index=True,
    )
    observed = set(both["code"].dropna())
    categories = [c for c in order if c in observed or not multi_label]
    categories += sorted(observed - set(categories))
    try:
        result = compute_agreement(
            both,
            coders=[run_name, human_name],
            multi_label=multi_label,
            categories=categories,
            bootstrap=bootstrap,
            seed=seed,
            by_code=True,
        )
    except AgreementError as exc:
        empty = pd.DataFrame(columns=_COEFFICIENT_COLUMNS)
        return AgreementSection(empty, pd.DataFrame(), pd.DataFrame(), 0, [exc.message])
    rows = []
    for name, title in TITLES.items():
        value = getattr(result, name)
        if value is None:
            continue
        low, high = result.ci95.get(name, (None, None))
        rows.append(
            {
                "coefficient": title,
                "value": value,
                "ci_low": low,
                "ci_high": high,
                "interpretation": result.interpretation.get(name, ""),
                "n_items": result.n_items,
            }
        )
    per_code = pd.DataFrame(
        [
            {
                "code": code,
                "kappa": entry.kappa,
                "kappa_ci_low": entry.ci95.get("kappa", (None, None))[0],
                "kappa_ci_high": entry.ci95.get("kappa", (None, None))[1],
                "alpha": entry.alpha,
                "n_run": entry.counts.get(run_name, 0),
                "n_human": entry.counts.get(human_name, 0),
            }
            for code, entry in result.per_code.items()
        ]
    )
    confusion = pd.DataFrame(
        result.confusion.matrix if result.confusion else [],
        index=result.confusion.labels if result.confusion else None,
        columns=result.confusion.labels if result.confusion else None,
    )
    method = f"95% CIs: {bootstrap} item-level bootstrap resamples (percentile), seed {seed}"
    return AgreementSection(
        pd.DataFrame(rows, columns=_COEFFICIENT_COLUMNS),
        per_code,
        confusion,
        result.n_items,
        [method, *result.notes] if bootstrap else list(result.notes),
    )


def add_human_pair(
    section: AgreementSection,
    human: CodeSource,
    order: list[str],
    multi_label: bool,
    bootstrap: int,
    seed: int,
) -> None:
    """With a second coder in the human file(s), their agreement beside the model's, row by row."""
    others = [c for c in human.available if c != human.coder]
    if not others or not len(section.coefficients) or not human.label.startswith("human:"):
        return
    from llmcode.analysis.sources import reference_codes

    second = reference_codes(human.paths or human.label.removeprefix("human:"), others[0])
    pair = agreement_section(
        human.codes.assign(coder=human.coder),
        second.codes,
        order,
        multi_label,
        bootstrap=bootstrap,
        seed=seed,
    )
    if not len(pair.coefficients):
        return
    theirs = pair.coefficients.set_index("coefficient")
    table = section.coefficients
    for column, source in (
        ("human_value", "value"),
        ("human_ci_low", "ci_low"),
        ("human_ci_high", "ci_high"),
    ):
        table[column] = table["coefficient"].map(theirs[source])
    section.human_pair = f"{human.coder} vs {others[0]}"
    section.notes.append(
        f"human–human: {human.coder} vs {others[0]} on the {pair.n_items} items both coded"
    )


def disagreement_list(
    records: dict[str, CodingRecord],
    human: pd.DataFrame,
    items: dict[str, Item],
    kind: str = "stated",
) -> pd.DataFrame:
    """Items both coded where the run's codes differ from the human's, with the run's reasons."""
    human_sets = _code_sets(human)
    rows = []
    for item_id, record in records.items():
        if item_id not in human_sets or not record.codes:
            continue
        run_set = "; ".join(sorted(c.code for c in record.codes))
        if run_set == human_sets[item_id]:
            continue
        rows.append(
            {
                "item_id": item_id,
                "title": item_title(items.get(item_id)),
                "run_codes": run_set,
                "human_codes": human_sets[item_id],
                "justification": " / ".join(c.justification for c in record.codes),
                "confidence": max_confidence(record, kind),
                "status": record.status,
            }
        )
    columns = [
        "item_id",
        "title",
        "run_codes",
        "human_codes",
        "justification",
        "confidence",
        "status",
    ]
    return pd.DataFrame(rows, columns=columns)


def _code_sets(codes: pd.DataFrame) -> dict[str, str]:
    usable = codes.dropna(subset=["code"])
    grouped = usable.groupby("item_id")["code"].agg(lambda c: "; ".join(sorted(set(c))))
    return {str(item): str(codes) for item, codes in grouped.items()}
