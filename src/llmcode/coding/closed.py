"""Closed coding: items against the taxonomy, with re-asks, samples, several models, concurrency.

Per item: render the messages and go through the ask loop (:func:`llmcode.llm.ask.ask`: the
response cache, the checks — schema, taxonomy codes, verbatim evidence — and up to
``max_reasks`` re-asks listing the problems). What still fails is stored flagged
(``unverified``, ``invalid``) or as an ``error`` — every item gets a record. With ``samples`` > 1
several codings are drawn (in turn from each model) and each code's confidence becomes its vote
share. With ``items_per_request`` > 1 the same happens for K items in one request per sample
(:mod:`llmcode.coding.multiitem`); each record counts its share of the request's usage, and
what the request does not settle — or all of it, when it fails for good — is coded one item at
a time. With an example pool (``--examples``) each item's prompt shows K retrieved examples and its
record lists their ids (the cache key covers them, as they are part of the messages); with a
verifier (``--verify``) each final record gets a second look at its codes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence, Sized
from dataclasses import dataclass, field
from pathlib import Path

from llmcode.coding.costs import Budget
from llmcode.coding.examples import ExamplePool, Shot, pool_for, render_shots
from llmcode.coding.multiitem import ManyCheck
from llmcode.coding.verify import Verifier
from llmcode.errors import ConfigError, LlmcodeError, TaxonomyError
from llmcode.items import Item
from llmcode.llm.answers import CheckedAnswer, answer_schema, check_answer
from llmcode.llm.ask import Exchange, Usage, Verdict, ask, follow_up
from llmcode.llm.backends.base import Backend, ChatRequest, ChatResponse
from llmcode.llm.cache import ResponseCache
from llmcode.llm.evidence import candidate_quotes
from llmcode.llm.logprobs import code_probabilities
from llmcode.llm.prompts import (
    CLOSED,
    MULTI,
    SEGMENT,
    TOPDOWN,
    VERIFY_SYSTEM,
    VERIFY_USER,
    PromptSet,
    item_message,
    load_prompts,
    reask_message,
    system_message,
)
from llmcode.store.models import CodingRecord, RunConfig, Sample
from llmcode.store.runs import Run
from llmcode.taxonomy.model import Level, Taxonomy

RecordCallback = Callable[[CodingRecord], None]


@dataclass
class Coder:
    """Codes items; holds what is the same for every item of a run."""

    taxonomy: Taxonomy
    backend: Backend
    prompts: PromptSet
    config: RunConfig
    cache: ResponseCache | None = None
    more_backends: list[Backend] = field(default_factory=list)  # other models, for samples
    examples: ExamplePool | None = None  # retrieved few-shot examples (--examples)
    verifier: Verifier | None = None  # a second look at each code (--verify)
    code_ids: list[str] = field(init=False)
    schema: dict = field(init=False)
    system: dict[str, str] = field(init=False)
    below: dict[str, list[str]] = field(init=False, default_factory=dict)
    """Categories never assigned themselves, with the codes under them (named in re-asks)."""

    def __post_init__(self) -> None:
        self.code_ids = assignable(self.taxonomy, self.config.inputs.level)
        self.below = self.taxonomy.below(self.config.inputs.level)
        self.schema = answer_schema(self.code_ids, self.taxonomy.multi_label)
        self.system = system_message(self.prompts, self.taxonomy, self.config.inputs.level)

    async def code(self, item: Item) -> CodingRecord:
        """All samples for one item, merged into one record; failures become error records."""
        records = [await self.sample_or_error(item, s) for s in range(self.config.sampling.samples)]
        return await self.second_look(
            records[0] if len(records) == 1 else merge_samples(records), item
        )

    async def second_look(self, record: CodingRecord, item: Item) -> CodingRecord:
        """The record after the verifier's check of its codes (as it is without a verifier)."""
        return record if self.verifier is None else await self.verifier.verify(record, item)

    def shots_for(self, item: Item) -> list[Shot]:
        """The retrieved examples shown with ``item`` (none without a pool)."""
        if self.examples is None or self.config.guidance.shots == 0:
            return []
        return self.examples.select(item, self.config.guidance.shots)

    def prepare_examples(
        self, items: Sequence[Item], progress: Callable[[int, int], None] | None = None
    ) -> None:
        """Select the examples of ``items`` in bulk now (``progress(done, total)`` per chunk)."""
        if self.examples is not None and self.config.guidance.shots > 0 and items:
            self.examples.prepare(items, self.config.guidance.shots, progress)

    def item_messages(self, item: Item) -> tuple[list[dict[str, str]], list[str]]:
        """The first request's messages for one item, and the ids of the examples shown."""
        shots = self.shots_for(item)
        user = item_message(self.prompts, item.item_id, item.text, render_shots(shots))
        return [self.system, user], [shot.item_id for shot in shots]

    async def sample_or_error(self, item: Item, sample: int) -> CodingRecord:
        """One sample of one item; a failure becomes an error record."""
        try:
            return await self.code_sample(item, sample)
        except Exception as exc:  # one item's failure must not lose the run
            error = f"{type(exc).__name__}: {exc}"
            return CodingRecord(item_id=item.item_id, status="error", error=error)

    def schema_for(self, item: Item) -> dict:
        """The answer schema; with ``evidence="choice"`` quotes are the item's own sentences."""
        if self.config.sampling.evidence == "choice":
            quotes = candidate_quotes(item.text)
            return answer_schema(self.code_ids, self.taxonomy.multi_label, quotes)
        return self.schema

    def backend_for(self, sample: int) -> Backend:
        """Sample k is drawn from model k mod n (several ``--model``s), else the one backend."""
        backends = [self.backend, *self.more_backends]
        return backends[sample % len(backends)]

    def request(
        self,
        messages: list[dict[str, str]],
        schema: dict,
        sample: int,
        backend: Backend,
        items: int = 1,
    ) -> ChatRequest:
        """The chat request for the first attempt at one sample (of ``items`` items)."""
        return ChatRequest(
            messages=tuple(messages),
            schema=schema,
            temperature=self.config.sampling.temperature,
            max_tokens=self.config.sampling.max_tokens * items,
            seed=None if self.config.sampling.seed is None else self.config.sampling.seed + sample,
            logprobs=backend.name == "openai",
        )

    def reask_message(self, problems: list[str]) -> dict[str, str]:
        return reask_message(self.prompts, problems)

    async def code_sample(
        self,
        item: Item,
        sample: int = 0,
        first: ChatResponse | None = None,
        max_reasks: int | None = None,
    ) -> CodingRecord:
        """One sample: ask, check, re-ask. ``first`` is an answer obtained elsewhere (a batch)
        that stands for the first attempt. A backend that fails for good gives an ``error``
        record counting the attempts answered before."""
        backend = self.backend_for(sample)
        messages, shown = self.item_messages(item)
        request = self.request(messages, self.schema_for(item), sample, backend)

        def check(response: ChatResponse) -> Verdict[CheckedAnswer]:
            checked = check_answer(
                response.content,
                item.text,
                self.code_ids,
                self.taxonomy.multi_label,
                self.below,
            )
            return checked, checked.problems, checked.fatal

        asked: Exchange[CheckedAnswer] = Exchange()
        try:
            await ask(
                backend,
                request,
                check,
                follow_up(self.reask_message),
                cache=self.cache,
                sample=sample,
                max_reasks=self.config.sampling.max_reasks if max_reasks is None else max_reasks,
                first=first,
                exchange=asked,
            )
        except Exception as exc:  # the answered attempts were paid for: they count, whatever
            # ended the item (the endpoint, an answer that breaks the check, a re-ask template)
            message = (
                exc.message if isinstance(exc, LlmcodeError) else f"{type(exc).__name__}: {exc}"
            )
            error = CodingRecord(item_id=item.item_id, status="error", error=message)
            return with_usage(error, asked.usage)
        checked = asked.value or CheckedAnswer()
        status = "ok" if checked.verified else "invalid" if checked.fatal else "unverified"
        response = asked.response
        return with_usage(
            CodingRecord(
                item_id=item.item_id,
                status=status,
                codes=[] if checked.fatal else checked.codes,
                suggested_code=checked.suggested_code,
                problems=checked.problems,
                raw=None if status == "ok" else response.content,
                model=backend.model,
                probabilities=(
                    {} if checked.fatal else code_probabilities(response.content, response.logprobs)
                ),
                examples=shown,
            ),
            asked.usage,
        )

    async def many_sample(self, items: list[Item], sample: int) -> list[CodingRecord]:
        """One sample of ``items`` in one request (plus re-asks for the items that need them).

        Each item's usage is its share of the request. Items the request did not settle (missing
        or invalid after the re-asks, or the request failed for good) are coded one at a time,
        like ``--items-per-request 1``: never dropped, never losing the others.
        """
        backend = self.backend_for(sample)
        check = ManyCheck(
            items,
            self.code_ids,
            self.taxonomy.multi_label,
            self.reask_message,
            choice=self.config.sampling.evidence == "choice",
            max_tokens=self.config.sampling.max_tokens,
        )
        shown = {item.item_id: self.shots_for(item) for item in items}
        listed = [
            {"item_id": i.item_id, "text": i.text, "examples": render_shots(shown[i.item_id])}
            for i in items
        ]
        user = {"role": "user", "content": self.prompts.render(MULTI, items=listed)}
        request = self.request([self.system, user], check.schema(), sample, backend, len(items))
        # a request that fails for good loses nothing: what it did not settle is asked alone
        with contextlib.suppress(Exception):
            await ask(
                backend,
                request,
                check,
                check.reask,
                cache=self.cache,
                sample=sample,
                max_reasks=self.config.sampling.max_reasks,
            )
        shares = check.shares()
        records = []
        for item in items:
            entry = check.entries.get(item.item_id)
            if entry is None or entry.checked.fatal:
                alone = await self.sample_or_error(item, sample)
                records.append(with_usage(alone, shares[item.item_id]))
                continue
            checked = entry.checked
            record = CodingRecord(
                item_id=item.item_id,
                status="ok" if checked.verified else "unverified",
                codes=checked.codes,
                suggested_code=checked.suggested_code,
                problems=checked.problems,
                raw=None if checked.verified else entry.raw,
                model=backend.model,
                probabilities=entry.probabilities,
                examples=[shot.item_id for shot in shown[item.item_id]],
            )
            records.append(with_usage(record, shares[item.item_id]))
        return records


def assignable(taxonomy: Taxonomy, level: Level) -> list[str]:
    """The ids coding at ``level`` may assign (codable ones); none at all is a `TaxonomyError`."""
    codes = [c.id for c in taxonomy.targets(level)]
    if not codes:
        raise TaxonomyError(
            f"taxonomy '{taxonomy.name}': no category at level {level} is codable "
            "(every one is marked `codable: false`)",
            hint="code the leaves (`level` leaves), or mark the categories to assign codable",
        )
    return codes


def prompts_for(config: RunConfig) -> PromptSet:
    """The templates a run config codes with: the shipped ones (those of passages for
    ``unit = "segment"``, and of the first step for ``hierarchy = "top-down"``), ``--prompts``
    overrides, and the checker's when ``--verify`` is on."""
    names: tuple[str, ...] = SEGMENT if config.inputs.unit == "segment" else CLOSED
    names += TOPDOWN if config.inputs.hierarchy == "top-down" else ()
    names += (VERIFY_SYSTEM, VERIFY_USER) if config.guidance.verify != "off" else ()
    overrides = Path(config.guidance.prompts_dir) if config.guidance.prompts_dir else None
    return load_prompts(names=names, overrides=overrides)


def make_coder(
    config: RunConfig,
    taxonomy: Taxonomy,
    backend: Backend,
    items: Iterable[Item],
    *,
    cache: ResponseCache | None = None,
    more_backends: Sequence[Backend] = (),
    prompts: PromptSet | None = None,
    examples_sha256: str | None = None,
    vectors_dir: Path | None = None,
    kind: type[Coder] | None = None,
) -> Coder:
    """The coder a run config describes: its prompts, its example pool (texts from ``items``
    unless ``--examples-items``) and its verifier. ``examples_sha256`` is the pool hash a
    resumed run started with: a pool that changed since is refused; ``vectors_dir`` keeps the
    pool's embeddings (`llmcode.llm.vectors.VectorCache`); ``kind`` is the class built (a
    `Coder` unless told)."""
    prompts = prompts or prompts_for(config)
    pool = pool_for(config, items, vectors_dir)
    if pool is not None and examples_sha256 and pool.sha256 != examples_sha256:
        raise ConfigError(
            f"the example codes {config.guidance.examples} changed since the run started "
            f"(pool {pool.sha256}, run {examples_sha256})",
            hint="start a new run, or restore the example codes the run began with",
        )
    verifier = None
    if config.guidance.verify != "off":
        verifier = Verifier(
            taxonomy,
            prompts,
            backend,
            cache=cache,
            mode="drop" if config.guidance.verify == "drop" else "flag",
            level=config.inputs.level,
            seed=config.sampling.seed,
        )
    return (kind or Coder)(
        taxonomy=taxonomy,
        backend=backend,
        prompts=prompts,
        config=config,
        cache=cache,
        more_backends=list(more_backends),
        examples=pool,
        verifier=verifier,
    )


def with_usage(record: CodingRecord, usage: Usage) -> CodingRecord:
    """``record`` with ``usage`` added to what it already counts."""
    return record.model_copy(
        update={
            "attempts": record.attempts + usage.calls,
            "cached_calls": record.cached_calls + usage.cached_calls,
            "prompt_tokens": record.prompt_tokens + usage.prompt_tokens,
            "completion_tokens": record.completion_tokens + usage.completion_tokens,
            "cached_prompt_tokens": record.cached_prompt_tokens + usage.cached_prompt_tokens,
        }
    )


async def code_many(coder: Coder, items: list[Item]) -> list[CodingRecord]:
    """All samples for ``items`` asked together (one request per sample), one record each."""
    if len(items) == 1:
        return [await coder.code(items[0])]
    drawn: dict[str, list[CodingRecord]] = {item.item_id: [] for item in items}
    for sample in range(coder.config.sampling.samples):
        for record in await coder.many_sample(items, sample):
            drawn[record.item_id].append(record)
    merged = [rs[0] if len(rs) == 1 else merge_samples(rs) for rs in drawn.values()]
    return [await coder.second_look(r, item) for r, item in zip(merged, items, strict=True)]


def merge_samples(records: list[CodingRecord]) -> CodingRecord:
    """One record from K samples: the majority code set, each code's confidence its vote share."""
    usable = [r for r in records if r.status in ("ok", "unverified")] or records
    votes = Counter(code.code for r in usable for code in r.codes)
    sets = Counter(tuple(sorted(c.code for c in r.codes)) for r in usable)
    base = records[0]
    if sets:
        winner = sets.most_common(1)[0][0]
        base = next(r for r in usable if tuple(sorted(c.code for c in r.codes)) == winner)
    codes = [
        code.model_copy(update={"confidence": votes[code.code] / len(usable)})
        for code in base.codes
    ]
    return base.model_copy(
        update={
            "codes": codes,
            "samples": [
                Sample(
                    codes=[c.code for c in r.codes],
                    status=r.status,
                    model=r.model,
                    probabilities=r.probabilities,
                )
                for r in records
            ],
            "prompt_tokens": sum(r.prompt_tokens for r in records),
            "completion_tokens": sum(r.completion_tokens for r in records),
            "cached_calls": sum(r.cached_calls for r in records),
            "cached_prompt_tokens": sum(r.cached_prompt_tokens for r in records),
            "batch_prompt_tokens": sum(r.batch_prompt_tokens for r in records),
            "batch_completion_tokens": sum(r.batch_completion_tokens for r in records),
            "attempts": sum(r.attempts for r in records),
            "steps": [step for r in records for step in r.steps],  # top-down: every sample's
        }
    )


async def code_items(
    items: Iterable[Item],
    coder: Coder,
    run: Run,
    on_record: RecordCallback | None = None,
    budget: Budget | None = None,
    before_request: Callable[[list[str]], bool] | None = None,
) -> bool:
    """Code ``items`` with ``concurrency`` workers, ``items_per_request`` items per request.

    Each record is durable before the next is started. ``before_request`` is told the item ids
    of each request before it is sent (the run's in-flight ledger) and may stop the run by
    answering False. Returns False when the budget stopped the run early (the rest stays
    pending, so the run can be resumed).
    """
    source = iter(items)  # read as the workers take them: a million items are never all held
    per_request = coder.config.sampling.items_per_request
    stopped = False

    def take() -> list[Item]:
        nonlocal stopped
        chunk: list[Item] = []
        while not stopped and len(chunk) < per_request:
            item = next(source, None)
            if item is None or (budget is not None and not budget.try_start()):
                stopped = True
                break
            chunk.append(item)
        return chunk

    async def worker() -> None:
        nonlocal stopped
        while chunk := take():
            if before_request is not None and not before_request([i.item_id for i in chunk]):
                stopped = True  # the run is stopping: the rest stays pending
                break
            records = await code_many(coder, chunk)
            for record in records:
                run.append_coding(record)
                if budget is not None:
                    budget.charge(record.prompt_tokens, record.completion_tokens)
                if on_record is not None:
                    on_record(record)

    size = len(items) if isinstance(items, Sized) else coder.config.limits.concurrency
    workers = min(coder.config.limits.concurrency, max(1, size))
    await asyncio.gather(*(worker() for _ in range(workers)))
    return not (budget is not None and budget.exhausted)
