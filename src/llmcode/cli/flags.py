"""Settings shown as flags: core messages name a setting in backticks (`id_column`); a person
at the command line reads the flag that sets it (``--id-column``)."""

from __future__ import annotations

import re

FLAGS = {
    "taxonomy_path": "--taxonomy",
    "items_path": "--items",
    "text_columns": "--text-column",
    "more_models": "--model",
    "prompts_dir": "--prompts",
    "config_file": "--config",
    "human": "--human",
    "coders": "--coder",
    "gold": "--human",
    "gold_coder": "--coder",
}
"""Settings whose flag is not ``--`` and the name with dashes."""

_SETTING = re.compile(r"`([a-z][a-z0-9_]*)`")


def flag_for(setting: str) -> str:
    """The flag that sets ``setting``."""
    return FLAGS.get(setting, "--" + setting.replace("_", "-"))


def as_flags(text: str) -> str:
    """``text`` with each backticked setting name replaced by its flag."""
    return _SETTING.sub(lambda m: flag_for(m.group(1)), text)
