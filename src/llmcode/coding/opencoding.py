"""Open coding: short inductive codes per item, with verified evidence and consistent names.

Items are coded one after another and the prompt carries the codes found so far (deduplicated,
most used first, bounded in number and characters), so the model reuses "CUDA out of memory"
instead of inventing "OOM on GPU". Names that differ only in case, punctuation, word order,
plurals or filler words ("error", "issue") are merged here as well. Each item gets a
``CodingRecord`` (code = the open code's id, justification = its definition, evidence = verified
spans); each new code is appended to ``codebook.jsonl``. The manifest says ``kind="open"``.
A quote that is not in the text is re-asked, then flagged; a missing name is re-asked, then
taken from the evidence and flagged. No item is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from llmcode.coding.codelist import (
    PROMPT_CHARS,
    PROMPT_CODES,
    CodeList,
    OpenCode,
    is_placeholder,
    name_key,
)
from llmcode.coding.lifecycle import start_run
from llmcode.errors import BackendError
from llmcode.items import Item, ItemSet
from llmcode.llm.answers import CodeAssignment
from llmcode.llm.ask import ask_json, parse_json
from llmcode.llm.backends.base import Backend
from llmcode.llm.cache import ResponseCache
from llmcode.llm.evidence import Span, candidate_quotes, verify_quotes
from llmcode.llm.prompts import PromptSet, load_prompts
from llmcode.store.jsonl import append_line, read_jsonl
from llmcode.store.models import CodingRecord, RunConfig
from llmcode.store.runs import Run, RunStore
from llmcode.taxonomy.model import Taxonomy

SYSTEM = "open_coding.system.md"
USER = "open_coding.user.md"
REASK = "open_coding.reask.md"
TEMPLATES = (SYSTEM, USER, REASK)
CODEBOOK = "codebook.jsonl"
MAX_CODES_PER_ITEM = 3


def load_open_prompts() -> PromptSet:
    """The shipped open-coding templates."""
    return load_prompts(names=TEMPLATES)


class _AnswerCode(BaseModel):
    name: str = ""
    definition: str = ""
    evidence: list[str] = Field(default_factory=list)


class _Answer(BaseModel):
    codes: list[_AnswerCode]


@dataclass
class _Checked:
    codes: list[tuple[_AnswerCode, list[Span]]] = field(default_factory=list)


def open_schema(
    quotes: list[str] | None = None, max_codes: int = MAX_CODES_PER_ITEM
) -> dict[str, Any]:
    """JSON schema of one item's open codes (small, for grammar-constrained decoding).

    With ``quotes`` (segments of the item) evidence is chosen from them, so it cannot be invented.
    """
    quote: dict[str, Any] = {"type": "string", "enum": quotes} if quotes else {"type": "string"}
    code = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "definition": {"type": "string"},
            "evidence": {"type": "array", "items": quote, "minItems": 1, "maxItems": 2},
        },
        "required": ["name", "definition", "evidence"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "codes": {"type": "array", "items": code, "minItems": 1, "maxItems": max_codes}
        },
        "required": ["codes"],
        "additionalProperties": False,
    }


def check_open_answer(
    content: str, text: str, item_id: str = "", max_codes: int = MAX_CODES_PER_ITEM
) -> tuple[_Checked | None, list[str], bool]:
    """Parse one answer and verify its quotes: (codes with spans, problems, fatal)."""
    answer, problem = parse_json(content, _Answer)
    if answer is None:
        return None, [problem or "the answer is empty"], True
    if not answer.codes:
        return None, ["give at least one code"], True
    checked, problems = _Checked(), []
    for number, given in enumerate(answer.codes[:max_codes], start=1):
        label = given.name.strip() or f"code {number}"
        if item_id and name_key(given.name) == name_key(item_id):
            given.name = ""
        if is_placeholder(given.name):
            problems.append(
                f"code {number}: give it a short name of two to five words about this item"
            )
        spans = verify_quotes([q for q in given.evidence if q.strip()][:2], text)
        if not spans:
            problems.append(f"code '{label}': give at least one evidence quote")
        invented = [s.quote for s in spans if not s.verified]
        if invented:
            problems.append(
                f"code '{label}': these quotes are not in the item text: "
                + "; ".join(f'"{q}"' for q in invented)
                + ". Quote the item's words exactly, copied character for character."
            )
        checked.codes.append((given, spans))
    return checked, problems, False


@dataclass
class OpenCoder:
    """Codes items one at a time against the growing code list ``codes``."""

    backend: Backend
    prompts: PromptSet
    config: RunConfig
    codes: CodeList
    cache: ResponseCache | None = None
    max_codes: int = MAX_CODES_PER_ITEM

    async def code(self, item: Item) -> tuple[CodingRecord, list[OpenCode]]:
        """One item's record and the codes it created; a failure becomes an error record."""
        try:
            return await self._code(item)
        except BackendError as exc:
            return CodingRecord(item_id=item.item_id, status="error", error=exc.message), []
        except Exception as exc:  # one item's failure must not lose the run
            error = f"{type(exc).__name__}: {exc}"
            return CodingRecord(item_id=item.item_id, status="error", error=error), []

    async def _code(self, item: Item) -> tuple[CodingRecord, list[OpenCode]]:
        safe = item.text.replace("</item>", "</ item>").replace("<item", "< item")
        user = self.prompts.render(
            USER, codes=self.codes.in_prompt(), item_id=item.item_id, text=safe
        )
        system = self.prompts.render(SYSTEM, max_codes=self.max_codes)
        asked = await ask_json(
            self.backend,
            [{"role": "system", "content": system}, {"role": "user", "content": user}],
            open_schema(
                candidate_quotes(item.text) if self.config.sampling.evidence == "choice" else None,
                self.max_codes,
            ),
            lambda content: check_open_answer(content, item.text, item.item_id, self.max_codes),
            reask=lambda problems: self.prompts.render(REASK, problems=problems),
            cache=self.cache,
            schema_name="open_codes",
            max_reasks=self.config.sampling.max_reasks,
            temperature=self.config.sampling.temperature,
            max_tokens=self.config.sampling.max_tokens,
            seed=self.config.sampling.seed,
        )
        problems = list(asked.problems)
        assignments: dict[str, CodeAssignment] = {}
        created: list[OpenCode] = []
        for given, spans in asked.value.codes if asked.value else []:
            name = "" if is_placeholder(given.name) else " ".join(given.name.split())[:60]
            if not name:
                name = fallback_name(spans, item.text)
                problems.append(f"no name after re-asks; named '{name}' from the evidence")
            definition = "" if is_placeholder(given.definition) else given.definition.strip()
            code, new = self.codes.assign(name, definition, item.item_id)
            created += [code] if new else []
            if code.code in assignments:
                assignments[code.code].evidence.extend(spans)
                continue
            assignments[code.code] = CodeAssignment(
                code=code.code,
                justification=definition or code.definition,
                evidence=spans,
            )
        self.codes.counts.update(list(assignments))
        status = "invalid" if asked.fatal else ("unverified" if problems else "ok")
        record = CodingRecord(
            item_id=item.item_id,
            status=status,
            codes=list(assignments.values()),
            problems=problems,
            raw=None if status == "ok" else asked.raw,
            attempts=asked.attempts,
            model=asked.model or self.backend.model,
            prompt_tokens=asked.prompt_tokens,
            completion_tokens=asked.completion_tokens,
            cached_calls=asked.cached_calls,
        )
        return record, created


def fallback_name(spans: list[Span], text: str) -> str:
    """A name from the first verified quote (else the text's first words): at most five words."""
    source = next((s.quote for s in spans if s.verified), "") or text
    words = re.findall(r"[\w'-]+", source)[:5]
    return " ".join(words) or "unnamed"


async def open_code_items(
    items: Iterable[Item],
    coder: OpenCoder,
    run: Run,
    on_record: Callable[[CodingRecord], None] | None = None,
) -> None:
    """Code ``items`` in order (the code list grows as it goes); every record is durable at once."""
    for item in items:
        record, created = await coder.code(item)
        for code in created:
            append_line(run.path / CODEBOOK, code.model_dump_json())
        run.append_coding(record)
        if on_record is not None:
            on_record(record)


def start_open_run(
    store: RunStore,
    config: RunConfig,
    item_set: ItemSet,
    prompts: PromptSet,
    backend: Backend,
    run_id: str | None = None,
    seed: Taxonomy | None = None,
    seed_text: str = "",
    max_codes: int = MAX_CODES_PER_ITEM,
) -> Run:
    """Create an open-coding run: manifest (kind "open"), item snapshot, seed codes if any."""
    extra = {
        "prompt_codes": PROMPT_CODES,
        "prompt_chars": PROMPT_CHARS,
        "max_codes_per_item": max_codes,
    }
    run = start_run(
        store, config, item_set, seed, seed_text, prompts, backend, run_id, kind="open", extra=extra
    )
    for category in seed.targets(config.inputs.level) if seed is not None else []:
        code = OpenCode(
            code=category.id,
            name=category.name,
            definition=category.definition.strip(),
            source="taxonomy",
        )
        append_line(run.path / CODEBOOK, code.model_dump_json())
    return run


def load_code_list(run: Run) -> CodeList:
    """The run's code list as it stands (for resuming): codebook entries and their use counts."""
    codes = CodeList(OpenCode.model_validate(row) for row in read_jsonl(run.path / CODEBOOK))
    for record in run.latest_codings().values():
        codes.counts.update(c.code for c in record.codes)
    return codes
