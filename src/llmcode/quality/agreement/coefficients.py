"""Agreement coefficients on `Ratings`, vectorised over item weights.

Every coefficient has two forms. ``name_batch(ratings, weights)`` takes item weights of shape
(B, n_items) — row b says how often each item was drawn in resample b; a row of ones is the
sample itself — and returns B values, NaN where the coefficient is undefined. ``name(ratings)``
returns one float and raises `AgreementError` saying why when it is undefined. Point estimates
and bootstrap replicates therefore run through the same code.

Definitions, all on the pairable items u (coded by m_u ≥ 2 coders; n_uc of them chose label c):

* Percent agreement: the mean over items of the share of agreeing coder pairs,
  Σ_c n_uc(n_uc−1) / (m_u(m_u−1)). Two coders: the share of items coded alike. Multi-label: sets
  must match exactly.
* Cohen's κ (exactly two coders): (p_o − p_e)/(1 − p_e) with each coder's own marginals; the
  weighted forms use disagreement weights |i−j| (linear) or (i−j)² (quadratic) on the positions
  i, j of the labels in category order (as scikit-learn and statsmodels do).
* Fleiss' κ: p_a = percent agreement, p_e = Σ_c π_c², π_c = mean over items of n_uc/m_u
  (Gwet's generalisation to items with different numbers of coders; Fleiss 1971 when all items
  have the same number).
* Gwet's AC1: p_e = Σ_c π_c(1−π_c)/(q−1) with π_c taken, as Gwet (2014, ch. 4) and irrCAC do,
  over every item rated at least once (an item coded by one coder adds share 1 to its label);
  p_a is percent agreement on the pairable items. Brennan–Prediger: p_e = 1/q. q = number of
  labels (the observed labels, or every given category).
* Krippendorff's α = 1 − D_o/D_e from the coincidence matrix of pairable values, with the
  nominal, ordinal (rank-sum), interval (squared difference), MASI or Jaccard distance. MASI
  follows Passonneau (2006) and NLTK: 1 − J·M with M = 1, 2/3, 1/3, 0 for identical sets, a
  subset, an overlap, disjoint sets. Two empty sets are at distance 0.
* Multi-label data: α uses a set distance; the other coefficients treat each distinct code set
  as one nominal category (exact-set agreement).
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse

from llmcode.errors import AgreementError
from llmcode.quality.agreement.ratings import Ratings

Metric = Literal["nominal", "ordinal", "interval", "masi", "jaccard"]
KappaWeighting = Literal["none", "linear", "quadratic"]
FloatArray = npt.NDArray[np.float64]
_TINY = 1e-12


def ones(ratings: Ratings) -> FloatArray:
    """The weights of the sample itself: one row of ones."""
    return np.ones((1, ratings.n_items))


# --- per-item building blocks (cached on the Ratings) -------------------------------------


def _weighted_sum(weights: FloatArray, matrix: sparse.csr_matrix | FloatArray) -> FloatArray:
    """weights (B, n) @ matrix (n, K) -> (B, K), for sparse or dense `matrix`."""
    if sparse.issparse(matrix):
        return np.asarray((matrix.T @ weights.T).T)
    return weights @ matrix


def _item_agreement(ratings: Ratings) -> FloatArray:
    """Per item: the share of ordered coder pairs that agree."""
    if "agreement" not in ratings._cache:
        first, second, both = ratings.pair_columns
        agree = 2.0 * ((first == second) & both).sum(axis=1)
        m = ratings.n_coded
        ratings._cache["agreement"] = agree / (m * (m - 1))
    return ratings._cache["agreement"]


def _item_disagreement(ratings: Ratings, metric: Metric, delta: FloatArray) -> FloatArray:
    """Per item: Σ over ordered coder pairs of δ(c_j, c_l) / (m_u − 1) (its D_o contribution)."""
    key = f"disagreement:{metric}"
    if key not in ratings._cache:
        first, second, both = ratings.pair_columns
        total = 2.0 * np.where(both, delta[first, second], 0.0).sum(axis=1)
        ratings._cache[key] = total / (ratings.n_coded - 1)
    return ratings._cache[key]


def _coincidence_terms(ratings: Ratings) -> sparse.csr_matrix:
    """Items × (K·K): each item's contribution to the coincidence matrix."""
    if "coincidences" not in ratings._cache:
        k = ratings.n_labels
        first, second, both = ratings.pair_columns
        rows, pairs = np.nonzero(both)
        a, b = first[rows, pairs], second[rows, pairs]
        share = 1.0 / (ratings.n_coded[rows] - 1)
        matrix = sparse.csr_matrix(
            (
                np.concatenate([share, share]),
                (np.concatenate([rows, rows]), np.concatenate([a * k + b, b * k + a])),
            ),
            shape=(ratings.n_items, k * k),
        )
        ratings._cache["coincidences"] = matrix
    return ratings._cache["coincidences"]


def _proportions(ratings: Ratings) -> sparse.csr_matrix | FloatArray:
    """Items × labels: n_uc / m_u."""
    if "proportions" not in ratings._cache:
        counts = ratings.counts
        if sparse.issparse(counts):
            ratings._cache["proportions"] = sparse.diags(1.0 / ratings.n_coded) @ counts
        else:
            ratings._cache["proportions"] = counts / ratings.n_coded[:, None]
    return ratings._cache["proportions"]


def _one_hot(labels: npt.NDArray[np.int64], k: int) -> sparse.csr_matrix:
    n = len(labels)
    return sparse.csr_matrix((np.ones(n), (np.arange(n), labels)), shape=(n, k))


def _ratio(numerator: FloatArray, denominator: FloatArray, scale: float = 1.0) -> FloatArray:
    out = np.full(numerator.shape, np.nan)
    ok = denominator > _TINY * scale
    np.divide(numerator, denominator, out=out, where=ok)
    return out


def _chance_corrected(observed: FloatArray, expected: FloatArray) -> FloatArray:
    return _ratio(observed - expected, 1.0 - expected)


# --- distances -----------------------------------------------------------------------------


def masi_distance(first: AbstractSet[str], second: AbstractSet[str]) -> float:
    """MASI distance between two code sets (Passonneau 2006, as in NLTK)."""
    return float(_set_distances(_membership(first, second), "masi")[0, 1])


def jaccard_distance(first: AbstractSet[str], second: AbstractSet[str]) -> float:
    """Jaccard distance 1 − |A∩B|/|A∪B| between two code sets (0 for two empty sets)."""
    return float(_set_distances(_membership(first, second), "jaccard")[0, 1])


def _membership(first: AbstractSet[str], second: AbstractSet[str]) -> npt.NDArray[np.bool_]:
    codes = sorted(set(first) | set(second))
    return np.array([[c in first for c in codes], [c in second for c in codes]], dtype=bool)


def _set_distances(membership: npt.NDArray[np.bool_], metric: Metric) -> FloatArray:
    sets = membership.astype(np.float64)
    inter = sets @ sets.T
    size = sets.sum(axis=1)
    union = size[:, None] + size[None, :] - inter
    similarity = np.divide(inter, union, out=np.ones_like(inter), where=union > 0)
    if metric == "jaccard":
        return 1.0 - similarity
    identical = (inter == size[:, None]) & (inter == size[None, :])
    nested = inter == np.minimum(size[:, None], size[None, :])
    monotonicity = np.select([identical, nested, inter > 0], [1.0, 2 / 3, 1 / 3], 0.0)
    return 1.0 - similarity * monotonicity


def default_metric(ratings: Ratings) -> Metric:
    """MASI for multi-label sets, else the level of measurement."""
    return "masi" if ratings.multi_label else ratings.level


def distance_matrix(ratings: Ratings, metric: Metric) -> FloatArray:
    """Labels × labels distances δ for a metric that does not depend on the data (not ordinal)."""
    k = ratings.n_labels
    if metric == "nominal":
        return 1.0 - np.eye(k)
    if metric == "interval":
        if ratings.values is None:
            raise AgreementError("interval distances need numeric codes (level interval)")
        gaps = np.subtract.outer(ratings.values, ratings.values)
        return np.asarray(gaps**2, dtype=np.float64)
    if metric in ("masi", "jaccard"):
        return _set_distances(ratings.membership, metric)
    raise AgreementError(f"no fixed distance matrix for metric {metric!r}")


def _ordinal_distances(label_totals: FloatArray) -> FloatArray:
    """Krippendorff's ordinal δ²_ck = (Σ_{g=c..k} n_g − (n_c + n_k)/2)², one matrix per row."""
    k = label_totals.shape[1]
    index = np.arange(k)
    low, high = np.minimum.outer(index, index), np.maximum.outer(index, index)
    cumulative = np.cumsum(label_totals, axis=1)
    between = cumulative[:, high] - cumulative[:, low] + label_totals[:, low]
    middle = (label_totals[:, low] + label_totals[:, high]) / 2.0
    return np.asarray((between - middle) ** 2, dtype=np.float64)


def kappa_weights(k: int, weighting: KappaWeighting) -> FloatArray:
    """Cohen's disagreement weights on label positions: 0/1, |i−j| or (i−j)²."""
    gap = np.abs(np.subtract.outer(np.arange(k), np.arange(k))).astype(np.float64)
    if weighting == "none":
        return (gap > 0).astype(np.float64)
    if weighting == "linear":
        return gap
    if weighting == "quadratic":
        return gap**2
    raise AgreementError(f"unknown κ weighting {weighting!r}", hint="none, linear or quadratic")


# --- coefficients, batch form --------------------------------------------------------------


def percent_agreement_batch(ratings: Ratings, weights: FloatArray) -> FloatArray:
    return (weights @ _item_agreement(ratings)) / weights.sum(axis=1)


def cohen_kappa_batch(
    ratings: Ratings, weights: FloatArray, weighting: KappaWeighting = "none"
) -> FloatArray:
    if ratings.n_coders != 2:
        raise AgreementError(
            f"Cohen's κ needs exactly two coders; got {ratings.n_coders} "
            f"({', '.join(ratings.coders)})",
            hint="choose two coders (coders), or read Fleiss' κ and the pairwise matrix",
        )
    first, second = ratings.codes[:, 0], ratings.codes[:, 1]
    k = ratings.n_labels
    disagreement = kappa_weights(k, weighting)
    total = weights.sum(axis=1)
    observed = (weights @ disagreement[first, second]) / total
    p_first = _weighted_sum(weights, _one_hot(first, k)) / total[:, None]
    p_second = _weighted_sum(weights, _one_hot(second, k)) / total[:, None]
    expected = ((p_first @ disagreement) * p_second).sum(axis=1)
    return 1.0 - _ratio(observed, expected, scale=max(disagreement.max(), 1.0))


def _category_shares(ratings: Ratings, weights: FloatArray) -> FloatArray:
    """π_c per resample: the weighted mean over items of n_uc / m_u."""
    return _weighted_sum(weights, _proportions(ratings)) / weights.sum(axis=1)[:, None]


def fleiss_kappa_batch(ratings: Ratings, weights: FloatArray) -> FloatArray:
    shares = _category_shares(ratings, weights)
    return _chance_corrected(percent_agreement_batch(ratings, weights), (shares**2).sum(axis=1))


def _shares_with_singles(ratings: Ratings, weights: FloatArray) -> FloatArray:
    """π_c over every item rated at least once (Gwet 2014): pairable items as weighted, plus
    each singly rated item (share 1 for its one label), which keeps weight 1 in a resample."""
    singles = np.bincount(ratings.single_labels, minlength=ratings.n_labels).astype(np.float64)
    total = weights.sum(axis=1) + len(ratings.single_labels)
    return (_weighted_sum(weights, _proportions(ratings)) + singles) / total[:, None]


def gwet_ac1_batch(ratings: Ratings, weights: FloatArray) -> FloatArray:
    q = ratings.n_labels
    if q < 2:
        return np.full(weights.shape[0], np.nan)
    shares = _shares_with_singles(ratings, weights)
    expected = (shares * (1.0 - shares)).sum(axis=1) / (q - 1)
    return _chance_corrected(percent_agreement_batch(ratings, weights), expected)


def brennan_prediger_batch(ratings: Ratings, weights: FloatArray) -> FloatArray:
    q = ratings.n_labels
    if q < 2:
        return np.full(weights.shape[0], np.nan)
    observed = percent_agreement_batch(ratings, weights)
    return _chance_corrected(observed, np.full_like(observed, 1.0 / q))


def krippendorff_alpha_batch(
    ratings: Ratings, weights: FloatArray, metric: Metric | None = None
) -> FloatArray:
    metric = metric or default_metric(ratings)
    label_totals = _weighted_sum(weights, ratings.counts)
    total = label_totals.sum(axis=1)
    if metric == "ordinal":
        k = ratings.n_labels
        coincidences = _weighted_sum(weights, _coincidence_terms(ratings)).reshape(-1, k, k)
        delta = _ordinal_distances(label_totals)
        observed = (coincidences * delta).sum(axis=(1, 2))
        expected = np.einsum("bc,bck,bk->b", label_totals, delta, label_totals)
    else:
        delta = distance_matrix(ratings, metric)
        observed = weights @ _item_disagreement(ratings, metric, delta)
        expected = ((label_totals @ delta) * label_totals).sum(axis=1)
    return 1.0 - (total - 1.0) * _ratio(observed, expected)


# --- coefficients, one value ---------------------------------------------------------------


def percent_agreement(ratings: Ratings) -> float:
    """Mean share of agreeing coder pairs per item (exact set match for multi-label)."""
    return float(percent_agreement_batch(ratings, ones(ratings))[0])


def cohen_kappa(ratings: Ratings, weighting: KappaWeighting = "none") -> float:
    """Cohen's κ for exactly two coders; weighted (linear/quadratic) for ordered labels."""
    name = "Cohen's κ" if weighting == "none" else f"{weighting}-weighted κ"
    return _single(cohen_kappa_batch(ratings, ones(ratings), weighting), ratings, name)


def fleiss_kappa(ratings: Ratings) -> float:
    """Fleiss' κ, generalised to items coded by different numbers of coders."""
    return _single(fleiss_kappa_batch(ratings, ones(ratings)), ratings, "Fleiss' κ")


def gwet_ac1(ratings: Ratings) -> float:
    """Gwet's AC1."""
    return _single(gwet_ac1_batch(ratings, ones(ratings)), ratings, "Gwet's AC1")


def brennan_prediger(ratings: Ratings) -> float:
    """Brennan–Prediger coefficient (chance agreement 1/q)."""
    return _single(brennan_prediger_batch(ratings, ones(ratings)), ratings, "Brennan–Prediger")


def krippendorff_alpha(ratings: Ratings, metric: Metric | None = None) -> float:
    """Krippendorff's α with the given distance (default: the level, or MASI for sets)."""
    values = krippendorff_alpha_batch(ratings, ones(ratings), metric)
    return _single(values, ratings, f"Krippendorff's α ({metric or default_metric(ratings)})")


def undefined_reason(ratings: Ratings, name: str) -> str:
    """Why `name` has no value on these ratings (a single category in practice)."""
    used = ratings.label_usage()
    if len(used) != 1:
        return f"{name} is undefined: its expected disagreement is 0 on these items"
    (only,) = used
    reason = (
        f"{name} is undefined: every coding on the {ratings.n_items} compared items is "
        f"{only!r}, so there is no variation to correct for chance (0/0)"
    )
    if ratings.n_labels < 2 and name in ("Gwet's AC1", "Brennan–Prediger"):
        reason += (
            "; a single possible category leaves no chance model (list every possible "
            "category in categories)"
        )
    return reason


def _single(values: FloatArray, ratings: Ratings, name: str) -> float:
    value = float(values[0])
    if np.isnan(value):
        raise AgreementError(undefined_reason(ratings, name))
    return value
