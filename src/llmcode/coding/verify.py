"""The second look (``--verify``): each assigned code checked in its own short request.

After an item is coded, every code it got (except ``none``) is sent to a checker with the
code's definition, include/exclude criteria, the coder's justification and verified quotes.
A rejected code is kept and flagged ``disputed`` (mode ``flag``), or with mode ``drop`` removed
(multi-label) or replaced by the checker's alternative (single-label; ``none`` when it gave
none). Every check — verdict, reason, alternative, tokens — is recorded in the record's
``checks``; its calls and tokens count in the record's usage. Checks go through the one ask
loop (cache, one re-ask on an invalid answer). A check that fails (backend error, still
invalid) leaves the code as it was, with the failure recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from llmcode.errors import BackendError
from llmcode.items import Item
from llmcode.llm.answers import CodeAssignment
from llmcode.llm.ask import Verdict, ask, follow_up
from llmcode.llm.backends.base import Backend, ChatRequest, ChatResponse
from llmcode.llm.cache import ResponseCache
from llmcode.llm.checks import CheckAnswer, CodeCheck, check_schema, parse_check
from llmcode.llm.prompts import VERIFY_SYSTEM, VERIFY_USER, PromptSet
from llmcode.store.models import CodingRecord
from llmcode.taxonomy.model import NONE_CODE, Level, Taxonomy

Mode = Literal["flag", "drop"]
_INVALID = (
    'answer with JSON only: {"verdict": "keep" or "reject", "reason": "...", '
    '"alternative": a category id or null}'
)
CHECK_TOKENS = 160
"""Answer token limit of one check (a verdict, one sentence, an id)."""


@dataclass
class Verifier:
    """Checks the codes of coded records; holds what is the same for every item."""

    taxonomy: Taxonomy
    prompts: PromptSet
    backend: Backend
    cache: ResponseCache | None = None
    mode: Mode = "flag"
    level: Level = "top"
    seed: int | None = 0
    max_reasks: int = 1

    @property
    def code_ids(self) -> list[str]:
        return [c.id for c in self.taxonomy.targets(self.level)]

    def messages(self, item: Item, code: CodeAssignment) -> list[dict[str, str]]:
        """The check request for one code of one item: system, then the code and the item."""
        category = self.taxonomy.get(code.code)
        system = self.prompts.render(
            VERIFY_SYSTEM, context=self.taxonomy.context.strip(), valid_codes=self.code_ids
        )
        user = self.prompts.render(
            VERIFY_USER,
            category=category,
            justification=code.justification,
            evidence=[span.quote for span in code.evidence if span.verified],
            item_id=item.item_id,
            text=item.text,
        )
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def sample_messages(self, item: Item) -> list[dict[str, str]]:
        """A typical check of ``item`` (its first target code), for cost estimates."""
        code = CodeAssignment(code=self.code_ids[0], justification="x" * 120)
        return self.messages(item, code)

    def request(self, item: Item, code: CodeAssignment) -> ChatRequest:
        return ChatRequest(
            messages=tuple(self.messages(item, code)),
            schema=check_schema(self.code_ids),
            schema_name="check",
            temperature=0.0,
            max_tokens=CHECK_TOKENS,
            seed=self.seed,
        )

    async def check(self, item: Item, code: CodeAssignment) -> CodeCheck:
        """One code's check through the ask loop (a failure is recorded, never raised)."""

        def parsed(response: ChatResponse) -> Verdict[CheckAnswer]:
            answer = parse_check(response.content, self.code_ids)
            if answer is None:
                return None, [_INVALID], True
            return answer, [], False

        reask = follow_up(lambda problems: {"role": "user", "content": " ".join(problems)})
        try:
            exchange = await ask(
                self.backend,
                self.request(item, code),
                parsed,
                reask,
                cache=self.cache,
                max_reasks=self.max_reasks,
            )
        except BackendError as exc:
            return CodeCheck(code=code.code, outcome="failed", error=exc.message, calls=1)
        usage = exchange.usage
        spent = {
            "model": exchange.model,
            "calls": usage.calls,
            "cached_calls": usage.cached_calls,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
        }
        answer = exchange.value
        if answer is None:
            return CodeCheck(code=code.code, outcome="failed", error=_INVALID, **spent)
        return CodeCheck(
            code=code.code,
            verdict=answer.verdict,
            reason=answer.reason.strip(),
            alternative=answer.alternative,
            outcome="kept" if answer.verdict == "keep" else "disputed",
            **spent,
        )

    async def verify(self, record: CodingRecord, item: Item) -> CodingRecord:
        """The record after a second look at each of its codes."""
        if record.status not in ("ok", "unverified") or not record.codes:
            return record
        codes: list[CodeAssignment] = []
        checks: list[CodeCheck] = []
        for code in record.codes:
            if code.code == NONE_CODE or self.taxonomy.get(code.code) is None:
                codes.append(code)
                continue
            check = await self.check(item, code)
            if check.outcome != "disputed":
                codes.append(code)
            elif self.mode == "flag":
                codes.append(code.model_copy(update={"disputed": True}))
            elif self.taxonomy.multi_label:
                check = check.model_copy(update={"outcome": "dropped"})
            else:
                check = check.model_copy(update={"outcome": "replaced"})
                codes.append(_replacement(check))
            checks.append(check)
        if not codes:  # every code of a multi-label item dropped: the item gets "none"
            codes.append(CodeAssignment(code=NONE_CODE, justification="all codes rejected"))
        return record.model_copy(
            update={
                "codes": _unique(codes),
                "checks": [*record.checks, *checks],
                "attempts": record.attempts + sum(c.calls for c in checks),
                "prompt_tokens": record.prompt_tokens + sum(c.prompt_tokens for c in checks),
                "completion_tokens": record.completion_tokens
                + sum(c.completion_tokens for c in checks),
                "cached_calls": record.cached_calls + sum(c.cached_calls for c in checks),
            }
        )


def _replacement(check: CodeCheck) -> CodeAssignment:
    """The checker's alternative for a rejected single-label code (``none`` if it gave none)."""
    return CodeAssignment(
        code=check.alternative or NONE_CODE,
        justification=f"second look: {check.reason}".strip(),
    )


def _unique(codes: list[CodeAssignment]) -> list[CodeAssignment]:
    seen: set[str] = set()
    return [c for c in codes if not (c.code in seen or seen.add(c.code))]  # type: ignore[func-returns-value]
