"""The `llmcode code` options that guide a run beyond the model: retrieved examples
(``--examples``, ``--examples-items``, ``--examples-coder``, ``--shots``, ``--examples-similarity``,
``--embedding-model``), item splits, prompt overrides and the second look, checked and turned
into run-config settings (a missing file or a bad choice is a `ConfigError` naming the option).
"""

from __future__ import annotations

from pathlib import Path

from llmcode.errors import ConfigError


def guidance_settings(
    examples: Path | None,
    examples_items: Path | None,
    examples_coder: str | None,
    shots: int,
    splits: Path | None,
    prompts_dir: Path | None,
    verify: str,
) -> dict[str, object]:
    """The run-config settings for examples, prompt overrides and the second look."""
    if examples is None and (examples_items is not None or examples_coder is not None):
        raise ConfigError("--examples-items and --examples-coder need --examples CODES")
    for path, option in (
        (examples, "--examples"),
        (examples_items, "--examples-items"),
        (splits, "--splits"),
        (prompts_dir, "--prompts"),
    ):
        if path is not None and not path.exists():
            raise ConfigError(f"{option} {path}: no such file or directory")
    return {
        "examples": str(examples) if examples else None,
        "examples_items": str(examples_items) if examples_items else None,
        "examples_coder": examples_coder,
        "shots": shots,
        "splits": str(splits) if splits else None,
        "prompts_dir": str(prompts_dir) if prompts_dir else None,
        "verify": verify,
    }


def similarity_settings(similarity: str, model: Path | None) -> dict[str, object]:
    """The run-config settings for how examples are retrieved (`llmcode.llm.vectors`)."""
    from llmcode.llm.vectors import VectorKind, vector_kind

    named = vector_kind(similarity) is VectorKind.sentence_transformers  # a name, not a file
    if model is not None and not named and not model.is_file():
        raise ConfigError(f"--embedding-model {model}: no such file")
    return {
        "examples_similarity": str(similarity),
        "embedding_model": str(model) if model else None,
    }
