"""Checks of a run's guidance settings before anything is loaded: the files that examples,
splits and prompt overrides name exist, and the settings that need ``examples`` have it.
A problem is a `ConfigError` naming the setting.
"""

from __future__ import annotations

from pathlib import Path

from llmcode.errors import ConfigError
from llmcode.store.config import Guidance


def check_guidance(guidance: Guidance) -> None:
    """Refuse guidance settings that cannot work, naming the setting."""
    if guidance.examples is None and (
        guidance.examples_items is not None or guidance.examples_coder is not None
    ):
        raise ConfigError("`examples_items` and `examples_coder` need `examples` CODES")
    for name in ("examples", "examples_items", "splits", "prompts_dir"):
        path = getattr(guidance, name)
        if path is not None and not Path(path).exists():
            raise ConfigError(f"`{name}` {path}: no such file or directory")
    from llmcode.llm.vectors import VectorKind, vector_kind

    model = guidance.embedding_model
    named = vector_kind(guidance.examples_similarity) is VectorKind.sentence_transformers
    if model is not None and not named and not Path(model).is_file():
        raise ConfigError(f"`embedding_model` {model}: no such file")
