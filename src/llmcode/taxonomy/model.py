"""Taxonomy specs: the pydantic models, loading YAML with line-accurate errors, hashing, lookups.

A taxonomy is a tree of categories; coding targets either its leaves or its top level. Every
validation error names the file, the line and the field, e.g.
``taxonomy/x.yaml:14 categories[2].id: duplicate id 'usage'``. YAML that would be read silently
wrong or without bound is refused: duplicate keys, aliases (``*name``, the "billion laughs"),
and files over ``MAX_TAXONOMY_BYTES``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from llmcode.errors import LlmcodeError, TaxonomyError

NONE_CODE = "none"
"""The reserved code an LLM answers when no category fits (with a suggested new code)."""

MAX_TAXONOMY_BYTES = 5_000_000
"""A codebook is kilobytes; a bigger file is refused before it is parsed."""

Level = Literal["top", "leaves"]
MAX_DEPTH = 50
"""The deepest category tree accepted (deeper trees would exhaust Python's recursion)."""
MAX_YAML_DEPTH = 2 * MAX_DEPTH + 20
"""The deepest YAML nesting read (a category level is two: its mapping and ``children``).
Checked on the event stream first, with libyaml when installed, so ``[[[[…]]]]`` is refused in
milliseconds instead of taking the pure-Python parser minutes."""
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ID_PATTERN = r"^[a-z][a-z0-9_]*$"


class Example(BaseModel):
    """An example item for a category, with why it belongs there."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1)
    why: str = ""


class Category(BaseModel):
    """One category of the codebook, possibly with subcategories."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=_ID_PATTERN)
    name: str = Field(min_length=1)
    definition: str = Field(min_length=1)
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    examples: list[Example] = Field(default_factory=list)
    codable: bool = True
    """False: the code is never assigned (a parent that groups its children, REFI
    ``isCodable="false"``); prompts show it as context only."""
    color: str | None = Field(default=None, pattern=r"^#([0-9A-Fa-f]{6}|[0-9A-Fa-f]{3})$")
    """The code's colour in QDA tools (``#RRGGBB``, REFI ``color``), kept through imports and
    exports; never shown to the model, so not part of the fingerprint."""
    children: list[Category] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value == NONE_CODE:
            raise ValueError(f"'{NONE_CODE}' is reserved for 'no category fits'")
        return value

    def walk(self) -> Iterator[Category]:
        """This category and all its descendants, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


class Taxonomy(BaseModel):
    """A versioned codebook."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    description: str = ""
    context: str = ""
    """Study context for the coder (who coded what, the unit of analysis, decision rules);
    rendered into the system prompt."""
    multi_label: bool = False
    categories: list[Category] = Field(min_length=1)

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) else value

    def walk(self) -> Iterator[Category]:
        """Every category in the tree, depth first."""
        for category in self.categories:
            yield from category.walk()

    def get(self, code: str) -> Category | None:
        """The category with this id, or None."""
        return next((c for c in self.walk() if c.id == code), None)

    def shown(self, level: Level = "top") -> list[Category]:
        """The categories a prompt shows at ``level``: top-level ones, or the leaves of the
        tree, those not codable included (as context)."""
        if level == "top":
            return list(self.categories)
        return [c for c in self.walk() if not c.children]

    def targets(self, level: Level = "top") -> list[Category]:
        """The categories coding assigns: the codable ones of ``shown(level)``."""
        return [c for c in self.shown(level) if c.codable]

    def below(self, level: Level = "top") -> dict[str, list[str]]:
        """Each category that coding at ``level`` never assigns (a parent, one not codable),
        with the codes under it that it does (a re-ask names them)."""
        codes = [c.id for c in self.targets(level)]
        out = {}
        for category in self.walk():
            if category.id not in codes:
                inside = {c.id for c in category.walk()}
                out[category.id] = [c for c in codes if c in inside]
        return out

    def parent_of(self, code: str) -> Category | None:
        """The top-level category that contains ``code`` (itself when it is top level)."""
        for top in self.categories:
            if any(c.id == code for c in top.walk()):
                return top
        return None

    def fingerprint(self) -> str:
        """A short content hash: equal for taxonomies that code the same way."""
        data = self.model_dump(mode="json")
        if not data["context"]:  # taxonomies from before the field keep their fingerprint
            del data["context"]
        _drop_default_codable(data["categories"])  # and so do those with every code codable
        _drop_colors(data["categories"], always=True)  # a colour does not change the coding
        canonical = json.dumps(data, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def load_taxonomy(path: str | Path) -> Taxonomy:
    """Read and validate a taxonomy YAML file; errors name the file, line and field."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_TAXONOMY_BYTES:
            raise TaxonomyError(
                f"{path}: {size} bytes, larger than a taxonomy may be ({MAX_TAXONOMY_BYTES})"
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TaxonomyError(f"{path}: no such taxonomy file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TaxonomyError(f"{path}: cannot read taxonomy file ({exc})") from exc
    return parse_taxonomy(text, source=str(path))


def parse_taxonomy(text: str, source: str = "<taxonomy>") -> Taxonomy:
    """Validate taxonomy YAML text; ``source`` names it in error messages."""
    if len(text) > MAX_TAXONOMY_BYTES:
        raise TaxonomyError(f"{source}: larger than a taxonomy may be ({MAX_TAXONOMY_BYTES} bytes)")
    data, node = read_yaml(text, source, TaxonomyError)
    if not isinstance(data, dict):
        raise TaxonomyError(f"{source}: a taxonomy is a mapping with name, version and categories")
    _check_depth(data, source)
    lines = _line_index(node)
    try:
        taxonomy = Taxonomy.model_validate(data)
    except ValidationError as exc:
        problems = [_located(source, lines, tuple(err["loc"]), err["msg"]) for err in exc.errors()]
        raise TaxonomyError(
            "invalid taxonomy:\n  " + "\n  ".join(problems),
            hint="see the taxonomy format in the README",
        ) from exc
    _check_unique_ids(taxonomy, source, lines)
    return taxonomy


def _check_depth(data: dict, source: str) -> None:
    """Refuse trees deeper than MAX_DEPTH levels (counted without recursion)."""
    deepest, stack = 0, [(c, 1) for c in data.get("categories") or [] if isinstance(c, dict)]
    while stack:
        category, depth = stack.pop()
        deepest = max(deepest, depth)
        children = category.get("children") or []
        if isinstance(children, list):
            stack.extend((c, depth + 1) for c in children if isinstance(c, dict))
    if deepest > MAX_DEPTH:
        raise TaxonomyError(
            f"{source}: categories are nested {deepest} levels deep; at most {MAX_DEPTH} are "
            "supported",
            hint="a codebook rarely needs more than 3 levels: flatten the tree",
        )


def read_yaml(
    text: str, source: str, error: type[LlmcodeError] = TaxonomyError
) -> tuple[Any, yaml.Node | None]:
    """Safe-load YAML text, refusing aliases and duplicate keys; the data and its node tree.

    Aliases are refused before anything is built (a nest of them expands exponentially), and a
    key written twice in one mapping is an error at its line rather than last-wins.
    """
    try:
        depth = 0
        for event in yaml.parse(text, Loader=_FAST_LOADER):
            if isinstance(event, yaml.AliasEvent):
                raise error(
                    f"{source}:{event.start_mark.line + 1}: YAML aliases (*{event.anchor}) are "
                    "not allowed",
                    hint="write the value out in full",
                )
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    raise error(
                        f"{source}:{event.start_mark.line + 1}: YAML nested more than "
                        f"{MAX_YAML_DEPTH} levels deep",
                        hint="flatten the nesting (a codebook rarely needs more than 3 levels)",
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        node = yaml.compose(text, Loader=_FAST_LOADER)
        _check_duplicate_keys(node, source, error)
        data = yaml.load(text, Loader=_FAST_LOADER)  # a safe loader (libyaml when installed)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(f"{where}: not valid YAML: {problem}") from exc
    except RecursionError:
        raise error(
            f"{source}: nested too many levels deep to read",
            hint="flatten the nesting (a codebook rarely needs more than 3 levels)",
        ) from None
    return data, node


def _check_duplicate_keys(node: yaml.Node | None, source: str, error: type[LlmcodeError]) -> None:
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in current.value:
                key = str(key_node.value)
                if key in seen:
                    raise error(
                        f"{source}:{key_node.start_mark.line + 1}: duplicate key '{key[:60]}'",
                        hint="each key appears once per mapping; YAML would keep only the last",
                    )
                seen.add(key)
                stack.extend((key_node, value_node))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)


def dump_taxonomy(taxonomy: Taxonomy, header: str = "") -> str:
    """YAML text for a taxonomy (optionally after a comment header), loadable again."""
    data = taxonomy.model_dump(mode="json", exclude_defaults=False)
    if not data["context"]:
        del data["context"]
    _drop_default_codable(data["categories"])
    _drop_colors(data["categories"], always=False)
    body = yaml.safe_dump(
        data,
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )
    comment = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header.splitlines())
    return comment + body


def _drop_default_codable(categories: list[dict[str, Any]]) -> None:
    """Leave ``codable: true`` (the default) out of dumped categories, at every depth."""
    stack = list(categories)
    while stack:
        category = stack.pop()
        if category.get("codable") is True:
            del category["codable"]
        stack.extend(category.get("children") or [])


def _drop_colors(categories: list[dict[str, Any]], *, always: bool) -> None:
    """Leave ``color`` out of dumped categories (``always``, or where there is none)."""
    stack = list(categories)
    while stack:
        category = stack.pop()
        if always or category.get("color") is None:
            category.pop("color", None)
        stack.extend(category.get("children") or [])


def _check_unique_ids(taxonomy: Taxonomy, source: str, lines: dict[tuple, int]) -> None:
    seen: dict[str, tuple] = {}
    problems = []
    for path, category in _walk_with_paths(taxonomy.categories, ("categories",)):
        if category.id in seen:
            problems.append(_located(source, lines, (*path, "id"), f"duplicate id '{category.id}'"))
        seen.setdefault(category.id, path)
    if problems:
        raise TaxonomyError("invalid taxonomy:\n  " + "\n  ".join(problems))


def _walk_with_paths(categories: list[Category], prefix: tuple) -> Iterator[tuple[tuple, Category]]:
    for index, category in enumerate(categories):
        path = (*prefix, index)
        yield path, category
        yield from _walk_with_paths(category.children, (*path, "children"))


def _located(source: str, lines: dict[tuple, int], loc: tuple, message: str) -> str:
    line = None
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            line = lines[loc[:cut]]
            break
    where = f"{source}:{line}" if line else source
    return f"{where} {_field_name(loc) or '(top)'}: {message}"


def _field_name(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_index(node: yaml.Node | None, prefix: tuple = ()) -> dict[tuple, int]:
    """Map each key path of a YAML document to the 1-based line where its value starts."""
    index: dict[tuple, int] = {}
    if node is None:
        return index
    index[prefix] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = (*prefix, key_node.value)
            index.update(_line_index(value_node, path))
            index[path] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            index.update(_line_index(item, (*prefix, i)))
    return index
