"""The study's analysis: code distribution, resolution times, and group comparisons.

Inputs are DataFrames: ``codes`` in long format (``item_id``, ``code``; one coder) and ``items``
(``item_id`` plus metadata columns such as ``project``, ``created_at``, ``closed_at``).
Resolution time is in days. Items still open are right-censored: they are counted (``n_open``),
enter the Kaplan–Meier medians and the log-rank test, and are left out of the rank tests
(Mann–Whitney, Kruskal–Wallis, Dunn), which need observed durations. An item with several codes
counts in each of its codes. `analyze` returns an `Analysis`: JSON via ``to_json`` (the stable
contract of ``llmcode analyze --json``) and every table via ``tables``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from llmcode.analysis.significance import (
    ManyGroupTest,
    TwoGroupTest,
    km_median,
    kruskal_dunn,
    logrank,
    mann_whitney,
)
from llmcode.errors import AnalysisError

if TYPE_CHECKING:
    from llmcode.analysis.gold import GoldAnalysis

PTM, OTHER = "ptm", "other"


@dataclass(frozen=True)
class Split:
    """PTM-related vs other: ``groups`` maps item_id to ``ptm`` or ``other``."""

    groups: pd.Series
    source: str


@dataclass
class Resolution:
    """Resolution times and the tests on them."""

    times: pd.DataFrame  # item_id, created, closed, days, open
    as_of: pd.Timestamp
    created_column: str
    closed_column: str
    by_category: pd.DataFrame  # code, n_closed, n_open, median_days, km_median_days
    category_test: ManyGroupTest
    by_group: pd.DataFrame | None = None  # group, n_closed, n_open, median_days, km_median_days
    group_test: TwoGroupTest | None = None
    logrank: tuple[float | None, float | None] = (None, None)
    split_source: str = ""
    no_created: list[str] = field(default_factory=list)


@dataclass
class Analysis:
    """Everything `analyze` computes, with its provenance."""

    codes_source: str
    coder: str | None
    n_items: int
    distribution: pd.DataFrame  # code, n, share
    by_project: pd.DataFrame | None
    resolution: Resolution | None
    notes: list[str] = field(default_factory=list)
    gold: GoldAnalysis | None = None  # PPI with a gold sample (`llmcode.analysis.gold`)

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
            "resolution": _resolution_json(self.resolution) if self.resolution else None,
            "notes": self.notes,
        }
        if self.by_project is not None:
            out["by_project"] = {
                str(project): {code: int(n) for code, n in row.items() if n}
                for project, row in self.by_project.iterrows()
            }
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
    codes_in_order = _ordered(list(counts.index), counts, order)
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
    columns = _ordered(list(table.columns), table.sum(), order)
    table = table.reindex(columns=columns, fill_value=0)
    table.index.name = "project"
    table.columns.name = None
    return table


def resolution_times(
    items: pd.DataFrame,
    created_column: str = "created_at",
    closed_column: str = "closed_at",
    as_of: pd.Timestamp | None = None,
) -> tuple[pd.DataFrame, pd.Timestamp, list[str]]:
    """Days from created to closed; open items censored at ``as_of`` (default: latest timestamp).

    Returns the table (item_id, created, closed, days, open), ``as_of``, and the ids of items
    without a created timestamp (which have no duration and are left out).
    """
    for column in (created_column, closed_column):
        if column not in items.columns:
            raise AnalysisError(
                f"no column '{column}' in the items; columns are: {', '.join(items.columns)}",
                hint="choose it with --created-column / --closed-column",
            )
    created = _timestamps(items, created_column)
    closed = _timestamps(items, closed_column)
    no_created = [str(i) for i in items.loc[created.isna(), "item_id"]]
    if as_of is None:
        latest = pd.concat([created, closed]).max()
        as_of = latest if pd.notna(latest) else pd.Timestamp.now(tz="UTC")
    end = closed.fillna(as_of)
    days = (end - created).dt.total_seconds() / 86400.0
    frame = pd.DataFrame(
        {
            "item_id": items["item_id"].astype(str),
            "created": created,
            "closed": closed,
            "days": days,
            "open": closed.isna(),
        }
    )
    frame = frame[created.notna()].reset_index(drop=True)
    negative = frame.loc[frame["days"] < 0, "item_id"].tolist()
    if negative:
        raise AnalysisError(
            f"item(s) closed before they were created (or created after --as-of): "
            f"{', '.join(negative[:10])}",
            hint=f"check the '{created_column}' and '{closed_column}' columns",
        )
    return frame, as_of, no_created


def compare_categories(
    times: pd.DataFrame, codes: pd.DataFrame, order: list[str] | None = None
) -> tuple[pd.DataFrame, ManyGroupTest]:
    """Per-code resolution summary and Kruskal–Wallis + Dunn (Holm) over closed items."""
    usable = codes.dropna(subset=["code"]).drop_duplicates(["item_id", "code"])
    merged = usable[["item_id", "code"]].merge(times, on="item_id", how="inner")
    names = _ordered(sorted(merged["code"].unique()), merged["code"].value_counts(), order)
    groups = {name: merged[merged["code"] == name] for name in names}
    summary = pd.DataFrame([_summary(name, g) for name, g in groups.items()], columns=_COLUMNS)
    closed = {name: g.loc[~g["open"], "days"].to_numpy() for name, g in groups.items()}
    return summary.rename(columns={"group": "code"}), kruskal_dunn(closed)


def compare_split(times: pd.DataFrame, split: Split) -> tuple[pd.DataFrame, TwoGroupTest, tuple]:
    """PTM vs other: summary per group, Mann–Whitney + Cliff's δ (closed), log-rank (all)."""
    labelled = times.merge(
        split.groups.rename("group").rename_axis("item_id").reset_index(), on="item_id"
    )
    parts = {name: labelled[labelled["group"] == name] for name in (PTM, OTHER)}
    summary = pd.DataFrame([_summary(name, g) for name, g in parts.items()], columns=_COLUMNS)
    ptm, other = parts[PTM], parts[OTHER]
    test = mann_whitney(ptm.loc[~ptm["open"], "days"], other.loc[~other["open"], "days"])
    rank = logrank(ptm["days"], ptm["open"], other["days"], other["open"])
    return summary, test, rank


def analyze(
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
    return Analysis(
        codes_source=codes_source,
        coder=coder,
        n_items=len(items),
        distribution=distribution(codes, order),
        by_project=by_project,
        resolution=resolution,
        notes=notes,
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


_COLUMNS = ["group", "n_closed", "n_open", "median_days", "km_median_days"]


def _summary(name: str, group: pd.DataFrame) -> dict[str, Any]:
    closed = group.loc[~group["open"], "days"]
    return {
        "group": name,
        "n_closed": len(closed),
        "n_open": int(group["open"].sum()),
        "median_days": float(closed.median()) if len(closed) else None,
        "km_median_days": km_median(group["days"], group["open"]),
    }


def _timestamps(items: pd.DataFrame, column: str) -> pd.Series:
    text = pd.Series([str(v).strip() for v in items[column]], index=items.index, dtype=object)
    parsed = pd.to_datetime(text.where(text != ""), utc=True, errors="coerce", format="ISO8601")
    bad = (parsed.isna() & (text != "")).to_numpy()
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise AnalysisError(
            f"column '{column}': item {items['item_id'].iloc[first]} has '{text.iloc[first]}', "
            "not a timestamp",
            hint="use ISO 8601 (2024-03-30T01:18:46Z); leave it blank for open items",
        )
    return parsed


def _ordered(names: list[str], counts: pd.Series, order: list[str] | None) -> list[str]:
    """Taxonomy order when known (unknown codes last), else by count then name."""
    if order:
        known = [c for c in order if c in names]
        return known + sorted(c for c in names if c not in order)
    return sorted(names, key=lambda c: (-int(counts.get(c, 0)), c))


def _resolution_json(res: Resolution) -> dict[str, Any]:
    cat, test = res.by_category, res.category_test
    out: dict[str, Any] = {
        "created_column": res.created_column,
        "closed_column": res.closed_column,
        "as_of": res.as_of.isoformat(),
        "n_items": len(res.times),
        "n_closed": int((~res.times["open"]).sum()),
        "n_open": int(res.times["open"].sum()),
        "n_no_created": len(res.no_created),
        "censoring": "open items are censored at as_of: in n_open and km_median_days, "
        "not in the rank tests",
        "by_category": {
            "kruskal_h": _num(test.kruskal_h),
            "p_value": _num(test.p_value),
            "n": test.n,
            "median_days": dict(zip(cat["code"], map(_num, cat["median_days"]), strict=True)),
            "n_closed": dict(zip(cat["code"], map(int, cat["n_closed"]), strict=True)),
            "n_open": dict(zip(cat["code"], map(int, cat["n_open"]), strict=True)),
            "km_median_days": dict(zip(cat["code"], map(_num, cat["km_median_days"]), strict=True)),
            "correction": "holm",
            "dunn": [
                {k: _num(v) if isinstance(v, float) else v for k, v in vars(p).items()}
                for p in test.dunn
            ],
            "note": test.note,
        },
    }
    if res.by_group is not None and res.group_test is not None:
        grp = res.by_group.set_index("group").to_dict("index")
        two = res.group_test
        out["ptm_vs_other"] = {
            "mannwhitney_u": _num(two.mannwhitney_u),
            "p_value": _num(two.p_value),
            "cliffs_delta": _num(two.cliffs_delta),
            "magnitude": two.magnitude,
            "median_days": {g: _num(grp[g]["median_days"]) for g in (PTM, OTHER)},
            "n_closed": {g: int(grp[g]["n_closed"]) for g in (PTM, OTHER)},
            "n_open": {g: int(grp[g]["n_open"]) for g in (PTM, OTHER)},
            "km_median_days": {g: _num(grp[g]["km_median_days"]) for g in (PTM, OTHER)},
            "logrank_chi2": _num(res.logrank[0]),
            "logrank_p_value": _num(res.logrank[1]),
            "split_source": res.split_source,
            "note": two.note,
        }
    return out


def _num(value: Any) -> float | None:
    """A JSON number at full precision (JSON is for machines; people read the rounded tables)."""
    if value is None:
        return None
    number = float(value)
    return number if np.isfinite(number) else None
