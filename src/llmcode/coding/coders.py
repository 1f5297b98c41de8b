"""Which coder a run config gets: closed coding's, in passages, or top-down (in two steps).

`make_unit_coder` is the one place that reads ``unit`` and ``hierarchy``: a `Coder` for whole
items, a `SegmentCoder` for passages, and their top-down twins (`llmcode.coding.topdown`,
`llmcode.coding.topdown_segments`) for a hierarchical codebook asked categories first.
`top_down_tokens` says, in a flat run's dry run, what the top-down coder would send instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from llmcode.coding.closed import Coder, make_coder, prompts_for
from llmcode.coding.costs import estimate_items
from llmcode.coding.segments import SegmentCoder, check_segment_settings
from llmcode.coding.topdown import TopDownCoder, check_topdown_settings
from llmcode.coding.topdown_segments import TopDownSegmentCoder
from llmcode.errors import ConfigError
from llmcode.items import Item
from llmcode.llm.backends.base import Backend
from llmcode.llm.cache import ResponseCache
from llmcode.store.config import RunConfig
from llmcode.taxonomy.model import Taxonomy


def make_unit_coder(
    config: RunConfig,
    taxonomy: Taxonomy,
    backend: Backend,
    items: Iterable[Item],
    *,
    cache: ResponseCache | None = None,
    more_backends: Sequence[Backend] = (),
    examples_sha256: str | None = None,
    vectors_dir: Path | None = None,
) -> Coder:
    """The coder of a run config's ``unit`` and ``hierarchy`` (see the module docstring)."""
    top_down = config.inputs.hierarchy == "top-down"
    if top_down:
        check_topdown_settings(config)
    if config.inputs.unit == "segment":
        check_segment_settings(config)
        kind = TopDownSegmentCoder if top_down else SegmentCoder
        return kind(
            taxonomy=taxonomy,
            backend=backend,
            prompts=prompts_for(config),
            config=config,
            cache=cache,
            more_backends=list(more_backends),
        )
    return make_coder(
        config,
        taxonomy,
        backend,
        items,
        cache=cache,
        more_backends=more_backends,
        examples_sha256=examples_sha256,
        vectors_dir=vectors_dir,
        kind=TopDownCoder if top_down else None,
    )


ALTERNATIVE_SAMPLE = 200
"""Items a flat run's dry run codes top-down too, to say what top-down would send."""


def top_down_tokens(
    config: RunConfig,
    taxonomy: Taxonomy,
    backend: Backend,
    items: Sequence[Item],
    flat_prompt_tokens: int,
    model: str,
    prices: str | Path | None = None,
) -> int | None:
    """The prompt tokens coding ``items`` top-down would send, for a flat run's dry run
    (``flat_prompt_tokens`` is the flat estimate's): counted on the first ``ALTERNATIVE_SAMPLE``
    items and scaled. None where top-down does not apply or is not comparable: not at the
    leaves, a codebook of one level, examples, a second look or several items per request."""
    inputs = config.inputs
    if (
        inputs.hierarchy != "flat"
        or inputs.level != "leaves"
        or not any(c.children for c in taxonomy.categories)
        or config.guidance.examples is not None
        or config.guidance.verify != "off"
        or config.sampling.items_per_request > 1
        or not items
    ):
        return None
    other = config.replace(hierarchy="top-down")
    sample = list(items[:ALTERNATIVE_SAMPLE])
    segment = inputs.unit == "segment"
    kind: type[TopDownCoder | TopDownSegmentCoder] = (
        TopDownSegmentCoder if segment else TopDownCoder
    )
    try:
        coder = kind(taxonomy=taxonomy, backend=backend, prompts=prompts_for(other), config=other)
    except ConfigError:
        return None
    down = coder.steps_estimate(sample, model, prices).prompt_tokens
    if len(sample) == len(items):
        return down
    flat_kind: type[Coder] = SegmentCoder if segment else Coder
    flat = flat_kind(taxonomy=taxonomy, backend=backend, prompts=prompts_for(config), config=config)
    base = estimate_items(config, taxonomy, sample, model, prices, flat).prompt_tokens
    return round(flat_prompt_tokens * down / max(1, base))
