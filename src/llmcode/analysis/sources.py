"""Where the analysis gets its inputs: codes (a run's, reviewed, or human), items, PTM split.

Codes are one coder's: a human codes file with several coders yields the chosen ``coder``
(default: the first in the file), and the choice is returned so the caller can state it —
coders are never mixed. Item metadata comes from a run's item snapshot or an items file.
The PTM/other split comes from screening codes (a long-format file or a run coded with the
screening taxonomy), from the analyzed codes when they hold the ``ptm`` code, or from a column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from llmcode.analysis.resolution import OTHER, PTM, Split
from llmcode.codes import SUFFIXES, load_codes
from llmcode.errors import AnalysisError
from llmcode.items import read_table
from llmcode.store.decisions import reviewed_codes
from llmcode.store.final import FINAL_CODER, final_codes
from llmcode.store.runs import Run, RunStore, load_run_codes

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
    chosen: bool = False
    """The coder was named (not the first of ``available`` by default)."""
    paths: tuple[Path, ...] = ()
    """The human codes files read (`reference_codes`), for another of their coders."""


def select_coder(frame: pd.DataFrame, coder: str | None, where: str) -> tuple[pd.DataFrame, str]:
    """Rows of ``coder`` (default: the first coder in file order); unknown coders are errors."""
    coders = list(dict.fromkeys(str(c) for c in frame["coder"]))
    if not coders:
        raise AnalysisError(f"{where}: no codes")
    chosen = coder or coders[0]
    if chosen not in coders:
        raise AnalysisError(
            f"{where}: no coder '{chosen}'; coders are: {', '.join(coders)}",
            hint="choose one with coder",
        )
    mask = [str(c) == chosen for c in frame["coder"]]
    return frame[mask].reset_index(drop=True), chosen


def human_codes(path: str | Path, coder: str | None = None) -> CodeSource:
    """One coder's codes from a long-format file (item_id, coder, code)."""
    frame = load_codes(path)
    available = tuple(dict.fromkeys(str(c) for c in frame["coder"]))
    frame, chosen = select_coder(frame, coder, str(path))
    return CodeSource(frame, f"human:{path}", chosen, available, chosen=coder is not None)


def reference_codes(
    paths: str | Path | Sequence[str | Path], coder: str | None = None
) -> CodeSource:
    """One human coder's codes from one or more long-format files read together (as `eval`
    reads its gold files): ``coder`` when given, else the first coder of the first file — the
    one rule `analyze` and `report` follow, whatever the number of files. The label names the
    file the chosen coder's codes came from first (its sidecar is the sampling record)."""
    files = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    if not files:
        raise AnalysisError("no human codes given", hint="give a long-format codes file")
    frames = [load_codes(path) for path in files]
    frame = pd.concat(frames, ignore_index=True)
    available = tuple(dict.fromkeys(str(c) for c in frame["coder"]))
    where = " + ".join(str(path) for path in files)
    frame, chosen = select_coder(frame, coder, where)
    home = next(
        path
        for path, part in zip(files, frames, strict=True)
        if chosen in set(part["coder"].astype(str))
    )
    return CodeSource(
        frame, f"human:{home}", chosen, available, chosen=coder is not None, paths=tuple(files)
    )


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
                hint="analyse one reviewer's codes: set coder to their name",
            )
        label = f"reviewed codes of run {run.run_id}"
        return CodeSource(frame, label, ", ".join(reviewers) or None, reviewers)
    if which == "final":
        frame = final_codes(run)
        return CodeSource(frame, f"final codes of run {run.run_id}", FINAL_CODER, (FINAL_CODER,))
    if which.startswith(HUMAN_PREFIX):
        return human_codes(which[len(HUMAN_PREFIX) :], coder)
    if Path(which).is_file():  # a codes file, e.g. the final table `export --final` wrote
        return human_codes(which, coder)
    raise AnalysisError(
        f"unknown codes source '{which}'", hint="codes: reviewed, final, human:FILE or a file"
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
            hint="choose one with id_column",
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
            hint="set ptm_code to the PTM code of the screening taxonomy",
        )
    return split_from_codes(frame, ptm_code, label), chosen
