"""What agreement compares: code files and runs, read into one long-format table of coders.

`agreement_codes` takes code files (CSV, TSV, JSONL, XLSX, Parquet with item_id, coder, code),
run directories and run ids (found in a runs folder). A run is a coder named after its model;
when two inputs would give the same coder name, run coders become ``<model>@<run directory>``
so each run stays a coder of its own. A run with only part of its items coded is said (a
warning naming the share and status) and refused below ``min_coverage``, so a comparison never
silently covers a fraction of a run.

For passages (`segment_inputs`), the codes carry ``start, end`` and the documents' texts come
along: from an items file or folder of documents, or else from the first run's item snapshot;
code files are then read with their offsets checked against those texts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from llmcode.codes import load_codes
from llmcode.errors import CodesError, ConfigError, RunStoreError
from llmcode.items import ItemSet, load_items
from llmcode.quality.levels import check_levels, roll_up, taxonomy_of_inputs
from llmcode.store.runs import Run, RunStore, load_run_codes
from llmcode.taxonomy.model import Level, Taxonomy, load_taxonomy

Input = Run | str | Path
MIN_COVERAGE = 0.5
UNITS = ("item", "segment")
"""What agreement compares: the codes of whole items, or passages (``start, end``) of documents."""


def agreement_codes(
    inputs: Input | Sequence[Input],
    *,
    min_coverage: float = MIN_COVERAGE,
    runs_dir: str | Path | None = None,
    level: Level | None = None,
    taxonomy: Taxonomy | str | Path | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """The codes of every input in one long-format table, and warnings about partial runs.

    With a taxonomy (``taxonomy``, else the first run's), coders who coded at different levels
    are refused unless ``level`` is given: ``top`` rolls subcategories up to their categories
    (`llmcode.quality.levels`)."""
    refs = [inputs] if isinstance(inputs, Run | str | Path) else list(inputs)
    if not refs:
        raise ConfigError("nothing to compare: give runs or code files")
    paths = [resolve_input(ref, runs_dir) for ref in refs]
    warnings = coverage_warnings(paths, min_coverage)
    codes = read_inputs(paths)
    scheme = (
        load_taxonomy(taxonomy)
        if isinstance(taxonomy, str | Path)
        else taxonomy or taxonomy_of_inputs(paths)
    )
    if scheme is None:
        if level is not None:
            raise ConfigError(
                f"level {level} needs the taxonomy to roll codes up",
                hint="give the taxonomy (`taxonomy`) or compare with a run",
            )
        return codes, warnings
    if level is None:
        check_levels(codes, scheme)
        return codes, warnings
    return roll_up(codes, scheme, level), warnings


def segment_inputs(
    inputs: Input | Sequence[Input],
    *,
    items: str | Path | ItemSet | None = None,
    min_coverage: float = MIN_COVERAGE,
    runs_dir: str | Path | None = None,
) -> tuple[pd.DataFrame, dict[str, str], list[str]]:
    """Passages of every input (with their offsets checked), the documents' texts in order,
    and warnings about partial runs."""
    refs = [inputs] if isinstance(inputs, Run | str | Path) else list(inputs)
    if not refs:
        raise ConfigError("nothing to compare: give runs or code files")
    paths = [resolve_input(ref, runs_dir) for ref in refs]
    warnings = coverage_warnings(paths, min_coverage)
    texts = document_texts(items, paths)
    return read_inputs(paths, texts=texts), texts, warnings


def document_texts(
    items: str | Path | ItemSet | None, paths: Sequence[Path] = ()
) -> dict[str, str]:
    """item_id -> text, in item order: of ``items`` (a table, a document or a folder of them),
    else of the first run's item snapshot."""
    if items is not None:
        item_set = items if isinstance(items, ItemSet) else load_items(items)
        return {item.item_id: item.text for item in item_set.items}
    for path in paths:
        if (path / "manifest.json").is_file():
            return {item.item_id: item.text for item in Run(path).items()}
    raise ConfigError(
        "agreement on passages needs the documents' texts (gaps count): give items",
        hint="pass the items file or folder of documents the passages were marked in",
    )


def resolve_input(ref: Input, runs_dir: str | Path | None = None) -> Path:
    """A `Run`'s directory; a `Path` as given; a string naming a code file or run directory,
    else a run id in the runs folder."""
    if isinstance(ref, Run):
        return ref.path
    path = Path(ref)
    if isinstance(ref, Path) or path.is_file() or (path / "manifest.json").is_file():
        return path
    try:
        return RunStore(runs_dir).open(ref).path
    except RunStoreError:
        if path.exists():
            return path  # read_inputs says what is wrong with it
        raise


def coverage_warnings(paths: Sequence[Path], minimum: float) -> list[str]:
    """Say how much of each partly coded run is coded; refuse a run below ``minimum`` (a share)."""
    warnings = []
    for path in paths:
        if not (path / "manifest.json").is_file():
            continue
        run = Run(path)
        manifest = run.manifest()
        total = int(manifest.items.get("n_items") or 0)
        if not total:
            continue
        coded = sum(1 for r in run.latest_codings().values() if r.codes)
        share = coded / total
        if share >= 1:
            continue
        said = f"run {run.run_id}: {coded} of {total} items coded ({share:.0%}, {manifest.status})"
        if share < minimum:
            raise ConfigError(
                f"{said}: below the minimum coverage (min_coverage) of {minimum:.0%}",
                hint=f"finish run {run.run_id} (resume it), or set min_coverage to 0 to compare "
                "the coded items anyway",
            )
        warnings.append(f"{said}; agreement covers the coded items only")
    return warnings


def read_inputs(inputs: Sequence[Path], texts: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Concatenate code files and run directories into one long-format DataFrame (``texts``:
    passages' offsets in code files are checked against them)."""
    frames: list[pd.DataFrame] = []
    runs: list[tuple[Path, pd.DataFrame]] = []
    for path in inputs:
        if path.is_dir():
            runs.append((path, _read_run(path)))
        else:
            frames.append(load_codes(path, texts=texts))
    taken = set().union(*(set(frame["coder"]) for frame in frames))
    run_coders = [set(frame["coder"]) for _, frame in runs]
    for index, (path, frame) in enumerate(runs):
        others = set().union(*(c for i, c in enumerate(run_coders) if i != index))
        clash = run_coders[index] & (taken | others)
        if clash:
            coder = frame["coder"]
            frame = frame.assign(coder=coder.where(~coder.isin(clash), coder + f"@{path.name}"))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _read_run(path: Path) -> pd.DataFrame:
    if not (path / "manifest.json").is_file():
        raise CodesError(
            f"{path}: a directory but not a run (no manifest.json)",
            hint="pass a codes file or a runs/<run_id> directory",
        )
    return load_run_codes(path)
