"""A model as tie-breaker (``llmcode adjudicate --tie-breaker model``).

For each disagreement left open, the model sees the item, the codebook (each code's definition
and include/exclude criteria) and every coder's codes with their memo, and chooses among the
coders' codes, with a justification and quotes from the item. The answer goes through the one
ask loop (``llm/ask.py``): codes outside the choice, or quotes the item does not contain, are
re-asked. Its choice is appended to ``decisions.jsonl`` as an adjudication decision made by the
model (``decided_by`` ``model``, reviewer the model's name) with the coders it saw, whose code
it took, its justification and its verified quotes. A disagreement whose answer stays invalid,
or whose request fails, is left open and counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from llmcode.errors import BackendError
from llmcode.items import Item
from llmcode.llm.ask import Usage, Verdict, ask_json, parse_json
from llmcode.llm.backends.base import Backend
from llmcode.llm.cache import ResponseCache
from llmcode.llm.evidence import verify_quotes
from llmcode.store.decisions import Adjudication, Decision, append_decision
from llmcode.store.final import Disagreement
from llmcode.store.runs import Run
from llmcode.taxonomy.model import NONE_CODE, Taxonomy

SYSTEM = """You adjudicate between qualitative coders who disagree about one item.
{context}
Codebook:
{codebook}

Read the item, the codes each coder gave and their memos. Choose the codes that fit the item
best, from the coders' codes only. Justify your choice in one or two sentences and quote the
item verbatim as evidence. Answer with JSON only."""
ANSWER_TOKENS = 400
TIE_BREAKERS = ("model",)


class TieAnswer(BaseModel):
    """The model's ruling: the chosen codes, why, and verbatim quotes."""

    codes: list[str] = Field(min_length=1)
    justification: str = Field(min_length=1)
    evidence: list[str] = Field(default_factory=list)


@dataclass
class TieBreaks:
    """What a tie-breaking pass did."""

    decisions: list[Decision] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # item_id -> why
    usage: Usage = field(default_factory=Usage)


def codebook(taxonomy: Taxonomy, codes: list[str]) -> str:
    """The definitions (and include/exclude criteria) of ``codes``."""
    lines = []
    for code in codes:
        category = taxonomy.get(code)
        if category is None:
            lines.append(f"- {code}: no code of this scheme applies" if code == NONE_CODE else "")
            continue
        lines.append(f"- {category.id}: {category.definition}")
        lines.extend(f"    include: {x}" for x in category.include)
        lines.extend(f"    exclude: {x}" for x in category.exclude)
    return "\n".join(line for line in lines if line)


def messages(
    item: Item, taxonomy: Taxonomy, tie: Disagreement, *, blind_coders: bool = False
) -> list[dict[str, str]]:
    """The request: system (codebook of the codes in play), then the item and the coders."""
    choices = _choices(tie)
    context = f"\nStudy context: {taxonomy.context.strip()}\n" if taxonomy.context.strip() else ""
    system = SYSTEM.format(context=context, codebook=codebook(taxonomy, choices))
    parts = [f'<item id="{item.item_id}">\n{item.text}\n</item>', "", "The coders:"]
    for n, (coder, codes) in enumerate(tie.codes.items(), start=1):
        name = f"coder {n}" if blind_coders else coder
        memo = tie.memos.get(coder, "")
        parts.append(f"- {name}: {', '.join(codes)}" + (f" (memo: {memo})" if memo else ""))
    parts.append(f"\nChoose from: {', '.join(choices)}")
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n".join(parts)}]


def schema(tie: Disagreement, multi_label: bool) -> dict[str, Any]:
    """The answer's JSON schema: codes among the coders' codes (one, single-label)."""
    codes: dict[str, Any] = {"type": "array", "items": {"enum": _choices(tie)}, "minItems": 1}
    if not multi_label:
        codes["maxItems"] = 1
    return {
        "type": "object",
        "properties": {
            "codes": codes,
            "justification": {"type": "string"},
            "evidence": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["codes", "justification", "evidence"],
        "additionalProperties": False,
    }


async def break_ties(
    run: Run,
    backend: Backend,
    ties: list[Disagreement],
    *,
    blind_coders: bool = False,
    cache: ResponseCache | None = None,
    max_reasks: int = 2,
    seed: int | None = 0,
) -> TieBreaks:
    """Ask the model to resolve each disagreement; record each ruling as it comes."""
    taxonomy = run.taxonomy()
    items = {item.item_id: item for item in run.items()}
    out = TieBreaks()
    for tie in ties:
        item = items[tie.item_id]
        check = _checker(tie, item.text, taxonomy.multi_label)
        try:
            exchange = await ask_json(
                backend,
                messages(item, taxonomy, tie, blind_coders=blind_coders),
                schema(tie, taxonomy.multi_label),
                check,
                reask=lambda problems: (
                    "Your answer had problems: "
                    + "; ".join(problems)
                    + ". Answer again with JSON only."
                ),
                cache=cache,
                schema_name="adjudication",
                max_reasks=max_reasks,
                max_tokens=ANSWER_TOKENS,
                seed=seed,
            )
        except BackendError as exc:
            out.failed[tie.item_id] = str(exc)
            continue
        out.usage = out.usage + exchange.usage
        answer = exchange.value
        if answer is None or exchange.fatal:  # unverified quotes alone are dropped, not fatal
            out.failed[tie.item_id] = "; ".join(exchange.problems) or "no usable answer"
            continue
        chosen = list(dict.fromkeys(answer.codes))
        taken = next((c for c, codes in tie.codes.items() if set(codes) == set(chosen)), None)
        quotes = [s.quote for s in verify_quotes(answer.evidence, item.text) if s.verified]
        codes = [c for c in chosen if c != NONE_CODE]
        decision = Decision(
            reviewer=exchange.model or backend.model,
            item_id=tie.item_id,
            action="change" if codes else "reject",
            codes=codes,
            memo=answer.justification,
            decided_by="model",
            adjudication=Adjudication(
                coders=tie.codes,
                memos=tie.memos,
                taken_from=taken,
                blind_coders=blind_coders,
                justification=answer.justification,
                evidence=quotes,
            ),
        )
        append_decision(run, decision)
        out.decisions.append(decision)
    return out


def _choices(tie: Disagreement) -> list[str]:
    return list(dict.fromkeys(code for codes in tie.codes.values() for code in codes))


def _checker(
    tie: Disagreement, text: str, multi_label: bool
) -> Callable[[str], Verdict[TieAnswer]]:
    choices = set(_choices(tie))

    def check(content: str) -> Verdict[TieAnswer]:
        answer, problem = parse_json(content, TieAnswer)
        if answer is None:
            return None, [problem or "no answer"], True
        problems = []
        outside = [c for c in answer.codes if c not in choices]
        if outside:
            problems.append(
                f"{', '.join(outside)} is not one of the coders' codes ({', '.join(choices)})"
            )
        if not multi_label and len(set(answer.codes)) > 1:
            problems.append("choose one code")
        unverified = [s.quote for s in verify_quotes(answer.evidence, text) if not s.verified]
        if unverified:
            problems.append(f"the item does not contain the quote {unverified[0]!r}")
        return answer, problems, bool(outside) or (len(set(answer.codes)) > 1 and not multi_label)

    return check
