"""Sentence embeddings from the bundled GGUF (slow: loads the model; run under the lock)."""

from __future__ import annotations

import numpy as np
import pytest

from llmcode.errors import ConfigError
from llmcode.llm.embeddings import LocalEmbedder
from tests.support import needs_llama


def test_a_missing_model_file_is_named(tmp_path) -> None:
    with pytest.raises(ConfigError, match="no such embedding model"):
        LocalEmbedder(tmp_path / "nope.gguf")


@pytest.mark.slow
@needs_llama
def test_the_bundled_model_embeds_and_caches_by_text() -> None:
    embedder = LocalEmbedder(n_threads=1)
    vectors = embedder.embed(["the internet drops", "my chair hurts my back", "the internet drops"])
    assert vectors.shape[0] == 3 and vectors.shape[1] > 100
    assert np.allclose(vectors[0], vectors[2])
    assert len(embedder._cache) == 2
