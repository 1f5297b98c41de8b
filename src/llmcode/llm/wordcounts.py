"""Word uni- and bigram TF-IDF of new texts against a fitted scikit-learn vectorizer, fast.

``word_tfidf(vectorizer, texts)`` is ``vectorizer.transform(texts)`` for the word uni- and
bigram vectorizer `llmcode.llm.vectors` fits (the same matrix, entry for entry), with the
counting done in C-level loops and NumPy instead of scikit-learn's per-token Python loop:

- each text is tokenised once (the vectorizer's token pattern on the lower-cased text) and
  its tokens are looked up in the vocabulary with ``map`` (a C loop);
- bigrams are looked up as pairs of unigram ids, not as joined strings: a bigram of a
  vocabulary fitted without frequency limits has both its words in the vocabulary too, so a
  pair with an unknown word is never a known bigram, and the known pairs are found with one
  ``searchsorted`` over the vocabulary's bigrams (`BigramIndex`, built once per vectorizer);
- the counts become a CSR matrix through one ``np.unique``, then scikit-learn's own TF-IDF
  step (sublinear tf, idf, unit rows) runs on it.
"""

from __future__ import annotations

import re
from itertools import repeat
from typing import Any

import numpy as np

INDEX = "_llmcode_bigrams"
"""The attribute of a fitted vectorizer holding its `BigramIndex`."""


class BigramIndex:
    """The vocabulary's bigrams as sorted keys ``first_id * width + second_id`` (unigram ids)."""

    def __init__(self, vocabulary: dict[str, int]) -> None:
        self.width = len(vocabulary)
        keys: list[int] = []
        columns: list[int] = []
        self.complete = True
        for term, column in vocabulary.items():
            if " " not in term:
                continue
            first, second = term.split(" ", 1)
            a, b = vocabulary.get(first), vocabulary.get(second)
            if a is None or b is None:  # a vocabulary cut by frequency (not ours)
                self.complete = False
                return
            keys.append(a * self.width + b)
            columns.append(column)
        order = np.argsort(np.asarray(keys, dtype=np.int64), kind="stable")
        self.keys = np.asarray(keys, dtype=np.int64)[order]
        self.columns = np.asarray(columns, dtype=np.int64)[order]

    def find(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """The column of each pair of unigram ids (-1 for a pair that is not a bigram)."""
        if not len(self.keys) or not len(first):
            return np.full(len(first), -1, dtype=np.int64)
        wanted = first * self.width + second
        at = np.minimum(np.searchsorted(self.keys, wanted), len(self.keys) - 1)
        return np.where(self.keys[at] == wanted, self.columns[at], -1)


def word_tfidf(vectorizer: Any, texts: list[str]) -> Any:
    """``vectorizer.transform(texts)`` for a fitted word uni- and bigram vectorizer (the same
    matrix), counted in C-level loops; other vectorizers transform as scikit-learn does."""
    tfidf = getattr(vectorizer, "_tfidf", None)
    if tfidf is None or vectorizer.ngram_range != (1, 2) or vectorizer.analyzer != "word":
        return vectorizer.transform(texts)
    index = getattr(vectorizer, INDEX, None)
    if index is None:
        index = BigramIndex(vectorizer.vocabulary_)
        setattr(vectorizer, INDEX, index)
    if not index.complete:  # a vocabulary cut by frequency: scikit-learn's own loop
        return vectorizer.transform(texts)
    rows, columns = _cells(vectorizer, index, texts)
    return tfidf.transform(_counts(rows, columns, len(texts), index.width), copy=False)


def _cells(vectorizer: Any, index: BigramIndex, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The (row, column) of every uni- and bigram occurrence of ``texts`` in the vocabulary."""
    find = re.compile(vectorizer.token_pattern).findall
    vocabulary = vectorizer.vocabulary_
    tokens: list[str] = []
    lengths = []
    for text in texts:
        found = find(text.lower())
        tokens.extend(found)
        lengths.append(len(found))
    ids = np.fromiter(map(vocabulary.get, tokens, repeat(-1)), dtype=np.int64, count=len(tokens))
    row = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
    pair = (row[:-1] == row[1:]) & (ids[:-1] >= 0) & (ids[1:] >= 0)
    at = np.flatnonzero(pair)
    bigrams = index.find(ids[at], ids[at + 1])
    pair_rows = row[at]
    known, known_pairs = ids >= 0, bigrams >= 0
    rows = np.concatenate([row[known], pair_rows[known_pairs]])
    columns = np.concatenate([ids[known], bigrams[known_pairs]])
    return rows, columns


def _counts(rows: np.ndarray, columns: np.ndarray, n_rows: int, width: int) -> Any:
    """The count matrix (CSR, sorted indices) of these occurrences."""
    from scipy.sparse import csr_matrix

    cells, counts = np.unique(rows * width + columns, return_counts=True)
    indptr = np.zeros(n_rows + 1, dtype=np.int32)
    np.cumsum(np.bincount(cells // width, minlength=n_rows), out=indptr[1:])
    return csr_matrix(
        (counts.astype(np.float64), (cells % width).astype(np.int32), indptr),
        shape=(n_rows, width),
    )
