"""A run's settings and second look in a line each, for `runs show`, the dry run and the
closing summary of `code`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmcode.store.config import RunConfig


def settings_line(config: RunConfig) -> str:
    """Every setting that differs from its default, and the settings' fingerprint."""
    changed = config.changed()
    shown = ", ".join(
        f"{name} {_setting(value)}"
        for name, value in changed.items()
        if name not in ("taxonomy_path", "items_path", "text_columns")
    )
    return f"{shown or 'defaults'} (fingerprint {config.fingerprint()})"


def _setting(value: object) -> str:
    if isinstance(value, tuple | list):
        return "+".join(str(v) for v in value)
    return str(value)


def disputed_codes(latest: dict) -> str:
    """How many codes the second look disputed, of how many it checked."""
    checks = [check for record in latest.values() for check in record.checks]
    disputed = sum(check.outcome in ("disputed", "dropped", "replaced") for check in checks)
    return f"{disputed} of {len(checks)} checked code(s)"
