"""Resolution times and the tests on them: days from created to closed, open items censored.

Owns the time table (``resolution_times``), the per-code comparison (Kruskal–Wallis + Dunn,
Holm), the PTM-vs-other comparison (Mann–Whitney + Cliff's δ on closed items, log-rank on all),
and the JSON of a `Resolution`. Open items are right-censored at ``as_of``: they enter
``n_open``, the Kaplan–Meier medians and the log-rank test, and are left out of the rank tests.
`study` (the whole analysis) and `gold` (the same tests on a gold sample) both build on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
from llmcode.numbers import json_number

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
                hint="choose it with created_column / closed_column",
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
            f"item(s) closed before they were created (or created after as_of): "
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
    names = ordered_codes(sorted(merged["code"].unique()), merged["code"].value_counts(), order)
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


def ordered_codes(names: list[str], counts: pd.Series, order: list[str] | None) -> list[str]:
    """Taxonomy order when known (unknown codes last), else by count then name."""
    if order:
        known = [c for c in order if c in names]
        return known + sorted(c for c in names if c not in order)
    return sorted(names, key=lambda c: (-int(counts.get(c, 0)), c))


def resolution_json(res: Resolution) -> dict[str, Any]:
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
            "kruskal_h": json_number(test.kruskal_h),
            "p_value": json_number(test.p_value),
            "n": test.n,
            "median_days": dict(
                zip(cat["code"], map(json_number, cat["median_days"]), strict=True)
            ),
            "n_closed": dict(zip(cat["code"], map(int, cat["n_closed"]), strict=True)),
            "n_open": dict(zip(cat["code"], map(int, cat["n_open"]), strict=True)),
            "km_median_days": dict(
                zip(cat["code"], map(json_number, cat["km_median_days"]), strict=True)
            ),
            "correction": "holm",
            "dunn": [
                {k: json_number(v) if isinstance(v, float) else v for k, v in vars(p).items()}
                for p in test.dunn
            ],
            "note": test.note,
        },
    }
    if res.by_group is not None and res.group_test is not None:
        grp = res.by_group.set_index("group").to_dict("index")
        two = res.group_test
        out["ptm_vs_other"] = {
            "mannwhitney_u": json_number(two.mannwhitney_u),
            "p_value": json_number(two.p_value),
            "cliffs_delta": json_number(two.cliffs_delta),
            "magnitude": two.magnitude,
            "median_days": {g: json_number(grp[g]["median_days"]) for g in (PTM, OTHER)},
            "n_closed": {g: int(grp[g]["n_closed"]) for g in (PTM, OTHER)},
            "n_open": {g: int(grp[g]["n_open"]) for g in (PTM, OTHER)},
            "km_median_days": {g: json_number(grp[g]["km_median_days"]) for g in (PTM, OTHER)},
            "logrank_chi2": json_number(res.logrank[0]),
            "logrank_p_value": json_number(res.logrank[1]),
            "split_source": res.split_source,
            "note": two.note,
        }
    return out


def _by_code(table: pd.DataFrame, column: str) -> dict[str, float | None]:
    return dict(zip(table["code"], map(json_number, table[column]), strict=True))
