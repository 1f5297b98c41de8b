"""A run's settings and second look in a line each, for `runs show`, `runs list`, `eval`, the
dry run and the closing summary of `code`.

The settings shown are those that differ from their defaults (`RunConfig.changed`), with the
fingerprint of them all (`RunConfig.fingerprint`); with examples their number of shots is
shown even when it is the default, as a run with examples is told apart by both."""

from __future__ import annotations

from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from llmcode.store.config import INPUT_SETTINGS, settings_text

if TYPE_CHECKING:
    from collections.abc import Iterable

    from llmcode.llm.checks import CodeCheck
    from llmcode.store.config import RunConfig

_PATHS = ("examples", "examples_items", "splits", "prompts_dir", "only", "model_path")
_LISTED_ELSEWHERE = (*INPUT_SETTINGS, "backend", "base_url", "model")
"""`runs list` names the model; where it was served is in `runs show`."""


def settings_line(config: RunConfig) -> str:
    """Every setting that differs from its default, and the settings' fingerprint."""
    return settings_text(config.changed(), config.fingerprint())


def settings_words(changed: dict[str, Any], fingerprint: str) -> str:
    """``changed`` settings (name and value) in words, and the ``fingerprint``."""
    return settings_text(changed, fingerprint)


def settings_short(config: RunConfig) -> str:
    """The changed settings, compact (file names without their folder, no model), for
    `runs list`."""
    changed = {
        name: PurePath(str(value)).name if name in _PATHS else value
        for name, value in config.changed().items()
    }
    return settings_text(changed, "", leave_out=_LISTED_ELSEWHERE).removesuffix(" (fingerprint )")


def disputed_checks(checks: Iterable[CodeCheck]) -> str:
    """How many of these second looks disputed their code, of how many."""
    from llmcode.llm.checks import disputed_count

    disputed, checked = disputed_count(checks)
    return f"{disputed} of {checked} checked code(s)"
