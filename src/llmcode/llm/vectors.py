"""Text vectors: the one owner of turning texts into vectors that compare by dot product.

Three kinds, one vocabulary (`VectorKind`), the same meaning in every command:

- ``tfidf``: TF-IDF, offline and instant. Item texts use word uni- and bigrams; short texts
  (code names, category definitions: ``characters=True``) add character 3-4-grams, so
  "timeout" meets "timeouts".
- ``gguf``: sentence embeddings from a GGUF model on disk through xllamacpp (llama.cpp,
  `llmcode.llm.embeddings`; default: the bundled SmolLM2). Mean-pooled vectors of a decoder share
  one large common direction, so they are centred on the fitted texts before normalising.
  ``embedding`` is the earlier name of this kind and still means it.
- ``sentence-transformers``: a sentence-transformers model already on this machine (never
  downloaded; an optional dependency), normalised by the model.

``model`` is the model of the chosen kind: a GGUF file for ``gguf``, a sentence-transformers
name or path for ``sentence-transformers`` (ignored for ``tfidf``). `TextVectors` is fitted on a
corpus (``fit``) and places new texts in the same space (``transform``); rows have unit length.
Embeddings are computed once per text when a ``cache_dir`` is given (`VectorCache`).
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from llmcode.errors import ConfigError
from llmcode.llm.wordcounts import word_tfidf


class VectorKind(StrEnum):
    """How texts become vectors."""

    tfidf = "tfidf"
    gguf = "gguf"
    sentence_transformers = "sentence-transformers"


ALIASES = {"embedding": VectorKind.gguf}
"""Earlier names still accepted: ``embedding`` was ``code --examples-similarity``'s GGUF."""
NAMES: tuple[str, ...] = (*(kind.value for kind in VectorKind), *ALIASES)
DEFAULT_SENTENCE_MODEL = "all-MiniLM-L6-v2"


def vector_kind(value: str | VectorKind) -> VectorKind:
    """The kind a name stands for (an alias included); a ConfigError lists the valid names."""
    name = str(value.value if isinstance(value, VectorKind) else value)
    if name in ALIASES:
        return ALIASES[name]
    try:
        return VectorKind(name)
    except ValueError:
        raise ConfigError(
            f"unknown text vectors '{name}'",
            hint=f"use one of {', '.join(NAMES)} (embedding means gguf)",
        ) from None


class Embedder(Protocol):
    """Anything with a ``name`` and ``embed(texts) -> array (n, d)`` (`LocalEmbedder`)."""

    @property
    def name(self) -> str: ...

    def embed(self, texts: list[str]) -> np.ndarray: ...


class SentenceTransformerEmbedder:
    """``embed(texts)`` with a sentence-transformers model on disk (unit-length vectors)."""

    def __init__(self, model: str | None = None) -> None:
        self.model = model or DEFAULT_SENTENCE_MODEL
        self._encoder: Any = None

    @property
    def name(self) -> str:
        return self.model

    def embed(self, texts: list[str]) -> np.ndarray:
        if self._encoder is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise ConfigError(
                    "sentence-transformers is not installed",
                    hint="pip install sentence-transformers, or use tfidf vectors",
                ) from exc
            try:
                self._encoder = SentenceTransformer(self.model, local_files_only=True)
            except (OSError, ValueError) as exc:
                raise ConfigError(
                    f"sentence-transformers model '{self.model}' is not on this machine ({exc})",
                    hint="nothing is downloaded: give a local model path (embedding_model)",
                ) from exc
        return np.asarray(self._encoder.encode(texts, normalize_embeddings=True))


class TextVectors:
    """Vectors of one kind, fitted on a corpus; rows have unit length (dot product = cosine)."""

    def __init__(
        self,
        kind: str | VectorKind = VectorKind.tfidf,
        model: str | Path | None = None,
        *,
        embedder: Embedder | None = None,
        characters: bool = False,
        cache_dir: str | Path | None = None,
    ) -> None:
        self.kind = vector_kind(kind)
        self.characters = characters
        self.embedder = embedder
        if self.embedder is None and self.kind is VectorKind.gguf:
            from llmcode.llm.embeddings import LocalEmbedder

            self.embedder = LocalEmbedder(model)
        elif self.embedder is None and self.kind is VectorKind.sentence_transformers:
            self.embedder = SentenceTransformerEmbedder(str(model) if model else None)
        self._parts: list[Any] = []
        self._mean: np.ndarray | None = None
        self.cache: VectorCache | None = None
        if self.embedder is not None and cache_dir is not None:
            label = hashlib.sha256(self.describe().encode()).hexdigest()[:16]
            self.cache = VectorCache(Path(cache_dir) / f"{label}.npz")

    def describe(self) -> str:
        """The manifest label: ``tfidf``, ``embedding:FILE``, ``sentence-transformers:NAME``."""
        if self.embedder is None:
            return "tfidf"
        label = "embedding" if self.kind is VectorKind.gguf else self.kind.value
        return f"{label}:{self.embedder.name}"

    def fit(self, texts: list[str]) -> Any:
        """The corpus's vectors (sparse for tfidf, a dense array otherwise)."""
        if self.embedder is None:
            return self._fit_tfidf(texts)
        vectors = self._embed(texts)
        if self.kind is VectorKind.gguf:
            self._mean = vectors.mean(axis=0)
            return unit_rows(vectors - self._mean)
        return vectors

    def transform(self, texts: list[str]) -> Any:
        """New texts in the fitted corpus's space."""
        if self.embedder is None:
            return self._tfidf(texts)
        vectors = self._embed(texts)
        if self._mean is not None:
            return unit_rows(vectors - self._mean)
        return vectors

    def _embed(self, texts: list[str]) -> np.ndarray:
        assert self.embedder is not None
        if self.cache is None:
            return self.embedder.embed(texts)
        return self.cache.embed(self.embedder, texts)

    def _fit_tfidf(self, texts: list[str]) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer

        if not self.characters:
            vectorizer = TfidfVectorizer(
                ngram_range=(1, 2), sublinear_tf=True, min_df=1, token_pattern=r"(?u)\b\w\w+\b"
            )
            matrix = vectorizer.fit_transform(texts)
            self._parts = [vectorizer]
            return matrix
        candidates = [
            TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 4), sublinear_tf=True),
            TfidfVectorizer(stop_words="english", sublinear_tf=True),
        ]
        self._parts = []
        for vectorizer in candidates:
            try:
                vectorizer.fit(texts)
            except ValueError:  # empty vocabulary (only stop words): the other part carries it
                continue
            self._parts.append(vectorizer)
        return self._tfidf(texts)

    def _tfidf(self, texts: list[str]) -> Any:
        if not self.characters:
            return word_tfidf(self._parts[0], texts)
        if not self._parts:
            return np.zeros((len(texts), 1))
        from scipy.sparse import hstack
        from sklearn.preprocessing import normalize

        return normalize(hstack([part.transform(texts) for part in self._parts]).tocsr())


class VectorCache:
    """Embeddings on disk (one ``.npz`` per model, beside the runs): each text is embedded once,
    by its SHA-256, across the dry run, the run and its resumes. A file that cannot be read is
    rebuilt; a failed write only costs the next run the embedding again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._rows: dict[str, np.ndarray] | None = None

    def _load(self) -> dict[str, np.ndarray]:
        if self._rows is None:
            self._rows = {}
            try:
                with np.load(self.path, allow_pickle=False) as data:
                    self._rows = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
            except (OSError, KeyError, ValueError):
                pass
        return self._rows

    def embed(self, embedder: Embedder, texts: list[str]) -> np.ndarray:
        """``embedder.embed(texts)``, asking only for texts not embedded before."""
        rows = self._load()
        keys = [hashlib.sha256(text.encode()).hexdigest() for text in texts]
        missing = {key: text for key, text in zip(keys, texts, strict=True) if key not in rows}
        if missing:
            vectors = np.asarray(embedder.embed(list(missing.values())))
            rows.update(zip(missing, vectors, strict=True))
            self._save(rows)
        return np.stack([rows[key] for key in keys]) if keys else np.zeros((0, 0))

    def _save(self, rows: dict[str, np.ndarray]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_suffix(".partial.npz")
            np.savez(partial, keys=np.array(list(rows)), vectors=np.stack(list(rows.values())))
            partial.replace(self.path)
        except OSError:
            pass


def text_vectors(
    texts: list[str],
    kind: str | VectorKind = VectorKind.tfidf,
    model: str | Path | None = None,
    characters: bool = True,
) -> Any:
    """Unit-length vectors for ``texts`` (short texts by default: words and characters)."""
    return TextVectors(kind, model, characters=characters).fit(texts)


def similarities(matrix: Any, query: Any) -> np.ndarray:
    """Cosine similarity of one query row to each row of ``matrix`` (sparse or dense)."""
    product = matrix @ query.T
    return np.asarray(product.toarray() if hasattr(product, "toarray") else product).ravel()


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to unit length (a zero row stays zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)
