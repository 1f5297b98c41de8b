"""Example retrieval in bulk: the examples of many items at once, exactly as one item at a time.

`ExamplePool.select` used to score one item against the pool, sort the whole pool in Python and
run MMR one candidate at a time (4 ms an item, 13 minutes for 200,000 items). `Retriever` does
the same selection for a chunk of items at a time:

- similarities are one sparse (TF-IDF) or dense (embeddings) matrix product per chunk,
  ``pool @ chunk.T``, whose every entry adds the same terms in the same order as the
  one-item product, so the values are identical;
- the candidates (the ``CANDIDATES`` most similar entries, ties by pool order) come from a
  partial sort (``argpartition``) with ties at the cut settled like a full sort;
- MMR's greedy steps run on the whole chunk at once, with the pool's pairwise similarities
  (its Gram matrix, computed once in row blocks when the pool has at most ``GRAM_LIMIT``
  entries); a step whose best scores lie within 1e-12 of each other is replayed item by item
  with the original rule, so a near-tie resolves as before;
- quotas take each code's ``k`` most similar entries and run the original round robin on them.

The item itself (same id, or the pool entry with the same folded text) is never a candidate.
``progress(done, total)`` is called after each chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

CHUNK = 256
"""Items scored per matrix product (a chunk's similarities: CHUNK x pool floats)."""
GRAM_LIMIT = 6000
"""Largest pool whose pairwise similarities are kept in memory (6000^2 floats: 288 MB)."""
TIE = 1e-12
"""MMR keeps the earlier candidate unless a later one scores more than this above it."""
NARROW = 8
"""``top_rows`` narrows a matrix at least this many times wider than the count it keeps ..."""
BLOCKS = 4
"""... with the minima of this many blocks of columns per value kept."""

Progress = Callable[[int, int], None]
Scored = tuple[np.ndarray, np.ndarray]


class Retriever:
    """Selects examples for chunks of items from one pool's vectors and codes."""

    def __init__(
        self,
        matrix: Any,
        ids: Sequence[str],
        codes: Sequence[tuple[str, ...]],
        *,
        strategy: str,
        diversity: float,
        candidates: int,
    ) -> None:
        self.matrix = matrix
        self.size = len(ids)
        self.strategy = strategy
        self.diversity = diversity
        self.candidates = candidates
        self.rows_by_id: dict[str, list[int]] = {}
        for n, item_id in enumerate(ids):
            self.rows_by_id.setdefault(item_id, []).append(n)
        names = sorted({c for entry in codes for c in entry})
        column = {name: j for j, name in enumerate(names)}
        self.code_matrix = np.zeros((self.size, max(1, len(names))), dtype=bool)
        for n, entry in enumerate(codes):
            for c in entry:
                self.code_matrix[n, column[c]] = True
        groups: dict[str, list[int]] = {}
        for n, entry in enumerate(codes):
            groups.setdefault(entry[0] if entry else "", []).append(n)
        self.groups = [np.asarray(rows) for rows in groups.values()]
        self.first_codes = [""] * self.size
        for label, rows in enumerate(groups.values()):
            for n in rows:
                self.first_codes[n] = str(label)
        self._gram: np.ndarray | None = None

    def similarities(self, queries: Any) -> np.ndarray:
        """Cosine similarities, one row per query (each entry as the one-query product)."""
        product = self.matrix @ queries.T
        if hasattr(product, "toarray"):
            return np.asarray(product.T.toarray(), dtype=np.float64)
        return np.ascontiguousarray(np.asarray(product).T, dtype=np.float64)

    def gram(self) -> np.ndarray | None:
        """The pool's pairwise similarities (None past ``GRAM_LIMIT`` entries)."""
        if self._gram is None and self.size <= GRAM_LIMIT:
            gram = np.empty((self.size, self.size))
            sparse = hasattr(self.matrix, "toarray")
            other = self.matrix.T.tocsr() if sparse else self.matrix.T
            for start in range(0, self.size, 512):
                block = self.matrix[start : start + 512] @ other
                gram[start : start + 512] = block.toarray() if sparse else block
            self._gram = gram
        return self._gram

    def select(
        self, queries: Any, item_ids: Sequence[str], same: Sequence[int | None], k: int
    ) -> list[list[int]]:
        """Pool rows chosen for each query, in order (``same``: the row with the same text)."""
        return self.choose(self.score(queries, item_ids, same, k), k)

    def score(
        self, queries: Any, item_ids: Sequence[str], same: Sequence[int | None], k: int
    ) -> Scored:
        """The similarities of a chunk and what ``choose`` needs of them: the MMR candidates
        (`top_rows`), or the negated similarities with the item itself excluded (quota). Safe
        in a worker thread: the products and sorts run in C without the GIL."""
        sims = self.similarities(queries)
        neg = -sims
        for row, (item_id, twin) in enumerate(zip(item_ids, same, strict=True)):
            for n in self.rows_by_id.get(item_id, ()):
                neg[row, n] = np.inf
            if twin is not None:
                neg[row, twin] = np.inf
        if self.strategy == "quota":
            return sims, neg
        return sims, top_rows(neg, max(self.candidates, 10 * k))

    def choose(self, scored: Scored, k: int) -> list[list[int]]:
        """Pool rows chosen for each row of a scored chunk (``score``), in order."""
        sims, ranked = scored
        if self.strategy == "quota":
            return self._quota(ranked, sims, k)
        return self._mmr(ranked, sims, k)

    def _mmr(self, ranked: np.ndarray, sims: np.ndarray, k: int) -> list[list[int]]:
        """Greedy MMR on every row at once: each step takes the candidate with the best
        (1 - diversity) * similarity - diversity * (max similarity to a chosen entry)
        + diversity * (1 if it has a code not shown yet)."""
        rows, width = ranked.shape
        valid = ranked >= 0
        safe = np.where(valid, ranked, 0)
        relevance = np.take_along_axis(sims, safe, axis=1)
        gram = self.gram()
        d = self.diversity
        chosen = np.zeros((rows, width), dtype=bool)
        redundancy = np.zeros((rows, width))
        seen = np.zeros((rows, self.code_matrix.shape[1]), dtype=bool)
        codes = self.code_matrix[safe]  # rows x width x codes
        picks: list[list[int]] = [[] for _ in range(rows)]
        steps = np.minimum(k, valid.sum(axis=1))
        everyone = np.arange(rows)
        for step in range(int(steps.max(initial=0))):
            novel = (codes & ~seen[:, None, :]).any(axis=2).astype(np.float64)
            score = (1 - d) * relevance - d * redundancy + d * novel
            score[chosen | ~valid] = -np.inf
            best = score.max(axis=1)
            near = (score >= (best - 2 * TIE)[:, None]).sum(axis=1)
            pos = score.argmax(axis=1)
            for row in np.flatnonzero(near > 1):
                pos[row] = replay(score[row])
            active = everyone[steps > step]
            pos_active = pos[active]
            chosen[active, pos_active] = True
            picked = safe[active, pos_active]
            seen[active] |= self.code_matrix[picked]
            for row, n in zip(active.tolist(), picked.tolist(), strict=True):
                picks[row].append(n)
            pair = (
                gram[safe[active], picked[:, None]]
                if gram is not None
                else self._pairs(safe[active], picked)
            )
            redundancy[active] = pair if step == 0 else np.maximum(redundancy[active], pair)
        return picks

    def _pairs(self, candidates: np.ndarray, picked: np.ndarray) -> np.ndarray:
        """Similarity of each row's candidates to its pick, without a Gram matrix."""
        out = np.empty(candidates.shape)
        for row in range(len(candidates)):
            block = self.matrix[candidates[row]] @ self.matrix[[picked[row]]].T
            dense = block.toarray() if hasattr(block, "toarray") else np.asarray(block)
            out[row] = dense.ravel()
        return out

    def _quota(self, neg: np.ndarray, sims: np.ndarray, k: int) -> list[list[int]]:
        """Each code's ``k`` best entries, then the round robin over codes."""
        parts = []
        for group in self.groups:
            best = top_rows(neg[:, group], k)
            parts.append(np.where(best >= 0, group[np.maximum(best, 0)], -1))
        merged = np.concatenate(parts, axis=1)
        picks = []
        for row in range(len(neg)):
            kept = merged[row][merged[row] >= 0].tolist()
            picks.append(quota_order(kept, sims[row], self.first_codes, k))
        return picks


def top_rows(neg: np.ndarray, count: int) -> np.ndarray:
    """Per row, the columns of the ``count`` smallest finite values, ordered by (value, column)
    as a stable full sort would; -1 pads rows with fewer finite values.

    A wide matrix is narrowed first (`narrowed`): the columns that can be among a row's
    ``count`` smallest, in column order, so the result is the same."""
    if count > 0 and neg.shape[1] >= NARROW * count:
        columns = narrowed(neg, count)
        if columns is not None:
            sub = np.take_along_axis(neg, np.maximum(columns, 0), axis=1)
            sub[columns < 0] = np.inf
            order = _top_rows(sub, count)
            picked = np.take_along_axis(columns, np.maximum(order, 0), axis=1)
            return np.where(order >= 0, picked, -1)
    return _top_rows(neg, count)


def narrowed(neg: np.ndarray, count: int) -> np.ndarray | None:
    """Per row, the columns (ascending, -1 padded) whose value is at most a bound that at least
    ``count`` values of the row reach: the minima of ``BLOCKS * count`` blocks of columns, their
    ``count``-th smallest. Every value among the row's ``count`` smallest, ties at the cut
    included, is kept. None when that narrows nothing much (excluded blocks, few columns)."""
    rows, width = neg.shape
    blocks = min(BLOCKS * count, width // 2)
    size = width // blocks
    minima = neg[:, : blocks * size].reshape(rows, blocks, size).min(axis=2)
    bound = np.partition(minima, count - 1, axis=1)[:, count - 1]
    keep = neg <= bound[:, None]
    kept = keep.sum(axis=1)
    most = int(kept.max(initial=0))
    if most * 2 > width:
        return None
    row, column = np.nonzero(keep)
    starts = np.zeros(rows, dtype=np.int64)
    np.cumsum(kept[:-1], out=starts[1:])
    columns = np.full((rows, most), -1, dtype=np.int64)
    columns[row, np.arange(len(row)) - starts[row]] = column
    return columns


def _top_rows(neg: np.ndarray, count: int) -> np.ndarray:
    width = neg.shape[1]
    if width <= count:
        order = np.argsort(neg, axis=1, kind="stable")
    else:
        part = np.argpartition(neg, count - 1, axis=1)[:, :count]
        values = np.take_along_axis(neg, part, axis=1)
        cut = values.max(axis=1)
        inside = (values == cut[:, None]).sum(axis=1)
        at = (neg == cut[:, None]).sum(axis=1)
        for row in np.flatnonzero(at > inside):  # ties across the cut: the first columns
            kept = np.flatnonzero(neg[row] < cut[row])
            tied = np.flatnonzero(neg[row] == cut[row])[: count - len(kept)]
            part[row] = np.concatenate([kept, tied])
            values[row] = neg[row, part[row]]
        order = np.take_along_axis(part, np.lexsort((part, values), axis=1), axis=1)
    values = np.take_along_axis(neg, order, axis=1)
    return np.where(np.isfinite(values), order, -1)


def replay(score: np.ndarray) -> int:
    """The original one-at-a-time choice: the first candidate, replaced by a later one only when
    it scores more than ``TIE`` above (unchosen candidates: finite scores)."""
    best, best_score = -1, -np.inf
    for pos, value in enumerate(score.tolist()):
        if value == -np.inf:
            continue
        if value > best_score + TIE:
            best, best_score = pos, value
    return best


def quota_order(candidates: list[int], sims: np.ndarray, first: Sequence[str], k: int) -> list[int]:
    """Round-robin over codes (ordered by their best similarity), each time that code's next
    most similar entry; an entry with several codes counts for its first (``first[n]``)."""
    ranked = sorted(candidates, key=lambda n: (-sims[n], n))
    per_code: dict[str, list[int]] = {}
    for n in ranked:
        per_code.setdefault(first[n], []).append(n)
    queues = list(per_code.values())  # already in order of each code's best similarity
    chosen: list[int] = []
    while len(chosen) < k and any(queues):
        for queue in queues:
            if queue and len(chosen) < k:
                chosen.append(queue.pop(0))
    return chosen
