"""Reworded codebooks: the model rewrites each category's definition, kept as derived taxonomies.

`paraphrase_taxonomy` asks the model (through the ask → check → reask loop) for ``k`` rewordings
of every category's definition and writes each wording as a taxonomy file beside the others:
the original's YAML with only the definitions replaced, its version suffixed ``+wording-N`` and
a header naming the source, the model and the seed, so a paraphrase can be read, diffed against
the original and reused. Wording N asks with seed ``seed + N`` at the given temperature; an
answer that stays empty or copies the original after the re-asks is an error naming the category.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from llmcode.coding.job import run_sync
from llmcode.errors import OutputError
from llmcode.llm.ask import ask_json, parse_json
from llmcode.llm.backends.base import Backend
from llmcode.llm.cache import ResponseCache
from llmcode.llm.prompts import PromptSet, load_prompts
from llmcode.taxonomy.model import Category, Taxonomy, load_taxonomy

SYSTEM = "paraphrase.system.md"
USER = "paraphrase.user.md"
REASK = "paraphrase.reask.md"
TEMPLATES = (SYSTEM, USER, REASK)
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"definition": {"type": "string"}},
    "required": ["definition"],
    "additionalProperties": False,
}


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    definition: str


@dataclass(frozen=True)
class Wording:
    """One derived taxonomy: its file, its number (1..k), the model and seed that wrote it."""

    path: Path
    number: int
    model: str
    seed: int
    definitions: dict[str, str]


def check_definition(content: str, original: str) -> tuple[str | None, list[str], bool]:
    """A usable rewording: JSON with a non-empty definition that is not the original's copy."""
    answer, problem = parse_json(content, _Answer)
    if answer is None:
        return None, [problem or "no answer"], True
    text = " ".join(answer.definition.split())
    if not text:
        return None, ["the definition is empty"], True
    if text.casefold() == " ".join(original.split()).casefold():
        return None, ["the definition copies the original: reword it"], True
    return text, [], False


async def _reword(
    backend: Backend,
    prompts: PromptSet,
    category: Category,
    number: int,
    k: int,
    *,
    seed: int,
    temperature: float,
    cache: ResponseCache | None,
) -> str:
    asked = await ask_json(
        backend,
        [
            {"role": "system", "content": prompts.render(SYSTEM)},
            {
                "role": "user",
                "content": prompts.render(USER, category=category, wording=number, wordings=k),
            },
        ],
        SCHEMA,
        lambda content: check_definition(content, category.definition),
        reask=lambda problems: prompts.render(REASK, problems=problems),
        cache=cache,
        schema_name="paraphrase",
        temperature=temperature,
        max_tokens=400,
        seed=seed,
    )
    if asked.value is None:
        raise OutputError(
            f"category '{category.id}': no usable rewording {number} ({'; '.join(asked.problems)})",
            hint="try another model or a higher temperature",
        )
    return asked.value


def paraphrase_taxonomy(
    taxonomy_path: str | Path,
    backend: Backend,
    k: int,
    out_dir: str | Path,
    *,
    seed: int = 0,
    temperature: float = 0.7,
    cache: ResponseCache | None = None,
    prompts: PromptSet | None = None,
    close: bool = False,
) -> list[Wording]:
    """``k`` reworded copies of the taxonomy in ``out_dir`` (``<stem>.wording-N.yaml``);
    ``close`` closes the backend when done (one the caller made for this alone)."""
    if k < 1:
        raise OutputError(f"paraphrases: {k}; ask for at least one rewording")
    source = Path(taxonomy_path)
    taxonomy = load_taxonomy(source)
    prompts = prompts or load_prompts(names=TEMPLATES)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    categories = list(_walk(taxonomy))

    async def every_wording() -> list[list[str]]:
        try:
            return [
                await asyncio.gather(
                    *[
                        _reword(
                            backend,
                            prompts,
                            c,
                            n,
                            k,
                            seed=seed + n,
                            temperature=temperature,
                            cache=cache,
                        )
                        for c in categories
                    ]
                )
                for n in range(1, k + 1)
            ]
        finally:
            if close:
                await backend.aclose()

    wordings = []
    for number, texts in enumerate(run_sync(every_wording()), start=1):
        definitions = {c.id: text for c, text in zip(categories, texts, strict=True)}
        path = out / f"{source.stem}.wording-{number}.yaml"
        _write(source, taxonomy, definitions, path, number, backend.model, seed + number)
        load_taxonomy(path)  # the derived file must itself be a valid taxonomy
        wordings.append(Wording(path, number, backend.model, seed + number, definitions))
    return wordings


def _walk(taxonomy: Taxonomy) -> list[Category]:
    out: list[Category] = []
    stack = list(reversed(taxonomy.categories))
    while stack:
        category = stack.pop()
        out.append(category)
        stack.extend(reversed(category.children))
    return out


def _write(
    source: Path,
    taxonomy: Taxonomy,
    definitions: dict[str, str],
    path: Path,
    number: int,
    model: str,
    seed: int,
) -> None:
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    stack = list(data.get("categories", []))
    while stack:
        node = stack.pop()
        if node.get("id") in definitions:
            node["definition"] = definitions[node["id"]]
        stack.extend(node.get("children", []) or [])
    data["version"] = f"{taxonomy.version}+wording-{number}"
    header = (
        f"# Derived by llmcode stability from {source.name}: wording {number}, every definition "
        f"reworded by model {model} (seed {seed}).\n"
        f"# provenance: {json.dumps({'source': str(source), 'model': model, 'seed': seed})}\n"
    )
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    path.write_text(header + body, encoding="utf-8")
