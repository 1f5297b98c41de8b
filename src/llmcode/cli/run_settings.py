"""From a coding command's flags to run settings, and from settings back to flags.

``code_settings`` gathers the settings a person chose: ``--like RUN`` (an earlier run's), then
``--config FILE`` (TOML), then the options given on the command line or by their environment
variable (never a default left alone, so the library's defaults apply and a resume is only
asked to change what was said).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path, PurePath
from typing import Any

import typer
from typer._click.core import ParameterSource

from llmcode.cli.options import verify_setting

PARAMETERS = {
    "taxonomy": "taxonomy_path",
    "items": "items_path",
    "id_column": "id_column",
    "text_column": "text_columns",
    "sheet": "sheet",
    "level": "level",
    "limit": "limit",
    "only": "only",
    "unit": "unit",
    "hierarchy": "hierarchy",
    "backend": "backend",
    "model": "model",
    "base_url": "base_url",
    "model_path": "model_path",
    "timeout": "timeout",
    "context_tokens": "context_tokens",
    "examples": "examples",
    "examples_items": "examples_items",
    "examples_coder": "examples_coder",
    "examples_similarity": "examples_similarity",
    "embedding_model": "embedding_model",
    "shots": "shots",
    "splits": "splits",
    "prompts_dir": "prompts_dir",
    "temperature": "temperature",
    "max_tokens": "max_tokens",
    "seed": "seed",
    "samples": "samples",
    "evidence": "evidence",
    "max_reasks": "max_reasks",
    "items_per_request": "items_per_request",
    "concurrency": "concurrency",
    "rpm": "rpm",
    "tpm": "tpm",
    "max_cost": "max_cost",
}
"""A coding command's parameter -> the run setting it sets."""

GIVEN = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT, ParameterSource.PROMPT)


@dataclass
class ChosenSettings:
    """The settings of one invocation, by setting name, and where runs and prices are."""

    settings: dict[str, Any] = field(default_factory=dict)
    runs_dir: Path | None = None
    prices: Path | None = None

    def new_run(self) -> dict[str, Any]:
        """Keyword arguments for `new_config` (taxonomy and items required)."""
        settings = dict(self.settings)
        taxonomy = settings.pop("taxonomy_path", None)
        items = settings.pop("items_path", None)
        if taxonomy is None or items is None:
            raise typer.BadParameter(
                "give --taxonomy and --items (or --resume RUN, --like RUN or --config FILE)",
                param_hint="--taxonomy",
            )
        return {"taxonomy": taxonomy, "items": items, **settings}


def code_settings(
    ctx: typer.Context, config_file: Path | None, like: str | None, runs_dir: Path | None
) -> ChosenSettings:
    """The settings chosen by ``--like``, ``--config`` and the command line, in that order."""
    from llmcode.store.config import read_settings
    from llmcode.store.runs import RunStore

    chosen: dict[str, Any] = {}
    from_file: dict[str, Any] = read_settings(config_file) if config_file else {}
    runs_dir = runs_dir or _path(from_file.pop("runs_dir", None))
    prices = _path(from_file.pop("prices", None))
    if like:
        chosen.update(RunStore(runs_dir).open(like).manifest().config.flat())
    chosen.update(from_file)
    chosen.update(given_settings(ctx))
    return ChosenSettings(chosen, runs_dir, prices)


def given_settings(ctx: typer.Context) -> dict[str, Any]:
    """The run settings given on the command line (or by environment variable)."""
    params = ctx.params
    given: dict[str, Any] = {}
    for name, setting in PARAMETERS.items():
        if name in params and ctx.get_parameter_source(name) in GIVEN:
            given[setting] = _plain(params[name])
    if "model" in given:  # repeated --model: the first, then the samples' other models
        models = list(given["model"] or [])
        given["model"] = models[0] if models else None
        given["more_models"] = tuple(models[1:])
    if "text_columns" in given:
        given["text_columns"] = tuple(given["text_columns"] or ()) or None
    if ctx.get_parameter_source("verify") in GIVEN:
        given["verify"] = verify_setting(params["verify"], params.get("verify_mode"))
    return given


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _path(value: Any) -> Path | None:
    return Path(value) if value else None
