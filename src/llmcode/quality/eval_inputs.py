"""What `llmcode eval` compares: runs (codes, provenance, cost) and gold codes, checked.

`run_input` reads a run into a `RunInput` (`as_run_input` from an id or a directory too, and
`codes_input` from one coder's long-format codes made elsewhere): its latest codes per item,
justifications, the model, prompt hash, settings, tokens and cost per item. `load_gold` reads
one or more long-format gold files (item_id, coder, code) and `check_gold` refuses what would
give meaningless numbers — unknown gold coders, codes outside a run's taxonomy, gold items a run
never saw, several codes per item in a single-label scheme — with messages that name the
coders, codes or items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from llmcode.codes import SUFFIXES, load_codes
from llmcode.errors import CodesError, RunStoreError
from llmcode.store.runs import Run, RunStore
from llmcode.taxonomy.model import NONE_CODE, Level, Taxonomy

_SHOWN = 10


@dataclass(frozen=True)
class RunInput:
    """One run as evaluation sees it."""

    run: str
    model: str
    prompt_hash: str | None
    targets: tuple[str, ...]
    multi_label: bool
    item_ids: frozenset[str]
    codes: dict[str, list[str]]  # item_id -> codes (items without codes are absent)
    justifications: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    tokens_per_item: float | None = None
    cost_per_item_usd: float | None = None
    from_codes_file: bool = False
    """Codes made elsewhere (`codes_input`): no taxonomy, so the gold's codes count as its."""
    shown_as_examples: frozenset[str] = frozenset()
    """Items the run was shown as few-shot examples (``--examples``), in any of its records."""
    taxonomy: Taxonomy | None = None
    """The run's taxonomy (None for a codes file), for rolling codes up a level."""


def run_input(run: Run) -> RunInput:
    """Read a run: latest codes per item, provenance and per-item usage."""
    manifest = run.manifest()
    taxonomy = run.taxonomy()
    config = manifest.config
    records = run.latest_codings()
    codes = {
        item_id: [c.code for c in record.codes]
        for item_id, record in records.items()
        if record.codes
    }
    justifications = {
        item_id: " / ".join(c.justification for c in record.codes if c.justification)
        for item_id, record in records.items()
    }
    usage = manifest.usage
    coded = usage.get("items") or len(records) or None
    tokens = usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
    cost = usage.get("cost_usd", manifest.extra.get("cost_usd"))
    if cost is None and manifest.backend.get("backend") == "local":
        cost = 0.0
    return RunInput(
        run=run.run_id,
        model=manifest.coder,
        prompt_hash=manifest.prompts.get("sha256"),
        targets=tuple(c.id for c in taxonomy.targets(config.inputs.level)),
        multi_label=taxonomy.multi_label,
        item_ids=frozenset(item.item_id for item in run.items()),
        codes=codes,
        justifications=justifications,
        statuses={item_id: record.status for item_id, record in records.items()},
        settings={
            "backend": manifest.backend.get("backend", config.endpoint.backend),
            "taxonomy": f"{taxonomy.name} {taxonomy.version}",
            "taxonomy_fingerprint": manifest.taxonomy.get("fingerprint"),
            "level": config.inputs.level,
            "temperature": config.sampling.temperature,
            "samples": config.sampling.samples,
            "evidence": config.sampling.evidence,
            "items_per_request": config.sampling.items_per_request,
            "fingerprint": config.fingerprint(),
            "non_default": config.changed(),
            "templates_overridden": {
                name: manifest.prompts.get("hashes", {}).get(name)
                for name in manifest.prompts.get("overrides", {})
            },
        },
        tokens_per_item=tokens / coded if coded else None,
        cost_per_item_usd=float(cost) / coded if cost is not None and coded else None,
        shown_as_examples=frozenset(i for record in run.codings() for i in record.examples),
        taxonomy=taxonomy,
    )


def as_run_input(
    run: Run | RunInput | pd.DataFrame | str | Path, runs_dir: str | Path | None = None
) -> RunInput:
    """A run as evaluation sees it, from a `Run`, a run directory, an id in ``runs_dir``, or
    one coder's long-format codes — a file or a DataFrame (`codes_input`)."""
    if isinstance(run, RunInput):
        return run
    if isinstance(run, pd.DataFrame):
        return codes_input(run)
    if not isinstance(run, Run):
        path = Path(run)
        if path.is_file() and path.suffix.lower() in SUFFIXES:
            return codes_input(path)
        run = RunStore(runs_dir).open(run)
    return run_input(run)


def codes_input(source: str | Path | pd.DataFrame) -> RunInput:
    """One coder's codes made elsewhere (another tool, an earlier study) read as a run: a
    long-format codes file, or a DataFrame with item_id, coder and code columns.

    Every item in the codes counts as answered (an empty code is ``none``); the scheme is
    multi-label when some item has several codes. Several coders in the codes are an error."""
    if isinstance(source, pd.DataFrame):
        missing = [c for c in ("item_id", "coder", "code") if c not in source.columns]
        if missing:
            raise CodesError(
                f"the codes have no column {', '.join(missing)}",
                hint="long format: one row per code, columns item_id, coder, code",
            )
        codes = source.astype({"item_id": str, "coder": str})
        where = "the codes"
    else:
        codes, where = load_codes(source), str(source)
    coders = list(dict.fromkeys(codes["coder"]))
    if len(coders) != 1:
        raise CodesError(
            f"{where}: holds codes from {len(coders)} coders ({', '.join(coders[:5])}); in place "
            "of a run, codes hold one coder's codes",
            hint="split the codes by coder, or pass the humans' codes as the gold",
        )
    named = codes.dropna(subset=["code"])
    named = named[named["code"] != NONE_CODE]
    by_item = {
        str(i): list(dict.fromkeys(g)) for i, g in named.groupby("item_id", sort=False)["code"]
    }
    item_ids = list(dict.fromkeys(codes["item_id"].astype(str)))
    return RunInput(
        run=coders[0] if isinstance(source, pd.DataFrame) else Path(source).name,
        model=coders[0],
        prompt_hash=None,
        targets=tuple(dict.fromkeys(named["code"])),
        multi_label=any(len(c) > 1 for c in by_item.values()),
        item_ids=frozenset(item_ids),
        codes=by_item,
        statuses=dict.fromkeys(item_ids, "ok"),
        settings={"source": "codes"}
        if isinstance(source, pd.DataFrame)
        else {"source": "codes file", "path": str(source)},
        from_codes_file=True,
    )


def with_gold_codes(run: RunInput, gold: pd.DataFrame) -> RunInput:
    """A codes file's targets widened by the gold's codes (it has no taxonomy to check them)."""
    if not run.from_codes_file:
        return run
    used = gold["code"].dropna()
    extra = [c for c in dict.fromkeys(used) if c != NONE_CODE and c not in run.targets]
    return replace(run, targets=(*run.targets, *extra))


def load_gold(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Gold codes from one or more long-format files, concatenated (item_id, coder, code)."""
    frames = [load_codes(path)[["item_id", "coder", "code"]] for path in paths]
    return pd.concat(frames, ignore_index=True)


def choose_gold_coders(gold: pd.DataFrame, coders: Sequence[str] | None) -> list[str]:
    """The gold coders to use (all, in order of appearance, unless named); unknown -> error."""
    available = list(dict.fromkeys(gold["coder"].astype(str)))
    if not coders:
        return available
    chosen = list(dict.fromkeys(coders))
    unknown = [c for c in chosen if c not in available]
    if unknown:
        raise CodesError(
            f"gold coder{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            "not in the gold codes",
            hint=f"coders in the gold: {', '.join(available)}",
        )
    return chosen


def check_gold(gold: pd.DataFrame, runs: Sequence[RunInput]) -> None:
    """Refuse gold codes outside a run's taxonomy, gold items missing from a run, and several
    codes from one coder for one item when the scheme is single-label."""
    used = gold.dropna(subset=["code"])
    for run in runs:
        allowed = {*run.targets, NONE_CODE}
        outside = used[~used["code"].isin(allowed)]
        if len(outside):
            shown = ", ".join(
                f"{code} (item {item})"
                for code, item in outside[["code", "item_id"]]
                .drop_duplicates("code")
                .values[:_SHOWN]
            )
            raise CodesError(
                f"gold codes outside the taxonomy of run {run.run}: {shown}",
                hint=f"codes of that run: {', '.join(run.targets)} (or '{NONE_CODE}'); "
                "check the level (top or leaves) the run coded at",
            )
        missing = sorted(set(gold["item_id"]) - run.item_ids)
        if missing:
            raise RunStoreError(
                f"{len(missing)} gold item(s) not in run {run.run}: {_ids(missing)}",
                hint="code them first (a run with only set to the gold file), or restrict the "
                "gold to the run's items",
            )
        if not run.multi_label:
            counts = used.groupby(["item_id", "coder"])["code"].nunique()
            several = counts[counts > 1]
            if len(several):
                shown = ", ".join(f"{item} by {coder}" for item, coder in several.index[:_SHOWN])
                raise CodesError(
                    f"run {run.run} is single-label, but the gold has several codes for "
                    f"{len(several)} item/coder pair(s): {shown}",
                    hint="keep one code per item and coder",
                )


def _ids(ids: Sequence[str]) -> str:
    more = f" and {len(ids) - _SHOWN} more" if len(ids) > _SHOWN else ""
    return ", ".join(ids[:_SHOWN]) + more


def at_level(run: RunInput, level: Level) -> RunInput:
    """The run's codes at ``level`` of its taxonomy: ``top`` rolls subcategories up to their
    category (a codes file, without a taxonomy, is left as it is)."""
    from llmcode.quality.levels import roll_up

    if run.taxonomy is None:
        return run
    rows = [(i, run.run, c) for i, codes in run.codes.items() for c in codes]
    frame = roll_up(pd.DataFrame(rows, columns=["item_id", "coder", "code"]), run.taxonomy, level)
    codes: dict[str, list[str]] = {}
    for item_id, code in frame[["item_id", "code"]].itertuples(index=False):
        codes.setdefault(item_id, []).append(code)
    targets = tuple(c.id for c in run.taxonomy.targets(level))
    settings = {**run.settings, "level": f"{run.settings.get('level')} rolled up to {level}"}
    return replace(run, codes=codes, targets=targets, settings=settings)
