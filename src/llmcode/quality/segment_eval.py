"""Evaluate coders' passages against gold passages: P/R/F1 per system and code, a human ceiling.

Owns `evaluate_segments`, the library side of evaluating segment coding: each system (a run's
coder, or any other coder) is compared with the gold coder(s) on the same documents — those every
gold coder and every system covered, in the texts' order — passage by passage at an IoU
threshold (see `overlap`): precision (matched / the system's passages), recall (matched / the
gold's), F1, overall (micro over codes) and per code with its support, each with a percentile
interval from the same seeded resamples of documents. With several gold coders the system is
compared with each and the counts are pooled; their own agreement (each gold coder against the
others, pooled) is the human ceiling. With several systems, paired F1 differences on the same
resamples say whether one is credibly better (its interval excludes 0). `evaluate_segment_runs`
reads runs (or code files) and gold files as ``eval --unit segment`` does, the documents' texts
from ``items`` or the first run's snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from llmcode.errors import AgreementError
from llmcode.quality.agreement.bootstrap import percentile_interval, resample_weights
from llmcode.quality.agreement.overlap import (
    DEFAULT_IOU,
    FloatArray,
    iou_matches,
    precision_recall_f1,
)
from llmcode.quality.agreement.segments import DocumentSegments, arrange_segments

Interval = tuple[float, float] | None
METRICS = ("precision", "recall", "f1")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SegmentCodeScore(_Model):
    """One code: passages matched at the threshold, against the gold's (support) and the
    system's, with intervals for precision, recall and F1."""

    precision: float | None
    recall: float | None
    f1: float | None
    support: int
    n_predicted: int
    matched: int
    ci95: dict[str, Interval] = {}


class SegmentScores(SegmentCodeScore):
    """A system (or the human ceiling) overall, micro over codes, and per code."""

    per_code: dict[str, SegmentCodeScore]


class PairedF1(_Model):
    """F1 of the first system minus the second's, on the same document resamples."""

    systems: tuple[str, str]
    difference: float | None
    ci95: Interval
    credible: bool


class SegmentEvaluation(_Model):
    """Everything a segment evaluation reports; ``model_dump(mode="json")`` is its JSON."""

    gold: list[str]
    systems: list[str]
    iou_threshold: float
    n_documents: int
    documents: list[str]
    documents_excluded: list[str]
    runs: dict[str, SegmentScores]
    human_ceiling: SegmentScores | None
    paired: list[PairedF1]
    n_resamples: int
    seed: int
    notes: list[str]


def evaluate_segments(
    codes: pd.DataFrame,
    texts: Mapping[str, str],
    *,
    gold: Sequence[str],
    systems: Sequence[str] | None = None,
    iou: float = DEFAULT_IOU,
    bootstrap: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> SegmentEvaluation:
    """Passages of ``systems`` (default: every coder not in ``gold``) against the ``gold``
    coders' (``item_id, coder, code, start, end``) on ``texts`` (item_id -> text, in order)."""
    if not 0 < iou <= 1:
        raise AgreementError(f"the IoU threshold must be in (0, 1], not {iou}")
    gold = list(dict.fromkeys(gold))
    if not gold:
        raise AgreementError("name the gold coder(s) to evaluate against")
    coders = list(dict.fromkeys(codes["coder"].astype(str)))
    chosen = list(systems) if systems is not None else [c for c in coders if c not in gold]
    if not chosen:
        raise AgreementError(
            f"nothing to evaluate: every coder is a gold coder ({', '.join(gold)})",
            hint="give the passages of a run or another coder as well",
        )
    overlap = sorted(set(chosen) & set(gold))
    if overlap:
        raise AgreementError(f"coder(s) both gold and evaluated: {', '.join(overlap)}")
    arranged = arrange_segments(codes, texts, coders=[*gold, *chosen])
    index = {coder: k for k, coder in enumerate(arranged.coders)}
    tables = {
        system: _pooled(arranged, [(index[g], index[system]) for g in gold], iou)
        for system in chosen
    }
    ceiling_pairs = [(index[a], index[b]) for a, b in combinations(gold, 2)]
    ceiling_pairs += [(b, a) for a, b in ceiling_pairs]
    ceiling = _pooled(arranged, ceiling_pairs, iou) if ceiling_pairs else None
    n_docs = len(arranged.documents)
    notes = []
    if arranged.excluded:
        notes.append(
            f"{len(arranged.excluded)} document(s) not covered by every coder were left out: "
            + ", ".join(arranged.excluded[:10])
        )
    weights = np.ones((1, n_docs))
    if bootstrap > 0 and n_docs < 2:
        notes.append("no confidence intervals: bootstrapping needs at least two documents")
        bootstrap = 0
    if bootstrap > 0:
        weights = np.vstack(
            [weights, resample_weights(n_docs, bootstrap, np.random.default_rng(seed))]
        )
    runs = {s: _scores(table, weights, arranged.codes, confidence) for s, table in tables.items()}
    paired = [
        _paired(a, b, tables[a], tables[b], weights, confidence) for a, b in combinations(chosen, 2)
    ]
    return SegmentEvaluation(
        gold=gold,
        systems=chosen,
        iou_threshold=iou,
        n_documents=n_docs,
        documents=list(arranged.documents),
        documents_excluded=list(arranged.excluded),
        runs=runs,
        human_ceiling=None
        if ceiling is None
        else _scores(ceiling, weights, arranged.codes, confidence),
        paired=paired,
        n_resamples=bootstrap,
        seed=seed,
        notes=notes,
    )


def _pooled(
    arranged: DocumentSegments, pairs: list[tuple[int, int]], iou: float
) -> dict[str, FloatArray]:
    """Per code, per document: (matched, gold passages, system passages), summed over the
    (gold, system) coder pairs."""
    table: dict[str, FloatArray] = {}
    for code in arranged.codes:
        counts = np.zeros((len(arranged.documents), 3))
        for d, spans in enumerate(arranged.units[code]):
            for reference, compared in pairs:
                counts[d] += (
                    iou_matches(spans[reference], spans[compared], iou),
                    spans[reference][0].size,
                    spans[compared][0].size,
                )
        table[code] = counts
    return table


def _scores(
    table: dict[str, FloatArray], weights: FloatArray, codes: Sequence[str], confidence: float
) -> SegmentScores:
    """Row 0 of ``weights`` is the sample itself; the other rows are resamples."""
    per_code = {code: _score(weights @ table[code], confidence) for code in codes}
    total = sum((weights @ table[code] for code in codes), np.zeros((weights.shape[0], 3)))
    overall = _score(total, confidence)
    return SegmentScores(**overall.model_dump(), per_code=per_code)


def _score(counts: FloatArray, confidence: float) -> SegmentCodeScore:
    matched, support, predicted = counts.T
    values = dict(zip(METRICS, precision_recall_f1(matched, support, predicted), strict=True))
    ci95 = {}
    if counts.shape[0] > 1:
        ci95 = {name: _interval(value[1:], confidence) for name, value in values.items()}
    return SegmentCodeScore(
        precision=_value(values["precision"][0]),
        recall=_value(values["recall"][0]),
        f1=_value(values["f1"][0]),
        support=int(support[0]),
        n_predicted=int(predicted[0]),
        matched=int(matched[0]),
        ci95=ci95,
    )


def _paired(
    first: str,
    second: str,
    table_a: dict[str, FloatArray],
    table_b: dict[str, FloatArray],
    weights: FloatArray,
    confidence: float,
) -> PairedF1:
    def f1(table: dict[str, FloatArray]) -> FloatArray:
        total = sum(
            (weights @ counts for counts in table.values()), np.zeros((weights.shape[0], 3))
        )
        return precision_recall_f1(*total.T)[2]

    difference = f1(table_a) - f1(table_b)
    interval = _interval(difference[1:], confidence) if weights.shape[0] > 1 else None
    credible = interval is not None and (interval[0] > 0 or interval[1] < 0)
    return PairedF1(
        systems=(first, second),
        difference=_value(difference[0]),
        ci95=interval,
        credible=credible,
    )


def _interval(values: FloatArray, confidence: float) -> Interval:
    found = percentile_interval(np.asarray(values, dtype=np.float64), confidence)
    return None if found.low is None or found.high is None else (found.low, found.high)


def _value(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def evaluate_segment_runs(
    runs: Sequence[str | Path],
    gold: str | Path | Sequence[str | Path],
    *,
    coders: Sequence[str] | None = None,
    items: str | Path | None = None,
    iou: float = DEFAULT_IOU,
    bootstrap: int = 1000,
    seed: int = 0,
    runs_dir: str | Path | None = None,
) -> SegmentEvaluation:
    """``runs`` (ids, run directories, or code files of other coders) against the passages of
    the ``gold`` files' coders (``coders``: some of them); see `evaluate_segments`."""
    from llmcode.quality.agreement.inputs import read_inputs, resolve_input, segment_inputs

    golds = [gold] if isinstance(gold, str | Path) else list(gold)
    if not golds:
        raise AgreementError("give the gold passages (a codes file with start, end)")
    refs: list[str | Path] = [*runs, *golds]
    codes, texts, _ = segment_inputs(refs, items=items, runs_dir=runs_dir)
    in_gold = list(dict.fromkeys(read_inputs([resolve_input(g) for g in golds])["coder"]))
    gold_coders = in_gold
    if coders:
        unknown = [c for c in coders if c not in gold_coders]
        if unknown:
            raise AgreementError(
                f"no gold passages of coder(s) {', '.join(unknown)}",
                hint=f"the gold files hold {', '.join(map(str, gold_coders))}",
            )
        gold_coders = list(coders)
    systems = [c for c in dict.fromkeys(codes["coder"]) if c not in in_gold]
    return evaluate_segments(
        codes,
        texts,
        gold=gold_coders,
        systems=systems,
        iou=iou,
        bootstrap=bootstrap,
        seed=seed,
    )
