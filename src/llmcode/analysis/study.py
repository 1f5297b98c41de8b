"""The study's analysis: code distribution, resolution times, and group comparisons.

Inputs are DataFrames: ``codes`` in long format (``item_id``, ``code``; one coder) and ``items``
(``item_id`` plus metadata columns such as ``project``, ``created_at``, ``closed_at``).
Resolution time is in days. Items still open are right-censored: they are counted (``n_open``),
enter the Kaplan–Meier medians and the log-rank test, and are left out of the rank tests
(Mann–Whitney, Kruskal–Wallis, Dunn), which need observed durations. An item with several codes
counts in each of its codes. `analyze_codes` returns an `Analysis`: JSON via ``to_json`` (the stable
contract of ``llmcode analyze --json``) and every table via ``tables``. The resolution-time
tables and tests themselves are `llmcode.analysis.resolution`'s; this module assembles them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from llmcode.analysis.resolution import (
    Resolution,
    Split,
    compare_categories,
    compare_split,
    ordered_codes,
    resolution_json,
    resolution_times,
)
from llmcode.store.final import route_counts, route_sentence

if TYPE_CHECKING:
    from llmcode.analysis.gold import GoldAnalysis


@dataclass
class Analysis:
    """Everything `analyze_codes` computes, with its provenance."""

    codes_source: str
    coder: str | None
    n_items: int
    distribution: pd.DataFrame  # code, n, share
    by_project: pd.DataFrame | None
    resolution: Resolution | None
    notes: list[str] = field(default_factory=list)
    gold: GoldAnalysis | None = None  # PPI with a gold sample (`llmcode.analysis.gold`)
    routes: dict[str, int] | None = None
    """For a final table (``export --final``): how many final codes came from each route."""

    def to_json(self) -> dict[str, Any]:
        """The JSON contract of ``llmcode analyze --json``."""
        dist = self.distribution
        rows = dist.to_dict("records")
        out: dict[str, Any] = {
            "codes_source": self.codes_source,
            "coder": self.coder,
            "n_items": self.n_items,
            "n_coded_items": int(dist.attrs.get("n_coded_items", 0)),
            "distribution": {str(r["code"]): int(r["n"]) for r in rows},
            "shares": {str(r["code"]): float(r["share"]) for r in rows},
            "by_project": None,
            "resolution": resolution_json(self.resolution) if self.resolution else None,
            "notes": self.notes,
        }
        if self.by_project is not None:
            out["by_project"] = {
                str(project): {code: int(n) for code, n in row.items() if n}
                for project, row in self.by_project.iterrows()
            }
        if self.routes is not None:
            out["final_routes"] = self.routes
        if self.gold is not None:
            out |= self.gold.to_json()
        return out

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table, for CSV export and re-plotting."""
        out = {"distribution": self.distribution}
        if self.by_project is not None:
            out["distribution_by_project"] = self.by_project.reset_index()
        res = self.resolution
        if res is not None:
            out["resolution_times"] = res.times
            out["resolution_by_category"] = res.by_category
            out["dunn"] = pd.DataFrame(
                [vars(p) for p in res.category_test.dunn],
                columns=["a", "b", "z", "p_value", "p_adjusted"],
            )
            if res.by_group is not None:
                out["resolution_ptm_vs_other"] = res.by_group
        if self.gold is not None:
            out |= self.gold.tables()
        return out


def distribution(codes: pd.DataFrame, order: list[str] | None = None) -> pd.DataFrame:
    """Items per code and their share of the coded items (``attrs['n_coded_items']``)."""
    usable = codes.dropna(subset=["code"]).drop_duplicates(["item_id", "code"])
    counts = usable.groupby("code")["item_id"].nunique()
    coded = int(usable["item_id"].nunique())
    codes_in_order = ordered_codes(list(counts.index), counts, order)
    frame = pd.DataFrame(
        {
            "code": codes_in_order,
            "n": [int(counts.get(c, 0)) for c in codes_in_order],
        }
    )
    frame["share"] = frame["n"] / coded if coded else 0.0
    frame.attrs["n_coded_items"] = coded
    return frame


def distribution_by_project(
    codes: pd.DataFrame, items: pd.DataFrame, project_column: str, order: list[str] | None = None
) -> pd.DataFrame:
    """A project × code table of item counts (projects as the index)."""
    usable = codes.dropna(subset=["code"]).drop_duplicates(["item_id", "code"])
    merged = usable.merge(items[["item_id", project_column]], on="item_id", how="inner")
    table = pd.crosstab(merged[project_column], merged["code"])
    columns = ordered_codes(list(table.columns), table.sum(), order)
    table = table.reindex(columns=columns, fill_value=0)
    table.index.name = "project"
    table.columns.name = None
    return table


def analyze_codes(
    codes: pd.DataFrame,
    items: pd.DataFrame,
    *,
    codes_source: str,
    coder: str | None = None,
    order: list[str] | None = None,
    project_column: str | None = "project",
    created_column: str = "created_at",
    closed_column: str = "closed_at",
    require_times: bool = False,
    as_of: pd.Timestamp | None = None,
    split: Split | None = None,
) -> Analysis:
    """Distribution, per-project table and resolution tests for one coder's codes."""
    notes: list[str] = []
    known = set(items["item_id"].astype(str))
    outside = sorted(set(codes["item_id"]) - known)
    if outside:
        notes.append(
            f"{len(outside)} coded item(s) are not among the items and are left out: "
            + ", ".join(outside[:5])
            + (" ..." if len(outside) > 5 else "")
        )
        codes = codes[codes["item_id"].isin(known)]
    by_project = None
    if project_column and project_column in items.columns:
        by_project = distribution_by_project(codes, items, project_column, order)
    has_times = created_column in items.columns and closed_column in items.columns
    resolution = None
    if has_times or require_times:
        resolution = _resolution(
            codes, items, created_column, closed_column, as_of, split, order, notes
        )
    else:
        notes.append(f"no resolution times: the items lack '{created_column}' or '{closed_column}'")
    routes = None
    if "resolved_by" in codes.columns:  # a final table: say where its codes came from
        routes = route_counts(codes)
        notes.append("final codes by route: " + route_sentence(routes))
    return Analysis(
        codes_source=codes_source,
        coder=coder,
        n_items=len(items),
        distribution=distribution(codes, order),
        by_project=by_project,
        resolution=resolution,
        notes=notes,
        routes=routes,
    )


def _resolution(
    codes: pd.DataFrame,
    items: pd.DataFrame,
    created_column: str,
    closed_column: str,
    as_of: pd.Timestamp | None,
    split: Split | None,
    order: list[str] | None,
    notes: list[str],
) -> Resolution:
    times, as_of, no_created = resolution_times(items, created_column, closed_column, as_of)
    if no_created:
        notes.append(
            f"{len(no_created)} item(s) without '{created_column}' have no resolution time"
        )
    by_category, category_test = compare_categories(times, codes, order)
    codes_of = codes.dropna(subset=["code"]).groupby("item_id")["code"].agg(";".join)
    times = times.assign(codes=times["item_id"].map(codes_of).fillna(""))
    resolution = Resolution(
        times=times,
        as_of=as_of,
        created_column=created_column,
        closed_column=closed_column,
        by_category=by_category,
        category_test=category_test,
        no_created=no_created,
    )
    if split is not None:
        unscreened = int((~times["item_id"].isin(split.groups.index)).sum())
        if unscreened:
            notes.append(f"{unscreened} item(s) have no PTM/other label and are left out")
        resolution.by_group, resolution.group_test, resolution.logrank = compare_split(times, split)
        resolution.split_source = split.source
        resolution.times = times.assign(group=times["item_id"].map(split.groups).fillna(""))
    return resolution
