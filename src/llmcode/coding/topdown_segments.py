"""Documents coded in passages top-down: per window, its categories, then their codes.

`TopDownSegmentCoder` is `llmcode.coding.segments`' coder with the two steps of
`llmcode.coding.topdown` per window: the first asks which top-level categories the window's
passages belong to (none is an answer: the window has nothing to code), the second asks its
passages with only those categories' codes, in groups whose prompt fits the context with the
window (one request per group). Windows are sized for the larger of the first step and a second
step over the ``SIZING_BRANCHES`` largest branches (fewer, when that would leave windows shorter
than ``TOPDOWN_WINDOW_CHARS``); a second step whose answer does not fit is split like any
window. The record lists a ``categories`` step and a ``codes`` step per group for each window.
The dry run counts the second step as ``EXPECTED_BRANCHES`` branches of average size per window,
in the groups they would need.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean

from llmcode.coding.costs import Estimate, cached_prefix, token_counter
from llmcode.coding.prices import load_price_table
from llmcode.coding.segments import (
    ANSWER_OVERHEAD,
    ANSWER_SHARE,
    CHARS_PER_TOKEN,
    CONTEXT_SHARE,
    DocumentState,
    SegmentCoder,
    segment_system,
)
from llmcode.coding.topdown import (
    BRANCH_ANSWER_TOKENS,
    EXPECTED_BRANCHES,
    SIZING_BRANCHES,
    TOPDOWN_WINDOW_CHARS,
    Branches,
    check_topdown_settings,
    spent_between,
    step_of,
)
from llmcode.errors import ConfigError
from llmcode.items import Item
from llmcode.llm.ask import Exchange
from llmcode.llm.branches import CheckedBranches
from llmcode.llm.cache import backend_cache_key
from llmcode.llm.windows import Window
from llmcode.taxonomy.model import Taxonomy


@dataclass
class TopDownSegmentCoder(SegmentCoder):
    """Codes documents in passages top-down: per window, the categories, then their codes."""

    branches: Branches = field(init=False)
    coders: dict[tuple[str, ...], SegmentCoder] = field(init=False, default_factory=dict)
    bare: int = field(init=False, default=0)
    """Tokens of a second step's system message without categories."""
    sizes: dict[str, int] = field(init=False, default_factory=dict)
    """Tokens each top-level category's codes add to a second step's system message."""

    def __post_init__(self) -> None:
        check_topdown_settings(self.config)
        self.branches = Branches(self.taxonomy, self.prompts, segment=True)
        super().__post_init__()

    def overhead(self) -> int:
        """The larger of the first step's prompt and a second step's over the largest
        branches (the ``SIZING_BRANCHES`` largest, fewer when windows would be shorter than
        ``TOPDOWN_WINDOW_CHARS``), without the window's text."""
        count, _ = token_counter(self.backend.model)
        render = self.codes_system
        self.bare = count(render(self.branches.narrowed([]))["content"]) + 4
        self.sizes = {
            b: count(render(self.branches.narrowed([b]))["content"]) + 4 - self.bare
            for b in self.branches.ids
        }
        first = self.tokens([self.branches.system, self.branches.message("", "", 1, 1)])
        empty = self.tokens([self.window_message("", Window(0, 0, ""), 1, 1)])
        largest = sorted(self.sizes.values(), reverse=True)
        for k in range(min(SIZING_BRANCHES, len(largest)), 0, -1):
            overhead = max(first, self.bare + sum(largest[:k]) + empty)
            if k == 1 or self.fits_windows(overhead):
                return overhead
        return first

    def fits_windows(self, overhead: int) -> bool:
        """Whether windows after ``overhead`` tokens are at least ``TOPDOWN_WINDOW_CHARS``."""
        try:
            return self.room_for_text(overhead) >= TOPDOWN_WINDOW_CHARS
        except ConfigError:
            return False

    def codes_system(self, taxonomy: Taxonomy) -> dict[str, str]:
        return segment_system(self.prompts, taxonomy, "leaves")

    def group_budget(self, window: Window) -> int:
        """Tokens the categories' codes may take in a second step over ``window``."""
        budget = int(self.context * CONTEXT_SHARE) - self.bare - ANSWER_OVERHEAD
        budget -= self.tokens([self.window_message("", window, 1, 1)])
        return budget - math.ceil(len(window) / CHARS_PER_TOKEN)

    def expected_groups(self, window: Window) -> list[float]:
        """The dry run's second steps over ``window``: ``EXPECTED_BRANCHES`` branches of
        average size, in groups that fit; the tokens of each group's codes."""
        if not self.sizes:
            return []
        mean = fmean(self.sizes.values())
        left = min(EXPECTED_BRANCHES["window"], len(self.sizes))
        per = max(1, int(self.group_budget(window) // mean)) if mean > 0 else left
        out = []
        while left > 0:
            out.append(min(per, left) * mean)
            left -= per
        return out

    def groups(self, chosen: Sequence[str], window: Window) -> list[list[str]]:
        """The chosen categories in groups whose second step fits the context with this
        window (in the codebook's order; a category too big alone is a group of its own)."""
        budget = self.group_budget(window)
        out: list[list[str]] = []
        used = 0
        for branch in (b for b in self.branches.ids if b in set(chosen)):
            if out and used + self.sizes[branch] <= budget:
                out[-1].append(branch)
                used += self.sizes[branch]
            else:
                out.append([branch])
                used = self.sizes[branch]
        return out

    def coder_for(self, chosen: Sequence[str]) -> SegmentCoder:
        """The flat passage coder of the chosen categories' codes, on this coder's windows."""
        key = tuple(c for c in self.branches.ids if c in set(chosen))
        if key not in self.coders:
            coder = SegmentCoder(
                taxonomy=self.branches.narrowed(key),
                backend=self.backend,
                prompts=self.prompts,
                config=self.config,
                cache=self.cache,
                sizing=False,
            )
            coder.window_chars = self.window_chars
            self.coders[key] = coder
        return self.coders[key]

    async def code_part(
        self, item: Item, window: Window, part: int, parts: int, state: DocumentState
    ) -> None:
        """The window's categories, then its passages with their codes only."""
        request = self.branches.request(
            self.config, self.branches.message(item.item_id, window.text, part, parts)
        )
        asked: Exchange[CheckedBranches] = Exchange()
        try:
            await self.branches.choose(
                self.backend,
                request,
                asked,
                cache=self.cache,
                sample=0,
                max_reasks=self.config.sampling.max_reasks,
            )
        finally:
            state.usage = state.usage + asked.usage
        chosen = asked.value.categories if asked.value is not None else []
        key = backend_cache_key(self.backend, request)
        state.steps.append(step_of("categories", asked.usage, chosen, window, key, asked.problems))
        if asked.fatal:
            state.windows += 1
            state.failed += 1
            where = f"window [{window.start}, {window.end})"
            state.problems += [f"{where}: choosing the categories: {p}" for p in asked.problems]
            state.raw = asked.raw
            return
        if not chosen:
            state.windows += 1  # nothing in this part belongs to a category
            return
        for group in self.groups(chosen, window):
            coder = self.coder_for(group)
            request, _ = coder.window_request(item, window, part, parts)
            before = state.usage
            await coder.code_window(item, window, part, parts, state)
            spent = spent_between(state.usage, before)
            key = backend_cache_key(self.backend, request)
            state.steps.append(step_of("codes", spent, group, window, key))

    def steps_estimate(
        self, items: Sequence[Item], model: str, prices: str | Path | None = None
    ) -> Estimate:
        """Windows, requests and tokens of coding ``items`` in passages top-down."""
        count, how = token_counter(model)
        windows = requests = prompt = output = 0
        for item in items:
            parts = self.windows(item)
            for part, window in enumerate(parts, start=1):
                first = self.branches.message(item.item_id, window.text, part, len(parts))
                prompt += self.tokens([self.branches.system, first])
                message = self.tokens([self.window_message(item.item_id, window, part, len(parts))])
                groups = self.expected_groups(window)
                prompt += round(sum(self.bare + size + message for size in groups))
                output += BRANCH_ANSWER_TOKENS * EXPECTED_BRANCHES["window"]
                output += math.ceil(count(window.text) * ANSWER_SHARE) + ANSWER_OVERHEAD // 4
                windows += 1
                requests += 1 + len(groups)
        table = load_price_table(prices)
        first_system = count(self.branches.system["content"]) + 4
        return Estimate(
            items=len(items),
            requests=requests,
            prompt_tokens=prompt,
            output_tokens=output,
            counter=how,
            price=table.price(model),
            cached_prompt_tokens=cached_prefix(first_system) * max(0, windows - 1),
            price_date=table.date,
            price_source=table.source,
            windows=windows,
            category_requests=windows,
        )
