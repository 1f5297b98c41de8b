"""Inter-rater agreement between human coders and LLM runs: pure functions on DataFrames.

Input is long-format codes (``item_id, coder, code``; one row per code). `compute_agreement`
returns every coefficient — percent agreement, Cohen's κ (weighted for ordered codes), Fleiss' κ,
Krippendorff's α (nominal, ordinal, interval; MASI and Jaccard for multi-label sets), Gwet's
AC1, Brennan–Prediger — with per-code one-vs-rest figures, a confusion matrix or pairwise coder
matrix, and item-level bootstrap CIs. `find_disagreements` lists the items to adjudicate.

Modules: `ratings` (long format -> item × coder matrix; what counts as missing, pairable,
a category), `codesets` (multi-label rows -> code sets), `coefficients` (the formulas,
vectorised over bootstrap weights), `bootstrap` (seeded resampling, percentile intervals),
`summary` (one call for everything), `result` (the JSON contract, interpretation bands),
`disagreements`, `inputs` (code files and runs read into one table; the coverage rule).

Passages of documents (``item_id, coder, code, start, end``): `compare_segments` gives
Krippendorff's unitizing α (α_U), character-level κ per code and segment precision/recall/F1 at
an IoU threshold, with bootstrap CIs over documents. Modules: `unitizing` (α_U on one continuum),
`segments` (codes + texts -> units per document, code and coder), `overlap` (character counts,
IoU matching), `segment_summary` (the one call and its JSON contract).
"""

from llmcode.quality.agreement.bootstrap import bootstrap_replicates, percentile_interval
from llmcode.quality.agreement.coefficients import (
    brennan_prediger,
    cohen_kappa,
    fleiss_kappa,
    gwet_ac1,
    jaccard_distance,
    krippendorff_alpha,
    masi_distance,
    percent_agreement,
)
from llmcode.quality.agreement.disagreements import find_disagreements
from llmcode.quality.agreement.ratings import Ratings, build_ratings
from llmcode.quality.agreement.result import AgreementResult, interpret
from llmcode.quality.agreement.segment_summary import SegmentAgreement, compare_segments
from llmcode.quality.agreement.summary import compute_agreement, summarize_ratings
from llmcode.quality.agreement.unitizing import UnitizingAlpha, unitizing_alpha

__all__ = [
    "AgreementResult",
    "Ratings",
    "SegmentAgreement",
    "UnitizingAlpha",
    "bootstrap_replicates",
    "brennan_prediger",
    "build_ratings",
    "cohen_kappa",
    "compare_segments",
    "compute_agreement",
    "find_disagreements",
    "fleiss_kappa",
    "gwet_ac1",
    "interpret",
    "jaccard_distance",
    "krippendorff_alpha",
    "masi_distance",
    "percent_agreement",
    "percentile_interval",
    "summarize_ratings",
    "unitizing_alpha",
]
