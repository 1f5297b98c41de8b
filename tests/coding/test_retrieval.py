"""Examples in bulk: the chunked selection gives exactly the examples of the one-item method."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

from llmcode.coding import retrieval
from llmcode.coding.examples import CANDIDATES, ExamplePool, Shot
from llmcode.coding.retrieval import top_rows
from llmcode.items import Item

WORDS = [
    "cuda",
    "memory",
    "batch",
    "crash",
    "model",
    "load",
    "train",
    "question",
    "docs",
    "slow",
    "fast",
    "gpu",
    "cpu",
    "the",
    "a",
    "of",
]
CODES = ["bug", "feature", "question", "docs", "perf"]


def reference_select(pool: ExamplePool, item: Item, k: int) -> list[str]:
    """The one-item method as it was before bulk retrieval (issue 24), kept as the oracle."""
    sims = pool.similarities(item.text)
    norms = {re.sub(r"\s+", " ", s.text).strip().lower(): n for n, s in enumerate(pool.shots)}
    same = norms.get(re.sub(r"\s+", " ", item.text).strip().lower())
    allowed = [n for n, s in enumerate(pool.shots) if s.item_id != item.item_id and n != same]
    ranked_all = sorted(allowed, key=lambda n: (-sims[n], n))
    if pool.strategy == "quota":
        per_code: dict[str, list[int]] = {}
        for n in ranked_all:
            per_code.setdefault(pool.shots[n].codes[0] if pool.shots[n].codes else "", []).append(n)
        queues, chosen = list(per_code.values()), []
        while len(chosen) < k and any(queues):
            for queue in queues:
                if queue and len(chosen) < k:
                    chosen.append(queue.pop(0))
        return [pool.shots[n].item_id for n in chosen]
    ranked = ranked_all[: max(CANDIDATES, 10 * k)]
    if not ranked:
        return []
    rows = pool._matrix[ranked]
    product = rows @ rows.T
    pairwise = np.asarray(product.toarray() if hasattr(product, "toarray") else product)
    picked: list[int] = []
    seen: set[str] = set()
    d = pool.diversity
    while len(picked) < min(k, len(ranked)):
        best, best_score = -1, -np.inf
        for pos, n in enumerate(ranked):
            if pos in picked:
                continue
            redundancy = float(pairwise[pos, picked].max()) if picked else 0.0
            novel = 0.0 if set(pool.shots[n].codes) <= seen else 1.0
            score = (1 - d) * sims[n] - d * redundancy + d * novel
            if score > best_score + 1e-12:
                best, best_score = pos, score
        picked.append(best)
        seen.update(pool.shots[ranked[best]].codes)
    return [pool.shots[ranked[pos]].item_id for pos in picked]


def fixture(n_pool: int, n_items: int, seed: int) -> tuple[list[Shot], list[Item]]:
    """Short texts from a small vocabulary (many exact ties), duplicated texts, items that are
    pool entries, entries with several codes or none."""
    rng = random.Random(seed)

    def text() -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6)))

    shots = []
    for n in range(n_pool):
        codes = tuple(rng.sample(CODES, rng.choice([0, 1, 1, 1, 2])))
        shots.append(Shot(f"p{n}", text() if n % 7 else "cuda memory crash", codes))
    items = [Item(f"i{n}", text()) for n in range(n_items)]
    items += [Item(s.item_id, s.text) for s in shots[:5]]  # the pool's own items
    items += [Item("copy", "  CUDA memory   crash ")]  # a pool text under another id
    return [s for s in shots if s.codes or rng.random() < 0.5], items


@pytest.mark.parametrize("strategy", ["mmr", "quota"])
@pytest.mark.parametrize("n_pool", [8, 40, 300, 700])  # 700: candidates narrowed first
@pytest.mark.parametrize("k", [1, 3, 7])
def test_bulk_selection_equals_the_one_item_method(strategy: str, n_pool: int, k: int) -> None:
    shots, items = fixture(n_pool, 120, seed=n_pool + k)
    pool = ExamplePool(shots, strategy=strategy)  # type: ignore[arg-type]
    bulk = pool.select_many(items, k)
    expected = [reference_select(pool, item, k) for item in items]
    assert [[s.item_id for s in chosen] for chosen in bulk] == expected


def test_without_a_gram_matrix_the_selection_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    shots, items = fixture(200, 60, seed=3)
    expected = [reference_select(ExamplePool(shots), item, 4) for item in items]
    monkeypatch.setattr(retrieval, "GRAM_LIMIT", 0)
    bulk = ExamplePool(shots).select_many(items, 4)
    assert [[s.item_id for s in chosen] for chosen in bulk] == expected


def test_prepared_examples_are_looked_up_not_searched_again() -> None:
    shots, items = fixture(100, 30, seed=5)
    pool = ExamplePool(shots)
    calls: list[tuple[int, int]] = []
    pool.prepare(items, 3, progress=lambda done, total: calls.append((done, total)))
    pool._retriever = None
    pool._matrix = None  # a search now would fail
    assert [s.item_id for s in pool.select(items[0], 3)] == reference_select(
        ExamplePool(shots), items[0], 3
    )
    assert calls == [(len(items), len(items))]


def test_progress_is_reported_after_each_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    shots, items = fixture(50, 25, seed=1)
    monkeypatch.setattr("llmcode.coding.examples.CHUNK", 10)
    calls: list[tuple[int, int]] = []
    ExamplePool(shots).select_many(items, 2, progress=lambda d, t: calls.append((d, t)))
    total = len(items)
    assert calls == [(10, total), (20, total), (30, total), (total, total)]


class Embedder:
    """Vectors from word counts (a stand-in for GGUF embeddings: dense rows)."""

    name = "counts"

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.array([[t.split().count(w) + 0.1 for w in WORDS] for t in texts], dtype=float)


def test_dense_embeddings_select_the_same_examples() -> None:
    shots, items = fixture(120, 40, seed=9)
    pool = ExamplePool(shots, embedder=Embedder())
    bulk = pool.select_many(items, 3)
    assert [[s.item_id for s in chosen] for chosen in bulk] == [
        reference_select(pool, item, 3) for item in items
    ]


def test_top_rows_orders_ties_by_column_and_drops_excluded_columns() -> None:
    neg = np.array([[0.0, -1.0, 0.0, -1.0, 0.0, np.inf], [np.inf, np.inf, -2.0, 0.0, 0.0, 0.0]])
    assert top_rows(neg, 3).tolist() == [[1, 3, 0], [2, 3, 4]]
    assert top_rows(neg[:, :3], 3).tolist() == [[1, 0, 2], [2, -1, -1]]


@pytest.mark.parametrize("seed", range(6))
def test_narrowed_top_rows_equal_a_stable_full_sort(seed: int) -> None:
    """Wide rows (narrowed before the partial sort) with many exact ties, excluded columns, a
    row of few finite values and one whose blocks are excluded whole: the stable full sort."""
    rng = np.random.default_rng(seed)
    width, count = 1000, 20
    neg = -rng.integers(0, 30, size=(12, width)).astype(float) / 7
    neg[rng.random(neg.shape) < 0.1] = np.inf
    neg[3, 5:] = np.inf  # five finite values
    neg[4, : width // 2] = np.inf  # blocks excluded whole
    assert width >= retrieval.NARROW * count
    order = np.argsort(neg, axis=1, kind="stable")[:, :count]
    expected = np.where(np.isfinite(np.take_along_axis(neg, order, axis=1)), order, -1)
    assert (top_rows(neg, count) == expected).all()
    assert retrieval.narrowed(neg[:3], count) is not None  # the narrowing itself ran
