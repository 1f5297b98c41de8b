"""Multi-label codes: each coder's rows for an item collapse into one code set.

Distinct sets become the labels (categories) of the ratings, ordered by size and then by code
order; `membership` (labels × codes) says which codes each set holds. A set's label is its codes
joined by "; ", and the empty set (a coder who saw the item and applied no code) is "(none)".
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

EMPTY_SET_LABEL = "(none)"
SET_SEPARATOR = "; "
IntArray = npt.NDArray[np.int64]


def collapse_sets(
    item: IntArray,
    coder: IntArray,
    has_code: npt.NDArray[np.bool_],
    base_of_row: IntArray,
    base: tuple[str, ...],
    n_coders: int,
) -> tuple[IntArray, IntArray, IntArray, tuple[str, ...], npt.NDArray[np.bool_]]:
    """Rows (item, coder, code position in `base` for rows with a code) -> one set per cell.

    Returns each cell's item, coder and set label, the set labels, and their membership.
    """
    cells, cell_of_row = np.unique(item * n_coders + coder, return_inverse=True)
    cell_of_row = cell_of_row.ravel()
    member = np.zeros((len(cells), len(base)), dtype=bool)
    member[cell_of_row[has_code], base_of_row] = True
    packed = np.ascontiguousarray(np.packbits(member, axis=1))
    if packed.shape[1]:
        keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    else:  # every set is empty
        keys = np.zeros(len(cells), dtype=np.int8)
    _, first, set_idx = np.unique(keys, return_index=True, return_inverse=True)
    distinct = member[first]
    order = sorted(range(len(distinct)), key=lambda i: _sort_key(distinct[i]))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    membership = distinct[order]
    labels = tuple(set_label(row, base) for row in membership)
    return cells // n_coders, cells % n_coders, rank[set_idx.ravel()], labels, membership


def set_label(row: npt.NDArray[np.bool_], base: tuple[str, ...]) -> str:
    """The label of a code set: its codes joined by "; ", or "(none)"."""
    members = [base[i] for i in np.flatnonzero(row)]
    return SET_SEPARATOR.join(members) if members else EMPTY_SET_LABEL


def _sort_key(row: npt.NDArray[np.bool_]) -> tuple[int, list[int]]:
    members = np.flatnonzero(row).tolist()
    return len(members), members
