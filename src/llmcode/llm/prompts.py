"""Render chat messages from the templates in ``prompts/`` and hash them for provenance.

The system message holds the instructions and the rendered codebook (identical for every item,
so providers can cache the prefix); the user message holds the item last, delimited as data.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from llmcode.errors import ConfigError
from llmcode.taxonomy.model import Level, Taxonomy

SYSTEM = "closed_coding.system.md"
USER = "closed_coding.user.md"
REASK = "reask.md"
MULTI = "closed_coding.multi.md"


def default_prompts_dir() -> Path:
    """Templates shipped in the wheel (``llmcode/prompts``), else the checkout's ``prompts/``."""
    packaged = resources.files("llmcode").joinpath("prompts")
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[3] / "prompts"


@dataclass(frozen=True)
class PromptSet:
    """Loaded templates for one task, with their combined hash."""

    directory: Path
    templates: dict[str, str]

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        for name in sorted(self.templates):
            digest.update(name.encode() + b"\0" + self.templates[name].encode() + b"\0")
        return digest.hexdigest()[:16]

    def render(self, name: str, **values: Any) -> str:
        return _compile(self.templates[name]).render(**values).strip()


@functools.lru_cache(maxsize=64)
def _compile(source: str) -> jinja2.Template:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    return env.from_string(source)


def load_prompts(
    directory: Path | None = None, names: tuple[str, ...] = (SYSTEM, USER, REASK, MULTI)
) -> PromptSet:
    """Read the named templates from ``directory`` (default: the shipped ones)."""
    directory = directory or default_prompts_dir()
    templates = {}
    for name in names:
        path = directory / name
        try:
            templates[name] = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read prompt template ({exc})") from exc
    return PromptSet(directory=directory, templates=templates)


def system_message(prompts: PromptSet, taxonomy: Taxonomy, level: Level = "top") -> dict[str, str]:
    """The instructions and codebook: the same for every item of a run."""
    content = prompts.render(
        SYSTEM,
        taxonomy=taxonomy,
        categories=taxonomy.targets(level),
        level=level,
        multi_label=taxonomy.multi_label,
    )
    return {"role": "system", "content": content}


def item_message(prompts: PromptSet, item_id: str, text: str) -> dict[str, str]:
    """The item, delimited as data; tags inside the text are neutralised."""
    safe = text.replace("</item>", "</ item>").replace("<item", "< item")
    return {"role": "user", "content": prompts.render(USER, item_id=item_id, text=safe)}


def reask_message(prompts: PromptSet, problems: list[str]) -> dict[str, str]:
    """The follow-up that asks the model to fix the listed problems."""
    return {"role": "user", "content": prompts.render(REASK, problems=problems)}
