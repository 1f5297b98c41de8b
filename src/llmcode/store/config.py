"""A run's settings: one strict, frozen `RunConfig` in five documented groups.

- ``inputs``: what is coded (taxonomy, items, their columns, the level, ``limit``, ``only``,
  the ``unit``: whole items or passages; the ``hierarchy``: flat or top-down);
- ``endpoint``: which model answers (backend, model and further models, base URL, GGUF, timeout,
  its context length);
- ``sampling``: how it is asked (temperature, tokens, seed, samples, evidence, re-asks, batching);
- ``guidance``: what it sees besides the codebook (examples, splits, prompt overrides, second look);
- ``limits``: how fast and how dear (concurrency, requests and tokens per minute, ``max_cost``).

Settings are addressed by their flat names everywhere outside the model (``RunConfig(model=...)``,
``config.replace(samples=3)``, ``config.flat()``, TOML files): the groups are how the model is
kept and documented, not a second vocabulary. An unknown name is refused with the closest known
one; manifests written before the grouping (flat) still load. ``to_toml`` / ``read_settings``
write and read the settings as TOML (``llmcode code --config``, ``runs show``).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import tomllib
from pathlib import Path, PurePath
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from llmcode.errors import ConfigError, SettingsError
from llmcode.taxonomy.model import Level

Evidence = Literal["free", "choice"]
VerifyMode = Literal["off", "flag", "drop"]
Similarity = Literal["tfidf", "gguf", "sentence-transformers", "embedding"]
BackendKind = Literal["openai", "local"]
Unit = Literal["item", "segment"]
Hierarchy = Literal["flat", "top-down"]


class _Group(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Inputs(_Group):
    """What is coded."""

    taxonomy_path: str
    items_path: str
    id_column: str = "item_id"
    text_columns: tuple[str, ...] | None = None
    sheet: str | None = None
    level: Level = "top"
    limit: int | None = Field(default=None, ge=1)
    only: str | None = None
    """A table of item ids (``--only``): only those items are coded."""
    unit: Unit = "item"
    """What gets codes: whole items, or passages of each document (``segment``: the model
    returns passages located to character offsets, long documents read in windows)."""
    hierarchy: Hierarchy = "flat"
    """How a hierarchical codebook is asked at ``level`` leaves: ``flat``, every code in one
    request; ``top-down``, the top-level categories first, then only the chosen categories'
    codes (`llmcode.coding.topdown`)."""


class Endpoint(_Group):
    """Which model answers, and where."""

    backend: str = "local"
    model: str | None = None
    more_models: tuple[str, ...] = ()
    """Further models the samples are drawn from in turn."""
    base_url: str | None = None
    model_path: str | None = None
    timeout: float = Field(default=120.0, gt=0)
    context_tokens: int | None = Field(default=None, ge=512)
    """The model's context length in tokens, which ``unit = "segment"`` sizes its windows of a
    document from (default: the embedded model's own, ``LLMCODE_N_CTX``; 8,192 for an endpoint)."""

    @field_validator("model", "base_url")
    @classmethod
    def _not_empty(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("is empty: give a name, or leave it out for the default")
        return value

    @field_validator("more_models")
    @classmethod
    def _none_empty(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        if any(not value.strip() for value in values):
            raise ValueError("holds an empty model name")
        return values


class Sampling(_Group):
    """How the model is asked."""

    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=512, ge=16)
    seed: int | None = 0
    samples: int = Field(default=1, ge=1)
    evidence: Evidence = "free"
    max_reasks: int = Field(default=2, ge=0)
    items_per_request: int = Field(default=1, ge=1)

    @field_validator("seed", mode="before")
    @classmethod
    def _no_seed(cls, value: Any) -> Any:
        return None if value == "none" else value  # how TOML, which has no null, says None


class Guidance(_Group):
    """What the model sees besides the codebook."""

    examples: str | None = None
    """Example codes: a long-format file or a reviewed run directory."""
    examples_items: str | None = None
    examples_coder: str | None = None
    shots: int = Field(default=4, ge=0, le=20)
    examples_similarity: Similarity = "tfidf"
    """How example texts become vectors (`llmcode.llm.vectors`; ``embedding`` means ``gguf``)."""
    embedding_model: str | None = None
    """The model of those vectors: a GGUF file for ``gguf`` (default: the bundled model), a
    sentence-transformers name or path for ``sentence-transformers``."""
    splits: str | None = None
    """Item splits (item_id, split); items of the ``test`` split are never examples."""
    prompts_dir: str | None = None
    verify: VerifyMode = "off"


class Limits(_Group):
    """How fast and how dear."""

    concurrency: int = Field(default=8, ge=1)
    rpm: float | None = Field(default=None, gt=0)
    tpm: float | None = Field(default=None, gt=0)
    max_cost: float | None = Field(default=None, ge=0)


GROUPS: dict[str, type[_Group]] = {
    "inputs": Inputs,
    "endpoint": Endpoint,
    "sampling": Sampling,
    "guidance": Guidance,
    "limits": Limits,
}
ALIASES = {
    "taxonomy": "taxonomy_path",
    "items": "items_path",
    "text_column": "text_columns",
    "prompts": "prompts_dir",
}
"""Option names a settings file may use for settings named otherwise."""
GROUP_OF = {name: group for group, model in GROUPS.items() for name in model.model_fields}
"""Each setting's group, by the setting's flat name."""


class RunConfig(BaseModel):
    """Everything that decides how a run codes; frozen and saved in the manifest (no secrets).

    Build it with flat settings (``RunConfig(taxonomy_path=..., items_path=..., model=...)``)
    or grouped ones; read it by group (``config.endpoint.model``) or flat (``config.flat()``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    inputs: Inputs
    endpoint: Endpoint = Endpoint()
    sampling: Sampling = Sampling()
    guidance: Guidance = Guidance()
    limits: Limits = Limits()

    @model_validator(mode="before")
    @classmethod
    def _group(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        grouped: dict[str, dict[str, Any]] = {}
        for key, value in data.items():
            if isinstance(value, PurePath):
                value = str(value)
            if key in GROUPS:
                part = value.model_dump() if isinstance(value, BaseModel) else dict(value)
                grouped.setdefault(key, {}).update(part)
            elif key in GROUP_OF:
                grouped.setdefault(GROUP_OF[key], {})[key] = value
            else:
                raise ValueError(unknown_setting(key))
        return grouped

    def flat(self) -> dict[str, Any]:
        """Every setting by its flat name."""
        return {name: value for group in GROUPS for name, value in getattr(self, group)}

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with ``changes`` (flat names), validated like a new config."""
        return make_config(**{**self.flat(), **changes})

    def changed(self) -> dict[str, Any]:
        """The settings that differ from their defaults (the taxonomy and items always)."""
        defaults = {
            name: field.default
            for model in GROUPS.values()
            for name, field in model.model_fields.items()
            if not field.is_required()
        }
        return {
            name: value
            for name, value in self.flat().items()
            if name not in defaults or value != defaults[name]
        }

    def fingerprint(self) -> str:
        """A short hash of every setting: two runs with the same one were asked alike."""
        text = json.dumps(self.flat(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]

    def to_toml(self) -> str:
        """The settings as TOML, one table per group (defaults included; a setting that is
        ``None`` is left out, as TOML has no null, but for ``seed = "none"``)."""
        lines: list[str] = []
        for group in GROUPS:
            lines.append(f"[{group}]")
            for name, value in getattr(self, group):
                if name == "seed" and value is None:
                    lines.append('seed = "none"')
                elif value is not None:
                    lines.append(f"{name} = {_toml_value(value)}")
            lines.append("")
        return "\n".join(lines)


INPUT_SETTINGS = ("taxonomy_path", "items_path", "text_columns")
"""Settings every run gives (its inputs): said elsewhere, not as a difference."""


def settings_text(
    changed: dict[str, Any],
    fingerprint: str | None,
    leave_out: tuple[str, ...] = INPUT_SETTINGS,
) -> str:
    """``changed`` settings (`RunConfig.changed`, perhaps read back from JSON) in words, then
    the ``fingerprint``: "examples codes.csv, shots 4, verify flag (fingerprint 1a2b…)". With
    examples their number of shots is said even when it is the default: a run with examples
    is told apart by both. Without a fingerprint, the words alone."""
    if changed.get("examples") and "shots" not in changed:
        changed = {**changed, "shots": Guidance.model_fields["shots"].default}
    shown = ", ".join(
        f"{name} {_words(value)}" for name, value in changed.items() if name not in leave_out
    )
    shown = shown or "defaults"
    return shown if fingerprint is None else f"{shown} (fingerprint {fingerprint})"


def _words(value: object) -> str:
    if isinstance(value, tuple | list):
        return "+".join(str(v) for v in value)
    return str(value)


def unknown_setting(key: str) -> str:
    """The message for a setting no run has, with the closest known name."""
    close = difflib.get_close_matches(key, list(GROUP_OF), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown setting '{key}'{hint}"


def make_config(**settings: Any) -> RunConfig:
    """A `RunConfig` from flat settings; an unknown or invalid one is a `SettingsError`."""
    try:
        return RunConfig(**settings)
    except ValidationError as exc:
        raise SettingsError(
            settings_problem(exc), hint="see RunConfig's groups for every setting"
        ) from None


def settings_problem(exc: ValidationError) -> str:
    """One line per invalid setting: its name and what is wrong."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"] if p not in GROUPS) or "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        if message.startswith("unknown setting"):
            parts.append(message)
        else:
            given = "" if isinstance(error["input"], dict) else f" (got {error['input']!r})"
            parts.append(f"invalid value for `{where}`: {message}{given}")
    return "; ".join(parts)


def read_settings(path: str | Path) -> dict[str, Any]:
    """Flat settings from a TOML file: group tables or top-level keys, by setting or option
    name (``taxonomy``, ``items``, ``text_column``, ``prompts``), ``-`` or ``_`` in names;
    ``model`` may be a list (the samples' models in turn) and ``verify`` a boolean."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such settings file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    flat: dict[str, Any] = {}
    for key, value in data.items():
        pairs = value.items() if isinstance(value, dict) else [(key, value)]
        for name, setting in pairs:
            name = name.replace("-", "_")
            flat[ALIASES.get(name, name)] = setting
    if isinstance(flat.get("verify"), bool):
        flat["verify"] = "flag" if flat["verify"] else "off"
    return flat


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
