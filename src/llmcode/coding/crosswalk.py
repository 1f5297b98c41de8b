"""Crosswalk between two taxonomies: each category of A mapped to zero or more categories of B.

The LLM reads codebook B (the system message, the same for every category) and one category of
A (delimited as data) and answers matches with a relation and a justification. Codes outside B
are re-asked, then dropped and flagged; an answer that stays unusable is kept as an ``invalid``
entry with no matches. Every match also carries the TF-IDF cosine similarity of the two
categories' texts, a lexical sanity check for the reviewer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, Field

from llmcode.csvfiles import write_csv
from llmcode.errors import BackendError, ConfigError
from llmcode.llm.ask import ask_json, parse_json
from llmcode.llm.backends.base import Backend
from llmcode.llm.cache import ResponseCache
from llmcode.llm.prompts import PromptSet, load_prompts
from llmcode.taxonomy.model import Category, Level, Taxonomy

SYSTEM = "crosswalk.system.md"
USER = "crosswalk.user.md"
REASK = "crosswalk.reask.md"
TEMPLATES = (SYSTEM, USER, REASK)
RELATIONS = ("equivalent", "broader", "narrower", "overlap")
COLUMNS = [
    "source",
    "source_name",
    "target",
    "target_name",
    "relation",
    "justification",
    "similarity",
    "status",
]


class Match(BaseModel):
    """One category of B that shares items with the category of A."""

    code: str
    relation: Literal["equivalent", "broader", "narrower", "overlap"] = "overlap"
    justification: str = ""
    similarity: float | None = None


class _Answer(BaseModel):
    matches: list[Match] = Field(default_factory=list)


class Mapping(BaseModel):
    """Where one category of A goes; ``status`` like a coding record's."""

    source: str
    name: str
    status: Literal["ok", "unverified", "invalid", "error"] = "ok"
    matches: list[Match] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)


class Crosswalk(BaseModel):
    """The whole map from A to B with its provenance."""

    a: dict[str, str]
    b: dict[str, str]
    backend: dict[str, Any]
    mappings: list[Mapping]

    def frame(self, b: Taxonomy) -> pd.DataFrame:
        """One row per match (a category without matches gets one row with an empty target)."""
        names = {c.id: c.name for c in b.walk()}
        rows = []
        for m in self.mappings:
            matches: list[Match | None] = [*m.matches] or [None]
            for match in matches:
                rows.append(
                    {
                        "source": m.source,
                        "source_name": m.name,
                        "target": match.code if match else "",
                        "target_name": names.get(match.code, "") if match else "",
                        "relation": match.relation if match else "",
                        "justification": match.justification if match else "",
                        "similarity": match.similarity if match else None,
                        "status": m.status,
                    }
                )
        return pd.DataFrame(rows, columns=COLUMNS)


CROSSWALK_FORMATS = (".csv", ".json")


def check_crosswalk_output(output: str | Path) -> Path:
    """Refuse a crosswalk file that is neither .csv nor .json (before any model is asked)."""
    path = Path(output)
    if path.suffix not in CROSSWALK_FORMATS:
        raise ConfigError(f"{path}: the crosswalk is written as .csv or .json")
    return path


def write_crosswalk(result: Crosswalk, b: Taxonomy, output: str | Path) -> Path:
    """Write the crosswalk as JSON (the mappings) or CSV (one row per match, names of B)."""
    path = check_crosswalk_output(output)
    if path.suffix == ".json":
        path.write_text(result.model_dump_json(indent=2), encoding="utf-8")
    else:
        write_csv(result.frame(b), path)
    return path


def crosswalk_schema(codes: list[str]) -> dict[str, Any]:
    """JSON schema of one category's matches (B's ids and the relations are enums)."""
    match = {
        "type": "object",
        "properties": {
            "code": {"type": "string", "enum": codes},
            "relation": {"type": "string", "enum": list(RELATIONS)},
            "justification": {"type": "string"},
        },
        "required": ["code", "relation", "justification"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"matches": {"type": "array", "items": match, "maxItems": 3}},
        "required": ["matches"],
        "additionalProperties": False,
    }


def _check(content: str, codes: set[str]) -> tuple[_Answer | None, list[str], bool]:
    answer, problem = parse_json(content, _Answer)
    if answer is None:
        return None, [problem or "empty answer"], True
    problems = []
    unknown = [m.code for m in answer.matches if m.code not in codes]
    if unknown:
        problems.append(f"unknown code(s) of B: {', '.join(unknown)}")
    problems += [
        f"match '{m.code}': give a one-sentence justification"
        for m in answer.matches
        if m.code in codes and not m.justification.strip()
    ]
    return answer, problems, False


async def map_category(
    category: Category,
    b_codes: list[str],
    system: str,
    source: str,
    backend: Backend,
    prompts: PromptSet,
    cache: ResponseCache | None = None,
    max_reasks: int = 2,
) -> Mapping:
    """Map one category of A; failures become a flagged entry, never a missing one."""
    safe = category.model_copy(
        update={"definition": category.definition.replace("</category>", "</ category>")}
    )
    user = prompts.render(USER, category=safe, source=source)
    try:
        asked = await ask_json(
            backend,
            [{"role": "system", "content": system}, {"role": "user", "content": user}],
            crosswalk_schema(b_codes),
            lambda content: _check(content, set(b_codes)),
            reask=lambda problems: prompts.render(REASK, problems=problems),
            cache=cache,
            schema_name="crosswalk",
            max_reasks=max_reasks,
            max_tokens=384,
        )
    except BackendError as exc:
        return Mapping(
            source=category.id, name=category.name, status="error", problems=[exc.message]
        )
    if asked.value is None:
        return Mapping(
            source=category.id, name=category.name, status="invalid", problems=asked.problems
        )
    kept: dict[str, Match] = {}
    for match in asked.value.matches:
        if match.code in b_codes:
            kept.setdefault(match.code, match)
    return Mapping(
        source=category.id,
        name=category.name,
        matches=list(kept.values()),
        status="unverified" if asked.problems else "ok",
        problems=asked.problems,
    )


async def map_taxonomies(
    a: Taxonomy,
    b: Taxonomy,
    backend: Backend,
    level: Level = "top",
    cache: ResponseCache | None = None,
    prompts: PromptSet | None = None,
    max_reasks: int = 2,
) -> Crosswalk:
    """Map every target category of ``a`` (at ``level``) onto the target categories of ``b``."""
    prompts = prompts or load_prompts(names=TEMPLATES)
    b_targets = b.targets(level)
    system = prompts.render(SYSTEM, taxonomy=b, categories=b_targets)
    codes = [c.id for c in b_targets]
    mappings = [
        await map_category(c, codes, system, a.name, backend, prompts, cache, max_reasks)
        for c in a.targets(level)
    ]
    _add_similarity(mappings, a, b_targets)
    return Crosswalk(
        a={"name": a.name, "version": a.version},
        b={"name": b.name, "version": b.version},
        backend=backend.describe(),
        mappings=mappings,
    )


def _add_similarity(mappings: list[Mapping], a: Taxonomy, b_targets: list[Category]) -> None:
    pairs = [(m, match) for m in mappings for match in m.matches]
    if not pairs:
        return
    from sklearn.metrics.pairwise import cosine_similarity

    from llmcode.llm.vectors import text_vectors

    a_cats = {c.id: c for c in a.walk()}
    b_cats = {c.id: c for c in b_targets}
    texts = [_text(a_cats[m.source]) for m, _ in pairs] + [_text(b_cats[x.code]) for _, x in pairs]
    vectors = text_vectors(texts)
    n = len(pairs)
    for index, (_, match) in enumerate(pairs):
        score = cosine_similarity(vectors[index], vectors[n + index])[0][0]
        match.similarity = round(float(score), 3)


def _text(category: Category) -> str:
    return " ".join([category.name, category.definition, *category.include])
