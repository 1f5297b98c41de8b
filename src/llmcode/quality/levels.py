"""Taxonomy levels of codes: which level each coder coded at, and rolling leaves up.

A code is at the ``leaves`` level when it is a subcategory (it has a parent), at the ``top``
level when it is a category that has subcategories; a category without subcategories, ``none``
and codes outside the taxonomy belong to both. Comparing a coder who coded subcategories with
one who coded categories compares unlike things (the κ of such a pair is near 0 whatever the
coders did), so `check_levels` refuses it — naming both levels — unless a level is asked for:
``top`` rolls every subcategory up to its category through the taxonomy (`roll_up`);
``leaves`` keeps the subcategories and refuses codes that are categories with subcategories.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from llmcode.errors import SettingsError
from llmcode.store.runs import MANIFEST, TAXONOMY, Run
from llmcode.taxonomy.model import Level, Taxonomy

LEVELS: tuple[Level, ...] = ("top", "leaves")


def code_level(code: object, taxonomy: Taxonomy) -> Level | None:
    """``leaves`` for a subcategory, ``top`` for a category with subcategories, else None."""
    if not isinstance(code, str):
        return None
    category = taxonomy.get(code)
    if category is None:
        return None
    parent = taxonomy.parent_of(code)
    if parent is not None and parent.id != code:
        return "leaves"
    return "top" if category.children else None


def coder_levels(codes: pd.DataFrame, taxonomy: Taxonomy) -> dict[str, Level]:
    """Each coder's level, for the coders whose codes show one (``leaves`` wins: a coder who
    used any subcategory coded at the leaves)."""
    out: dict[str, Level] = {}
    for coder, rows in codes.groupby("coder", sort=False):
        seen = {code_level(code, taxonomy) for code in rows["code"]} - {None}
        if seen:
            out[str(coder)] = "leaves" if "leaves" in seen else "top"
    return out


def check_levels(codes: pd.DataFrame, taxonomy: Taxonomy) -> None:
    """Refuse (a usage error) codes of coders at different levels."""
    levels = coder_levels(codes, taxonomy)
    if len(set(levels.values())) > 1:
        by = {level: [c for c, lv in levels.items() if lv == level] for level in LEVELS}
        raise SettingsError(
            "the coders coded at different taxonomy levels: "
            f"{', '.join(by['leaves'])} at leaves (subcategories), "
            f"{', '.join(by['top'])} at top (categories); comparing them compares unlike codes "
            "(`level` top rolls the subcategories up to their categories)",
        )


def roll_up(codes: pd.DataFrame, taxonomy: Taxonomy, level: Level) -> pd.DataFrame:
    """Codes at ``level``: ``top`` maps each subcategory to its category (one row per item,
    coder and code); ``leaves`` refuses categories that have subcategories."""
    if level not in LEVELS:
        raise SettingsError(f"level must be top or leaves, not '{level}'")
    if level == "leaves":
        coarse = sorted({str(c) for c in codes["code"] if code_level(c, taxonomy) == "top"})
        if coarse:
            raise SettingsError(
                f"codes {', '.join(coarse)} are categories with subcategories: they cannot be "
                "compared at the leaves (`level` top compares every coder at the categories)"
            )
        return codes

    def up(code: object) -> object:
        if code_level(code, taxonomy) != "leaves":
            return code
        parent = taxonomy.parent_of(str(code))
        return parent.id if parent is not None else code

    out = codes.assign(code=codes["code"].map(up))
    return out.drop_duplicates(subset=["item_id", "coder", "code"]).reset_index(drop=True)


def taxonomy_of_inputs(paths: list[Path]) -> Taxonomy | None:
    """The taxonomy of the first run among ``paths`` that keeps one (None when none does)."""
    for path in paths:
        if path.is_dir() and (path / MANIFEST).is_file() and (path / TAXONOMY).is_file():
            return Run(path).taxonomy()
    return None
