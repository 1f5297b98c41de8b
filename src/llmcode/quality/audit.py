"""Auditing human labels: which hand-coded items are probably coded wrong, and which coder errs.

Confident learning (Northcutt, Jiang & Chuang, JAIR 2021) on the model's vote-share
probabilities ``p`` (items × codes, see `llmcode.quality.confidence.vote_shares`) and a
coder's labels:

1. per-code threshold ``t_j`` = mean ``p_j`` over the items the coder labelled ``j``;
2. confident joint: an item labelled ``i`` counts as truly ``j`` when ``p_j ≥ t_j`` (the largest
   ``p`` when several codes pass); the off-diagonal items are the label issues, minus those whose
   human code the model ranks first anyway (cleanlab's ``filter_by="confident_learning"``);
3. rank by normalized margin ``q = (p_human - max_{k≠human} p_k + 1) / 2``.

Two additions for LLM coders: an issue also needs the model's code to have won a majority of
the samples (``min_share``, as thresholds fall to nothing when the model is poor), and an item's
``score`` = ``1 - q`` (1 when every sample chose one other code and none the human's) is halved
when the model's case has no verified evidence — a quote not found verbatim, or ``none``
("no category fits", which cannot be quoted). Per-coder quality compares each coder with the
model and with the consensus of the others. `audit` does it all for a run and a codes file.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from llmcode.codes import load_codes
from llmcode.errors import AnalysisError, CodesError
from llmcode.llm.evidence import Span
from llmcode.quality.calibration import human_code_sets
from llmcode.quality.confidence import USABLE, sample_alpha, vote_shares
from llmcode.store.jsonl import atomic_write
from llmcode.store.models import CodingRecord
from llmcode.store.runs import Run, RunStore
from llmcode.taxonomy.model import NONE_CODE

AUDIT_FILE = "audit.json"
UNVERIFIED_WEIGHT = 0.5
MIN_SHARE = 0.5
_FLOAT_SLACK = 1e-6  # cleanlab's tolerance when comparing probabilities with thresholds


class AuditEntry(BaseModel):
    """One probably-wrong human label, with the model's case against it."""

    rank: int
    item_id: str
    coder: str
    human_code: str
    model_code: str
    score: float
    human_share: float
    model_share: float
    label_quality: float
    evidence_verified: bool
    """True when the model's code is a category backed by quotes found verbatim."""
    probability: float | None = None
    justification: str = ""
    evidence: list[Span] = Field(default_factory=list)


class CoderQuality(BaseModel):
    """How one human coder agrees with the model and with the consensus of the others."""

    coder: str
    items: int
    with_model: float | None = None
    model_items: int = 0
    alpha_with_model: float | None = None
    with_consensus: float | None = None
    consensus_items: int = 0


class AuditResult(BaseModel):
    """The ranked audit list (``items``) and how it was made; what ``audit.json`` holds."""

    run_id: str
    coder: str
    method: str = "confident_learning"
    rank_by: str = "normalized_margin"
    n_audited: int
    n_disagreements: int
    n_flagged: int
    min_share: float = MIN_SHARE
    thresholds: dict[str, float]
    not_audited: list[str] = Field(default_factory=list)
    items: list[AuditEntry]
    coders: list[CoderQuality] = Field(default_factory=list)
    ranked: bool = True
    """False when the run has one coding per item and no log-probabilities: every disagreement
    then scores alike, and the order is not a ranking."""


def audit(
    run: Run | str | Path,
    human: pd.DataFrame | str | Path,
    *,
    coder: str | None = None,
    top: int | None = None,
    min_share: float = MIN_SHARE,
    runs_dir: str | Path | None = None,
) -> AuditResult:
    """Audit ``coder``'s labels in ``human`` (long format; a file or a DataFrame) against
    ``run`` (a run, its directory or an id in ``runs_dir``): the probably-wrong labels
    (`audit_labels`), per-coder quality when the codes have several coders (`coder_quality`),
    and whether the order is a ranking at all."""
    if not isinstance(run, Run):
        run = RunStore(runs_dir).open(run)
    codes = human if isinstance(human, pd.DataFrame) else load_codes(human)
    where = "the human codes" if isinstance(human, pd.DataFrame) else str(human)
    result = audit_labels(run, codes, coder, top, where, min_share)
    coders = coder_quality(run, codes, where) if codes["coder"].nunique() > 1 else []
    flat = run.manifest().config.sampling.samples == 1 and not any(
        r.probabilities for r in run.latest_codings().values()
    )
    return result.model_copy(update={"coders": coders, "ranked": not flat})


def confident_thresholds(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Per code: the mean probability of that code over the items labelled with it.

    Codes nobody used get 2 (unreachable), as in cleanlab.
    """
    out = np.full(probs.shape[1], 2.0)
    for j in np.unique(labels):
        out[j] = probs[labels == j, j].mean()
    return np.clip(out, 2 * _FLOAT_SLACK, None)


def confident_joint(
    labels: np.ndarray, probs: np.ndarray, thresholds: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The (uncalibrated) confident joint C[given, true] and each item's guessed true code (-1)."""
    thresholds = confident_thresholds(labels, probs) if thresholds is None else thresholds
    passing = probs >= thresholds - _FLOAT_SLACK
    n_passing = passing.sum(axis=1)
    guess = np.where(n_passing > 1, probs.argmax(axis=1), passing.argmax(axis=1))
    guess = np.where(n_passing > 0, guess, -1)
    joint = np.zeros((probs.shape[1], probs.shape[1]), dtype=int)
    counted = guess >= 0
    np.add.at(joint, (labels[counted], guess[counted]), 1)
    return joint, guess


def find_label_issues(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Off-diagonal items of the confident joint whose given code the model does not rank first."""
    _, guess = confident_joint(labels, probs)
    issues = (guess >= 0) & (guess != labels)
    boosted = probs.copy()
    boosted[np.arange(len(labels)), labels] += _FLOAT_SLACK
    return issues & (boosted.argmax(axis=1) != labels)


def label_quality(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Normalized margin in [0, 1]: low when the model prefers another code to the given one."""
    rows = np.arange(len(labels))
    given = probs[rows, labels]
    others = probs.copy()
    others[rows, labels] = -np.inf
    return (given - others.max(axis=1) + 1) / 2


def audit_labels(
    run: Run,
    codes: pd.DataFrame,
    coder: str | None = None,
    top: int | None = None,
    source: str = "codes",
    min_share: float = MIN_SHARE,
) -> AuditResult:
    """Rank one coder's probably-wrong labels in a run (single-label taxonomies).

    Only items whose model code won more than ``min_share`` of the samples are flagged.
    """
    taxonomy = run.taxonomy()
    level = run.manifest().config.inputs.level
    if taxonomy.multi_label:
        raise AnalysisError(
            f"taxonomy {taxonomy.name} is multi-label; audit ranks single-label codes for now",
            hint="review the run against the human codes to go through the disagreements",
        )
    human = human_code_sets(codes, taxonomy, level, coder, source)
    chosen = coder or str(codes["coder"].dropna().iloc[0])
    _check_single(human, chosen, source)
    shares = vote_shares(run)
    records = run.latest_codings()
    audited = [i for i in human if i in shares.index and _model_code(records[i]) is not None]
    if not audited:
        raise AnalysisError(
            f"no item coded by {chosen} in {source} has a usable model code in run {run.run_id}",
            hint="check that the codes file's item ids match the run's items",
        )
    space = list(shares.columns)
    probs = shares.loc[audited].to_numpy()
    labels = np.array([space.index(next(iter(human[i]))) for i in audited])
    model_codes = [records[i].codes[0].code for i in audited]
    model_share = probs[np.arange(len(audited)), [space.index(c) for c in model_codes]]
    issues = find_label_issues(labels, probs) & (model_share > min_share)
    quality = label_quality(labels, probs)
    entries = []
    for row in np.flatnonzero(issues):
        record = records[audited[row]]
        entries.append(_entry(record, chosen, space[labels[row]], probs[row], space, quality[row]))
    entries.sort(key=lambda e: (-e.score, -(e.probability or 0.0)))
    entries = [e.model_copy(update={"rank": n}) for n, e in enumerate(entries[:top], start=1)]
    disagreements = sum(_model_code(records[i]) not in human[i] for i in audited)
    thresholds = confident_thresholds(labels, probs)
    return AuditResult(
        run_id=run.run_id,
        coder=chosen,
        n_audited=len(audited),
        n_disagreements=disagreements,
        n_flagged=int(issues.sum()),
        min_share=min_share,
        thresholds={space[j]: float(t) for j, t in enumerate(thresholds) if t <= 1},
        not_audited=sorted(set(human) - set(audited)),
        items=entries,
    )


def coder_quality(run: Run, codes: pd.DataFrame, source: str = "codes") -> list[CoderQuality]:
    """Each coder's agreement with the model and with the others' consensus.

    Consensus for coder c on an item: the code set most of the *other* coders and the model
    (one vote each) gave, when one set has more votes than any other; items without such a
    majority are left out of ``with_consensus``. ``alpha_with_model`` is Krippendorff's α.
    """
    taxonomy = run.taxonomy()
    level = run.manifest().config.inputs.level
    names = sorted(codes["coder"].dropna().unique())
    sets = {name: human_code_sets(codes, taxonomy, level, name, source) for name in names}
    model = {
        item_id: frozenset(c.code for c in record.codes)
        for item_id, record in run.latest_codings().items()
        if record.status in USABLE and record.codes
    }
    out = []
    for name in names:
        mine = {i: frozenset(s) for i, s in sets[name].items()}
        shared = [i for i in mine if i in model]
        hits, total = 0, 0
        for item_id, value in mine.items():
            votes = Counter(
                frozenset(sets[o][item_id]) for o in names if o != name and item_id in sets[o]
            )
            if item_id in model:
                votes[model[item_id]] += 1
            ranked = votes.most_common(2)
            if not ranked or (len(ranked) > 1 and ranked[0][1] == ranked[1][1]):
                continue
            total += 1
            hits += ranked[0][0] == value
        out.append(
            CoderQuality(
                coder=name,
                items=len(mine),
                with_model=_share(sum(mine[i] == model[i] for i in shared), len(shared)),
                model_items=len(shared),
                alpha_with_model=_pair_alpha(mine, model, shared, taxonomy.multi_label),
                with_consensus=_share(hits, total),
                consensus_items=total,
            )
        )
    return out


def write_audit_queue(run: Run, result: AuditResult) -> Path:
    """Write ``runs/<id>/audit.json`` (items in rank order) for ``llmcode review --queue audit``."""
    path = run.path / AUDIT_FILE
    atomic_write(path, json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False))
    return path


def _entry(
    record: CodingRecord,
    coder: str,
    human_code: str,
    probs: np.ndarray,
    space: list[str],
    quality: float,
) -> AuditEntry:
    assignment = record.codes[0]
    verified = assignment.verified and assignment.code != NONE_CODE
    score = (1 - quality) * (1.0 if verified else UNVERIFIED_WEIGHT)
    return AuditEntry(
        rank=0,
        item_id=record.item_id,
        coder=coder,
        human_code=human_code,
        model_code=assignment.code,
        score=float(score),
        human_share=float(probs[space.index(human_code)]),
        model_share=float(probs[space.index(assignment.code)]),
        label_quality=float(quality),
        evidence_verified=verified,
        probability=record.probabilities.get(assignment.code),
        justification=assignment.justification,
        evidence=assignment.evidence,
    )


def _model_code(record: CodingRecord) -> str | None:
    return record.codes[0].code if record.status in USABLE and record.codes else None


def _check_single(human: dict[str, set[str]], coder: str, source: str) -> None:
    several = [item_id for item_id, codes in human.items() if len(codes) > 1]
    if several:
        raise CodesError(
            f"{source}: coder {coder} gave several codes to item(s) "
            f"{', '.join(several[:5])}{' ...' if len(several) > 5 else ''} "
            "of a single-label taxonomy",
            hint="keep one code per item for the audit",
        )


def _share(hits: int, total: int) -> float | None:
    return hits / total if total else None


def _pair_alpha(
    mine: dict[str, frozenset[str]],
    model: dict[str, frozenset[str]],
    shared: list[str],
    multi_label: bool,
) -> float | None:
    rows = [
        {"item_id": i, "coder": who, "code": code}
        for i in shared
        for who, codes in (("human", mine[i]), ("model", model[i]))
        for code in codes
    ]
    if not rows:
        return None
    alpha = sample_alpha(pd.DataFrame(rows, columns=["item_id", "coder", "code"]), multi_label)
    return alpha
