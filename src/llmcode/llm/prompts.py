"""Render chat messages from the templates in ``prompts/`` and hash them for provenance.

The system message holds the instructions, the taxonomy's study ``context`` and the rendered
codebook (identical for every item, so providers can cache the prefix); the user message holds
the retrieved examples (if any) and then the item last, delimited as data. ``--prompts DIR``
overrides any template by file name; the manifest records each template's hash.

Templates render in the sandbox of ``llm.sandbox`` (a shared template cannot run code). Data
cannot break out of its delimiters, in any template: every value is read and rendered with the
tags the templates delimit data with (``item``, ``example``, ``category``, ``group``, in any
case and spacing: ``</ITEM>``, ``</item >``, ``< /item>``, and look-alikes: ``<\\u200b/item>``,
``＜/item＞``, ``&lt;/item&gt;``) neutralised as ``</ item>``,
and attribute values go through the ``attribute`` filter (``id="{{ item_id | attribute }}"``), which
escapes quotes, angle brackets and line breaks (added where a template of your own omits it, and
quotes added around an unquoted ``id={{ item_id }}``).
"""

from __future__ import annotations

import functools
import hashlib
import html
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from itertools import chain
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta

from llmcode.errors import ConfigError
from llmcode.llm.sandbox import (
    Defused,
    PromptSandbox,
    check_template,
    compile_template,
    neutral_deep,
    template_error,
)
from llmcode.taxonomy.model import Level, Taxonomy

SYSTEM = "closed_coding.system.md"
USER = "closed_coding.user.md"
REASK = "reask.md"
MULTI = "closed_coding.multi.md"
VERIFY_SYSTEM = "verify.system.md"
VERIFY_USER = "verify.user.md"
CLOSED = (SYSTEM, USER, REASK, MULTI)
SEGMENT_SYSTEM = "segment_coding.system.md"
SEGMENT_USER = "segment_coding.user.md"
SEGMENT_REASK = "segment_coding.reask.md"
SEGMENT = (SEGMENT_SYSTEM, SEGMENT_USER, SEGMENT_REASK)
"""The templates of coding documents in passages (``unit = "segment"``)."""
TOPDOWN_SYSTEM = "topdown.system.md"
TOPDOWN_USER = "topdown.user.md"
TOPDOWN_REASK = "topdown.reask.md"
TOPDOWN = (TOPDOWN_SYSTEM, TOPDOWN_USER, TOPDOWN_REASK)
"""The first step's templates when coding top-down (``hierarchy = "top-down"``)."""


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
    overrides: dict[str, Path] = field(default_factory=dict)
    """Templates taken from a ``--prompts`` directory instead of the shipped ones."""

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        for name in sorted(self.templates):
            digest.update(name.encode() + b"\0" + self.templates[name].encode() + b"\0")
        return digest.hexdigest()[:16]

    @property
    def hashes(self) -> dict[str, str]:
        """Each template's own short hash, by file name."""
        return {
            name: hashlib.sha256(text.encode()).hexdigest()[:16]
            for name, text in sorted(self.templates.items())
        }

    def describe(self) -> dict[str, Any]:
        """What a run manifest records about its prompts."""
        return {
            "directory": str(self.directory),
            "sha256": self.sha256,
            "templates": sorted(self.templates),
            "hashes": self.hashes,
            "overrides": {name: str(path) for name, path in sorted(self.overrides.items())},
        }

    def path(self, name: str) -> Path:
        """The file template ``name`` was read from."""
        return self.overrides.get(name, self.directory / name)

    def render(self, name: str, **values: Any) -> str:
        """Template ``name`` rendered in the sandbox with ``values`` (neutralised on the way in);
        a template error is a ``ConfigError`` naming the file and line."""
        inward = {key: neutral_deep(value, neutral) for key, value in values.items()}
        try:
            return _compile(self.templates[name]).render(**inward).strip()
        except Exception as exc:  # a template's own runtime error ({{ 1 / 0 }}) is its file's
            raise template_error(self.path(name), exc) from exc


_INVISIBLE = r"[\s\x00-\x1f\x7f\u00ad\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]*"
_OPEN = r"(?:<|\uff1c|\ufe64|\u2039|\u3008|&lt;?|&#0*60;?|&#x0*3c;?)"
_SLASH = r"(?:/|\uff0f|\u2215|\u2044|&sol;|&#0*47;?|&#x0*2f;?)"


def _name(word: str) -> str:
    """``word`` letter by letter, each also fullwidth, with invisible characters between."""
    return _INVISIBLE.join(f"[{c}{chr(ord(c) - ord('a') + 0xFF41)}]" for c in word)


_DELIMITER = re.compile(
    rf"{_OPEN}{_INVISIBLE}(?P<slash>{_SLASH}?){_INVISIBLE}"
    rf"(?=(?:{'|'.join(_name(w) for w in ('item', 'example', 'category', 'group'))})(?!\w))",
    re.IGNORECASE,
)
_MAYBE = re.compile(r"[<\uff1c\ufe64\u2039\u3008&]")


def neutral(value: Any) -> Any:
    """A value with every delimiter-like tag written ``< item`` / ``</ item`` (texts only),
    including look-alikes: invisible or control characters inside the tag (``<\\u200b/item>``),
    fullwidth forms (``＜/ｉｔｅｍ＞``) and HTML entities (``&lt;/item&gt;``)."""
    if not isinstance(value, str) or isinstance(value, Escaped) or not _MAYBE.search(value):
        return value
    return _DELIMITER.sub(lambda m: "</ " if m.group("slash") else "< ", value)


class Escaped(str):
    """An attribute value already escaped (``neutral`` leaves it as it is)."""


def attribute(value: Any) -> str:
    """A value safe inside a double-quoted attribute: ``&"'<>`` and line breaks escaped."""
    text = html.escape(value.original if isinstance(value, Defused) else str(value), quote=True)
    return Escaped(text.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;"))


_ATTRIBUTE_VALUE = re.compile(
    r"""(?P<quoted>=(?P<q>["'])\{\{-?\s*(?P<x>.+?)\s*-?\}\}(?P=q))"""
    r"""|(?P<tag><[A-Za-z][^<>\n]*?\s[\w:-]+)=\{\{-?\s*(?P<y>.+?)\s*-?\}\}"""
)


def _escape_attributes(source: str) -> str:
    """``="{{ x }}"`` -> ``="{{ (x) | attribute }}"``: templates of your own are escaped too,
    and an unquoted attribute in a tag (``<item id={{ x }}>``) is quoted as well."""

    def escaped(match: re.Match[str]) -> str:
        expression = match.group("x") or match.group("y")
        if re.search(r"\|\s*attribute\s*$", expression):
            expression = re.sub(r"\|\s*attribute\s*$", "", expression).strip()
        value = f'"{{{{ ({expression}) | attribute }}}}"'
        if match.group("quoted"):
            if match.group("q") == '"' and match.group(0).endswith('| attribute }}"'):
                return match.group(0)
            return "=" + value
        return match.group("tag") + "=" + value

    for _ in range(source.count("{{") + 1):  # one unquoted attribute per tag and pass
        rewritten = _ATTRIBUTE_VALUE.sub(escaped, source)
        if rewritten == source:
            break
        source = rewritten
    return source


@functools.cache
def _environment() -> PromptSandbox:
    env = PromptSandbox(clean=neutral)
    env.filters["attribute"] = attribute
    return env


@functools.lru_cache(maxsize=64)
def _compile(source: str) -> jinja2.Template:
    return compile_template(_environment(), _escape_attributes(source))


def load_prompts(
    directory: Path | None = None,
    names: tuple[str, ...] = CLOSED,
    overrides: Path | None = None,
) -> PromptSet:
    """Read the named templates from ``directory`` (default: the shipped ones); a file of the
    same name in ``overrides`` (``--prompts DIR``) replaces the shipped one."""
    directory = directory or default_prompts_dir()
    if overrides is not None:
        check_overrides(overrides, directory)
    templates = {}
    replaced: dict[str, Path] = {}
    for name in names:
        path = directory / name
        if overrides is not None and (overrides / name).is_file():
            path = replaced[name] = overrides / name
        try:
            templates[name] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read prompt template ({exc})") from exc
        try:
            _compile(templates[name])
        except jinja2.TemplateSyntaxError as exc:
            raise ConfigError(
                f"{path}:{exc.lineno}: not a valid Jinja2 template ({exc.message})"
            ) from exc
        check_template(_environment(), templates[name], path)
        if name in replaced:
            check_carries_data(name, templates[name], path)
    return PromptSet(directory=directory, templates=templates, overrides=replaced)


CARRIES = {
    USER: "text",
    MULTI: "items",
    "open_coding.user.md": "text",
    SEGMENT_USER: "text",
    TOPDOWN_USER: "text",
}
"""The templates that carry the data to code, and the variable that holds it."""


def check_carries_data(name: str, source: str, path: Path) -> None:
    """A template of your own is not empty, and one that carries the item uses its variable
    (``{{ text }}``): else the model would code without ever seeing the item."""
    if not source.strip():
        raise ConfigError(
            f"{path}: the template is empty",
            hint="delete the file to use the shipped template, or copy it from `prompt show`",
        )
    needed = CARRIES.get(name)
    if needed and needed not in jinja2.meta.find_undeclared_variables(_environment().parse(source)):
        raise ConfigError(
            f"{path}: the template never uses {{{{ {needed} }}}}: the model would not see "
            "what it codes",
            hint=f"put {{{{ {needed} }}}} where the item belongs (see the shipped {name})",
        )


def check_overrides(overrides: Path, directory: Path | None = None) -> None:
    """A ``--prompts`` directory exists and names only templates that exist (catches typos)."""
    directory = directory or default_prompts_dir()
    if not overrides.is_dir():
        raise ConfigError(f"{overrides}: `prompts_dir` needs a directory of templates")
    shipped = {p.name for p in directory.glob("*.md")}
    unknown = sorted(p.name for p in overrides.glob("*.md") if p.name not in shipped)
    if unknown:
        raise ConfigError(
            f"{overrides}: no shipped template is called {', '.join(unknown)}",
            hint=f"templates: {', '.join(sorted(shipped))}",
        )


def system_message(prompts: PromptSet, taxonomy: Taxonomy, level: Level = "top") -> dict[str, str]:
    """The instructions and codebook: the same for every item of a run (categories that are
    not codable shown as context, never as valid codes)."""
    content = prompts.render(
        SYSTEM,
        taxonomy=taxonomy,
        categories=taxonomy.shown(level),
        level=level,
        multi_label=taxonomy.multi_label,
        context=taxonomy.context.strip(),
    )
    return {"role": "system", "content": content}


def item_message(
    prompts: PromptSet,
    item_id: str,
    text: str,
    examples: list[dict[str, str]] | None = None,
) -> dict[str, str]:
    """The item, delimited as data, after the retrieved examples (``item_id``, ``text``,
    ``codes``) if any; tags inside texts are neutralised."""
    content = prompts.render(USER, item_id=item_id, text=text, examples=examples or [])
    return {"role": "user", "content": content}


_PLAIN_USES = re.compile(
    r'="\{\{-?\s*item_id(?:\s*\|\s*attribute)?\s*-?\}\}"|\{\{-?\s*text\s*-?\}\}'
)
_ANY_USE = re.compile(r"\{[{%][^}]*?(?<![.\w])(?:text|item_id)\b", re.DOTALL)


def item_messages(prompts: PromptSet, items: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """``item_message`` for many ``(item_id, text)`` pairs (no examples), rendered once (see
    `iter_item_messages`)."""
    return list(iter_item_messages(prompts, items))


def iter_item_messages(
    prompts: PromptSet, items: Iterable[tuple[str, str]]
) -> Iterator[dict[str, str]]:
    """``item_message`` for many ``(item_id, text)`` pairs (no examples), rendered once and
    made one at a time (a million items' messages are never all held).

    When the template uses the id and text only as ``{{ item_id | attribute }}`` and
    ``{{ text }}``,
    it is rendered once with placeholders that are then replaced per item (checked against a
    full rendering of the first item); otherwise every item is rendered in full.
    """
    pairs = iter(items)
    first = next(pairs, None)
    if first is None:
        return
    source = prompts.templates[USER]
    if _ANY_USE.search(_PLAIN_USES.sub("", source)):
        yield from (item_message(prompts, i, t) for i, t in chain([first], pairs))
        return
    marks = ("ID" + secrets.token_hex(8), "TEXT" + secrets.token_hex(8))
    shape = prompts.render(USER, item_id=marks[0], text=marks[1], examples=[])

    def fill(item_id: str, text: str) -> str:
        return shape.replace(marks[0], attribute(item_id)).replace(marks[1], neutral(text))

    if fill(*first) != item_message(prompts, *first)["content"]:
        yield from (item_message(prompts, i, t) for i, t in chain([first], pairs))
        return
    yield from ({"role": "user", "content": fill(i, t)} for i, t in chain([first], pairs))


def reask_message(prompts: PromptSet, problems: list[str]) -> dict[str, str]:
    """The follow-up that asks the model to fix the listed problems."""
    return {"role": "user", "content": prompts.render(REASK, problems=problems)}
