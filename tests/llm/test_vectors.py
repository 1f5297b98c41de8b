import numpy as np
import pytest

from llmcode.errors import ConfigError
from llmcode.llm.vectors import (
    NAMES,
    TextVectors,
    VectorKind,
    similarities,
    text_vectors,
    vector_kind,
)


class AxisEmbedder:
    """Vectors by hand: each text's vector is given, plus a shared offset (1, 1, 1)."""

    name = "axes.gguf"

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.array([np.add(self.vectors[t], 1.0) for t in texts], dtype=float)


def test_one_vocabulary_names_every_kind_and_embedding_means_gguf():
    assert NAMES == ("tfidf", "gguf", "sentence-transformers", "embedding")
    assert vector_kind("embedding") is VectorKind.gguf
    assert vector_kind(VectorKind.sentence_transformers) is VectorKind.sentence_transformers
    with pytest.raises(ConfigError) as info:
        vector_kind("word2vec")
    assert "word2vec" in info.value.message and "sentence-transformers" in (info.value.hint or "")


def test_tfidf_places_a_new_text_in_the_fitted_space():
    vectors = TextVectors("tfidf")
    matrix = vectors.fit(["the model is slow", "out of memory on load", "how to call the api"])
    sims = similarities(matrix, vectors.transform(["loading runs out of memory"]))
    assert int(np.argmax(sims)) == 1
    assert np.allclose(similarities(matrix, vectors.transform(["the model is slow"]))[0], 1.0)


def test_short_texts_meet_on_characters_where_words_differ():
    words = text_vectors(["timeout", "timeouts"], characters=False).toarray()
    chars = text_vectors(["timeout", "timeouts"]).toarray()
    assert float(words[0] @ words[1]) == 0.0
    assert float(chars[0] @ chars[1]) > 0.3


def test_only_stop_words_still_give_vectors():
    assert text_vectors(["the", "a"]).shape[0] == 2


def test_gguf_vectors_are_centred_on_the_fitted_texts_then_unit_length():
    embedder = AxisEmbedder({"a": [2, 0, 0], "b": [0, 2, 0], "c": [0, 0, 2]})
    vectors = TextVectors("embedding", embedder=embedder)
    matrix = vectors.fit(["a", "b", "c"])
    centred = np.array([[4, -2, -2], [-2, 4, -2], [-2, -2, 4]]) / 3
    assert np.allclose(matrix, centred / np.linalg.norm(centred, axis=1, keepdims=True))
    assert np.allclose(vectors.transform(["b"]), matrix[1:2])
    assert vectors.describe() == "embedding:axes.gguf"


def test_sentence_transformer_vectors_are_used_as_the_model_gives_them():
    embedder = AxisEmbedder({"a": [2, 0, 0], "b": [0, 2, 0]})
    vectors = TextVectors("sentence-transformers", embedder=embedder)
    assert np.allclose(vectors.fit(["a", "b"]), [[3, 1, 1], [1, 3, 1]])
    assert vectors.describe() == "sentence-transformers:axes.gguf"


def test_a_missing_gguf_model_is_a_config_error_naming_the_file(tmp_path):
    with pytest.raises(ConfigError, match="no such embedding model"):
        TextVectors("gguf", tmp_path / "none.gguf")


def test_word_tfidf_gives_scikit_learns_exact_matrix() -> None:
    from llmcode.llm.vectors import TextVectors, word_tfidf

    corpus = [
        "CUDA out of memory on a large batch",
        "the model the model crashes",
        "Héllo İstanbul école: naïve café",
        "x",
        "please add memory mapped datasets, please",
    ]
    vectors = TextVectors()
    vectors.fit(corpus)
    texts = [*corpus, "", "a b", "unknown words only", "memory memory MEMORY batch", "İSTANBUL"]
    ours = word_tfidf(vectors._parts[0], texts)
    theirs = vectors._parts[0].transform(texts)
    assert (ours.indptr == theirs.indptr).all()
    assert (ours.indices == theirs.indices).all()
    assert (ours.data == theirs.data).all()


class CountingEmbedder:
    """Vectors from letter counts; records every text it was asked to embed."""

    name = "letters"

    def __init__(self) -> None:
        self.asked: list[str] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.asked += texts
        return np.array([[t.count(c) + 0.5 for c in "abcdefgh"] for t in texts], dtype=float)


def test_embeddings_are_computed_once_per_text_and_kept_beside_the_runs(tmp_path) -> None:
    from llmcode.llm.vectors import TextVectors

    embedder = CountingEmbedder()
    vectors = TextVectors("sentence-transformers", embedder=embedder, cache_dir=tmp_path)
    pool = vectors.fit(["a cab", "bad egg", "a cab"])
    items = vectors.transform(["bad egg", "fig"])
    assert embedder.asked == ["a cab", "bad egg", "fig"]  # duplicates and known texts: once
    again = CountingEmbedder()  # a later run (a new process) with the same model
    later = TextVectors("sentence-transformers", embedder=again, cache_dir=tmp_path)
    assert np.array_equal(later.fit(["a cab", "bad egg", "a cab"]), pool)
    assert np.array_equal(later.transform(["bad egg", "fig"]), items)
    assert again.asked == []
    uncached = TextVectors("sentence-transformers", embedder=CountingEmbedder())
    assert np.array_equal(uncached.fit(["a cab", "bad egg", "a cab"]), pool)


def test_an_unreadable_vector_cache_is_rebuilt(tmp_path) -> None:
    from llmcode.llm.vectors import TextVectors

    first = TextVectors("sentence-transformers", embedder=CountingEmbedder(), cache_dir=tmp_path)
    first.fit(["a cab"])
    for path in tmp_path.glob("*.npz"):
        path.write_bytes(b"not a zip")
    embedder = CountingEmbedder()
    TextVectors("sentence-transformers", embedder=embedder, cache_dir=tmp_path).fit(["a cab"])
    assert embedder.asked == ["a cab"]
