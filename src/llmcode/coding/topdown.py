"""Coding a big hierarchical codebook top-down (``hierarchy = "top-down"``): categories, then codes.

Asked flat, every request carries the whole codebook at the leaves (23,000 tokens for our
synthetic codebook of 307 codes), for every item and again for every window of a long document.
Top-down, each item (`TopDownCoder`) or each window of a document
(`llmcode.coding.topdown_segments`) is asked twice: first which top-level categories it belongs
to (`Branches`: the short top level, each category with the names of what it covers;
`llmcode.llm.branches` checks the answer), then its codes with only the chosen categories' part
of the codebook — the same prompt as flat coding, over a taxonomy cut down to those branches (so
codes, evidence, passages, re-asks and flags are checked exactly as flat, and a code of a
category not chosen is a code outside the taxonomy). A whole item chooses at least one category
(at most ``MOST_SINGLE`` for a single-label codebook; its second step may still answer
``none``); a window may choose none or any number. Both steps go through the ask loop and the
response cache (each its own key), and the record lists its steps (`CodingStep`: the
categories, the window, attempts, tokens, the first request's cache key) while its usage counts
both. A first step that fails for good leaves the item ``invalid``, its problems kept.

The dry run counts the first step exactly and the second with ``EXPECTED_BRANCHES`` branches of
average size (one for a single-label item, two for a multi-label one, three for a window).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean

from llmcode.coding.closed import Coder, with_usage
from llmcode.coding.costs import (
    OUTPUT_TOKENS_PER_CODE,
    Estimate,
    estimate_run,
    token_counter,
)
from llmcode.coding.prices import load_price_table
from llmcode.errors import ConfigError, LlmcodeError
from llmcode.items import Item
from llmcode.llm.ask import Exchange, Usage, ask, follow_up
from llmcode.llm.backends.base import Backend, ChatRequest
from llmcode.llm.branches import CheckedBranches, branch_schema, check_branches
from llmcode.llm.cache import ResponseCache, backend_cache_key
from llmcode.llm.prompts import (
    TOPDOWN_REASK,
    TOPDOWN_SYSTEM,
    TOPDOWN_USER,
    PromptSet,
    system_message,
)
from llmcode.llm.windows import Window
from llmcode.store.config import RunConfig
from llmcode.store.models import CodingRecord, CodingStep
from llmcode.taxonomy.model import Category, Taxonomy

MOST_SINGLE = 2
"""The most categories a single-label item may choose (its one code is in one of them)."""
EXPECTED_BRANCHES = {"single": 1, "multi": 2, "window": 3}
"""Branches the dry run counts in a second step (and windows are sized for: ``window``)."""
SIZING_BRANCHES = EXPECTED_BRANCHES["window"]
TOPDOWN_WINDOW_CHARS = 2000
"""Windows are sized for fewer branches rather than be shorter than this."""
BRANCH_ANSWER_TOKENS = 12  # the first answer: {"categories": [...]}, per category chosen


def check_topdown_settings(config: RunConfig) -> None:
    """Refuse what coding top-down does not do, naming the setting."""
    if config.inputs.level != "leaves":
        raise ConfigError(
            "coding top-down (`hierarchy` top-down) codes the leaves: the top-level categories "
            "first, then their codes",
            hint="add `level` leaves, or code the top level flat (`hierarchy` flat)",
        )
    if config.sampling.items_per_request > 1:
        raise ConfigError(
            "coding top-down asks each item twice, one item at a time: "
            "`items_per_request` does not apply",
            hint="drop `items_per_request`, or code flat (`hierarchy` flat)",
        )


@dataclass
class Branches:
    """The first step of coding top-down: the top-level categories that hold codes to assign,
    the prompt that asks for them, and the codebook cut down to the chosen ones."""

    taxonomy: Taxonomy
    prompts: PromptSet
    segment: bool
    categories: list[Category] = field(init=False)
    system: dict[str, str] = field(init=False)
    most: int | None = field(init=False)

    def __post_init__(self) -> None:
        codes = {c.id for c in self.taxonomy.targets("leaves")}
        self.categories = [
            top for top in self.taxonomy.categories if any(c.id in codes for c in top.walk())
        ]
        multi = self.taxonomy.multi_label
        self.most = None if self.segment or multi else MOST_SINGLE
        content = self.prompts.render(
            TOPDOWN_SYSTEM,
            taxonomy=self.taxonomy,
            branches=self.categories,
            multi_label=multi,
            segment=self.segment,
            most=self.most,
            context=self.taxonomy.context.strip(),
        )
        self.system = {"role": "system", "content": content}

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.categories]

    def message(self, item_id: str, text: str, part: int = 0, parts: int = 0) -> dict[str, str]:
        """The first step's user message: the item, or part ``part`` of ``parts`` of a document."""
        content = self.prompts.render(
            TOPDOWN_USER, item_id=item_id, text=text, part=part, parts=parts
        )
        return {"role": "user", "content": content}

    def request(self, config: RunConfig, message: dict[str, str], sample: int = 0) -> ChatRequest:
        seed = config.sampling.seed
        return ChatRequest(
            messages=(self.system, message),
            schema=branch_schema(self.ids, at_least_one=not self.segment, most=self.most),
            schema_name="categories",
            temperature=config.sampling.temperature,
            max_tokens=config.sampling.max_tokens,
            seed=None if seed is None else seed + sample,
        )

    async def choose(
        self,
        backend: Backend,
        request: ChatRequest,
        exchange: Exchange[CheckedBranches],
        *,
        cache: ResponseCache | None,
        sample: int,
        max_reasks: int,
    ) -> None:
        """Ask for the categories (re-asked while the answer has problems); fills ``exchange``."""

        def check(response: object) -> tuple[CheckedBranches, list[str], bool]:
            checked = check_branches(
                getattr(response, "content", ""),
                self.ids,
                at_least_one=not self.segment,
                most=self.most,
            )
            return checked, checked.problems, checked.fatal

        def reask(problems: list[str]) -> dict[str, str]:
            return {
                "role": "user",
                "content": self.prompts.render(TOPDOWN_REASK, problems=problems),
            }

        await ask(
            backend,
            request,
            check,
            follow_up(reask),
            cache=cache,
            sample=sample,
            max_reasks=max_reasks,
            exchange=exchange,
        )

    def narrowed(self, chosen: Sequence[str]) -> Taxonomy:
        """The taxonomy with only the chosen top-level categories (in the codebook's order)."""
        wanted = set(chosen)
        kept = [c for c in self.taxonomy.categories if c.id in wanted]
        return self.taxonomy.model_copy(update={"categories": kept})


def step_of(
    kind: str,
    usage: Usage,
    categories: Sequence[str],
    window: Window | None = None,
    cache_key: str | None = None,
    problems: Sequence[str] = (),
) -> CodingStep:
    """A record's `CodingStep` from what the step spent."""
    return CodingStep(
        step=kind,  # type: ignore[arg-type]
        categories=list(categories),
        start=None if window is None else window.start,
        end=None if window is None else window.end,
        attempts=usage.calls,
        cached_calls=usage.cached_calls,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        cache_key=cache_key,
        problems=list(problems),
    )


def _usage_of(record: CodingRecord) -> Usage:
    return Usage(
        record.attempts,
        record.cached_calls,
        record.prompt_tokens,
        record.completion_tokens,
        record.cached_prompt_tokens,
    )


def spent_between(after: Usage, before: Usage) -> Usage:
    return Usage(
        after.calls - before.calls,
        after.cached_calls - before.cached_calls,
        after.prompt_tokens - before.prompt_tokens,
        after.completion_tokens - before.completion_tokens,
        after.cached_prompt_tokens - before.cached_prompt_tokens,
    )


def _error_text(exc: Exception) -> str:
    return exc.message if isinstance(exc, LlmcodeError) else f"{type(exc).__name__}: {exc}"


@dataclass
class TopDownCoder(Coder):
    """Codes whole items top-down: the categories, then the chosen categories' codes."""

    branches: Branches = field(init=False)
    coders: dict[tuple[str, ...], Coder] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        check_topdown_settings(self.config)
        super().__post_init__()
        self.branches = Branches(self.taxonomy, self.prompts, segment=False)

    def coder_for(self, chosen: Sequence[str]) -> Coder:
        """The flat coder of the chosen categories' codes (one per choice, kept)."""
        key = tuple(c for c in self.branches.ids if c in set(chosen))
        if key not in self.coders:
            self.coders[key] = Coder(
                taxonomy=self.branches.narrowed(key),
                backend=self.backend,
                prompts=self.prompts,
                config=self.config,
                cache=self.cache,
                more_backends=self.more_backends,
                examples=self.examples,
            )
        return self.coders[key]

    async def code_sample(
        self,
        item: Item,
        sample: int = 0,
        first: object | None = None,
        max_reasks: int | None = None,
    ) -> CodingRecord:
        """One sample in two steps; the record counts both and lists them in ``steps``."""
        if first is not None:
            raise ConfigError(
                "coding top-down asks the codes after the categories' answer: a batch cannot",
                hint="code online, or code flat (`hierarchy` flat) for a batch",
            )
        backend = self.backend_for(sample)
        reasks = self.config.sampling.max_reasks if max_reasks is None else max_reasks
        request = self.branches.request(
            self.config, self.branches.message(item.item_id, item.text), sample
        )
        key = backend_cache_key(backend, request, sample)
        asked: Exchange[CheckedBranches] = Exchange()
        try:
            await self.branches.choose(
                backend, request, asked, cache=self.cache, sample=sample, max_reasks=reasks
            )
        except Exception as exc:  # what was answered was paid for
            error = CodingRecord(item_id=item.item_id, status="error", error=_error_text(exc))
            step = step_of("categories", asked.usage, [], cache_key=key, problems=asked.problems)
            return with_usage(error, asked.usage).model_copy(update={"steps": [step]})
        chosen = asked.value.categories if asked.value is not None else []
        step = step_of("categories", asked.usage, chosen, cache_key=key, problems=asked.problems)
        if asked.fatal or not chosen:
            failed = CodingRecord(
                item_id=item.item_id,
                status="invalid",
                problems=[f"choosing the categories: {p}" for p in asked.problems],
                raw=asked.raw,
                model=backend.model,
            )
            return with_usage(failed, asked.usage).model_copy(update={"steps": [step]})
        coder = self.coder_for(chosen)
        messages, _ = coder.item_messages(item)
        second = backend_cache_key(
            backend, coder.request(messages, coder.schema_for(item), sample, backend), sample
        )
        record = await coder.code_sample(item, sample, max_reasks=max_reasks)
        codes = step_of("codes", _usage_of(record), chosen, cache_key=second)
        return with_usage(record, asked.usage).model_copy(update={"steps": [step, codes]})

    def steps_estimate(
        self, items: Sequence[Item], model: str, prices: str | Path | None = None
    ) -> Estimate:
        """Requests and tokens of coding ``items`` top-down (see the module docstring)."""
        count, _ = token_counter(model)
        samples = self.config.sampling.samples
        first = estimate_run(
            self.branches.system,
            (self.branches.message(i.item_id, i.text) for i in items),
            model,
            load_price_table(prices),
            samples=samples,
            codes_per_item=0,
        )
        expected = EXPECTED_BRANCHES["multi" if self.taxonomy.multi_label else "single"]
        system = expected_system(
            self.branches, expected, count, lambda t: system_message(self.prompts, t, "leaves")
        )
        users = [self.item_messages(i)[0][-1] for i in items]
        second = sum(count(m["content"]) + 4 for m in users) + (system + 2) * len(users)
        per_code = 2.0 if self.taxonomy.multi_label else 1.0
        answers = math.ceil(len(users) * per_code * OUTPUT_TOKENS_PER_CODE)
        requests = len(items) * samples
        return Estimate(
            items=len(items),
            requests=first.requests + requests,
            prompt_tokens=first.prompt_tokens + second * samples,
            output_tokens=requests * BRANCH_ANSWER_TOKENS * expected + answers * samples,
            counter=first.counter,
            price=first.price,
            cached_prompt_tokens=first.cached_prompt_tokens,
            price_date=first.price_date,
            price_source=first.price_source,
            category_requests=first.requests,
        )


def expected_system(
    branches: Branches,
    expected: int,
    count: Callable[[str], int],
    render: Callable[[Taxonomy], dict[str, str]],
) -> int:
    """Tokens of a second step's system message over ``expected`` branches of average size:
    the message without categories, plus that many times the mean tokens a branch adds."""
    bare = count(render(branches.narrowed([]))["content"]) + 4
    added = [count(render(branches.narrowed([b]))["content"]) + 4 - bare for b in branches.ids]
    if not added:
        return bare
    return int(bare + min(expected, len(added)) * fmean(added))
