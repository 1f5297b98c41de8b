"""Closed coding: each item against the taxonomy, with re-asks, samples, concurrency and resume.

Per item: render the messages, ask the backend (through the response cache), check the answer
(schema, taxonomy codes, verbatim evidence); on problems re-ask up to ``max_reasks`` times with
the problems listed. What still fails is stored flagged (``unverified``, ``invalid``) or as an
``error`` — every item gets a record. With ``samples`` > 1 several codings are drawn and each
code's confidence becomes its vote share.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from llmcode.coding.costs import Budget
from llmcode.errors import BackendError
from llmcode.items import Item
from llmcode.llm.answers import CheckedAnswer, answer_schema, check_answer
from llmcode.llm.backends.base import Backend, ChatRequest, ChatResponse
from llmcode.llm.cache import ResponseCache, cache_key
from llmcode.llm.evidence import candidate_quotes
from llmcode.llm.logprobs import code_probabilities
from llmcode.llm.prompts import PromptSet, item_message, reask_message, system_message
from llmcode.store.runs import CodingRecord, Run, RunConfig, Sample
from llmcode.taxonomy.model import Taxonomy

RecordCallback = Callable[[CodingRecord], None]


@dataclass
class Coder:
    """Codes one item at a time; holds what is the same for every item of a run."""

    taxonomy: Taxonomy
    backend: Backend
    prompts: PromptSet
    config: RunConfig
    cache: ResponseCache | None = None
    more_backends: list[Backend] = field(default_factory=list)  # other models, for samples
    code_ids: list[str] = field(init=False)
    schema: dict = field(init=False)
    system: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.code_ids = [c.id for c in self.taxonomy.targets(self.config.level)]
        self.schema = answer_schema(self.code_ids, self.taxonomy.multi_label)
        self.system = system_message(self.prompts, self.taxonomy, self.config.level)

    async def code(self, item: Item) -> CodingRecord:
        """All samples for one item, merged into one record; failures become error records."""
        records = []
        for sample in range(self.config.samples):
            try:
                records.append(await self.code_sample(item, sample))
            except BackendError as exc:
                records.append(
                    CodingRecord(item_id=item.item_id, status="error", error=exc.message)
                )
            except Exception as exc:  # one item's failure must not lose the run
                records.append(
                    CodingRecord(
                        item_id=item.item_id, status="error", error=f"{type(exc).__name__}: {exc}"
                    )
                )
        return records[0] if len(records) == 1 else merge_samples(records)

    def schema_for(self, item: Item) -> dict:
        """The answer schema; with ``evidence="choice"`` quotes are the item's own sentences."""
        if self.config.evidence == "choice":
            quotes = candidate_quotes(item.text)
            return answer_schema(self.code_ids, self.taxonomy.multi_label, quotes)
        return self.schema

    def backend_for(self, sample: int) -> Backend:
        """Sample k is drawn from model k mod n (several ``--model``s), else the one backend."""
        backends = [self.backend, *self.more_backends]
        return backends[sample % len(backends)]

    def request(
        self, messages: list[dict[str, str]], schema: dict, sample: int, backend: Backend
    ) -> ChatRequest:
        """The chat request for one attempt at one sample."""
        return ChatRequest(
            messages=tuple(messages),
            schema=schema,
            temperature=self.config.temperature,
            max_tokens=self.config.max_tokens,
            seed=None if self.config.seed is None else self.config.seed + sample,
            logprobs=backend.name == "openai",
        )

    async def code_sample(
        self,
        item: Item,
        sample: int = 0,
        first: ChatResponse | None = None,
        max_reasks: int | None = None,
    ) -> CodingRecord:
        """One sample: ask, check, re-ask. ``first`` is an answer obtained elsewhere (a batch)
        that stands for the first attempt; it is cached as the first request's answer."""
        backend = self.backend_for(sample)
        reasks = self.config.max_reasks if max_reasks is None else max_reasks
        messages = [self.system, item_message(self.prompts, item.item_id, item.text)]
        schema = self.schema_for(item)
        totals = Counter[str]()
        checked = CheckedAnswer()
        response = ChatResponse(content="")
        for attempt in range(reasks + 1):
            request = self.request(messages, schema, sample, backend)
            if attempt == 0 and first is not None:
                response = first
                if self.cache is not None:
                    self.cache.put(cache_key(backend.name, backend.model, request, sample), first)
            else:
                response = await self.ask(request, sample, backend)
            totals.update(
                prompt=response.prompt_tokens,
                completion=response.completion_tokens,
                cached=int(response.cached),
                attempts=1,
            )
            checked = check_answer(
                response.content, item.text, self.code_ids, self.taxonomy.multi_label
            )
            if checked.verified or attempt == reasks:
                break
            messages += [
                {"role": "assistant", "content": response.content},
                reask_message(self.prompts, checked.problems),
            ]
        status = "ok" if checked.verified else "invalid" if checked.fatal else "unverified"
        return CodingRecord(
            item_id=item.item_id,
            status=status,
            codes=[] if checked.fatal else checked.codes,
            suggested_code=checked.suggested_code,
            problems=checked.problems,
            raw=None if status == "ok" else response.content,
            attempts=totals["attempts"],
            model=backend.model,
            prompt_tokens=totals["prompt"],
            completion_tokens=totals["completion"],
            cached_calls=totals["cached"],
            probabilities=(
                {} if checked.fatal else code_probabilities(response.content, response.logprobs)
            ),
        )

    async def ask(
        self, request: ChatRequest, sample: int, backend: Backend | None = None
    ) -> ChatResponse:
        """One request through the response cache."""
        backend = backend or self.backend
        key = cache_key(backend.name, backend.model, request, sample)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            return hit
        response = await backend.complete(request)
        if self.cache is not None:
            self.cache.put(key, response)
        return response


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
            "attempts": sum(r.attempts for r in records),
        }
    )


async def code_items(
    items: Iterable[Item],
    coder: Coder,
    run: Run,
    on_record: RecordCallback | None = None,
    budget: Budget | None = None,
) -> bool:
    """Code ``items`` with ``concurrency`` workers, ``items_per_request`` items per request.

    Each record is durable before the next is started. Returns False when the budget stopped
    the run early (the rest stays pending, so the run can be resumed).
    """
    from llmcode.coding.multiitem import code_many

    queue = deque(items)
    per_request = coder.config.items_per_request

    def take() -> list[Item]:
        chunk: list[Item] = []
        while queue and len(chunk) < per_request:
            if budget is not None and not budget.try_start():
                queue.clear()
                break
            chunk.append(queue.popleft())
        return chunk

    async def worker() -> None:
        while chunk := take():
            records = await code_many(coder, chunk)
            for record in records:
                run.append_coding(record)
                if budget is not None:
                    budget.charge(record.prompt_tokens, record.completion_tokens)
                if on_record is not None:
                    on_record(record)

    workers = min(coder.config.concurrency, max(1, len(queue)))
    await asyncio.gather(*(worker() for _ in range(workers)))
    return not (budget is not None and budget.exhausted)
