"""Retrieved few-shot examples: the researcher's own codes, chosen per item by similarity.

An ``ExamplePool`` holds coded items (human codes in the long format, or a reviewed run's
accepted and changed decisions) with their texts. For each item to code, ``select`` returns up
to K pool entries that are similar to it **and** cover different codes: maximal marginal
relevance (``mmr``: relevance minus redundancy, with a bonus for a code not shown yet) or
per-label quotas (``quota``: the best entry of each code in turn, codes ordered by their best
similarity). The item itself (same id or same text) is never shown, nor any item of a guarded
test split. Similarity is the cosine of the texts' vectors (`llmcode.llm.vectors`: TF-IDF over
word uni- and bigrams by default, or GGUF or sentence-transformers embeddings); ties break by
pool order, so a selection is stable across runs. Many items are selected a chunk at a time
(`llmcode.coding.retrieval`, the same examples); ``prepare`` selects a run's items up front.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from llmcode.codes import load_codes
from llmcode.coding.retrieval import CHUNK, Progress, Retriever, Scored
from llmcode.errors import CodesError, ConfigError, LlmcodeError
from llmcode.items import Item, load_items, read_table
from llmcode.llm.vectors import Embedder, TextVectors, VectorKind, similarities
from llmcode.store.config import RunConfig
from llmcode.taxonomy.model import NONE_CODE, load_taxonomy

Strategy = Literal["mmr", "quota"]
STRATEGIES: tuple[str, ...] = ("mmr", "quota")
TEST_SPLIT = "test"
CANDIDATES = 50
"""MMR looks at this many most similar entries (or 10 * K)."""
THREADED = True
"""Score the next chunk (similarities, candidates: C code without the GIL) in a worker thread
while this one tokenises and chooses (about 1.4x faster on two free cores, the same examples)."""
SHOT_CHARS = 400
"""Longest text shown for one example (title first, then the body, cut at a word)."""


@dataclass(frozen=True)
class Shot:
    """One coded item that can be shown as an example."""

    item_id: str
    text: str
    codes: tuple[str, ...]

    @property
    def short(self) -> str:
        """The text compacted for a prompt: whitespace folded, cut at ``SHOT_CHARS``."""
        return compact_text(self.text, SHOT_CHARS)


def compact_text(text: str, limit: int = SHOT_CHARS) -> str:
    """Fold whitespace and cut at a word boundary before ``limit`` characters (adds "…")."""
    folded = " ".join(text.split())
    if len(folded) <= limit:
        return folded
    cut = folded[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.") + " …"


@dataclass
class ExamplePool:
    """Coded items to draw examples from, with a TF-IDF index over their texts."""

    shots: list[Shot]
    source: str = ""
    strategy: Strategy = "mmr"
    diversity: float = 0.3
    embedder: Embedder | None = None
    """An object with ``embed(texts) -> array`` and ``name`` (``LocalEmbedder``): similarity
    by its (centred) embeddings instead of TF-IDF; ignored when ``vectors`` is given."""
    vectors: TextVectors | None = None
    """How texts become vectors [default: TF-IDF, or the embedder's]."""
    _matrix: Any = field(init=False, repr=False, default=None)
    _retriever: Retriever | None = field(init=False, repr=False, default=None)
    _prepared: list[Prepared] = field(init=False, repr=False, default_factory=list)

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"example strategy must be one of {', '.join(STRATEGIES)}")
        if not self.shots:
            raise CodesError(
                f"{self.source or 'examples'}: no coded items to draw examples from",
                hint="check --examples, --examples-coder and --examples-items",
            )
        if self.vectors is None:
            kind = VectorKind.tfidf if self.embedder is None else VectorKind.gguf
            self.vectors = TextVectors(kind, embedder=self.embedder)
        self._matrix = self.vectors.fit([s.text for s in self.shots])
        self._norms = {_norm(s.text): n for n, s in enumerate(self.shots)}

    @property
    def _vectors(self) -> TextVectors:
        assert self.vectors is not None  # set in __post_init__
        return self.vectors

    @property
    def sha256(self) -> str:
        """A short hash of the pool's ids, codes and texts (recorded in the run manifest)."""
        digest = hashlib.sha256()
        for shot in self.shots:
            digest.update(f"{shot.item_id}\0{','.join(shot.codes)}\0{shot.text}\0".encode())
        return digest.hexdigest()[:16]

    def describe(self) -> dict[str, object]:
        """What the manifest records about the pool."""
        codes = sorted({c for s in self.shots for c in s.codes})
        return {
            "source": self.source,
            "sha256": self.sha256,
            "n_items": len(self.shots),
            "codes": codes,
            "similarity": self._vectors.describe(),
            "strategy": self.strategy,
        }

    def similarities(self, text: str) -> np.ndarray:
        """Cosine similarity of ``text`` to each pool entry."""
        return similarities(self._matrix, self._vectors.transform([text]))

    def select(self, item: Item, k: int) -> list[Shot]:
        """Up to ``k`` examples for ``item``: similar, diverse in codes, never the item itself."""
        if k <= 0:
            return []
        for prepared in self._prepared:
            known = prepared.rows_of(item, k)
            if known is not None:
                return [self.shots[n] for n in known]
        return self.select_many([item], k)[0]

    def select_many(
        self, items: Sequence[Item], k: int, progress: Progress | None = None
    ) -> list[list[Shot]]:
        """``select`` for many items, a chunk at a time (`coding.retrieval`); the same examples.
        ``progress(done, total)`` is called after each chunk."""
        return [[self.shots[n] for n in rows] for rows in self._rows(items, k, progress)]

    def prepare(self, items: Sequence[Item], k: int, progress: Progress | None = None) -> None:
        """Select the examples of ``items`` now, in bulk; ``select`` then looks them up."""
        if k <= 0:
            return
        rows = np.full((len(items), k), -1, dtype=np.int32)
        for n, chosen in enumerate(self._rows(items, k, progress)):
            rows[n, : len(chosen)] = chosen
        self._prepared.append(Prepared(items, k, rows))

    def _rows(
        self, items: Sequence[Item], k: int, progress: Progress | None
    ) -> Iterable[list[int]]:
        if k <= 0:
            yield from ([] for _ in items)
            return
        if self._retriever is None:
            self._retriever = Retriever(
                self._matrix,
                [s.item_id for s in self.shots],
                [s.codes for s in self.shots],
                strategy=self.strategy,
                diversity=self.diversity,
                candidates=CANDIDATES,
            )
        retriever = self._retriever
        total = len(items)
        with ThreadPoolExecutor(max_workers=1) as worker:  # scores chunk n+1 while n is chosen
            scoring: list[Future[Scored]] = []
            for start in range(0, total + CHUNK, CHUNK):
                if start < total:
                    chunk = items[start : start + CHUNK]
                    queries = self._vectors.transform([item.text for item in chunk])
                    same = [self._norms.get(_norm(item.text)) for item in chunk]
                    ids = [item.item_id for item in chunk]
                    if THREADED:
                        scoring.append(worker.submit(retriever.score, queries, ids, same, k))
                    else:
                        scoring.append(_done(retriever.score(queries, ids, same, k)))
                if start >= CHUNK:
                    yield from retriever.choose(scoring.pop(0).result(), k)
                    if progress is not None:
                        progress(min(start, total), total)


def _done(scored: Scored) -> Future[Scored]:
    future: Future[Scored] = Future()
    future.set_result(scored)
    return future


@dataclass
class Prepared:
    """Examples selected up front: pool rows per item (-1 pads), found by the item's id and
    checked against its text; an array and an index, not a tuple per item."""

    items: Sequence[Item]
    k: int
    rows: np.ndarray
    position: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.position = {item.item_id: n for n, item in enumerate(self.items)}

    def rows_of(self, item: Item, k: int) -> list[int] | None:
        """The pool rows chosen for ``item`` (None when it was not prepared with this k)."""
        n = self.position.get(item.item_id) if k == self.k else None
        if n is None or self.items[n].text != item.text:
            return None
        return [int(row) for row in self.rows[n] if row >= 0]


def _norm(text: str) -> str:
    """Whitespace folded (``str.split`` splits where ``\\s`` matches), lower case."""
    return " ".join(text.split()).lower()


def load_splits(path: str | Path) -> dict[str, str]:
    """Item splits from a table with columns ``item_id`` and ``split`` (e.g. from `sample`)."""
    frame = read_table(path, error=ConfigError)
    columns = {c.strip().lower(): c for c in frame.columns}
    missing = [c for c in ("item_id", "split") if c not in columns]
    if missing:
        raise ConfigError(
            f"{path}: no column {', '.join(repr(c) for c in missing)}; "
            f"columns are: {', '.join(frame.columns)}",
            hint="a split file has one row per item: item_id, split (train/dev/test)",
        )
    return {
        str(row[columns["item_id"]]).strip(): str(row[columns["split"]]).strip().lower()
        for _, row in frame.iterrows()
    }


def guarded_ids(splits: dict[str, str] | None) -> set[str]:
    """Item ids of the guarded test split: never shown as examples."""
    return {item_id for item_id, split in (splits or {}).items() if split == TEST_SPLIT}


def known_test_ids(config: RunConfig) -> set[str]:
    """Every item of a known test split, never shown as an example: the split file
    (``splits``), the ``split`` column of the files the run reads (``only``, ``examples``,
    ``examples_items``), and the sample a `sample` sidecar beside any of them names."""
    out = guarded_ids(load_splits(config.guidance.splits)) if config.guidance.splits else set()
    for path in (config.inputs.only, config.guidance.examples, config.guidance.examples_items):
        if path is None or not Path(path).is_file():
            continue
        out |= _split_column_tests(Path(path))
        sidecar = Path(path).with_name(Path(path).name + ".json")
        if sidecar.is_file():
            out |= _sidecar_tests(sidecar)
    return out


def _split_column_tests(path: Path) -> set[str]:
    """The test items of a table with a ``split`` column (none without one or unreadable)."""
    try:
        frame = read_table(path, error=ConfigError)
    except (ConfigError, ValueError, OSError):
        return set()
    columns = {str(c).strip().lower(): c for c in frame.columns}
    if "split" not in columns or "item_id" not in columns:
        return set()
    ids, splits = frame[columns["item_id"]], frame[columns["split"]]
    return {
        str(i).strip()
        for i, s in zip(ids, splits, strict=True)
        if str(s).strip().lower() == TEST_SPLIT
    }


def _sidecar_tests(sidecar: Path) -> set[str]:
    """The test items of the sample a `sample` sidecar describes (its ``file``, beside it)."""
    import json

    try:
        info = json.loads(sidecar.read_text("utf-8"))
    except (OSError, ValueError):
        return set()
    name = info.get("file") if isinstance(info, dict) else None
    sample = sidecar.with_name(str(name)) if name else None
    return _split_column_tests(sample) if sample is not None and sample.is_file() else set()


def pool_from_codes(
    codes: dict[str, list[str]],
    items: Iterable[Item],
    *,
    exclude: set[str] | None = None,
    source: str = "",
    strategy: Strategy = "mmr",
    vectors: TextVectors | None = None,
) -> ExamplePool:
    """A pool from codes by item id and the items holding their texts (input order kept)."""
    exclude = exclude or set()
    shots = [
        Shot(item.item_id, item.text, tuple(codes[item.item_id]))
        for item in items
        if item.item_id in codes and codes[item.item_id] and item.item_id not in exclude
    ]
    return ExamplePool(shots, source=source, strategy=strategy, vectors=vectors)


def read_example_codes(path: str | Path, coder: str | None = None) -> dict[str, list[str]]:
    """Codes by item from a long-format file (one coder: ``coder``, or the only one there)."""
    frame = load_codes(path).dropna(subset=["code"])
    coders = list(dict.fromkeys(frame["coder"]))
    if coder is None:
        if len(coders) > 1:
            raise CodesError(
                f"{path}: codes by several coders ({', '.join(coders)})",
                hint="choose one with --examples-coder NAME",
            )
    elif coder not in coders:
        raise CodesError(
            f"{path}: no codes by coder '{coder}'", hint=f"coders in the file: {', '.join(coders)}"
        )
    else:
        frame = frame[frame["coder"] == coder]
    out: dict[str, list[str]] = {}
    for item_id, code in frame[["item_id", "code"]].itertuples(index=False):
        codes = out.setdefault(item_id, [])
        if code not in codes:
            codes.append(code)
    return out


def render_shots(shots: list[Shot]) -> list[dict[str, str]]:
    """Template-ready examples: id, compact text and the codes joined by ", " (the templates
    neutralise delimiter tags in every value)."""
    return [{"item_id": s.item_id, "text": s.short, "codes": ", ".join(s.codes)} for s in shots]


def load_example_pool(
    codes: str | Path,
    items: Iterable[Item],
    *,
    coder: str | None = None,
    splits: dict[str, str] | None = None,
    strategy: Strategy = "mmr",
    vectors: TextVectors | None = None,
    exclude: set[str] | None = None,
    taxonomy_codes: set[str] | None = None,
) -> ExamplePool:
    """The pool for ``--examples CODES``: a long-format codes file, or a reviewed run directory
    (its accepted and changed decisions; texts from the run unless ``items`` has them).
    ``exclude`` (e.g. `known_test_ids`) is never shown, nor the test split of ``splits``.
    From a run only a person's decisions count (`human_examples`), checked against
    ``taxonomy_codes`` when given."""
    path = Path(codes)
    items = list(items)
    if path.is_dir():
        from llmcode.store.decisions import reviewed_codes
        from llmcode.store.runs import Run

        run = Run(path)
        by_item = human_examples(reviewed_codes(run, coder), path, coder, taxonomy_codes)
        known = {item.item_id for item in items}
        items += [item for item in run.items() if item.item_id not in known]
    else:
        by_item = read_example_codes(path, coder)
    return pool_from_codes(
        by_item,
        items,
        exclude=guarded_ids(splits) | (exclude or set()),
        source=str(codes),
        strategy=strategy,
        vectors=vectors,
    )


def human_examples(
    frame: pd.DataFrame, path: Path, coder: str | None, taxonomy_codes: set[str] | None
) -> dict[str, list[str]]:
    """Codes by item from a run's reviewed codes: one reviewer's (``coder``, or the only one),
    accepted or changed by a person (``decided_by`` human: never an automatic accept, the
    model's own codes), each code in the taxonomy (``taxonomy_codes``; others are refused)."""
    reviewers = list(dict.fromkeys(frame["coder"]))
    if coder is None and len(reviewers) > 1:
        raise CodesError(
            f"{path}: decisions by several reviewers ({', '.join(reviewers)})",
            hint="choose whose decisions are the examples with --examples-coder NAME",
        )
    frame = frame[frame["action"].isin(["accept", "change"]) & (frame["decided_by"] == "human")]
    if taxonomy_codes is not None:
        outside = frame[~frame["code"].isin(taxonomy_codes | {NONE_CODE})]
        if len(outside):
            rows = ", ".join(f"{i} ({c})" for i, c in outside[["item_id", "code"]].values[:10])
            raise CodesError(
                f"{path}: {len(outside)} reviewed code(s) are not in the taxonomy: {rows}",
                hint="examples must use the taxonomy's codes: review them again, or code "
                "with the taxonomy they were reviewed against",
            )
    by_item: dict[str, list[str]] = {}
    for item_id, code in frame[["item_id", "code"]].itertuples(index=False):
        by_item.setdefault(item_id, []).append(code)
    return by_item


def pool_for(
    config: RunConfig, items: Iterable[Item], vectors_dir: Path | None = None
) -> ExamplePool | None:
    """The example pool a run config asks for (None without ``--examples``).

    Texts come from ``examples_items`` when set; else from ``items`` plus the run's items file
    when it is still there (a run coded with ``--limit`` still draws on every coded item).
    Embeddings are kept in ``vectors_dir`` (computed once per text) when given.
    """
    if not config.guidance.examples:
        return None
    if config.guidance.examples_items:
        texts = load_items(config.guidance.examples_items, id_column=config.inputs.id_column).items
    else:
        texts = list(items)
        if Path(config.inputs.items_path).is_file():
            known = {item.item_id for item in texts}
            whole = load_items(
                config.inputs.items_path,
                id_column=config.inputs.id_column,
                text_columns=config.inputs.text_columns,
                sheet=config.inputs.sheet,
            )
            texts += [item for item in whole.items if item.item_id not in known]
    splits = load_splits(config.guidance.splits) if config.guidance.splits else None
    vectors = TextVectors(
        config.guidance.examples_similarity,
        config.guidance.embedding_model,
        cache_dir=vectors_dir,
    )
    return load_example_pool(
        config.guidance.examples,
        texts,
        coder=config.guidance.examples_coder,
        splits=splits,
        vectors=vectors,
        exclude=known_test_ids(config),
        taxonomy_codes=taxonomy_codes(config.inputs.taxonomy_path),
    )


def taxonomy_codes(path: str) -> set[str] | None:
    """Every code id of the run's taxonomy (None when it cannot be read here: the run's own
    checks say why)."""
    try:
        return {category.id for category in load_taxonomy(path).walk()}
    except (LlmcodeError, OSError):
        return None
