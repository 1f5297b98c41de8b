"""A run's settings and second look in a line each, for `runs show`, `runs list`, `eval`, the
dry run and the closing summary of `code`.

The settings shown are those that differ from their defaults (`RunConfig.changed`), with the
fingerprint of them all (`RunConfig.fingerprint`); with examples their number of shots is
shown even when it is the default, as a run with examples is told apart by both."""

from __future__ import annotations

from pathlib import PurePath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmcode.store.config import RunConfig

_ALWAYS_SET = ("taxonomy_path", "items_path", "text_columns")
"""Settings every run gives (its inputs): shown elsewhere, not as a difference."""
_PATHS = ("examples", "examples_items", "splits", "prompts_dir", "only", "model_path")
_LISTED_ELSEWHERE = (*_ALWAYS_SET, "backend", "base_url", "model")
"""`runs list` has a model column; where the model was served is in `runs show`."""


def settings_line(config: RunConfig) -> str:
    """Every setting that differs from its default, and the settings' fingerprint."""
    return settings_words(config.changed(), config.fingerprint())


def settings_words(changed: dict[str, Any], fingerprint: str) -> str:
    """``changed`` settings (name and value) in words, and the ``fingerprint``."""
    shown = ", ".join(
        f"{name} {_setting(value)}"
        for name, value in _with_shots(changed).items()
        if name not in _ALWAYS_SET
    )
    return f"{shown or 'defaults'} (fingerprint {fingerprint})"


def settings_short(config: RunConfig) -> str:
    """The changed settings, compact (file names without their folder, no model), for a
    column of `runs list`."""
    changed = _with_shots(config.changed())
    shown = ", ".join(
        f"{name} {PurePath(str(value)).name if name in _PATHS else _setting(value)}"
        for name, value in changed.items()
        if name not in _LISTED_ELSEWHERE
    )
    return shown or "defaults"


def _with_shots(changed: dict[str, Any]) -> dict[str, Any]:
    """``changed`` with ``shots`` beside ``examples`` (the default number is not a change)."""
    if changed.get("examples") and "shots" not in changed:
        from llmcode.store.config import Guidance

        return {**changed, "shots": Guidance.model_fields["shots"].default}
    return changed


def _setting(value: object) -> str:
    if isinstance(value, tuple | list):
        return "+".join(str(v) for v in value)
    return str(value)


def disputed_codes(latest: dict) -> str:
    """How many codes the second look disputed, of how many it checked."""
    from llmcode.llm.checks import disputed_count

    disputed, checked = disputed_count(c for record in latest.values() for c in record.checks)
    return f"{disputed} of {checked} checked code(s)"
