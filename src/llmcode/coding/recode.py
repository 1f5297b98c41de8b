"""Selective re-coding after a taxonomy change: a new run that re-codes only what can change.

An item is re-coded when (checked in this order, the first reason is recorded):

1. it has no usable coding in the previous run (error, invalid, or never coded);
2. one of its codes was removed, renamed or redefined — any change to what the prompt shows of
   that category (name, definition, criteria, examples, children), so splits and merges count;
3. it was coded ``none`` (a new or changed category may fit now);
4. a category was added (not an id renamed) and one of its codes is a near neighbour of it: one of
   the ``neighbours`` kept categories most similar to it, or any at least ``neighbour_similarity``
   alike (TF-IDF cosine of name, definition and include criteria);
5. a category was added or changed and its confidence is below ``low_confidence``.

Reasons read ``kind: detail`` (kinds: not coded, no usable coding, code changed, coded none,
near neighbour, low confidence, all). Every other item keeps its previous record, copied into
the new run. The new run's manifest
(``extra["recode"]``) lists the re-coded items with their reasons, the reused items, and after
coding the items whose codes changed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from llmcode.coding.closed import Coder, code_items
from llmcode.coding.lifecycle import finish_run, start_run
from llmcode.errors import ConfigError
from llmcode.items import ItemSet
from llmcode.llm.backends.base import Backend
from llmcode.llm.cache import ResponseCache
from llmcode.llm.prompts import PromptSet
from llmcode.store.models import CodingRecord, RunConfig
from llmcode.store.runs import Run, RunStore
from llmcode.taxonomy.diff import TaxonomyDiff, diff_taxonomies
from llmcode.taxonomy.model import NONE_CODE, Category, Taxonomy


class ItemChange(BaseModel):
    """An item whose codes differ after re-coding (old ids mapped through renames)."""

    item_id: str
    old: list[str]
    new: list[str]


class RecodePlan(BaseModel):
    """Which items to re-code (with the reason) and which to reuse."""

    from_run: str
    diff: TaxonomyDiff
    changed_codes: list[str] = Field(default_factory=list)
    added_codes: list[str] = Field(default_factory=list)
    neighbour_codes: dict[str, list[str]] = Field(default_factory=dict)
    recode: dict[str, str] = Field(default_factory=dict)
    reuse: list[str] = Field(default_factory=list)


def plan_recode(
    previous: Run,
    new: Taxonomy,
    low_confidence: float = 0.5,
    neighbour_similarity: float = 0.25,
    everything: bool = False,
    neighbours: int = 1,
) -> RecodePlan:
    """Decide per item of ``previous`` whether the change to ``new`` can affect its coding."""
    old = previous.taxonomy()
    level = previous.manifest().config.inputs.level
    before = {c.id: c for c in old.targets(level)}
    after = {c.id: c for c in new.targets(level)}
    changed = sorted(
        i for i, c in before.items() if i not in after or _shown(c) != _shown(after[i])
    )
    diff = diff_taxonomies(old, new)
    renamed_to = {r.new_id for r in diff.renamed if r.old_id != r.new_id}
    added = sorted(set(after) - set(before) - renamed_to)
    near_by = _neighbours(added, after, set(changed), neighbour_similarity, neighbours)
    near = {code for codes in near_by.values() for code in codes}
    plan = RecodePlan(
        from_run=previous.run_id,
        diff=diff,
        changed_codes=changed,
        added_codes=added,
        neighbour_codes=near_by,
    )
    latest = previous.latest_codings()
    for item in previous.items():
        record = latest.get(item.item_id)
        reason = _reason(record, set(changed), near, bool(added or changed), low_confidence)
        if everything or old.multi_label != new.multi_label:
            reason = reason or ("all: --all" if everything else "all: multi_label changed")
        if reason:
            plan.recode[item.item_id] = reason
        else:
            plan.reuse.append(item.item_id)
    return plan


def _reason(
    record: CodingRecord | None, changed: set[str], near: set[str], grew: bool, low: float
) -> str | None:
    if record is None:
        return "not coded: no record in the previous run"
    if record.status == "skipped":
        return None
    if record.status in ("error", "invalid") or not record.codes:
        return f"no usable coding: {record.status}"
    codes = [c.code for c in record.codes]
    hit = next((c for c in codes if c in changed), None)
    if hit:
        return f"code changed: '{hit}' was removed, renamed or redefined"
    if NONE_CODE in codes:
        return "coded none: a new or changed category may fit"
    hit = next((c for c in codes if c in near), None)
    if hit:
        return f"near neighbour: '{hit}' is close to an added category"
    confidences = [c.confidence for c in record.codes if c.confidence is not None]
    if grew and confidences and min(confidences) < low:
        return f"low confidence: {min(confidences):.2f}"
    return None


def _shown(category: Category) -> dict:
    """Everything of a category the coding prompt can show."""
    return category.model_dump(mode="json")


def _neighbours(
    added: list[str], after: dict[str, Category], changed: set[str], threshold: float, top: int
) -> dict[str, list[str]]:
    """For each added category: its ``top`` most similar kept categories and any ``threshold``
    alike (a similarity of 0 never makes a neighbour)."""
    kept = [i for i in after if i not in added and i not in changed]
    if not added or not kept:
        return {}
    from sklearn.metrics.pairwise import cosine_similarity

    from llmcode.llm.vectors import text_vectors

    ids = [*added, *kept]
    vectors = text_vectors([_text(after[i]) for i in ids])
    similarity = cosine_similarity(vectors[: len(added)], vectors[len(added) :])
    out = {}
    for n, new_id in enumerate(added):
        ranked = sorted(range(len(kept)), key=lambda j: -similarity[n, j])
        chosen = set(ranked[:top]) | {j for j in ranked if similarity[n, j] >= threshold}
        out[new_id] = [kept[j] for j in ranked if j in chosen and similarity[n, j] > 0]
    return out


def _text(category: Category) -> str:
    return " ".join([category.name, category.definition, *category.include])


def recode_setup(
    previous: Run,
    taxonomy_path: str | Path,
    backend: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
    model_path: str | None = None,
) -> tuple[RunConfig, Backend]:
    """The new run's config (the previous run's settings, the new taxonomy, and the model or
    endpoint asked for now) and its backend."""
    from llmcode.coding.job import backend_for

    old = previous.manifest().config
    llm = backend_for(old, backend, model, base_url, model_path)
    config = old.replace(
        taxonomy_path=str(taxonomy_path),
        backend=llm.name,
        model=model or old.endpoint.model,
        base_url=base_url or old.endpoint.base_url,
    )
    return config, llm


async def run_recode(
    previous: Run,
    plan: RecodePlan,
    taxonomy: Taxonomy,
    taxonomy_text: str,
    config: RunConfig,
    store: RunStore,
    backend: Backend,
    prompts: PromptSet,
    cache: ResponseCache | None = None,
    run_id: str | None = None,
    on_record: Callable[[CodingRecord], None] | None = None,
) -> tuple[Run, list[ItemChange]]:
    """Create the new run: copy reused records, code the rest, report which items changed code."""
    if previous.manifest().kind != "closed":
        raise ConfigError(
            f"run '{previous.run_id}' is a {previous.manifest().kind} run; recode needs a run "
            "of `llmcode code`"
        )
    manifest = previous.manifest()
    items = previous.items()
    item_set = ItemSet(
        items=items,
        skipped=[],
        source=str(manifest.items.get("path", "")),
        sha256=str(manifest.items.get("sha256", "")),
        id_column=config.inputs.id_column,
        text_columns=tuple(config.inputs.text_columns or ()),
    )
    summary = _summary(plan)
    run = start_run(
        store,
        config,
        item_set,
        taxonomy,
        taxonomy_text,
        prompts,
        backend,
        run_id,
        extra={"recode": summary},
    )
    latest = previous.latest_codings()
    for item_id in plan.reuse:
        if item_id in latest:
            run.append_coding(latest[item_id])
    for record in latest.values():
        if record.status == "skipped" and record.item_id not in plan.reuse:
            run.append_coding(record)
    coder = Coder(taxonomy=taxonomy, backend=backend, prompts=prompts, config=config, cache=cache)
    todo = [item for item in items if item.item_id in plan.recode]
    status = "interrupted"
    changes: list[ItemChange] = []
    try:
        await code_items(todo, coder, run, on_record)
        status = "complete"
        changes = code_changes(plan, latest, run.latest_codings())
    finally:
        changed = {**summary, "changed": [c.model_dump() for c in changes]}
        finish_run(run, status, backend, extra={"recode": changed})
    return run, changes


def code_changes(
    plan: RecodePlan, before: dict[str, CodingRecord], after: dict[str, CodingRecord]
) -> list[ItemChange]:
    """Re-coded items whose code set differs from before (renamed ids count as the same)."""
    mapping = plan.diff.id_map()
    changes = []
    for item_id in plan.recode:
        old = sorted({mapping.get(c.code, c.code) for c in _codes(before.get(item_id))})
        new = sorted({c.code for c in _codes(after.get(item_id))})
        if old != new:
            changes.append(ItemChange(item_id=item_id, old=old, new=new))
    return changes


def _codes(record: CodingRecord | None) -> list:
    return list(record.codes) if record is not None else []


def _summary(plan: RecodePlan) -> dict:
    return {
        "from_run": plan.from_run,
        "diff": {k: v for k, v in plan.diff.to_json().items() if k != "unchanged"},
        "changed_codes": plan.changed_codes,
        "added_codes": plan.added_codes,
        "neighbour_codes": plan.neighbour_codes,
        "recoded": plan.recode,
        "reused": plan.reuse,
    }
