"""Krippendorff's unitizing alpha (α_U) on one continuum: overall and per code.

Owns the coefficient of Krippendorff (2004), Content Analysis: An Introduction to Its
Methodology, 2nd ed., Sage (also "Measuring the reliability of qualitative text analysis data",
Quality & Quantity 38, 2004; first in Sociological Methodology 25, 1995): m coders each cut the
same continuum of length L into units, each unit carrying one code; for every code the continuum
of a coder is a sequence of that code's units and the gaps between them. The observed
disagreement of code c compares every section (unit or gap) of one coder with every overlapping
section of another::

    δ(g, h) = (b_g − b_h)² + (e_g − e_h)²   both units, overlapping
            = l_g²                          a unit g lying inside a gap h (and the mirror case)
            = 0                             otherwise
    D_O,c = Σ_{i≠j} Σ_g Σ_h δ(g, h) / (m (m − 1) L²)

and the expected disagreement counts every way the units could have been placed::

    D_E,c = (2/L) Σ_units [ (N_c − 1)/3 · (2l³ − 3l² + l) + l² Σ_{gaps, γ ≥ l} (γ − l + 1) ]
            / ( mL (mL − 1) − Σ_units l (l − 1) )

with N_c the number of units of c over all coders. α_c = 1 − D_O,c / D_E,c and the overall
α_U = 1 − Σ_c D_O,c / Σ_c D_E,c. Computed independently in numpy; on Krippendorff's own example
(p. 254) it gives what DKPro Statistics' ``KrippendorffAlphaUnitizingAgreement`` gives (the test
names both). The units of one coder and code may touch but not overlap (they are an error here).
A code no coder used has D_E = 0, and its α is undefined (None), as is the overall α_U when no
code was used at all. These are the 2004 coefficients; Krippendorff et al.'s 2016 family (uα,
|uα, cuα, |cuα, for units that may overlap and categories compared across them) are different
coefficients and are not computed here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from llmcode.errors import AgreementError

IntArray = npt.NDArray[np.int64]
Spans = tuple[IntArray, IntArray]
"""One coder's units of one code: sorted starts and ends (end exclusive)."""
SEGMENT_COLUMNS = ("coder", "code", "start", "end")


@dataclass(frozen=True)
class UnitizingAlpha:
    """α_U overall and per code, with each code's observed and expected disagreement."""

    overall: float | None
    per_code: dict[str, float | None]
    observed: dict[str, float]
    expected: dict[str, float]


def unitizing_alpha(
    segments: pd.DataFrame,
    length: int,
    *,
    coders: Sequence[str] | None = None,
    begin: int = 0,
) -> UnitizingAlpha:
    """α_U for segments (columns coder, code, start, end) on the continuum [begin, begin+length).

    ``coders`` are the coders who unitized the continuum (default: those in ``segments``); a
    coder without a unit of some code counts, as one long gap.
    """
    missing = [c for c in SEGMENT_COLUMNS if c not in segments.columns]
    if missing:
        raise AgreementError(f"segments lack the column(s) {', '.join(missing)}")
    names = list(coders) if coders is not None else sorted(set(segments["coder"].astype(str)))
    if len(names) < 2:
        raise AgreementError(
            f"unitizing alpha needs at least two coders, got {len(names)}",
            hint="compare two coders' segments of the same documents",
        )
    unknown = sorted(set(segments["coder"].astype(str)) - set(names))
    if unknown:
        raise AgreementError(f"segments of coder(s) not compared: {', '.join(unknown)}")
    units: dict[str, list[Spans]] = {}
    for code in sorted(set(segments["code"].astype(str))):
        rows = segments[segments["code"].astype(str) == code]
        units[code] = [
            spans_of(rows[rows["coder"].astype(str) == coder], begin, length, code, coder)
            for coder in names
        ]
    return alpha_from_units(units, begin, length)


def alpha_from_units(
    units: Mapping[str, Sequence[Spans]], begin: int, length: int
) -> UnitizingAlpha:
    """α_U from each code's units per coder (every code lists the same coders, in order)."""
    if length <= 0:
        raise AgreementError(f"the continuum must have a positive length, not {length}")
    observed: dict[str, float] = {}
    expected: dict[str, float] = {}
    per_code: dict[str, float | None] = {}
    for code, spans in units.items():
        observed[code] = observed_disagreement(spans, length)
        expected[code] = expected_disagreement(spans, begin, length)
        per_code[code] = _alpha(observed[code], expected[code])
    overall = _alpha(sum(observed.values()), sum(expected.values()))
    return UnitizingAlpha(overall, per_code, observed, expected)


def spans_of(rows: pd.DataFrame, begin: int, length: int, code: str, coder: str) -> Spans:
    """One coder's units of one code as sorted arrays; outside the continuum or overlapping is an
    error naming the code and coder."""
    starts = rows["start"].to_numpy(dtype=np.int64)
    ends = rows["end"].to_numpy(dtype=np.int64)
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    bad = (ends <= starts) | (starts < begin) | (ends > begin + length)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AgreementError(
            f"coder {coder!r}, code {code!r}: segment [{starts[i]}, {ends[i]}) is empty or outside "
            f"the continuum [{begin}, {begin + length})"
        )
    clash = np.flatnonzero(starts[1:] < ends[:-1])
    if clash.size:
        i = int(clash[0])
        raise AgreementError(
            f"coder {coder!r}, code {code!r}: segments [{starts[i]}, {ends[i]}) and "
            f"[{starts[i + 1]}, {ends[i + 1]}) overlap",
            hint="one coder's segments of one code must not overlap: merge them into one",
        )
    return starts, ends


def observed_disagreement(spans: Sequence[Spans], length: int) -> float:
    """D_O of one code: every pair of coders, every pair of overlapping sections."""
    m = len(spans)
    return 2.0 * disagreement_sum(spans) / (m * (m - 1) * float(length) ** 2)


def disagreement_sum(spans: Sequence[Spans]) -> float:
    """Σ δ over every unordered pair of coders and of their sections (D_O's numerator, halved).

    It adds up over stretches of the continuum that no unit crosses, such as documents."""
    total = 0.0
    for i in range(len(spans)):
        for j in range(i + 1, len(spans)):
            total += _pair_disagreement(spans[i], spans[j])
    return total


def _pair_disagreement(first: Spans, second: Spans) -> float:
    """Σ δ over the sections of two coders, each unordered pair of sections once."""
    (b1, e1), (b2, e2) = first, second
    # units of `second` overlapping unit k of `first`: the run lo[k]..hi[k]-1 (sorted, disjoint)
    lo = np.searchsorted(e2, b1, side="right")
    hi = np.searchsorted(b2, e1, side="left")
    counts = np.maximum(hi - lo, 0)
    alone_1 = counts == 0  # a unit of the first coder inside a gap of the second
    total = float(np.sum((e1[alone_1] - b1[alone_1]).astype(np.float64) ** 2))
    back_lo = np.searchsorted(e1, b2, side="right")
    back_hi = np.searchsorted(b1, e2, side="left")
    alone_2 = back_hi <= back_lo
    total += float(np.sum((e2[alone_2] - b2[alone_2]).astype(np.float64) ** 2))
    if counts.sum():
        k = np.repeat(np.arange(b1.size), counts)
        offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        h = np.repeat(lo, counts) + offsets
        starts = (b1[k] - b2[h]).astype(np.float64)
        ends = (e1[k] - e2[h]).astype(np.float64)
        total += float(np.sum(starts**2 + ends**2))
    return total


def gaps_of(spans: Spans, begin: int, length: int) -> IntArray:
    """The positive gaps of one coder's units of one code, including both ends of the continuum."""
    starts, ends = spans
    before = np.concatenate(([begin], ends))
    after = np.concatenate((starts, [begin + length]))
    gaps = after - before
    return gaps[gaps > 0]


def expected_disagreement(spans: Sequence[Spans], begin: int, length: int) -> float:
    """D_E of one code: all placements of its units in the gaps of all coders."""
    m = len(spans)
    lengths = np.concatenate([e - b for b, e in spans]).astype(np.float64)
    if lengths.size == 0:
        return 0.0
    gaps = np.sort(np.concatenate([gaps_of(s, begin, length) for s in spans]).astype(np.float64))
    # Σ_{γ ≥ l} (γ − l + 1) for every unit length l, from suffix sums of the sorted gaps
    suffix = np.concatenate((np.cumsum(gaps[::-1])[::-1], [0.0]))
    first = np.searchsorted(gaps, lengths, side="left")
    fitting = gaps.size - first
    room = suffix[first] - fitting * (lengths - 1.0)
    n_units = lengths.size
    placements = (n_units - 1.0) / 3.0 * (2 * lengths**3 - 3 * lengths**2 + lengths)
    numerator = 2.0 / length * float(np.sum(placements + lengths**2 * room))
    total = float(m) * length
    denominator = total * (total - 1.0) - float(np.sum(lengths * (lengths - 1.0)))
    return numerator / denominator


def _alpha(observed: float, expected: float) -> float | None:
    return None if expected == 0 else 1.0 - observed / expected
