"""Word uni- and bigram TF-IDF counted with NumPy: scikit-learn's exact matrix."""

from __future__ import annotations

import random

from sklearn.feature_extraction.text import TfidfVectorizer

from llmcode.llm.vectors import TextVectors
from llmcode.llm.wordcounts import INDEX, word_tfidf

WORDS = ["cuda", "memory", "batch", "the", "a", "of", "crash", "Model", "load", "x", "naïve"]


def same_matrix(ours, theirs) -> bool:
    return bool(
        (ours.indptr == theirs.indptr).all()
        and (ours.indices == theirs.indices).all()
        and (ours.data == theirs.data).all()
    )


def random_texts(rng: random.Random, n: int) -> list[str]:
    return [
        " ".join(
            rng.choice([*WORDS, f"rare{rng.randint(0, 500)}"]) for _ in range(rng.randint(0, 12))
        )
        for _ in range(n)
    ]


def test_bigrams_found_as_pairs_of_word_ids_give_scikit_learns_matrix() -> None:
    rng = random.Random(7)
    vectors = TextVectors()
    vectors.fit(random_texts(rng, 300))
    texts = [*random_texts(rng, 400), "", "x", "memory memory MEMORY", "unknown words only"]
    vectorizer = vectors._parts[0]
    assert same_matrix(word_tfidf(vectorizer, texts), vectorizer.transform(texts))
    assert getattr(vectorizer, INDEX).complete  # the pair lookup ran, not the fallback


def test_a_vocabulary_cut_by_frequency_is_counted_by_scikit_learn() -> None:
    """With max_df a bigram may outlive one of its words ("the"): no pair lookup then."""
    rng = random.Random(3)
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), max_df=0.5, sublinear_tf=True)
    vectorizer.fit([f"the {text}" for text in random_texts(rng, 200)])
    assert "the" not in vectorizer.vocabulary_
    texts = random_texts(rng, 100)
    assert same_matrix(word_tfidf(vectorizer, texts), vectorizer.transform(texts))
    assert not getattr(vectorizer, INDEX).complete
