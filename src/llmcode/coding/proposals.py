"""Taxonomy proposals from a coding run: new, split, merge and sharpen edits, with their support.

Two signals from a closed-coding run: *none-fit* items (code ``none`` with a suggested code) and
*low-confidence* items (every code below ``low_confidence``). Suggestions are clustered (TF-IDF,
average linkage, cosine distance below ``group_distance``); a group far from every category is a
**new** category; one group near a category **sharpens** it (criteria and examples), several
groups near the same category **split** it into subcategories. Low-confidence items whose votes
(samples, or a second code) fall between the same two categories propose a **merge**; the rest,
grouped by their code, ask to **sharpen** it. An edit needs ``min_support`` distinct items.
Each edit carries its item ids and evidence; the result is a new taxonomy version plus a
Markdown change list. Deterministic: no LLM is called.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from llmcode.coding.codelist import slugify
from llmcode.errors import RunStoreError
from llmcode.llm.vectors import text_vectors
from llmcode.store.models import CodingRecord
from llmcode.store.runs import Run
from llmcode.taxonomy.model import NONE_CODE, Category, Example, Taxonomy, dump_taxonomy

EditKind = Literal["new", "split", "merge", "sharpen"]


class Signal(BaseModel):
    """One item that suggests the taxonomy needs an edit."""

    item_id: str
    kind: Literal["none_fit", "low_confidence"]
    code: str
    name: str = ""
    definition: str = ""
    alternative: str | None = None
    confidence: float | None = None
    evidence: list[str] = Field(default_factory=list)


class Edit(BaseModel):
    """A proposed change with the items and quotes that support it."""

    kind: EditKind
    targets: list[str]
    title: str
    item_ids: list[str]
    evidence: list[tuple[str, str]] = Field(default_factory=list)  # (item_id, quote)


class Proposal(BaseModel):
    """The edits, the new version they make, and what had too little support."""

    run_id: str
    old: Taxonomy
    new: Taxonomy
    edits: list[Edit]
    signals: int
    unsupported: list[str] = Field(default_factory=list)


def collect_signals(run: Run, low_confidence: float = 0.5) -> list[Signal]:
    """None-fit and low-confidence items of a run's latest records."""
    signals = []
    for record in run.latest_codings().values():
        codes = [c.code for c in record.codes]
        quotes = [s.quote for c in record.codes for s in c.evidence if s.verified]
        quotes = quotes or [c.justification for c in record.codes if c.justification][:1]
        if NONE_CODE in codes and record.suggested_code is not None:
            signals.append(
                Signal(
                    item_id=record.item_id,
                    kind="none_fit",
                    code=NONE_CODE,
                    name=record.suggested_code.name.strip(),
                    definition=record.suggested_code.definition.strip(),
                    evidence=quotes[:2],
                )
            )
            continue
        known = [c for c in record.codes if c.code != NONE_CODE and c.confidence is not None]
        if known and max(c.confidence or 0.0 for c in known) < low_confidence:
            top = max(known, key=lambda c: c.confidence or 0.0)
            signals.append(
                Signal(
                    item_id=record.item_id,
                    kind="low_confidence",
                    code=top.code,
                    confidence=top.confidence,
                    alternative=_alternative(record, top.code),
                    evidence=[s.quote for s in top.evidence if s.verified][:2],
                )
            )
    return signals


def _alternative(record: CodingRecord, code: str) -> str | None:
    votes = Counter(c for s in record.samples for c in s.codes if c not in (code, NONE_CODE))
    votes.update(c.code for c in record.codes if c.code not in (code, NONE_CODE))
    return votes.most_common(1)[0][0] if votes else None


def propose(
    run: Run,
    low_confidence: float = 0.5,
    min_support: int = 2,
    similarity: float = 0.2,
    group_distance: float = 0.7,
) -> Proposal:
    """Group the run's signals into edits and apply them to a copy of its taxonomy."""
    if run.manifest().kind != "closed":
        raise RunStoreError(
            f"{run.path}: run '{run.run_id}' is not a closed-coding run "
            f"(kind {run.manifest().kind})",
            hint="propose works on a run of `llmcode code` (closed coding against a taxonomy)",
        )
    old = run.taxonomy()
    level = run.manifest().config.inputs.level
    targets = old.targets(level)
    signals = collect_signals(run, low_confidence)
    none_fit, unsupported = _none_fit_edits(
        signals, targets, min_support, similarity, group_distance
    )
    doubted, weak = _low_confidence_edits(signals, min_support)
    edits = none_fit + doubted
    unsupported += weak
    new = apply_edits(old, edits, {s.item_id: s for s in signals})
    return Proposal(
        run_id=run.run_id,
        old=old,
        new=new,
        edits=edits,
        signals=len(signals),
        unsupported=unsupported,
    )


def _none_fit_edits(
    signals: list[Signal],
    targets: list[Category],
    min_support: int,
    similarity: float,
    group_distance: float,
) -> tuple[list[Edit], list[str]]:
    """New, split and sharpen edits from the codes suggested by items coded none."""
    from sklearn.metrics.pairwise import cosine_similarity

    edits: list[Edit] = []
    unsupported: list[str] = []
    suggestions = [s for s in signals if s.kind == "none_fit" and s.name]
    unsupported += [
        f'"{s.name}" is not a category (item {s.item_id} suggested no code at all)'
        for s in suggestions
        if _means_none(s.name)
    ]
    suggestions = [s for s in suggestions if not _means_none(s.name)]
    if not suggestions:
        return edits, unsupported
    texts = [_category_text(c) for c in targets] + [
        f"{s.name} {s.name} {s.definition}" for s in suggestions
    ]
    vectors = text_vectors(texts)
    labels = _cluster_by_distance(vectors[len(targets) :], group_distance)
    groups: dict[int, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        groups[label].append(index)
    near: dict[str, list[list[Signal]]] = defaultdict(list)
    for rows in groups.values():
        members = [suggestions[i] for i in rows]
        if len({s.item_id for s in members}) < min_support:
            unsupported += [f'"{s.name}" (none fit, item {s.item_id})' for s in members]
            continue
        centroid = vectors[[len(targets) + i for i in rows]].mean(axis=0)
        scores = cosine_similarity(_dense(centroid), vectors[: len(targets)])[0]
        best = int(scores.argmax())
        if scores[best] >= similarity:
            near[targets[best].id].append(members)
        else:
            edits.append(_edit("new", [], members, "items coded none suggested it"))
    for category_id, member_groups in near.items():
        kind: EditKind = "split" if len(member_groups) > 1 else "sharpen"
        for members in member_groups:
            edits.append(
                _edit(
                    kind,
                    [category_id],
                    members,
                    f"items coded none are close to '{category_id}'",
                )
            )
    return edits, unsupported


def _low_confidence_edits(signals: list[Signal], min_support: int) -> tuple[list[Edit], list[str]]:
    """Merge edits from low-confidence votes split between two codes, else sharpen edits."""
    edits: list[Edit] = []
    unsupported: list[str] = []
    doubts = [s for s in signals if s.kind == "low_confidence"]
    pairs: dict[tuple[str, str], list[Signal]] = defaultdict(list)
    alone: dict[str, list[Signal]] = defaultdict(list)
    for signal in doubts:
        if signal.alternative:
            pairs[tuple(sorted((signal.code, signal.alternative)))].append(signal)  # type: ignore[index]
        else:
            alone[signal.code].append(signal)
    for (first, second), members in pairs.items():
        if len(members) >= min_support:
            edits.append(_edit("merge", [first, second], members, "low-confidence votes split"))
        else:
            for s in members:
                alone[s.code].append(s)
    for code, members in alone.items():
        if len(members) >= min_support:
            edits.append(_edit("sharpen", [code], members, "coded with low confidence"))
        else:
            unsupported += [f"low confidence on '{code}' (item {s.item_id})" for s in members]
    return edits, unsupported


def _means_none(name: str) -> bool:
    """A suggested "code" that says no code applies: none, n/a, no category, nothing."""
    words = " ".join(re.findall(r"[a-z0-9/]+", name.lower()))
    return words in {"none", "n/a", "na", "no category", "no code", "nothing", "none fits", ""}


def _edit(kind: EditKind, targets: list[str], members: list[Signal], why: str) -> Edit:
    names = Counter(s.name for s in members if s.name)
    name = names.most_common(1)[0][0] if names else ""
    if kind == "merge":
        title = f"merge '{targets[0]}' and '{targets[1]}': {len(members)} {why}"
    elif kind in ("new", "split") or name:
        title = f"{name}: {len(members)} {why}"
    else:
        title = f"sharpen '{targets[0]}': {len(members)} items {why}"
    return Edit(
        kind=kind,
        targets=targets,
        title=title,
        item_ids=sorted({s.item_id for s in members}),
        evidence=[(s.item_id, q) for s in members for q in s.evidence[:1]],
    )


def apply_edits(old: Taxonomy, edits: list[Edit], signals: dict[str, Signal]) -> Taxonomy:
    """A new version of ``old`` with the edits applied (new, split, sharpen, then merges)."""
    new = old.model_copy(deep=True)
    new.version = bump_version(old.version)
    taken = {c.id for c in new.walk()}
    for edit in sorted(edits, key=lambda e: e.kind == "merge"):
        members = [signals[i] for i in edit.item_ids if i in signals]
        if edit.kind in ("new", "split"):
            category = _category_from(members, edit, taken)
            edit.targets = [*edit.targets, category.id]
            parent = new.get(edit.targets[0]) if edit.kind == "split" else None
            (parent.children if parent else new.categories).append(category)
        elif edit.kind == "sharpen":
            target = new.get(edit.targets[0])
            if target is None:
                continue
            for s in members:
                criterion = f"{s.name}: {s.definition}".strip(": ") if s.name else ""
                if criterion and criterion not in target.include:
                    target.include.append(criterion)
            target.examples += _examples(edit, "coded with doubt or none; confirm it belongs")
        else:
            _merge(new, *edit.targets)
    return new


def _category_from(members: list[Signal], edit: Edit, taken: set[str]) -> Category:
    names = Counter(s.name for s in members if s.name)
    name = names.most_common(1)[0][0] if names else "New category"
    definitions = [s.definition for s in members if s.name == name and s.definition]
    definition = definitions[0] if definitions else f"Items such as: {name}."
    category = Category(
        id=slugify(name, taken),
        name=name,
        definition=definition,
        include=sorted({n for n in names if n != name}),
        examples=_examples(edit, "suggested when no category fitted"),
    )
    taken.add(category.id)
    return category


def _examples(edit: Edit, why: str) -> list[Example]:
    return [Example(text=q, why=f"item {i}: {why}") for i, q in edit.evidence[:2] if q.strip()]


def _merge(taxonomy: Taxonomy, keep_id: str, absorb_id: str) -> None:
    keep, absorb = taxonomy.get(keep_id), taxonomy.get(absorb_id)
    if keep is None or absorb is None:
        return
    keep.definition = f"{keep.definition.strip()} Also covers: {absorb.definition.strip()}"
    keep.include += [c for c in absorb.include if c not in keep.include]
    mentions = (keep.id, absorb.id)
    keep.exclude = [c for c in keep.exclude + absorb.exclude if not any(m in c for m in mentions)]
    keep.examples += absorb.examples
    keep.children += absorb.children
    _remove(taxonomy.categories, absorb_id)


def _remove(categories: list[Category], category_id: str) -> None:
    for category in list(categories):
        if category.id == category_id:
            categories.remove(category)
            return
        _remove(category.children, category_id)


def bump_version(version: str) -> str:
    """``1.2.3`` -> ``1.3.0``; ``1.2`` -> ``1.3``; anything else gets ``-proposed``."""
    match = re.fullmatch(r"(\d+)\.(\d+)(\.\d+)?", version)
    if not match:
        return f"{version}-proposed"
    minor = int(match.group(2)) + 1
    return f"{match.group(1)}.{minor}" + (".0" if match.group(3) else "")


def change_list(proposal: Proposal, yaml_name: str = "the new version") -> str:
    """The human-readable change list (Markdown)."""
    old, new = proposal.old, proposal.new
    lines = [
        f"# Proposed changes to {old.name} {old.version} -> {new.version}",
        "",
        f"From run `{proposal.run_id}`: {proposal.signals} item(s) coded none or with low "
        f"confidence. The new version is in {yaml_name}; review each edit before using it.",
        "",
    ]
    for number, edit in enumerate(proposal.edits, start=1):
        lines += [f"## {number}. {edit.kind}: {edit.title}", ""]
        lines.append(f"Categories: {', '.join(f'`{t}`' for t in edit.targets) or '-'}  ")
        lines.append(f"Supporting items ({len(edit.item_ids)}): {', '.join(edit.item_ids)}")
        if edit.evidence:
            lines += ["", "Evidence:"]
            lines += [f'- {item_id}: "{quote}"' for item_id, quote in edit.evidence]
        if edit.kind == "sharpen":
            lines += ["", "Reword the definition so these items are clearly in or out."]
        lines.append("")
    if not proposal.edits:
        lines += ["No edit has enough supporting items.", ""]
    if proposal.unsupported:
        lines += ["## Too little support (not proposed)", ""]
        lines += [f"- {entry}" for entry in proposal.unsupported]
        lines.append("")
    return "\n".join(lines)


def write_proposal(
    proposal: Proposal, output: str | Path, changes: str | Path | None = None
) -> Path:
    """Write the proposed version to ``output`` (YAML with a provenance header) and its change
    list next to it (default: OUTPUT with ``.changes.md``); returns the change list's path."""
    output = Path(output)
    changes = (
        Path(changes)
        if changes
        else output.with_name(output.name.removesuffix(".yaml") + ".changes.md")
    )
    header = (
        f"{proposal.new.name} {proposal.new.version}: proposed by `llmcode taxonomy propose` "
        f"from run {proposal.run_id}\nchanges and their evidence: {changes.name}"
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(dump_taxonomy(proposal.new, header=header), encoding="utf-8")
    changes.write_text(change_list(proposal, output.name), encoding="utf-8")
    return changes


def _cluster_by_distance(vectors: object, distance: float) -> list[int]:
    n = vectors.shape[0]  # type: ignore[attr-defined]
    if n <= 1:
        return [0] * n
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.metrics.pairwise import cosine_distances

    model = AgglomerativeClustering(
        n_clusters=None, metric="precomputed", linkage="average", distance_threshold=distance
    )
    return [int(x) for x in model.fit_predict(cosine_distances(vectors))]


def _dense(row: object) -> object:
    import numpy as np

    return np.asarray(row).reshape(1, -1)


def _category_text(category: Category) -> str:
    return " ".join([category.name, category.name, category.definition, *category.include])
