"""The items coders disagree on, side by side, for adjudication.

One row per compared item whose coders did not all give the same value (the same code, or for
multi-label the same code set): each coder's codes, and each coder's justification when the
input has a ``justification`` column (LLM runs do).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from llmcode.quality.agreement.ratings import build_ratings


def find_disagreements(
    codes: pd.DataFrame,
    *,
    coders: Sequence[str] | None = None,
    multi_label: bool = False,
) -> pd.DataFrame:
    """Columns: item_id, one per coder (codes joined by "; ", empty when not coded, "(none)" for an
    empty set) and ``<coder>_justification`` for coders that gave justifications."""
    ratings = build_ratings(codes, coders=coders, multi_label=multi_label)
    coded = ratings.codes >= 0
    lowest = np.where(coded, ratings.codes, np.iinfo(np.int64).max).min(axis=1)
    highest = ratings.codes.max(axis=1)
    differ = lowest != highest
    labels = np.array([*ratings.labels, ""], dtype=object)
    table = pd.DataFrame({"item_id": ratings.item_ids[differ].astype(str)})
    for j, coder in enumerate(ratings.coders):
        table[coder] = labels[ratings.codes[differ, j]]
    if "justification" in codes.columns and len(table):
        table = _with_justifications(table, codes, ratings.coders)
    return table.reset_index(drop=True)


def _with_justifications(
    table: pd.DataFrame, codes: pd.DataFrame, coders: Sequence[str]
) -> pd.DataFrame:
    rows = codes.assign(item_id=codes["item_id"].astype(str), coder=codes["coder"].astype(str))
    rows = rows[rows["item_id"].isin(set(table["item_id"])) & rows["coder"].isin(coders)]
    text = rows["justification"].map(lambda v: v.strip() if isinstance(v, str) else v)
    rows = rows.assign(justification=text)[text.notna() & (text != "")]
    joined = rows.groupby(["item_id", "coder"], sort=False)["justification"].agg(
        lambda values: " | ".join(dict.fromkeys(map(str, values)))
    )
    for coder in coders:
        if coder in joined.index.get_level_values("coder"):
            per_item = joined.xs(coder, level="coder")
            table[f"{coder}_justification"] = table["item_id"].map(per_item).fillna("")
    return table
