"""What changed between two taxonomy versions: added, removed, renamed, redefined categories.

Categories are matched by id first. A kept id whose name changed is *renamed*; one whose
definition, criteria, examples, children or parent changed is *redefined* (with the fields).
An id that disappeared while a new id appeared with a nearly identical definition (difflib
ratio >= 0.8) is a rename of the id, not a removal plus an addition.
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, Field

from llmcode.taxonomy.model import Category, Taxonomy

CONTENT_FIELDS = ("definition", "include", "exclude", "examples")
RENAME_RATIO = 0.8


class CategoryRef(BaseModel):
    """A category by id and name."""

    id: str
    name: str


class Renamed(BaseModel):
    """A category whose id and/or name changed while its meaning stayed."""

    old_id: str
    new_id: str
    old_name: str
    new_name: str


class Redefined(BaseModel):
    """A kept category whose content changed, with the changed fields."""

    id: str
    name: str
    fields: list[str]


class TaxonomyDiff(BaseModel):
    """The difference between two taxonomies; ``to_json()`` is what ``--json`` prints."""

    old: dict[str, str]
    new: dict[str, str]
    added: list[CategoryRef] = Field(default_factory=list)
    removed: list[CategoryRef] = Field(default_factory=list)
    renamed: list[Renamed] = Field(default_factory=list)
    redefined: list[Redefined] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    settings: list[str] = Field(default_factory=list)  # multi_label, description

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.renamed or self.redefined or self.settings)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def id_map(self) -> dict[str, str]:
        """Old id -> new id for every category that survives (renamed ids mapped)."""
        mapping = {r.old_id: r.new_id for r in self.renamed}
        for category_id in [*self.unchanged, *(r.id for r in self.redefined)]:
            mapping.setdefault(category_id, category_id)
        return mapping


def diff_taxonomies(old: Taxonomy, new: Taxonomy) -> TaxonomyDiff:
    """Compare two taxonomies category by category."""
    old_cats, new_cats = _index(old), _index(new)
    old_parents, new_parents = _parents(old), _parents(new)
    result = TaxonomyDiff(
        old={"name": old.name, "version": old.version},
        new={"name": new.name, "version": new.version},
    )
    result.settings = [
        name for name in ("multi_label", "description") if getattr(old, name) != getattr(new, name)
    ]
    gone = [c for i, c in old_cats.items() if i not in new_cats]
    fresh = [c for i, c in new_cats.items() if i not in old_cats]
    for before in list(gone):
        match = _same_meaning(before, fresh)
        if match is not None:
            gone.remove(before)
            fresh.remove(match)
            result.renamed.append(
                Renamed(
                    old_id=before.id, new_id=match.id, old_name=before.name, new_name=match.name
                )
            )
    result.removed = [CategoryRef(id=c.id, name=c.name) for c in gone]
    result.added = [CategoryRef(id=c.id, name=c.name) for c in fresh]
    for category_id, before in old_cats.items():
        after = new_cats.get(category_id)
        if after is None:
            continue
        if before.name != after.name:
            result.renamed.append(
                Renamed(
                    old_id=category_id,
                    new_id=category_id,
                    old_name=before.name,
                    new_name=after.name,
                )
            )
        fields = changed_fields(before, after)
        if old_parents.get(category_id) != new_parents.get(category_id):
            fields.append("parent")
        if fields:
            result.redefined.append(Redefined(id=category_id, name=after.name, fields=fields))
        elif before.name == after.name:
            result.unchanged.append(category_id)
    return result


def changed_fields(before: Category, after: Category) -> list[str]:
    """The content fields (and the set of child ids) that differ between two categories."""
    fields = [
        name
        for name in CONTENT_FIELDS
        if _normal(getattr(before, name)) != _normal(getattr(after, name))
    ]
    if [c.id for c in before.children] != [c.id for c in after.children]:
        fields.append("children")
    return fields


def _same_meaning(category: Category, candidates: list[Category]) -> Category | None:
    best, best_ratio = None, RENAME_RATIO
    for candidate in candidates:
        ratio = difflib.SequenceMatcher(
            None, _text(category.definition), _text(candidate.definition)
        ).ratio()
        if ratio >= best_ratio:
            best, best_ratio = candidate, ratio
    return best


def _index(taxonomy: Taxonomy) -> dict[str, Category]:
    return {c.id: c for c in taxonomy.walk()}


def _parents(taxonomy: Taxonomy) -> dict[str, str | None]:
    parents: dict[str, str | None] = {}

    def visit(category: Category, parent: str | None) -> None:
        parents[category.id] = parent
        for child in category.children:
            visit(child, category.id)

    for top in taxonomy.categories:
        visit(top, None)
    return parents


def _normal(value: Any) -> Any:
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, list):
        return [_normal(v.model_dump() if isinstance(v, BaseModel) else v) for v in value]
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value


def _text(value: str) -> str:
    return " ".join(value.split())
