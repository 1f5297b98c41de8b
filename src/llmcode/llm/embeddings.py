"""Sentence embeddings from a local GGUF model through xllamacpp (llama.cpp): offline, torch-free.

The ``gguf`` kind of `llmcode.llm.vectors` (``--examples-similarity gguf``, ``themes --embedder
gguf``; ``embedding`` is its earlier name): texts compared by meaning rather than shared words.
Any GGUF the user has on disk works (an embedding model such as a GGUF conversion of bge-small or
nomic-embed-text is best; the bundled SmolLM2 is the fallback); nothing is ever downloaded.
Vectors are mean-pooled; `TextVectors` centres them on the fitted texts and L2-normalises them.
Embeddings are cached in memory by text.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from llmcode.errors import ConfigError

MAX_CHARS = 2000
"""Texts are cut to this many characters before embedding (the context is 2,048 tokens)."""


class LocalEmbedder:
    """``embed(texts) -> array (n, d)`` with a llama.cpp model in embedding mode."""

    def __init__(self, model_path: str | Path | None = None, n_threads: int | None = None) -> None:
        from llmcode.llm.backends.local import bundled_model_path

        self.model_path = Path(model_path) if model_path else bundled_model_path()
        if not self.model_path.is_file():
            raise ConfigError(
                f"{self.model_path}: no such embedding model",
                hint="give a GGUF file with `embedding_model` (nothing is downloaded)",
            )
        self.n_threads = n_threads
        self._llama = None
        self._cache: dict[str, np.ndarray] = {}

    @property
    def name(self) -> str:
        return self.model_path.name

    def _load(self):
        if self._llama is None:
            try:
                import xllamacpp
            except ImportError as exc:
                raise ConfigError(
                    "embedding similarity needs xllamacpp (the embedded llama.cpp engine)",
                    hint="pip install 'llmcode[local]', or use `examples_similarity` tfidf",
                ) from exc
            from llmcode.llm.backends.threads import default_threads

            params = xllamacpp.CommonParams()
            params.model.path = str(self.model_path)
            params.embedding = True
            params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
            params.n_ctx = 2048
            params.n_batch = 2048
            params.n_ubatch = 2048
            threads = self.n_threads or default_threads()
            params.cpuparams.n_threads = threads
            params.cpuparams_batch.n_threads = threads
            params.warmup = False
            params.verbosity = -1
            self._llama = xllamacpp.Server(params)
        return self._llama

    def embed(self, texts: list[str]) -> np.ndarray:
        """One vector per text (cached by text)."""
        missing = [t for t in dict.fromkeys(texts) if _key(t) not in self._cache]
        if missing:
            server = self._load()
            for text in missing:
                result = server.handle_embeddings({"input": [text[:MAX_CHARS] or " "]})
                if not isinstance(result, dict) or "data" not in result:
                    raise ConfigError(f"{self.model_path}: cannot embed text ({result})")
                vector = result["data"][0]["embedding"]
                self._cache[_key(text)] = np.asarray(vector, dtype=np.float32).ravel()
        return np.vstack([self._cache[_key(t)] for t in texts])


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
