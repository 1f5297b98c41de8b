"""A study's analysis and report from its settings: what `llmcode.analyze` and
`llmcode.build_report` do, and what `llmcode analyze` and `llmcode report` map their flags onto.

`AnalysisOptions` says where the codes, items, timestamps, PTM split and gold codes come from;
`analyze` reads them (from a run, or an items file with a codes file) and returns an `Analysis`;
`build_report` adds agreement with human codes and an evaluation against gold codes, and returns
the `Report` that `llmcode.analysis.rendering.write_report` writes. Errors and notes name the
settings (``coder``, ``gold_screening``), not command-line flags.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from llmcode.analysis.resolution import Split
from llmcode.analysis.sources import (
    HUMAN_PREFIX,
    CodeSource,
    file_items,
    human_codes,
    reference_codes,
    run_codes,
    run_items,
    screening_split,
    select_coder,
    split_from_codes,
    split_from_column,
)
from llmcode.analysis.study import Analysis, analyze_codes
from llmcode.codes import load_codes
from llmcode.errors import ConfigError
from llmcode.quality.levels import roll_up
from llmcode.store.runs import Run, RunStore
from llmcode.taxonomy.model import Level, load_taxonomy

if TYPE_CHECKING:
    from llmcode.analysis.gold import GoldAnalysis
    from llmcode.analysis.report import Report
    from llmcode.quality.alttest import AltTestSettings


@dataclass(frozen=True)
class AnalysisOptions:
    """How `llmcode analyze` / `llmcode report` pick codes, items, timestamps and the PTM split."""

    codes: str | None = None
    coder: str | None = None
    id_column: str = "item_id"
    screening: str | None = None
    screening_coder: str | None = None
    ptm_column: str | None = None
    ptm_code: str = "ptm"
    project_column: str = "project"
    created_column: str | None = None
    closed_column: str | None = None
    as_of: str | None = None
    taxonomy: Path | None = None
    gold: Path | Sequence[Path] | None = None
    """Human codes on a random sample of the items, for PPI: one file or several, read by
    `reference_codes` (the coder ``gold_coder``, else the first of the first file)."""
    gold_coder: str | None = None
    gold_screening: Path | None = None
    plan: float | None = None
    covariate: str | None = None
    outcome: str | None = None
    level: Level | None = None
    """Analyse at this taxonomy level: ``top`` rolls subcategories up to their category."""


def run_analysis(
    options: AnalysisOptions,
    store: RunStore,
    run: Run | None = None,
    items_path: Path | None = None,
) -> tuple[Analysis, CodeSource]:
    """Load what ``options`` name (from ``run`` or from ``items_path`` + codes) and analyze it.

    With both a run and ``items_path``, the items (and their metadata) come from the file."""
    if options.screening and options.ptm_column:
        raise ConfigError("give screening or ptm_column, not both")
    if run is not None:
        source = run_codes(run, options.codes, options.coder)
        items = (
            file_items(items_path, options.id_column) if items_path is not None else run_items(run)
        )
        manifest = run.manifest()
        order = [c.id for c in run.taxonomy().targets(manifest.config.inputs.level)]
    else:
        if items_path is None or not options.codes:
            raise ConfigError(
                "give a run, or items with codes",
                hint="items: an items file; codes: a long-format codes file (item_id, coder, code)",
            )
        path = options.codes.removeprefix(HUMAN_PREFIX)
        source = human_codes(path, options.coder)
        items = file_items(items_path, options.id_column)
        order = None
    if options.taxonomy is not None:
        order = [c.id for c in load_taxonomy(options.taxonomy).categories]
    notes = []
    if options.level is not None:
        scheme = load_taxonomy(options.taxonomy) if options.taxonomy else None
        scheme = scheme or (run.taxonomy() if run is not None else None)
        if scheme is None:
            raise ConfigError(
                f"level {options.level} needs the taxonomy to roll codes up",
                hint="give the taxonomy (`taxonomy`) or a run",
            )
        source = replace(source, codes=roll_up(source.codes, scheme, options.level))
        order = [c.id for c in scheme.targets(options.level)]
        notes.append(f"codes compared at the {options.level} level of taxonomy {scheme.name}")
    if source.label.startswith(HUMAN_PREFIX) and len(source.available) > 1:
        notes.append(
            f"coder '{source.coder}' analysed ({'chosen' if options.coder else 'the first'} "
            f"of {', '.join(source.available)}); choose another with coder"
        )
    split, split_note = _split(options, store, items, source)
    if split_note:
        notes.append(split_note)
    analysis = analyze_codes(
        source.codes,
        items,
        codes_source=source.label,
        coder=source.coder,
        order=order,
        project_column=options.project_column,
        created_column=options.created_column or "created_at",
        closed_column=options.closed_column or "closed_at",
        require_times=bool(options.created_column or options.closed_column),
        as_of=_as_of(options.as_of),
        split=split,
    )
    analysis.notes[:0] = notes
    if options.gold is not None:
        analysis.gold = _gold(options, source, analysis, split, order, items)
    elif options.plan is not None or options.gold_screening is not None:
        raise ConfigError("`plan` and `gold_screening` need gold codes (`gold`)")
    elif options.covariate is not None or options.outcome is not None:
        raise ConfigError(
            "`covariate` and `outcome` are for the regressions on gold codes: give `gold`",
            hint="a gold coder's codes on a random sample of the items (llmcode sample)",
        )
    return analysis, source


def _gold(
    options: AnalysisOptions,
    source: CodeSource,
    analysis: Analysis,
    split: Split | None,
    order: list[str] | None,
    items: pd.DataFrame,
) -> GoldAnalysis:
    """PPI with the gold codes of ``options.gold`` (and gold screening codes, if given)."""
    from llmcode.analysis.gold import analyze_gold, sampling_record, uncertainty_sampled
    from llmcode.analysis.ppi_regression import study_regressions

    if options.gold is None:
        raise ConfigError("PPI needs gold codes", hint="give `gold`")
    if options.plan is not None and not 0 < options.plan < 1:
        raise ConfigError(
            f"plan {options.plan}: a CI width is a share between 0 and 1",
            hint="e.g. plan 0.1 for CIs at most 10 points wide",
        )
    gold = reference_codes(options.gold, options.gold_coder)
    home = gold.label.removeprefix(HUMAN_PREFIX)  # the file the gold coder's codes are in
    gold_split = None
    if options.gold_screening is not None:
        frame = load_codes(options.gold_screening)
        coders = {str(c) for c in frame["coder"]}
        chosen = options.gold_coder if options.gold_coder in coders else None
        frame, _ = select_coder(frame, chosen, str(options.gold_screening))
        gold_split = split_from_codes(frame, options.ptm_code, str(options.gold_screening)).groups
    res = analysis.resolution
    llm = source.codes[source.codes["item_id"].isin(set(items["item_id"]))]
    result = analyze_gold(
        llm,
        gold.codes,
        source=home,
        coder=gold.coder,
        order=order or list(analysis.distribution["code"]),
        sampling=sampling_record(home),
        times=res.times if res is not None else None,
        split=split.groups if split is not None else None,
        gold_split=gold_split,
        plan_width=options.plan,
    )
    if uncertainty_sampled(result.sampling):
        if options.covariate is not None or options.outcome is not None:
            raise ConfigError(
                "covariate and outcome: the PPI regressions assume a uniform gold sample, and "
                f"{home} was drawn by the model's uncertainty",
                hint="draw a uniform sample (llmcode sample) for the regressions",
            )
    else:
        result.regressions, regression_notes = study_regressions(
            llm,
            gold.codes,
            items,
            order=order or list(analysis.distribution["code"]),
            times=res.times if res is not None else None,
            covariate=options.covariate,
            outcome=options.outcome,
        )
        result.notes.extend(regression_notes)
    if len(gold.available) > 1:
        how = "chosen" if options.gold_coder else "the first"
        result.notes.insert(
            0,
            f"gold coder '{gold.coder}' ({how} of {', '.join(gold.available)}); "
            "choose another with `gold_coder`",
        )
    if split is not None and gold_split is None:
        result.notes.append("no PTM share by PPI: give the gold screening codes (`gold_screening`)")
    analysis.notes.extend(f"gold: {note}" for note in result.notes)
    return result


def _split(
    options: AnalysisOptions, store: RunStore, items: pd.DataFrame, source: CodeSource
) -> tuple[Split | None, str]:
    if options.screening:
        split, _ = screening_split(
            options.screening, store, options.ptm_code, options.screening_coder or source.coder
        )
        return split, ""
    if options.ptm_column:
        return split_from_column(items, options.ptm_column), ""
    if options.ptm_code in set(source.codes["code"].dropna()):
        return split_from_codes(source.codes, options.ptm_code, source.label), ""
    return None, "no PTM vs other comparison: give screening (codes file or run) or ptm_column"


def _as_of(value: str | None) -> pd.Timestamp | None:
    if not value:
        return None
    try:
        stamp = pd.Timestamp(value)
    except ValueError as exc:
        raise ConfigError(f"as_of: '{value}' is not a date", hint="e.g. 2025-06-30") from exc
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def analyze(
    run: Run | str | Path | None = None,
    *,
    items: str | Path | None = None,
    human: str | Path | Sequence[str | Path] | None = None,
    runs_dir: str | Path | None = None,
    options: AnalysisOptions | None = None,
    **settings: Any,
) -> Analysis:
    """Analyse a run's codes (or, without a run, the codes of an ``items`` file), as
    `llmcode analyze` does.

    ``human``: human codes on a random sample of the items (a file or several), for the shares
    and times corrected by PPI, with ``coder`` naming their coder — as ``--human FILE --coder
    NAME`` (the `AnalysisOptions` fields ``gold`` and ``gold_coder``). To analyse a human
    coder's codes instead of the run's, give ``codes="human:FILE"`` (without a run,
    ``codes=FILE``) and ``coder``. The other settings are `AnalysisOptions`' fields, given as
    ``options`` or as keyword arguments (which win).
    """
    if human is not None and "coder" in settings and "gold_coder" not in settings:
        settings["gold_coder"] = settings.pop("coder")  # --coder names the --human coder
    options = analysis_options(options, settings)
    if run is not None and items is not None:
        raise ConfigError("give a run or items, not both")
    if human is not None:
        if options.gold is not None:
            raise ConfigError("give human or gold, not both (they are the same setting)")
        gold = Path(human) if isinstance(human, str | Path) else [Path(h) for h in human]
        options = replace(options, gold=gold)
    store = RunStore(runs_dir)
    opened = open_run(run, store) if run is not None else None
    items_path = Path(items) if items is not None else None
    analysis, _ = run_analysis(options, store, run=opened, items_path=items_path)
    return analysis


def build_report(
    run: Run | str | Path,
    *,
    human: str | Path | Sequence[str | Path] | None = None,
    human_coder: str | None = None,
    gold: str | Path | Sequence[str | Path] = (),
    gold_coders: Sequence[str] | None = None,
    examples_per_code: int = 3,
    bootstrap: int = 1000,
    seed: int = 0,
    runs_dir: str | Path | None = None,
    options: AnalysisOptions | None = None,
    alt_test: AltTestSettings | bool = True,
    **settings: Any,
) -> Report:
    """The report of a run: its analysis, agreement with ``human`` codes (one file or several:
    the coder ``human_coder``, else the analysis' ``coder`` when the files have it, else the
    first of the first file) and an evaluation against the ``gold`` files (``gold_coders``, else
    every coder; PPI shares use one coder by the rule of `reference_codes`: the first of
    ``gold_coders``, else the first of the first file). With gold files the evaluation runs the
    alternative annotator test against the gold coders (``alt_test``: its settings, True for
    the defaults, False for none), or says why it cannot. Settings as in `analyze`; write it
    with `write_report`."""
    from llmcode.analysis.evaluation import evaluation_section
    from llmcode.analysis.report import report_content
    from llmcode.quality.alttest import AltTestSettings

    options = analysis_options(options, settings)
    store = RunStore(runs_dir)
    opened = open_run(run, store)
    golds = [gold] if isinstance(gold, str | Path) else list(gold)
    if golds:
        first_coder = gold_coders[0] if gold_coders else None
        options = replace(options, gold=[Path(g) for g in golds], gold_coder=first_coder)
    analysis, _ = run_analysis(options, store, run=opened)
    people = None
    humans = [human] if isinstance(human, str | Path) else list(human or ())
    if humans:
        if human_coder is None and options.coder is not None:
            coders = set(reference_codes(humans).available)
            human_coder = options.coder if options.coder in coders else None
        people = reference_codes(humans, human_coder)  # the analysis' coder, when there
    evaluation = None
    if golds:
        evaluation = evaluation_section(
            opened,
            golds,
            coders=gold_coders,
            bootstrap=bootstrap,
            seed=seed,
            alt_test=AltTestSettings() if alt_test is True else alt_test or None,
        )
    return report_content(
        opened,
        analysis,
        human=people,
        examples_per_code=examples_per_code,
        bootstrap=bootstrap,
        seed=seed,
        evaluation=evaluation,
    )


def analysis_options(options: AnalysisOptions | None, settings: dict[str, Any]) -> AnalysisOptions:
    """``options`` (default: the defaults) with ``settings`` on top; an unknown key is an error."""
    known = {f.name for f in fields(AnalysisOptions)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ConfigError(
            f"unknown analysis setting{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}",
            hint=f"settings are: {', '.join(sorted(known))}",
        )
    return replace(options or AnalysisOptions(), **settings)


def open_run(run: Run | str | Path, store: RunStore) -> Run:
    """``run`` itself, or the run a directory or an id in ``store`` names."""
    return run if isinstance(run, Run) else store.open(run)
