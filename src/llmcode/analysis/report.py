"""The study report's content, built from a run and its analysis (rendering: `rendering`).

`build_report` gathers everything a page shows — provenance, taxonomy, distribution, agreement
with human codes (coefficients with bootstrap CIs, per-code κ, a confusion matrix; computed by
`llmcode.quality.agreement`), resolution-time tests, the disagreement list and example items with
highlighted evidence — and draws the figures, into a `Report`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from llmcode import __version__
from llmcode.analysis.evaluation import EvaluationSection
from llmcode.analysis.figures import (
    confusion_figure,
    distribution_figure,
    forest_figure,
    resolution_figure,
)
from llmcode.analysis.sources import CodeSource
from llmcode.analysis.study import Analysis
from llmcode.errors import AgreementError
from llmcode.items import Item
from llmcode.quality.confidence import KIND_NAMES, confidence_of, default_kind
from llmcode.store.models import CodingRecord, RunManifest
from llmcode.store.runs import Run
from llmcode.taxonomy.model import Category, Taxonomy

SNIPPET_CONTEXT = 160
_BLANK_LINES = re.compile(r"\n\s*\n")


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


@dataclass
class Example:
    """One coded item shown under its code: justification and evidence in context."""

    item_id: str
    title: str
    status: str
    confidence: float | None
    justification: str
    segments: list[tuple[str, bool]]  # (text, is_evidence)
    unverified: list[str] = field(default_factory=list)


@dataclass
class Report:
    """Everything the templates render."""

    title: str
    generated_at: str
    provenance: list[tuple[str, str]]
    taxonomy: Taxonomy
    categories: list[tuple[int, Category]]  # (depth, category), depth first
    analysis: Analysis
    result: dict[str, Any]
    human: CodeSource | None
    agreement: AgreementSection | None
    disagreements: pd.DataFrame
    examples: dict[str, list[Example]]
    figures: dict[str, Figure]
    evaluation: EvaluationSection | None = None
    confidence_kind: str = "stated"
    """Which confidence the page shows (vote share, log-probability or stated)."""
    banner: str | None = None
    """Said first on the page when the run is partial (not complete, or items left uncoded)."""

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table of the report (the analysis tables plus agreement and disagreements)."""
        out = dict(self.analysis.tables())
        if self.agreement is not None:
            out["agreement"] = self.agreement.coefficients
            out["agreement_per_code"] = self.agreement.per_code
            out["confusion"] = self.agreement.confusion.rename_axis("run_code").reset_index()
            out["disagreements"] = self.disagreements
        if self.evaluation is not None:
            out["evaluation"] = self.evaluation.coefficients
            out["evaluation_per_code"] = self.evaluation.per_code
        return out


def build_report(
    run: Run,
    analysis: Analysis,
    *,
    human: CodeSource | None = None,
    examples_per_code: int = 3,
    bootstrap: int = 1000,
    seed: int = 0,
    evaluation: EvaluationSection | None = None,
) -> Report:
    """Gather the report's content (figures are drawn here, rendered later); ``evaluation``
    (from `llmcode.analysis.evaluation`) adds the Evaluation section against gold codes."""
    manifest = run.manifest()
    taxonomy = run.taxonomy()
    order = [c.id for c in taxonomy.targets(manifest.config.level)]
    items = {item.item_id: item for item in run.items()}
    records = run.latest_codings()
    kind = default_kind(list(records.values()))  # the same kind calibrate, review, export show
    llm = _codes_of(records, manifest.coder)
    figures: dict[str, Figure] = {}
    agreement, disagreements = None, pd.DataFrame()
    compare = None
    if human is not None:
        agreement = agreement_section(
            llm, human.codes, order, taxonomy.multi_label, bootstrap=bootstrap, seed=seed
        )
        disagreements = disagreement_list(records, human.codes, items, kind)
        _add_human_pair(agreement, human, order, taxonomy.multi_label, bootstrap, seed)
        from llmcode.analysis.study import distribution

        in_run = human.codes[human.codes["item_id"].isin(items)]
        compare = distribution(in_run, order)
        if len(agreement.confusion):
            figures["confusion"] = confusion_figure(
                agreement.confusion, f"run ({manifest.coder})", f"human ({human.coder})"
            )
    figures["distribution"] = distribution_figure(
        analysis.distribution,
        compare,
        (analysis.coder or "codes", f"human {human.coder}" if human else ""),
    )
    if analysis.gold is not None and analysis.gold.prevalence:
        gold = analysis.gold.to_json()
        shares = dict(gold["prevalence"])
        if gold["ppi"]["screening"]:
            shares["ptm (screening)"] = gold["ppi"]["screening"]["ptm"]
        figures["ppi"] = forest_figure(shares)
    res = analysis.resolution
    if res is not None and len(res.times):
        figures["resolution"] = resolution_figure(
            res.times, list(res.by_category["code"]), res.by_group is not None
        )
    return Report(
        title=f"{taxonomy.name} {taxonomy.version} — run {run.run_id}",
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        provenance=provenance(manifest),
        taxonomy=taxonomy,
        categories=list(_with_depth(taxonomy.categories)),
        analysis=analysis,
        result=analysis.to_json(),
        human=human,
        agreement=agreement,
        disagreements=disagreements,
        examples=examples_by_code(records, items, order, examples_per_code, kind),
        figures=figures,
        evaluation=evaluation,
        banner=partial_banner(manifest, records),
        confidence_kind=KIND_NAMES[kind],
    )


def partial_banner(manifest: RunManifest, records: dict[str, CodingRecord]) -> str | None:
    """ "Partial run: …" when the run did not complete or some items have no final coding."""
    total = int(manifest.items.get("n_items") or 0) or len(records)
    coded = sum(1 for r in records.values() if r.status != "error")
    if manifest.status == "complete" and coded >= total:
        return None
    return (
        f"Partial run: {coded} of {total} items coded (status {manifest.status}). "
        "Every number below covers only the coded items; finish the run with "
        f"llmcode code --resume {manifest.run_id}"
    )


def provenance(manifest: RunManifest) -> list[tuple[str, str]]:
    """What a methods section must state: model, taxonomy, prompts, date, tokens, cost."""
    usage, config = manifest.usage, manifest.config
    cost = usage.get("cost_usd", manifest.extra.get("cost_usd"))
    if cost is not None:
        cost_text = f"${float(cost):.4f}"
    elif manifest.backend.get("backend") == "local":
        cost_text = "none (local model)"
    else:
        cost_text = "not recorded"
    finished = manifest.finished_at.strftime("%Y-%m-%d %H:%M UTC") if manifest.finished_at else "-"
    return [
        ("run", f"{manifest.run_id} ({manifest.status})"),
        ("model", f"{manifest.coder} via {manifest.backend.get('backend', config.backend)}"),
        (
            "taxonomy",
            f"{manifest.taxonomy.get('name', '')} {manifest.taxonomy.get('version', '')} "
            f"(fingerprint {manifest.taxonomy.get('fingerprint', '-')})",
        ),
        ("prompt hash", f"sha256 {manifest.prompts.get('sha256', '-')}"),
        ("date", f"{manifest.created_at.strftime('%Y-%m-%d %H:%M UTC')} → {finished}"),
        (
            "items",
            f"{manifest.items.get('n_items', '-')} from {manifest.items.get('path', '-')} "
            f"(sha256 {str(manifest.items.get('sha256', '-'))[:16]})",
        ),
        (
            "parameters",
            f"temperature {config.temperature}, seed {config.seed}, samples {config.samples}, "
            f"level {config.level}, max re-asks {config.max_reasks}",
        ),
        (
            "tokens",
            f"{int(usage.get('prompt_tokens', 0)):,} prompt + "
            f"{int(usage.get('completion_tokens', 0)):,} completion in "
            f"{int(usage.get('calls', 0)):,} calls ({int(usage.get('cached_calls', 0)):,} cached)",
        ),
        ("cost", cost_text),
        ("status counts", ", ".join(f"{k} {v}" for k, v in manifest.counts.items() if v) or "-"),
        ("llmcode", f"{manifest.llmcode_version or '-'} (report by {__version__})"),
    ]


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


def _add_human_pair(
    section: AgreementSection,
    human: CodeSource,
    order: list[str],
    multi_label: bool,
    bootstrap: int,
    seed: int,
) -> None:
    """With a second coder in the human file, their agreement beside the model's, row by row."""
    others = [c for c in human.available if c != human.coder]
    if not others or not len(section.coefficients) or not human.label.startswith("human:"):
        return
    from llmcode.analysis.sources import human_codes

    second = human_codes(human.label.removeprefix("human:"), others[0])
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


_COEFFICIENT_COLUMNS = ["coefficient", "value", "ci_low", "ci_high", "interpretation", "n_items"]


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
                "title": _title(items.get(item_id)),
                "run_codes": run_set,
                "human_codes": human_sets[item_id],
                "justification": " / ".join(c.justification for c in record.codes),
                "confidence": _max_confidence(record, kind),
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


def examples_by_code(
    records: dict[str, CodingRecord],
    items: dict[str, Item],
    order: list[str],
    per_code: int,
    kind: str = "stated",
) -> dict[str, list[Example]]:
    """Up to ``per_code`` items per code: verified first, then by confidence."""
    out: dict[str, list[Example]] = {code: [] for code in order}
    ranked = sorted(
        records.values(),
        key=lambda r: (r.status != "ok", -(_max_confidence(r, kind) or 0.0), r.item_id),
    )
    for record in ranked:
        item = items.get(record.item_id)
        for assignment in record.codes:
            shown = out.setdefault(assignment.code, [])
            if item is None or len(shown) >= per_code:
                continue
            spans = [
                (s.start, s.end)
                for s in assignment.evidence
                if s.verified and s.start is not None and s.end is not None
            ]
            shown.append(
                Example(
                    item_id=record.item_id,
                    title=_title(item),
                    status=record.status,
                    confidence=confidence_of(record, assignment.code, kind),
                    justification=assignment.justification,
                    segments=highlight(item.text, spans),
                    unverified=[s.quote for s in assignment.evidence if not s.verified],
                )
            )
    return out


def highlight(
    text: str, spans: list[tuple[int, int]], context: int = SNIPPET_CONTEXT
) -> list[tuple[str, bool]]:
    """The text around evidence spans as (text, is_evidence) segments, elided with '…'."""
    spans = sorted((max(0, s), min(len(text), e)) for s, e in spans if e > s)
    if not spans:
        head = text[: 2 * context]
        return [(head + ("…" if len(text) > len(head) else ""), False)]
    segments: list[tuple[str, bool]] = []
    cursor = 0
    for start, end in spans:
        start = max(start, cursor)
        if end <= start:
            continue
        gap = _BLANK_LINES.sub("\n", text[cursor:start])
        if cursor == 0 and len(gap) > context:
            gap = "…" + gap[-context:]
        elif len(gap) > 2 * context:
            gap = gap[:context] + " … " + gap[-context:]
        segments += [(gap, False), (text[start:end], True)]
        cursor = end
    tail = _BLANK_LINES.sub("\n", text[cursor:])
    segments.append((tail[:context] + ("…" if len(tail) > context else ""), False))
    return [s for s in segments if s[0]]


def _with_depth(categories: list[Category], depth: int = 0) -> Iterator[tuple[int, Category]]:
    for category in categories:
        yield depth, category
        yield from _with_depth(category.children, depth + 1)


def _codes_of(records: dict[str, CodingRecord], coder: str) -> pd.DataFrame:
    rows = [
        {"item_id": r.item_id, "coder": coder, "code": c.code}
        for r in records.values()
        for c in r.codes
    ]
    return pd.DataFrame(rows, columns=["item_id", "coder", "code"])


def _code_sets(codes: pd.DataFrame) -> dict[str, str]:
    usable = codes.dropna(subset=["code"])
    grouped = usable.groupby("item_id")["code"].agg(lambda c: "; ".join(sorted(set(c))))
    return {str(item): str(codes) for item, codes in grouped.items()}


def _title(item: Item | None) -> str:
    if item is None:
        return ""
    title = item.metadata.get("title") or item.text.split("\n", 1)[0]
    return title if len(title) <= 100 else title[:99] + "…"


def _max_confidence(record: CodingRecord, kind: str = "stated") -> float | None:
    values = [v for c in record.codes if (v := confidence_of(record, c.code, kind)) is not None]
    return max(values) if values else None
