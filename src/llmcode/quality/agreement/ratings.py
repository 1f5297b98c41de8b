"""Long-format codes -> `Ratings`, the item × coder matrix every coefficient is computed from.

Owns the data definitions shared by all coefficients:

* Input rows are ``item_id, coder, code``; a coder who has no row for an item did not code it.
* Single-label: each coder gives an item at most one code (rows with an empty code are ignored,
  repeated identical rows collapse). The item's value for that coder is that code.
* Multi-label: an item's value for a coder is the *set* of codes in that coder's rows; a row with
  an empty code (and no other code) is the empty set, i.e. "coded, nothing applies".
* Only *pairable* items — coded by at least two of the chosen coders — enter the observed
  agreement of any coefficient. Items coded by one coder are listed in
  `Ratings.excluded_item_ids`, never silently mixed in; their one label each is kept in
  `Ratings.single_labels`, because Gwet's AC1 (Gwet 2014) takes its chance-agreement shares
  from every item rated at least once.
* Categories ("labels") are the observed values on every coded item, or the `categories` given.
  They are ordered numerically when every code is a number, else alphabetically; ordinal codes
  that are not numbers need `categories` in order. Interval codes must be numbers.
  In multi-label mode a label is a distinct code set; `membership` maps labels to codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse

from llmcode.errors import AgreementError, ConfigError
from llmcode.quality.agreement.codesets import collapse_sets

Level = Literal["nominal", "ordinal", "interval"]
LEVELS: tuple[Level, ...] = ("nominal", "ordinal", "interval")
_DENSE_LABELS = 32


@dataclass(frozen=True, eq=False)
class Ratings:
    """Pairable items × coders, each cell an index into `labels` (-1: not coded)."""

    item_ids: npt.NDArray[np.object_]
    coders: tuple[str, ...]
    labels: tuple[str, ...]
    codes: npt.NDArray[np.int64]
    membership: npt.NDArray[np.bool_]
    base_codes: tuple[str, ...]
    level: Level = "nominal"
    multi_label: bool = False
    values: npt.NDArray[np.float64] | None = None
    excluded_item_ids: tuple[str, ...] = ()
    single_labels: npt.NDArray[np.int64] = field(
        default_factory=lambda: np.empty(0, dtype=np.int64)
    )
    """The label of each item coded by exactly one coder (in `excluded_item_ids` order)."""
    single_coders: npt.NDArray[np.int64] = field(
        default_factory=lambda: np.empty(0, dtype=np.int64)
    )
    """Which coder (a column of `codes`) gave each of `single_labels`."""
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """Per-item quantities the coefficients derive once (keyed by name)."""

    @property
    def n_items(self) -> int:
        return int(self.codes.shape[0])

    @property
    def n_coders(self) -> int:
        return int(self.codes.shape[1])

    @property
    def n_labels(self) -> int:
        return len(self.labels)

    @cached_property
    def n_coded(self) -> npt.NDArray[np.float64]:
        """Codings per item (m_u)."""
        return (self.codes >= 0).sum(axis=1).astype(np.float64)

    @cached_property
    def counts(self) -> sparse.csr_matrix | npt.NDArray[np.float64]:
        """Items × labels: how many coders gave each label to each item (n_uc).

        Dense for a few labels (fast), sparse for many (e.g. distinct multi-label code sets).
        """
        coded = self.codes >= 0
        if self.n_labels <= _DENSE_LABELS:
            start = np.arange(self.n_items)[:, None] * self.n_labels
            cells = (start + self.codes)[coded]
            dense = np.bincount(cells, minlength=self.n_items * self.n_labels)
            return dense.reshape(self.n_items, self.n_labels).astype(np.float64)
        rows, cols = np.nonzero(coded)
        data = np.ones(len(rows))
        shape = (self.n_items, self.n_labels)
        return sparse.csr_matrix((data, (rows, self.codes[rows, cols])), shape=shape)

    @cached_property
    def pair_columns(
        self,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """Items × unordered coder pairs: the first and second coder's labels, and where both
        coded (labels outside it are -1 or a lone label and must be masked)."""
        first_coder, second_coder = np.triu_indices(self.n_coders, 1)
        first, second = self.codes[:, first_coder], self.codes[:, second_coder]
        return first, second, (first >= 0) & (second >= 0)

    def label_usage(self) -> dict[str, int]:
        """How many codings used each label (only labels used at least once)."""
        totals = np.asarray(self.counts.sum(axis=0)).ravel()  # dense or sparse
        return {self.labels[i]: int(totals[i]) for i in np.flatnonzero(totals)}

    def select(self, coders: Sequence[str]) -> Ratings:
        """The same labels, restricted to `coders` and to the items at least two of them coded."""
        columns = [self.coders.index(name) for name in coders]
        codes = self.codes[:, columns]
        coded = (codes >= 0).sum(axis=1)
        keep = coded >= 2
        now_single = np.flatnonzero(coded == 1)
        single_column = np.argmax(codes[now_single] >= 0, axis=1)
        new_position = np.full(self.n_coders, -1, dtype=np.int64)
        new_position[columns] = np.arange(len(columns))
        still_single = new_position[self.single_coders] >= 0
        return Ratings(
            item_ids=self.item_ids[keep],
            coders=tuple(coders),
            labels=self.labels,
            codes=codes[keep],
            membership=self.membership,
            base_codes=self.base_codes,
            level=self.level,
            multi_label=self.multi_label,
            values=self.values,
            excluded_item_ids=(
                tuple(np.asarray(self.excluded_item_ids, dtype=object)[still_single])
                + tuple(self.item_ids[now_single])
            ),
            single_labels=np.concatenate(
                [self.single_labels[still_single], codes[now_single, single_column]]
            ).astype(np.int64),
            single_coders=np.concatenate(
                [new_position[self.single_coders[still_single]], single_column]
            ).astype(np.int64),
        )

    def indicator(self, code: str) -> Ratings:
        """One-vs-rest: per item and coder, whether `code` was applied ("present"/"absent")."""
        column = self.membership[:, self.base_codes.index(code)].astype(np.int64)
        codes = np.where(self.codes >= 0, column[np.maximum(self.codes, 0)], -1)
        return Ratings(
            item_ids=self.item_ids,
            coders=self.coders,
            labels=("absent", "present"),
            codes=codes,
            membership=np.eye(2, dtype=bool),
            base_codes=("absent", "present"),
            excluded_item_ids=self.excluded_item_ids,
            single_labels=column[self.single_labels],
            single_coders=self.single_coders,
        )


def build_ratings(
    codes: pd.DataFrame,
    *,
    coders: Sequence[str] | None = None,
    level: Level = "nominal",
    multi_label: bool = False,
    categories: Sequence[str] | None = None,
) -> Ratings:
    """Check long-format codes and turn them into `Ratings` (see the module docstring).

    Raises `AgreementError` naming the problem: missing columns, no rows, unknown coders, fewer
    than two coders, several codes per item in single-label mode, a coder sharing no item with
    the others, no pairable item, codes outside `categories`, non-numeric interval codes.
    """
    if level not in LEVELS:
        raise ConfigError(f"unknown level {level!r}", hint="use nominal, ordinal or interval")
    if multi_label and level != "nominal":
        raise ConfigError(
            f"multi-label codes are sets; level {level!r} does not apply to them",
            hint="leave level at nominal, or code one label per item",
        )
    columns = _columns(codes)
    chosen, coder_of_row = _choose_coders(columns, coders)
    keep = coder_of_row >= 0
    item, coder, code = columns.item[keep], coder_of_row[keep], columns.code[keep]
    if not multi_label:
        item, coder, code = _single_label_rows(item, coder, code, columns, chosen)
    n_coders = len(chosen)
    coded_cell = np.zeros(len(columns.items) * n_coders, dtype=bool)
    coded_cell[item * n_coders + coder] = True  # bounded integers: a mask, not a sort
    coders_per_item = coded_cell.reshape(-1, n_coders).sum(axis=1)
    if not (coders_per_item >= 2).any():
        raise AgreementError(
            f"no item was coded by two or more of the coders {', '.join(chosen)}",
            hint="check that item ids match across the inputs",
        )
    if multi_label:
        has_code = code >= 0
        if has_code.any():
            base_of_row, base = _labels_of(
                code[has_code], columns.code_names, "nominal", categories
            )
        else:
            base_of_row, base = np.empty(0, dtype=np.int64), tuple(map(str, categories or ()))
        item, coder, label, labels, membership = collapse_sets(
            item, coder, has_code, base_of_row, base, n_coders
        )
    else:
        label, labels = _labels_of(code, columns.code_names, level, categories)
        membership, base = np.eye(len(labels), dtype=bool), labels
    order, rows = _dense_rank(item, len(columns.items))
    matrix = np.full((len(order), n_coders), -1, dtype=np.int64)
    matrix[rows, coder] = label
    coded = (matrix >= 0).sum(axis=1)
    single = coded == 1
    single_coders = np.argmax(matrix[single] >= 0, axis=1).astype(np.int64)
    single_labels = matrix[single][np.arange(len(single_coders)), single_coders]
    excluded = tuple(columns.items[order[single]])
    order, matrix = order[coded >= 2], matrix[coded >= 2]
    _check_overlap(matrix, chosen)
    return Ratings(
        item_ids=columns.items[order],
        coders=tuple(chosen),
        labels=labels,
        codes=matrix,
        membership=membership,
        base_codes=base,
        level=level,
        multi_label=multi_label,
        values=_as_numbers(labels) if level == "interval" else None,
        excluded_item_ids=excluded,
        single_labels=single_labels,
        single_coders=single_coders,
    )


def _dense_rank(
    values: npt.NDArray[np.int64], bound: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """`np.unique(values, return_inverse=True)` for integers in [0, bound), without sorting."""
    used = np.zeros(bound, dtype=bool)
    used[values] = True
    order = np.flatnonzero(used)
    rank = np.cumsum(used) - 1
    return order, rank[values]


@dataclass(frozen=True)
class _Columns:
    """The three columns as integer codes into their distinct text values (-1: missing)."""

    item: npt.NDArray[np.int64]
    items: npt.NDArray[np.object_]
    coder: npt.NDArray[np.int64]
    coder_names: npt.NDArray[np.object_]
    code: npt.NDArray[np.int64]
    code_names: npt.NDArray[np.object_]


def _columns(codes: pd.DataFrame) -> _Columns:
    missing = [name for name in ("item_id", "coder", "code") if name not in codes.columns]
    if missing:
        raise AgreementError(
            f"codes lack the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
            hint="agreement needs long format: item_id, coder, code (one row per code)",
        )
    if codes.empty:
        raise AgreementError("there are no codes to compare")
    item, items = _text_factor(codes["item_id"])
    coder, coder_names = _text_factor(codes["coder"])
    for name, index in (("item_id", item), ("coder", coder)):
        if (index < 0).any():
            raise AgreementError(
                f"{int((index < 0).sum())} row(s) have no {name}",
                hint=f"every row needs an item_id and a coder; drop or fix rows without {name}",
            )
    code, code_names = _text_factor(codes["code"], strip=True)
    return _Columns(item, items, coder, coder_names, code, code_names)


def _text_factor(
    column: pd.Series, strip: bool = False
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.object_]]:
    """Factorise a column as text (1 and "1" are one value); missing, or blank when `strip`, -> -1.

    Only the distinct values are turned into strings, so this stays fast on long tables.
    """
    raw, uniques = pd.factorize(column)
    if isinstance(column.dtype, pd.StringDtype):  # already text: no per-value str()
        if not strip:
            return raw.astype(np.int64), np.asarray(uniques, dtype=object)
        text = list(pd.Series(uniques, dtype=column.dtype).str.strip())
    else:
        text = [str(value).strip() if strip else str(value) for value in uniques]
    index, names = pd.factorize(np.array(text, dtype=object))
    mapping = index.astype(np.int64)
    if strip:
        mapping[np.array([t == "" for t in text], dtype=bool)] = -1
    out = np.where(raw >= 0, mapping[np.maximum(raw, 0)], -1)
    return out.astype(np.int64), np.asarray(names, dtype=object)


def _choose_coders(
    columns: _Columns, coders: Sequence[str] | None
) -> tuple[list[str], npt.NDArray[np.int64]]:
    """The coders compared (in the given order, or as they first appear) and each row's one."""
    available = [str(name) for name in columns.coder_names]
    if coders is None:
        chosen = available
    else:
        chosen = list(dict.fromkeys(coders))
        unknown = [name for name in chosen if name not in available]
        if unknown:
            raise AgreementError(
                f"unknown coder{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}",
                hint=f"coders in the data: {', '.join(available)}",
            )
    if len(chosen) < 2:
        raise AgreementError(
            f"agreement needs at least two coders; found {len(chosen)} "
            f"({', '.join(chosen) or 'none'})",
            hint="add another coder's codes (a second file or a run directory)",
        )
    position = np.full(len(available), -1, dtype=np.int64)
    for j, name in enumerate(chosen):
        position[available.index(name)] = j
    return chosen, position[columns.coder]


def _single_label_rows(
    item: npt.NDArray[np.int64],
    coder: npt.NDArray[np.int64],
    code: npt.NDArray[np.int64],
    columns: _Columns,
    chosen: list[str],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Drop empty codes and repeated rows; refuse two different codes from one coder."""
    has_code = code >= 0
    item, coder, code = item[has_code], coder[has_code], code[has_code]
    if item.size == 0:
        raise AgreementError("there are no codes to compare (every code is empty)")
    cell = item * len(chosen) + coder
    _, first = np.unique(cell * len(columns.code_names) + code, return_index=True)
    item, coder, code, cell = item[first], coder[first], code[first], cell[first]
    repeated = np.flatnonzero(cell[1:] == cell[:-1])
    if repeated.size:
        clashes = np.unique(cell[repeated])
        shown = "; ".join(
            f"item {columns.items[c // len(chosen)]} by {chosen[c % len(chosen)]}: "
            + ", ".join(map(str, columns.code_names[code[cell == c]]))
            for c in clashes[:3]
        )
        raise AgreementError(
            f"{clashes.size} item/coder pair(s) have more than one code ({shown})",
            hint="set multi_label if several codes per item are intended",
        )
    return item, coder, code


def _labels_of(
    code: npt.NDArray[np.int64],
    code_names: npt.NDArray[np.object_],
    level: Level,
    categories: Sequence[str] | None,
) -> tuple[npt.NDArray[np.int64], tuple[str, ...]]:
    """Each row's label position, and the labels in order."""
    used = np.unique(code)
    labels = _ordered_labels([str(name) for name in code_names[used]], level, categories)
    position = {label: i for i, label in enumerate(labels)}
    label_of_code = np.full(len(code_names), -1, dtype=np.int64)
    label_of_code[used] = [position[str(name)] for name in code_names[used]]
    return label_of_code[code], labels


def _check_overlap(matrix: npt.NDArray[np.int64], chosen: list[str]) -> None:
    lonely = [name for j, name in enumerate(chosen) if not (matrix[:, j] >= 0).any()]
    if lonely:
        raise AgreementError(
            f"coder{'s' if len(lonely) > 1 else ''} {', '.join(map(repr, lonely))} "
            f"share{'' if len(lonely) > 1 else 's'} no item with the other coders",
            hint="check that item ids match across the inputs, or leave "
            f"{'them' if len(lonely) > 1 else 'it'} out of coders",
        )


def _ordered_labels(
    observed: list[str], level: Level, categories: Sequence[str] | None
) -> tuple[str, ...]:
    if categories is not None:
        given = list(dict.fromkeys(str(c) for c in categories))
        unknown = sorted(set(observed) - set(given))
        if unknown:
            raise AgreementError(
                f"codes not among the given categories: {', '.join(unknown[:10])}",
                hint=f"categories given: {', '.join(given)}",
            )
        labels = given
    else:
        numeric = _as_numbers(observed)
        if numeric is not None:
            labels = [observed[i] for i in np.argsort(numeric, kind="stable")]
        elif level == "ordinal":
            raise AgreementError(
                "ordinal codes that are not numbers need an explicit order",
                hint="give the categories in order, e.g. categories low, mid, high",
            )
        else:
            labels = sorted(observed)
    if level == "interval" and _as_numbers(labels) is None:
        raise AgreementError(
            "interval level needs numeric codes",
            hint=f"codes found: {', '.join(labels[:10])}; use level nominal or ordinal",
        )
    return tuple(labels)


def _as_numbers(labels: Sequence[str]) -> npt.NDArray[np.float64] | None:
    try:
        values = np.array([float(label) for label in labels], dtype=np.float64)
    except ValueError:
        return None
    return values if np.isfinite(values).all() else None
