"""Where the analysis gets its inputs: codes (a run's, reviewed, or human), items, PTM split.

Codes are one coder's: a human codes file with several coders yields the chosen ``coder``
(default: the first in the file), and the choice is returned so the caller can state it —
coders are never mixed. Item metadata comes from a run's item snapshot or an items file.
The PTM/other split comes from screening codes (a long-format file or a run coded with the
screening taxonomy), from the analyzed codes when they hold the ``ptm`` code, or from a column.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from llmcode.analysis.resolution import OTHER, PTM, Split
from llmcode.analysis.study import Analysis, analyze
from llmcode.codes import SUFFIXES, load_codes
from llmcode.errors import AnalysisError, ConfigError
from llmcode.items import read_table
from llmcode.store.decisions import reviewed_codes
from llmcode.store.runs import Run, RunStore, load_run_codes
from llmcode.taxonomy.model import load_taxonomy

if TYPE_CHECKING:
    from llmcode.analysis.gold import GoldAnalysis

HUMAN_PREFIX = "human:"
_TRUE = {"1", "true", "yes", "y", "ptm"}
_FALSE = {"0", "false", "no", "n", "not_ptm", "other"}


@dataclass(frozen=True)
class CodeSource:
    """One coder's codes (item_id, code, ...), a label saying where they came from, the coder."""

    codes: pd.DataFrame
    label: str
    coder: str | None
    available: tuple[str, ...] = ()


def select_coder(frame: pd.DataFrame, coder: str | None, where: str) -> tuple[pd.DataFrame, str]:
    """Rows of ``coder`` (default: the first coder in file order); unknown coders are errors."""
    coders = list(dict.fromkeys(str(c) for c in frame["coder"]))
    if not coders:
        raise AnalysisError(f"{where}: no codes")
    chosen = coder or coders[0]
    if chosen not in coders:
        raise AnalysisError(
            f"{where}: no coder '{chosen}'; coders are: {', '.join(coders)}",
            hint="choose one with --coder",
        )
    mask = [str(c) == chosen for c in frame["coder"]]
    return frame[mask].reset_index(drop=True), chosen


def human_codes(path: str | Path, coder: str | None = None) -> CodeSource:
    """One coder's codes from a long-format file (item_id, coder, code)."""
    frame = load_codes(path)
    available = tuple(dict.fromkeys(str(c) for c in frame["coder"]))
    frame, chosen = select_coder(frame, coder, str(path))
    return CodeSource(frame, f"human:{path}", chosen, available)


def run_codes(run: Run, which: str | None = None, coder: str | None = None) -> CodeSource:
    """A run's codes (default), its reviewed codes (``reviewed``) or ``human:FILE``."""
    if which is None or which == "run":
        return CodeSource(load_run_codes(run), f"run {run.run_id}", run.manifest().coder)
    if which == "reviewed":
        frame = reviewed_codes(run, reviewer=coder)
        reviewers = tuple(dict.fromkeys(str(c) for c in frame["coder"]))
        shared = frame.groupby("item_id")["coder"].nunique()
        if (shared > 1).any():
            raise AnalysisError(
                f"run {run.run_id}: {int((shared > 1).sum())} item(s) were reviewed by several "
                f"reviewers ({', '.join(reviewers)})",
                hint="analyse one reviewer's codes with --coder NAME",
            )
        label = f"reviewed codes of run {run.run_id}"
        return CodeSource(frame, label, ", ".join(reviewers) or None, reviewers)
    if which.startswith(HUMAN_PREFIX):
        return human_codes(which[len(HUMAN_PREFIX) :], coder)
    raise AnalysisError(
        f"unknown codes source '{which}'", hint="use --codes reviewed or --codes human:FILE"
    )


def run_items(run: Run) -> pd.DataFrame:
    """The run's item snapshot as a DataFrame: item_id and the metadata columns."""
    items = run.items()
    if not items:
        raise AnalysisError(f"{run.path}: the run has no item snapshot")
    return pd.DataFrame([{"item_id": i.item_id, **i.metadata} for i in items], dtype=str)


def file_items(path: str | Path, id_column: str = "item_id") -> pd.DataFrame:
    """An items file's rows as strings, with the id column renamed to ``item_id``."""
    frame = read_table(path, error=AnalysisError)
    if id_column not in frame.columns:
        raise AnalysisError(
            f"{path}: no id column '{id_column}'; columns are: {', '.join(frame.columns)}",
            hint="choose one with --id-column",
        )
    frame = frame.rename(columns={id_column: "item_id"})
    frame["item_id"] = frame["item_id"].str.strip()
    duplicated = sorted(set(frame.loc[frame["item_id"].duplicated(), "item_id"]))
    if duplicated:
        raise AnalysisError(f"{path}: duplicate item ids: {', '.join(duplicated[:10])}")
    return frame


def split_from_codes(codes: pd.DataFrame, ptm_code: str, source: str) -> Split:
    """Items coded ``ptm_code`` are PTM-related; items with any other code are other."""
    usable = codes.dropna(subset=["code"])
    if usable.empty:
        raise AnalysisError(f"{source}: no screening codes")
    is_ptm = usable.groupby("item_id")["code"].agg(lambda c: ptm_code in set(c))
    return Split(is_ptm.map({True: PTM, False: OTHER}), source)


def split_from_column(items: pd.DataFrame, column: str) -> Split:
    """PTM-related from a yes/no column (1/true/yes/ptm vs 0/false/no/not_ptm; blank unknown)."""
    if column not in items.columns:
        raise AnalysisError(
            f"no column '{column}' in the items; columns are: {', '.join(items.columns)}"
        )
    values = pd.Series(
        [str(v).strip().lower() for v in items[column]], index=items["item_id"], dtype=object
    )
    bad = values[~values.isin(_TRUE | _FALSE | {""})]
    if len(bad):
        raise AnalysisError(
            f"column '{column}': item {bad.index[0]} has '{bad.iloc[0]}', not a yes/no value",
            hint="use 1/0, true/false, yes/no or ptm/not_ptm (blank: unknown)",
        )
    known = values[values != ""]
    return Split(known.map(lambda v: PTM if v in _TRUE else OTHER), f"column {column}")


def screening_split(
    ref: str,
    store: RunStore,
    ptm_code: str = "ptm",
    coder: str | None = None,
) -> tuple[Split, str | None]:
    """The split from a screening codes file or a screening run; returns it and the coder used."""
    path = Path(ref)
    if path.is_file() and path.suffix.lower() in SUFFIXES:
        frame = load_codes(path)
        coders = {str(c) for c in frame["coder"]}
        frame, chosen = select_coder(frame, coder if coder in coders else None, str(path))
        label = f"screening {path} (coder {chosen})"
    else:
        run = store.open(ref)
        frame, chosen = load_run_codes(run), run.manifest().coder
        label = f"screening run {run.run_id}"
    if ptm_code not in set(frame["code"].dropna()):
        raise AnalysisError(
            f"{label}: no item is coded '{ptm_code}'",
            hint="pass the PTM code of the screening taxonomy with --ptm-code",
        )
    return split_from_codes(frame, ptm_code, label), chosen


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
    gold: Path | None = None
    gold_coder: str | None = None
    gold_screening: Path | None = None
    plan: float | None = None


def run_analysis(
    options: AnalysisOptions,
    store: RunStore,
    run: Run | None = None,
    items_path: Path | None = None,
) -> tuple[Analysis, CodeSource]:
    """Load what ``options`` name (from ``run`` or from ``items_path`` + codes) and analyze it."""
    if options.screening and options.ptm_column:
        raise ConfigError("give --screening or --ptm-column, not both")
    if run is not None:
        source = run_codes(run, options.codes, options.coder)
        items = run_items(run)
        manifest = run.manifest()
        order = [c.id for c in run.taxonomy().targets(manifest.config.level)]
    else:
        if items_path is None or not options.codes:
            raise ConfigError(
                "give a run, or --items ITEMS with --codes CODES",
                hint="e.g. llmcode analyze --items issues.csv --codes codes.csv",
            )
        path = options.codes.removeprefix(HUMAN_PREFIX)
        source = human_codes(path, options.coder)
        items = file_items(items_path, options.id_column)
        order = None
    if options.taxonomy is not None:
        order = [c.id for c in load_taxonomy(options.taxonomy).categories]
    notes = []
    if source.label.startswith(HUMAN_PREFIX) and len(source.available) > 1:
        notes.append(
            f"coder '{source.coder}' analysed ({'chosen' if options.coder else 'the first'} "
            f"of {', '.join(source.available)}); choose another with --coder"
        )
    split, split_note = _split(options, store, items, source)
    if split_note:
        notes.append(split_note)
    analysis = analyze(
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
        raise ConfigError("--plan and --gold-screening need --gold CODES")
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
    from llmcode.analysis.gold import analyze_gold, sampling_record

    if options.gold is None:
        raise ConfigError("PPI needs gold codes", hint="give --gold CODES")
    if options.plan is not None and not 0 < options.plan < 1:
        raise ConfigError(
            f"--plan {options.plan}: a CI width is a share between 0 and 1",
            hint="e.g. --plan 0.1 for CIs at most 10 points wide",
        )
    gold = human_codes(options.gold, options.gold_coder)
    gold_split = None
    if options.gold_screening is not None:
        frame = load_codes(options.gold_screening)
        coders = {str(c) for c in frame["coder"]}
        chosen = options.gold_coder if options.gold_coder in coders else None
        frame, _ = select_coder(frame, chosen, str(options.gold_screening))
        gold_split = split_from_codes(frame, options.ptm_code, str(options.gold_screening)).groups
    res = analysis.resolution
    result = analyze_gold(
        source.codes[source.codes["item_id"].isin(set(items["item_id"]))],
        gold.codes,
        source=str(options.gold),
        coder=gold.coder,
        order=order or list(analysis.distribution["code"]),
        sampling=sampling_record(options.gold),
        times=res.times if res is not None else None,
        split=split.groups if split is not None else None,
        gold_split=gold_split,
        plan_width=options.plan,
    )
    if len(gold.available) > 1:
        how = "chosen" if options.gold_coder else "the first"
        result.notes.insert(
            0,
            f"gold coder '{gold.coder}' ({how} of {', '.join(gold.available)}); "
            "choose another with --gold-coder",
        )
    if split is not None and gold_split is None:
        result.notes.append(
            "no PTM share by PPI: give the gold screening codes with --gold-screening"
        )
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
    return None, "no PTM vs other comparison: give --screening FILE|RUN or --ptm-column COLUMN"


def _as_of(value: str | None) -> pd.Timestamp | None:
    if not value:
        return None
    try:
        stamp = pd.Timestamp(value)
    except ValueError as exc:
        raise ConfigError(f"--as-of: '{value}' is not a date", hint="e.g. 2025-06-30") from exc
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
