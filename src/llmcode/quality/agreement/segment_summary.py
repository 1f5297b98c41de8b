"""One call from two coders' passages to every segment agreement figure, with bootstrap CIs.

Owns `compare_segments`: Krippendorff's α_U (overall and per code) on the compared documents
concatenated in the texts' order as one continuum, the character-level Cohen's κ per code, and
segment precision / recall / F1 at an IoU threshold (overall, micro over codes, and per code),
each with a percentile interval from the same seeded resamples of documents (a resample's
documents are concatenated in item order, repeats side by side). The result is the JSON contract
of ``agree --unit segment``: ``unitizing_alpha: {overall, per_code: {code: value}}``,
``char_kappa``, ``segments``, ``ci95``; an undefined value is null, never NaN.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from llmcode.errors import AgreementError
from llmcode.items import ItemSet
from llmcode.quality.agreement.bootstrap import percentile_interval, resample_weights
from llmcode.quality.agreement.inputs import (
    MIN_COVERAGE,
    Input,
    document_texts,
    segment_inputs,
)
from llmcode.quality.agreement.overlap import (
    DEFAULT_IOU,
    FloatArray,
    character_counts,
    iou_matches,
    kappa_from_counts,
    precision_recall_f1,
)
from llmcode.quality.agreement.segments import DocumentSegments, arrange_segments, concatenate
from llmcode.quality.agreement.unitizing import (
    alpha_from_units,
    disagreement_sum,
    expected_disagreement,
)

Interval = tuple[float, float] | None


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class UnitizingAlphaResult(_Model):
    overall: float | None
    per_code: dict[str, float | None]


class CodeCharacters(_Model):
    """Characters of one code: coded by each coder and by both (of ``n_characters``)."""

    kappa: float | None
    coded: dict[str, int]
    both: int


class SegmentMatch(_Model):
    """Passages of one code (or all): matched one-to-one at the IoU threshold."""

    precision: float | None
    recall: float | None
    f1: float | None
    matched: int
    n_reference: int
    n_compared: int


class SegmentBootstrap(_Model):
    n_resamples: int
    seed: int
    confidence: float
    method: str = "percentile interval, documents resampled with replacement"


class SegmentAgreement(_Model):
    """Everything ``agree --unit segment`` reports; ``model_dump(mode="json")`` is its JSON."""

    coders: list[str]
    reference: str
    n_documents: int
    n_characters: int
    documents: list[str]
    documents_excluded: list[str]
    iou_threshold: float
    unitizing_alpha: UnitizingAlphaResult
    char_kappa: dict[str, CodeCharacters]
    segments: SegmentMatch
    segments_per_code: dict[str, SegmentMatch]
    ci95: dict[str, object]
    bootstrap: SegmentBootstrap | None
    notes: list[str]
    warnings: list[str] = []


def compare_segments(
    codes: pd.DataFrame | Input | Sequence[Input],
    texts: Mapping[str, str] | None = None,
    *,
    items: str | Path | ItemSet | None = None,
    coders: Sequence[str] | None = None,
    iou: float = DEFAULT_IOU,
    bootstrap: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    min_coverage: float = MIN_COVERAGE,
    runs_dir: str | Path | None = None,
) -> SegmentAgreement:
    """Segment agreement of two coders (``item_id, coder, code, start, end``) on ``texts``.

    ``codes`` is a DataFrame, or code files, runs, run directories and run ids (see
    `llmcode.quality.agreement.inputs.segment_inputs`); the texts are ``texts``, else those of
    ``items`` (an items file, a document or a folder of documents), else a run's item snapshot.
    The first coder is the reference of precision and recall. ``bootstrap`` resamples of the
    documents (0: none; needs two documents) give the intervals.
    """
    if not 0 < iou <= 1:
        raise AgreementError(f"the IoU threshold must be in (0, 1], not {iou}")
    warnings: list[str] = []
    if isinstance(codes, pd.DataFrame):
        texts = texts if texts is not None else document_texts(items)
    else:
        codes, found, warnings = segment_inputs(
            codes, items=items, min_coverage=min_coverage, runs_dir=runs_dir
        )
        texts = texts if texts is not None else found
    arranged = arrange_segments(codes, texts, coders=coders)
    if len(arranged.coders) != 2:
        raise AgreementError(
            f"segment agreement compares two coders, got {len(arranged.coders)}: "
            + ", ".join(arranged.coders)
        )
    counts = _Counts(arranged, iou)
    alpha = alpha_from_units(concatenate(arranged), 0, arranged.length)
    first, second = arranged.coders
    char_kappa = {
        code: CodeCharacters(
            kappa=_value(counts.kappa(code, counts.ones)[0]),
            coded={
                first: int(counts.chars[code][:, 0].sum()),
                second: int(counts.chars[code][:, 1].sum()),
            },
            both=int(counts.chars[code][:, 2].sum()),
        )
        for code in arranged.codes
    }
    notes = []
    if arranged.excluded:
        notes.append(
            f"{len(arranged.excluded)} document(s) not covered by both coders were left out: "
            + ", ".join(arranged.excluded[:10])
            + (" ..." if len(arranged.excluded) > 10 else "")
        )
    ci95: dict[str, object] = {}
    info = None
    if bootstrap > 0:
        if len(arranged.documents) < 2:
            notes.append("no confidence intervals: bootstrapping needs at least two documents")
        else:
            ci95 = _intervals(arranged, counts, bootstrap, seed, confidence)
            info = SegmentBootstrap(n_resamples=bootstrap, seed=seed, confidence=confidence)
    return SegmentAgreement(
        coders=list(arranged.coders),
        reference=first,
        n_documents=len(arranged.documents),
        n_characters=arranged.length,
        documents=list(arranged.documents),
        documents_excluded=list(arranged.excluded),
        iou_threshold=iou,
        unitizing_alpha=UnitizingAlphaResult(overall=alpha.overall, per_code=alpha.per_code),
        char_kappa=char_kappa,
        segments=counts.match(None, counts.ones),
        segments_per_code={code: counts.match(code, counts.ones) for code in arranged.codes},
        ci95=ci95,
        bootstrap=info,
        notes=notes,
        warnings=warnings,
    )


class _Counts:
    """Per-document counts (rows: documents) that every additive figure is computed from."""

    def __init__(self, arranged: DocumentSegments, iou: float) -> None:
        self.arranged = arranged
        n = len(arranged.documents)
        self.ones = np.ones((1, n))
        self.chars: dict[str, FloatArray] = {}
        self.matches: dict[str, FloatArray] = {}
        self.sums: dict[str, FloatArray] = {}
        for code in arranged.codes:
            chars, matches, sums = np.zeros((n, 4)), np.zeros((n, 3)), np.zeros(n)
            for d, (spans, length) in enumerate(
                zip(arranged.units[code], arranged.lengths, strict=True)
            ):
                chars[d] = character_counts(spans[0], spans[1], length)
                matches[d] = (
                    iou_matches(spans[0], spans[1], iou),
                    spans[0][0].size,
                    spans[1][0].size,
                )
                sums[d] = disagreement_sum(spans)
            self.chars[code], self.matches[code], self.sums[code] = chars, matches, sums

    def kappa(self, code: str, weights: FloatArray) -> FloatArray:
        a, b, both, total = (weights @ self.chars[code]).T
        return kappa_from_counts(a, b, both, total)

    def match_counts(self, code: str | None, weights: FloatArray) -> FloatArray:
        codes = self.arranged.codes if code is None else (code,)
        if not codes:
            return np.zeros((weights.shape[0], 3))
        return sum(weights @ self.matches[c] for c in codes)  # type: ignore[return-value]

    def match(self, code: str | None, weights: FloatArray) -> SegmentMatch:
        matched, n_ref, n_cmp = self.match_counts(code, weights)[0]
        p, r, f = precision_recall_f1(np.array([matched]), np.array([n_ref]), np.array([n_cmp]))
        return SegmentMatch(
            precision=_value(p[0]),
            recall=_value(r[0]),
            f1=_value(f[0]),
            matched=int(matched),
            n_reference=int(n_ref),
            n_compared=int(n_cmp),
        )


def _intervals(
    arranged: DocumentSegments, counts: _Counts, n_resamples: int, seed: int, confidence: float
) -> dict[str, object]:
    weights = resample_weights(len(arranged.documents), n_resamples, np.random.default_rng(seed))
    alpha_per_code, alpha_overall = _alpha_replicates(arranged, counts, weights)
    ci = lambda values: _interval(values, confidence)  # noqa: E731
    per_code_match = {}
    for code in [*arranged.codes, None]:
        matched, n_ref, n_cmp = counts.match_counts(code, weights).T
        p, r, f = precision_recall_f1(matched, n_ref, n_cmp)
        per_code_match[code] = {"precision": ci(p), "recall": ci(r), "f1": ci(f)}
    return {
        "unitizing_alpha": {
            "overall": ci(alpha_overall),
            "per_code": {code: ci(alpha_per_code[code]) for code in arranged.codes},
        },
        "char_kappa": {code: ci(counts.kappa(code, weights)) for code in arranged.codes},
        "segments": per_code_match.pop(None),
        "segments_per_code": per_code_match,
    }


def _alpha_replicates(
    arranged: DocumentSegments, counts: _Counts, weights: FloatArray
) -> tuple[dict[str, FloatArray], FloatArray]:
    """α_U per code and overall on every resample: D_O adds up over documents; D_E needs the
    resample's own continuum (gaps run across document boundaries)."""
    m = len(arranged.coders)
    lengths = weights @ np.asarray(arranged.lengths, dtype=np.float64)
    observed = {
        code: 2.0 * (weights @ counts.sums[code]) / (m * (m - 1) * lengths**2)
        for code in arranged.codes
    }
    expected = {code: np.zeros(weights.shape[0]) for code in arranged.codes}
    for b, row in enumerate(weights):
        order = np.repeat(np.arange(row.size), row.astype(np.int64))
        units = concatenate(arranged, order.tolist())
        for code in arranged.codes:
            expected[code][b] = expected_disagreement(units[code], 0, int(lengths[b]))
    with np.errstate(divide="ignore", invalid="ignore"):
        per_code = {
            code: np.where(expected[code] > 0, 1 - observed[code] / expected[code], np.nan)
            for code in arranged.codes
        }
        total_o = sum(observed.values(), np.zeros(weights.shape[0]))
        total_e = sum(expected.values(), np.zeros(weights.shape[0]))
        overall = np.where(total_e > 0, 1 - total_o / total_e, np.nan)
    return per_code, overall


def _interval(values: FloatArray, confidence: float) -> Interval:
    found = percentile_interval(np.asarray(values, dtype=np.float64), confidence)
    return None if found.low is None or found.high is None else (found.low, found.high)


def _value(value: float) -> float | None:
    return None if np.isnan(value) else float(value)
