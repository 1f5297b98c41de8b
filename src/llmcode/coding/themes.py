"""Themes: group an open-coding run's codes into candidate categories, a draft taxonomy.

Code texts (name, definition, quotes) become vectors (`llmcode.llm.vectors`: TF-IDF over word and
character n-grams by default, or GGUF or sentence-transformers embeddings, never downloaded)
and are clustered (agglomerative, cosine, average linkage). The LLM then names each group and
writes its definition, include/exclude criteria and picks representative quotes; an empty name
or definition is re-asked, then filled from the group's codes and flagged. The result passes
``load_taxonomy`` and its header says how it was made.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from llmcode.coding.codelist import OpenCode, is_placeholder, slugify
from llmcode.coding.opencoding import CODEBOOK
from llmcode.errors import RunStoreError
from llmcode.llm.ask import ask_json, parse_json
from llmcode.llm.backends.base import Backend
from llmcode.llm.cache import ResponseCache
from llmcode.llm.prompts import PromptSet, load_prompts
from llmcode.llm.vectors import VectorKind, text_vectors, vector_kind
from llmcode.store.jsonl import read_jsonl
from llmcode.store.runs import Run
from llmcode.taxonomy.model import Category, Example, Taxonomy, dump_taxonomy, parse_taxonomy

SYSTEM = "themes.system.md"
USER = "themes.user.md"
REASK = "themes.reask.md"
TEMPLATES = (SYSTEM, USER, REASK)
MAX_QUOTES = 6


@dataclass
class CodeSummary:
    """One open code with the items it was given to and their verified quotes."""

    code: str
    name: str
    definition: str
    item_ids: list[str] = field(default_factory=list)
    quotes: list[tuple[str, str]] = field(default_factory=list)  # (item_id, quote)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def text(self) -> str:
        return " ".join([self.name, self.name, self.definition, *(q for _, q in self.quotes[:3])])


@dataclass
class Theme:
    """A group of open codes and the category written for it; ``flags`` say what fell back."""

    codes: list[CodeSummary]
    category: Category
    flags: list[str] = field(default_factory=list)


def summarize_open_codes(run: Run) -> list[CodeSummary]:
    """The open codes of a run that were given to at least one item, most used first."""
    if run.manifest().kind != "open":
        raise RunStoreError(
            f"{run.path}: run '{run.run_id}' is not an open-coding run",
            hint="make one with `llmcode open-code --items FILE`",
        )
    names = {row["code"]: OpenCode.model_validate(row) for row in read_jsonl(run.path / CODEBOOK)}
    found: dict[str, CodeSummary] = {}
    for record in run.latest_codings().values():
        for assignment in record.codes:
            known = names.get(assignment.code)
            summary = found.setdefault(
                assignment.code,
                CodeSummary(
                    code=assignment.code,
                    name=known.name if known else assignment.code.replace("_", " "),
                    definition=(known.definition if known else "") or assignment.justification,
                ),
            )
            summary.item_ids.append(record.item_id)
            quote = next((s.quote for s in assignment.evidence if s.verified), None)
            if quote:
                summary.quotes.append((record.item_id, quote))
    return sorted(found.values(), key=lambda s: (-s.n_items, s.code))


def cluster(vectors: Any, n_groups: int) -> list[int]:
    """Group labels (0..n_groups-1) by average-linkage clustering on cosine distance."""
    n = vectors.shape[0]
    if n_groups <= 1 or n <= 1:
        return [0] * n
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.metrics.pairwise import cosine_distances

    distances = cosine_distances(vectors)
    model = AgglomerativeClustering(
        n_clusters=min(n_groups, n), metric="precomputed", linkage="average"
    )
    return [int(label) for label in model.fit_predict(distances)]


def default_n_themes(n_codes: int) -> int:
    """About the square root of the number of codes, between 2 and 12 (never more than codes)."""
    return max(1, min(n_codes, max(2, min(12, round(math.sqrt(n_codes))))))


def group_codes(
    codes: list[CodeSummary],
    n_themes: int | None = None,
    embedder: str | VectorKind = VectorKind.tfidf,
    model: str | None = None,
) -> list[list[CodeSummary]]:
    """Cluster the codes into ``n_themes`` groups, largest (by items) first; ``embedder`` names
    the text vectors (`llmcode.llm.vectors`) and ``model`` their model."""
    if not codes:
        return []
    k = n_themes or default_n_themes(len(codes))
    labels = cluster(text_vectors([c.text() for c in codes], embedder, model), k)
    groups: dict[int, list[CodeSummary]] = defaultdict(list)
    for code, label in zip(codes, labels, strict=True):
        groups[label].append(code)
    return sorted(groups.values(), key=lambda g: (-sum(c.n_items for c in g), g[0].code))


class _ThemeAnswer(BaseModel):
    name: str = ""
    definition: str = ""
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    examples: list[int] = Field(default_factory=list)


def theme_schema(n_quotes: int) -> dict[str, Any]:
    """JSON schema of one group's category; examples are quote numbers (an enum)."""
    texts = {"type": "array", "items": {"type": "string"}, "maxItems": 3}
    picks = {
        "type": "array",
        "items": {"type": "integer", "enum": list(range(1, n_quotes + 1))},
        "maxItems": 2,
    }
    return {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "definition": {"type": "string"},
            "include": texts,
            "exclude": {**texts, "maxItems": 2},
            "examples": picks
            if n_quotes
            else {"type": "array", "items": {"type": "integer"}, "maxItems": 0},
        },
        "required": ["name", "definition", "include", "exclude", "examples"],
        "additionalProperties": False,
    }


def _check(content: str, n_quotes: int) -> tuple[_ThemeAnswer | None, list[str], bool]:
    answer, problem = parse_json(content, _ThemeAnswer)
    if answer is None:
        return None, [problem or "empty answer"], True
    problems = []
    if is_placeholder(answer.name):
        problems.append("give the category a short name of two to five words")
    if is_placeholder(answer.definition):
        problems.append("give the category a one-sentence definition")
    if any(not 1 <= n <= n_quotes for n in answer.examples):
        problems.append(f"examples are quote numbers from 1 to {n_quotes}")
    return answer, problems, False


async def name_theme(
    group: list[CodeSummary],
    others: list[str],
    backend: Backend,
    prompts: PromptSet,
    taken: set[str],
    cache: ResponseCache | None = None,
    max_reasks: int = 2,
    max_tokens: int = 384,
) -> Theme:
    """Ask the LLM for the group's category; fall back to the group's own codes, flagged."""
    quotes = [q for c in group for q in c.quotes][:MAX_QUOTES]
    safe = [q.replace("</group>", "</ group>") for _, q in quotes]
    user = prompts.render(USER, codes=group, quotes=safe, others=others)
    asked = await ask_json(
        backend,
        [{"role": "system", "content": prompts.render(SYSTEM)}, {"role": "user", "content": user}],
        theme_schema(len(quotes)),
        lambda content: _check(content, len(quotes)),
        reask=lambda problems: prompts.render(REASK, problems=problems),
        cache=cache,
        schema_name="theme",
        max_reasks=max_reasks,
        max_tokens=max_tokens,
    )
    answer = asked.value or _ThemeAnswer()
    flags = [f"LLM answer kept a problem: {p}" for p in asked.problems if asked.value]
    name = "" if is_placeholder(answer.name) else " ".join(answer.name.split())[:60]
    if not name:
        name = group[0].name
        flags.append(f"named after its most used open code '{name}'")
    definition = "" if is_placeholder(answer.definition) else " ".join(answer.definition.split())
    if not definition:
        definition = "Items coded " + "; ".join(f"{c.name}" for c in group[:5]) + "."
        flags.append("definition assembled from its open codes")
    picks = [n for n in dict.fromkeys(answer.examples) if 1 <= n <= len(quotes)][:2]
    if not picks and quotes:
        picks = [1]
        flags.append("example is the first quote (none picked)")
    by_item = {item_id: c.name for c in group for item_id, _ in c.quotes}
    category = Category(
        id=slugify(name, taken),
        name=name,
        definition=definition,
        include=_clean(answer.include, 3),
        exclude=_clean(answer.exclude, 2),
        examples=[
            Example(
                text=quotes[n - 1][1],
                why=f"item {quotes[n - 1][0]}, open code '{by_item.get(quotes[n - 1][0], '')}'",
            )
            for n in picks
        ],
    )
    taken.add(category.id)
    return Theme(codes=group, category=category, flags=flags)


async def build_themes(
    run: Run,
    backend: Backend,
    n_themes: int | None = None,
    embedder: str | VectorKind = VectorKind.tfidf,
    embedding_model: str | None = None,
    cache: ResponseCache | None = None,
    prompts: PromptSet | None = None,
    max_reasks: int = 2,
) -> list[Theme]:
    """Cluster the run's open codes and write one category per group."""
    codes = summarize_open_codes(run)
    if not codes:
        raise RunStoreError(
            f"{run.path}: the run has no open codes to group",
            hint="check its records with `llmcode runs show`",
        )
    prompts = prompts or load_prompts(names=TEMPLATES)
    groups = group_codes(codes, n_themes, embedder, embedding_model)
    labels = [", ".join(c.name for c in g[:3]) for g in groups]
    taken: set[str] = set()
    themes = []
    for index, group in enumerate(groups):
        others = [label for i, label in enumerate(labels) if i != index][:8]
        themes.append(await name_theme(group, others, backend, prompts, taken, cache, max_reasks))
    return themes


def draft_taxonomy(
    themes: list[Theme],
    run: Run,
    backend: Backend,
    name: str | None = None,
    embedder: str | VectorKind = VectorKind.tfidf,
    multi_label: bool = False,
) -> tuple[Taxonomy, str]:
    """The draft taxonomy and its YAML text (with a provenance header), validated."""
    manifest = run.manifest()
    n_codes = sum(len(t.codes) for t in themes)
    n_items = len({i for t in themes for c in t.codes for i in c.item_ids})
    taxonomy = Taxonomy(
        name=name or f"draft-{run.run_id}",
        version="0.1.0",
        description=f"Draft from open-coding run {run.run_id}: {len(themes)} themes grouping "
        f"{n_codes} open codes of {n_items} items. Review every category before coding.",
        multi_label=multi_label,
        categories=[t.category for t in themes],
    )
    lines = [
        "Draft taxonomy made by `llmcode themes` - review it before use.",
        f"open-coding run: {run.run_id} (model {manifest.coder})",
        f"themes named by: {backend.model} (backend {backend.name})",
        f"grouping: {vector_kind(embedder)} + agglomerative clustering, "
        f"{len(themes)} groups of {n_codes} codes",
        f"made: {datetime.now(UTC).isoformat(timespec='seconds')}",
        "groups (category: open codes with item counts):",
    ]
    for theme in themes:
        codes = ", ".join(f"{c.name} ({c.n_items})" for c in theme.codes)
        lines.append(f"  {theme.category.id}: {codes}")
        lines += [f"  check {theme.category.id}: {flag}" for flag in theme.flags]
    text = dump_taxonomy(taxonomy, header="\n".join(lines))
    return parse_taxonomy(text, source="draft"), text


def _clean(texts: list[str], limit: int) -> list[str]:
    out = [" ".join(t.split()) for t in texts]
    kept = (t for t in out if len(t) > 2 and t.lower() != "none" and not is_placeholder(t))
    return list(dict.fromkeys(kept))[:limit]
