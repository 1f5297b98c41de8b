"""Token counts, cost estimates and budgets, before and during a run.

Prompt tokens are counted with tiktoken when it is installed (OpenAI models); otherwise they are
approximated as characters / 4, the usual rule of thumb for English text (documented in the
README; it is within about ±15% for our prompts). Output tokens are estimated per item from the
answer's size. Prices come from `llmcode.coding.prices` (a dated table, replaceable with
``--prices``). An estimate is priced three ways: live, through the provider's Batch API (its
discount), and live with prompt caching: every request after the first finds the identical
codebook prefix (the system message) cached when it is at least ``CACHE_MIN_TOKENS`` long, in
steps of ``CACHE_STEP_TOKENS`` (OpenAI's rule), and pays the cached-input price for it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmcode.coding.prices import (
    PRICES,
    Price,
    PriceTable,
    cost_of,
    load_price_table,
    load_prices,
    price_for,
)
from llmcode.errors import ConfigError

if TYPE_CHECKING:
    from llmcode.items import Item
    from llmcode.store.config import RunConfig
    from llmcode.taxonomy.model import Taxonomy

__all__ = ["PRICES", "Budget", "Estimate", "Price", "cost_of", "load_prices", "price_for"]

CHECK_OUTPUT_TOKENS = 60  # a verdict, one sentence and an id, as JSON
OUTPUT_TOKENS_PER_CODE = 120  # a code with justification, 1-3 quotes and confidence, as JSON
CACHE_MIN_TOKENS = 1024  # OpenAI caches a prompt prefix from 1,024 tokens ...
CACHE_STEP_TOKENS = 128  # ... in steps of 128


def token_counter(model: str) -> tuple[Callable[[str], int], str]:
    """A function counting tokens of a text, and how it counts ("tiktoken" or "chars/4")."""
    try:
        import tiktoken
    except ImportError:
        return approximate_tokens, "chars/4"
    try:
        encoding = tiktoken.encoding_for_model(model)
    except KeyError:
        encoding = tiktoken.get_encoding("o200k_base")
    return (lambda text: len(encoding.encode(text, disallowed_special=()))), "tiktoken"


def approximate_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


@dataclass
class Estimate:
    """What a run would cost before it starts (live, batch and with prompt caching)."""

    items: int
    requests: int
    prompt_tokens: int
    output_tokens: int
    counter: str
    price: Price | None
    checks: int = 0  # second-look requests (--verify), included in requests and tokens
    cached_prompt_tokens: int = 0  # of prompt_tokens: the codebook prefix a provider caches
    price_date: str | None = None
    price_source: str | None = None
    windows: int = 0  # windows of documents coded in passages (one request each)
    category_requests: int = 0  # first steps of coding top-down, included in requests
    top_down_prompt_tokens: int | None = None  # a flat run's: what top-down would send

    @property
    def cost(self) -> float | None:
        """Live, every prompt token at the full input price."""
        if self.price is None:
            return None
        return cost_of(self.prompt_tokens, self.output_tokens, self.price)

    @property
    def batch_cost(self) -> float | None:
        """Through the provider's Batch API (its discount on the live price)."""
        cost = self.cost
        return (
            None if cost is None or self.price is None else cost * (1 - self.price.batch_discount)
        )

    @property
    def cached_cost(self) -> float | None:
        """Live, with the cached codebook prefix at the cached-input price."""
        if self.price is None:
            return None
        return cost_of(
            self.prompt_tokens, self.output_tokens, self.price, self.cached_prompt_tokens
        )

    def as_dict(self) -> dict[str, object]:
        return (
            {
                "items": self.items,
                "requests": self.requests,
                "prompt_tokens": self.prompt_tokens,
                "cached_prompt_tokens": self.cached_prompt_tokens,
                "output_tokens": self.output_tokens,
                "tokens_per_item": (self.prompt_tokens + self.output_tokens) / max(1, self.items),
                "token_counter": self.counter,
                "price_per_million": self.price.model_dump() if self.price else None,
                "cost_usd": self.cost,
                "batch_cost_usd": self.batch_cost,
                "cached_cost_usd": self.cached_cost,
                "price_date": self.price_date,
                "price_source": self.price_source,
            }
            | ({"verify_requests": self.checks} if self.checks else {})
            | (
                {"windows": self.windows, "tokens_per_window": self._per_window()}
                if self.windows
                else {}
            )
            | (
                {
                    "hierarchy": "top-down",
                    "category_requests": self.category_requests,
                    "tokens_per_request": (self.prompt_tokens + self.output_tokens)
                    / max(1, self.requests),
                }
                if self.category_requests
                else {}
            )
            | (
                {"top_down_prompt_tokens": self.top_down_prompt_tokens}
                if self.top_down_prompt_tokens is not None
                else {}
            )
        )

    def _per_window(self) -> float:
        return (self.prompt_tokens + self.output_tokens) / max(1, self.windows)


def cached_prefix(tokens: int) -> int:
    """Tokens of a prompt prefix a provider serves from its cache (0 below the minimum)."""
    if tokens < CACHE_MIN_TOKENS:
        return 0
    return CACHE_MIN_TOKENS + (tokens - CACHE_MIN_TOKENS) // CACHE_STEP_TOKENS * CACHE_STEP_TOKENS


class Budget:
    """Stops starting new items once spending plus the next item's estimate would pass the cap."""

    def __init__(self, max_cost: float, price: Price, per_item_estimate: float) -> None:
        self.max_cost = max_cost
        self.price = price
        self.per_item_estimate = per_item_estimate  # replaced by the observed mean as items finish
        self.spent = 0.0
        self.charged = 0
        self.committed = 0  # items started and not yet charged
        self.exhausted = False

    def try_start(self) -> bool:
        """Reserve room for one more item; False (and ``exhausted``) when it would not fit."""
        projected = self.spent + (self.committed + 1) * self.per_item_estimate
        if projected > self.max_cost:
            self.exhausted = True
            return False
        self.committed += 1
        return True

    def charge(self, prompt_tokens: int, output_tokens: int) -> None:
        self.committed = max(0, self.committed - 1)
        self.spent += cost_of(prompt_tokens, output_tokens, self.price)
        self.charged += 1
        self.per_item_estimate = self.spent / self.charged


def estimate_run(
    system: dict[str, str],
    item_messages: Iterable[dict[str, str]],
    model: str,
    prices: dict[str, Price] | PriceTable,
    items_per_request: int = 1,
    samples: int = 1,
    codes_per_item: float = 1.0,
) -> Estimate:
    """Tokens and cost of coding these items (no request is sent).

    With K items per request the system message (the codebook) is counted once per request;
    every request after the first finds it cached (``cached_prefix``). Re-asks are not
    included: they only happen on invalid answers.
    """
    table = prices if isinstance(prices, PriceTable) else PriceTable(prices, "unknown", "")
    count, how = token_counter(model)
    system_tokens = count(system["content"]) + 4
    n_items = item_tokens = 0
    for message in item_messages:  # one at a time: a million messages are never all held
        item_tokens += count(message["content"]) + 4
        n_items += 1
    requests = math.ceil(n_items / items_per_request) * samples
    prompt = (item_tokens * samples) + system_tokens * requests + 2 * requests
    output = math.ceil(n_items * samples * codes_per_item * OUTPUT_TOKENS_PER_CODE)
    return Estimate(
        items=n_items,
        requests=requests,
        prompt_tokens=prompt,
        output_tokens=output,
        counter=how,
        price=table.price(model),
        cached_prompt_tokens=cached_prefix(system_tokens) * max(0, requests - 1),
        price_date=table.date,
        price_source=table.source,
    )


def estimate_items(
    config: RunConfig,
    taxonomy: Taxonomy,
    items: Sequence[Item],
    model: str,
    prices: str | Path | None = None,
    coder: Any = None,
) -> Estimate:
    """Tokens and cost of coding ``items`` with this run config (no request is sent).

    With a ``Coder``, its messages are counted (retrieved examples and ``--prompts``
    included) and, with its verifier, one check per expected code; a top-down coder counts its
    two steps (``steps_estimate``).
    """
    codes_per_item = 2.0 if taxonomy.multi_label else 1.0
    if coder is not None and hasattr(coder, "steps_estimate"):  # top-down: two steps
        estimate: Estimate = coder.steps_estimate(items, model, prices)
        if config.inputs.unit == "segment":
            return estimate
    elif coder is not None and hasattr(coder, "segment_estimate"):  # documents in passages
        return coder.segment_estimate(items, model, prices)  # type: ignore[no-any-return]
    else:
        estimate = _flat_estimate(config, taxonomy, items, model, prices, coder, codes_per_item)
    verifier = getattr(coder, "verifier", None)
    if verifier is None or not items:
        return estimate
    count, _ = token_counter(model)
    per_item = (
        sum(count(m["content"]) + 4 for m in verifier.sample_messages(i)) + 2 for i in items
    )
    checks = math.ceil(len(items) * codes_per_item)
    return replace(
        estimate,
        requests=estimate.requests + checks,
        prompt_tokens=estimate.prompt_tokens + math.ceil(sum(per_item) * codes_per_item),
        output_tokens=estimate.output_tokens + checks * CHECK_OUTPUT_TOKENS,
        checks=checks,
    )


def _flat_estimate(
    config: RunConfig,
    taxonomy: Taxonomy,
    items: Sequence[Item],
    model: str,
    prices: str | Path | None,
    coder: Any,
    codes_per_item: float,
) -> Estimate:
    """Tokens and cost of coding ``items`` whole, in one request each (or K per request)."""
    from llmcode.llm.prompts import iter_item_messages, load_prompts, system_message

    prompts = coder.prompts if coder is not None else load_prompts()
    system = (
        coder.system
        if coder is not None
        else system_message(prompts, taxonomy, config.inputs.level)
    )
    if coder is not None and coder.examples is not None:
        users: Iterable[dict[str, str]] = (coder.item_messages(i)[0][-1] for i in items)
    else:  # no examples: rendered once, filled per item
        users = iter_item_messages(prompts, ((i.item_id, i.text) for i in items))
    return estimate_run(
        system,
        users,
        model,
        load_price_table(prices),
        items_per_request=config.sampling.items_per_request,
        samples=config.sampling.samples,
        codes_per_item=codes_per_item,
    )


def budget_for(
    config: RunConfig,
    taxonomy: Taxonomy,
    items: Sequence[Item],
    model: str,
    prices: str | Path | None = None,
    coder: Any = None,
) -> Budget | None:
    """The spending cap of ``max_cost`` (None without one), priced on the first items."""
    if config.limits.max_cost is None:
        return None
    estimate = estimate_items(config, taxonomy, items[:50], model, prices, coder)
    if estimate.price is None:
        raise ConfigError(
            f"--max-cost needs a price for model '{model}'",
            hint="add it to a price table and pass --prices prices.yaml",
        )
    return Budget(
        config.limits.max_cost, estimate.price, (estimate.cost or 0) / max(1, estimate.items)
    )
