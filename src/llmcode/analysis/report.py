"""The study report's content, built from a run and its analysis (rendering: `rendering`).

`report_content` gathers everything a page shows — provenance, taxonomy, distribution, agreement
with human codes (`human_agreement`: coefficients with bootstrap CIs, per-code κ, a confusion
matrix, the disagreement list), the evaluation against gold codes with the alternative
annotator test (`evaluation`), resolution-time tests and example items with highlighted
evidence (`excerpts`) — and draws the figures, into a `Report`. The PPI shares and regressions
come with the analysis (``result["ppi"]``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from llmcode import __version__
from llmcode.analysis.evaluation import EvaluationSection, alt_test_table
from llmcode.analysis.excerpts import Example, examples_by_code
from llmcode.analysis.figures import (
    confusion_figure,
    distribution_figure,
    forest_figure,
    resolution_figure,
)
from llmcode.analysis.human_agreement import (
    AgreementSection,
    add_human_pair,
    agreement_section,
    disagreement_list,
)
from llmcode.analysis.sources import CodeSource
from llmcode.analysis.study import Analysis
from llmcode.quality.confidence import KIND_NAMES, default_kind
from llmcode.store.final import route_rows, route_sentence
from llmcode.store.models import CodingRecord, RunManifest
from llmcode.store.runs import Run
from llmcode.taxonomy.model import Category, Taxonomy


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
    routes: list[tuple[str, int, float | None, str]] | None = None
    """With the final table analysed: each route (``resolved_by``), its number of final codes,
    their share and its meaning (`llmcode.store.final.route_rows`)."""
    robustness: dict[str, Any] | None = None
    """With other runs of the same items: `llmcode.analysis.robustness`'s JSON (the section
    "Robustness across runs"); set it with ``robustness(...).to_json()``."""

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
            if self.evaluation.alt_test is not None:
                out["alt_test"] = alt_test_table(self.evaluation.alt_test)
        return out


def report_content(
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
    order = [c.id for c in taxonomy.targets(manifest.config.inputs.level)]
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
        add_human_pair(agreement, human, order, taxonomy.multi_label, bootstrap, seed)
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
    rows = provenance(manifest)
    result = analysis.to_json()
    if manifest.config.guidance.verify != "off":
        from llmcode.llm.checks import disputed_count

        rows.append(("second look", second_look(manifest, records)))
        disputed, checked = disputed_count(c for r in records.values() for c in r.checks)
        result["second_look"] = {
            "verify": manifest.config.guidance.verify,
            "checked": checked,
            "disputed": disputed,
            "share_disputed": disputed / checked if checked else None,
        }
    if evaluation is not None and (evaluation.alt_test or evaluation.alt_test_reason):
        test = evaluation.alt_test
        result["alt_test"] = (
            test.model_dump(mode="json") if test else {"reason": evaluation.alt_test_reason}
        )
    if analysis.routes is not None:  # a final table: where its codes came from
        rows.append(("final codes", route_sentence(analysis.routes)))
    return Report(
        title=f"{taxonomy.name} {taxonomy.version} — run {run.run_id}",
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        provenance=rows,
        taxonomy=taxonomy,
        categories=list(_with_depth(taxonomy.categories)),
        analysis=analysis,
        result=result,
        human=human,
        agreement=agreement,
        disagreements=disagreements,
        examples=examples_by_code(records, items, order, examples_per_code, kind),
        figures=figures,
        evaluation=evaluation,
        banner=partial_banner(manifest, records),
        routes=route_rows(analysis.routes) if analysis.routes is not None else None,
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


def second_look(manifest: RunManifest, records: dict[str, CodingRecord]) -> str:
    """How many of the codes a second look (``verify``) checked it disputed, and their share."""
    from llmcode.llm.checks import disputed_count

    mode = manifest.config.guidance.verify
    disputed, checked = disputed_count(c for r in records.values() for c in r.checks)
    share = f" ({disputed / checked:.0%})" if checked else ""
    done = {"flag": "kept and flagged", "drop": "dropped or replaced"}.get(mode, mode)
    return (
        f"{disputed} of {checked} checked code(s) disputed{share}: {done} "
        f"(verify {mode}; review them with llmcode review {manifest.run_id} --queue disputed)"
    )


def provenance(manifest: RunManifest) -> list[tuple[str, str]]:
    """What a methods section must state: model, taxonomy, prompts, date, tokens, cost."""
    usage, config = manifest.usage, manifest.config
    sampling = config.sampling
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
        (
            "model",
            f"{manifest.coder} via {manifest.backend.get('backend', config.endpoint.backend)}",
        ),
        (
            "taxonomy",
            f"{manifest.taxonomy.get('name', '')} {manifest.taxonomy.get('version', '')} "
            f"(fingerprint {manifest.taxonomy.get('fingerprint', '-')})",
        ),
        ("prompt hash", f"sha256 {manifest.prompts.get('sha256', '-')}"),
        ("settings", _settings(manifest)),
        ("date", f"{manifest.created_at.strftime('%Y-%m-%d %H:%M UTC')} → {finished}"),
        (
            "items",
            f"{manifest.items.get('n_items', '-')} from {manifest.items.get('path', '-')} "
            f"(sha256 {str(manifest.items.get('sha256', '-'))[:16]})",
        ),
        (
            "parameters",
            f"temperature {sampling.temperature}, seed {sampling.seed}, "
            f"samples {sampling.samples}, level {config.inputs.level}, "
            f"max re-asks {sampling.max_reasks}",
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


def _settings(manifest: RunManifest) -> str:
    """The settings that differ from their defaults (not the inputs or the URL, said above)
    and the fingerprint of them all: two runs with the same fingerprint were asked alike."""
    from llmcode.store.config import INPUT_SETTINGS, settings_text

    config = manifest.config
    leave_out = (*INPUT_SETTINGS, "base_url")
    return settings_text(config.changed(), config.fingerprint(), leave_out=leave_out)


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
