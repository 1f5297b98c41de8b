"""A baseline the LLM must beat: a bag-of-words classifier trained on the researcher's own codes.

`baseline_run` trains TF-IDF (words and word pairs, sublinear term frequency) with a
multinomial logistic regression on one coder's codes and writes a run (``kind: baseline``)
through the run store, so `eval`, `analyze` and PPI treat it like any run. It is
**cross-fitted**: the coded items are split into K folds and each fold is coded by a model
trained on the other folds, so no item is coded by a model that saw its own code; the items
nobody coded are coded by a model trained on every coded item. Confidences are **calibrated**
on the training set alone: an inner cross-validation gives K models and their out-of-fold
probabilities; a temperature (log-likelihood) and a Platt map of the top code's log-odds to
the chance it is right are fitted to those; an item's probabilities are the K models'
averaged, the top one mapped, the others rescaled. Each record keeps the probability of every
code. Single-label schemes only. Without a taxonomy, one is written from the codes (so the run
has the snapshot every run has).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from llmcode import __version__
from llmcode.errors import CodesError, ConfigError
from llmcode.items import ItemSet
from llmcode.llm.answers import CodeAssignment
from llmcode.store.config import make_config
from llmcode.store.jsonl import atomic_write
from llmcode.store.models import CodingRecord, RunManifest, now
from llmcode.store.runs import TAXONOMY, Run, RunStore
from llmcode.taxonomy.model import NONE_CODE, Taxonomy, parse_taxonomy

MODEL = "tfidf-logreg"
MIN_CODED = 10


@dataclass(frozen=True)
class BaselineSettings:
    folds: int = 5
    seed: int = 0
    coder: str | None = None


def baseline_from_files(
    store: RunStore,
    human: str | Path,
    items: str | Path,
    *,
    taxonomy: str | Path | None = None,
    id_column: str = "item_id",
    text_columns: Sequence[str] | None = None,
    run_id: str | None = None,
    settings: BaselineSettings | None = None,
) -> Run:
    """`baseline_run` on files: long-format codes, an items file, an optional taxonomy."""
    from llmcode.codes import load_codes
    from llmcode.items import load_items
    from llmcode.taxonomy.model import load_taxonomy

    item_set = load_items(items, id_column, list(text_columns) if text_columns else None)
    chosen = None
    if taxonomy is not None:
        chosen = (load_taxonomy(taxonomy), Path(taxonomy).read_text("utf-8"), str(taxonomy))
    return baseline_run(
        store,
        item_set,
        load_codes(human),
        human_source=str(human),
        taxonomy=chosen,
        run_id=run_id,
        settings=settings,
    )


def baseline_run(
    store: RunStore,
    items: ItemSet,
    human: pd.DataFrame,
    *,
    human_source: str,
    taxonomy: tuple[Taxonomy, str, str] | None = None,
    run_id: str | None = None,
    settings: BaselineSettings | None = None,
) -> Run:
    """Code ``items`` with a classifier cross-fitted on ``human`` (long-format codes of one
    coder) and write it as a finished run. ``taxonomy``: (taxonomy, its YAML, its path)."""
    settings = settings or BaselineSettings()
    coder, labels = _labels(human, settings.coder, human_source)
    texts = {item.item_id: item.text for item in items.items}
    unknown = sorted(set(labels) - set(texts))
    if unknown:
        raise CodesError(
            f"{human_source}: {len(unknown)} coded item(s) are not in {items.source}: "
            f"{', '.join(unknown[:10])}",
            hint="pass the items file the codes were made on (same --id-column)",
        )
    classes = sorted(set(labels.values()))
    if len(labels) < MIN_CODED or len(classes) < 2:
        raise CodesError(
            f"{human_source}: a baseline needs at least {MIN_CODED} coded items and two codes; "
            f"{coder} coded {len(labels)} item(s) with {len(classes)} code(s)",
            hint="code more items",
        )
    if not 2 <= settings.folds <= len(labels):
        raise ConfigError(
            f"folds {settings.folds}: cross-fitting needs 2 to {len(labels)} folds "
            "(at most one per coded item)"
        )
    tax, text, path = taxonomy or _taxonomy_from(classes, human_source)
    if tax.multi_label:
        raise ConfigError(
            f"taxonomy {tax.name} is multi-label: the baseline codes single-label schemes",
            hint="give a single-label taxonomy, or leave it out",
        )
    allowed = {c.id for c in tax.targets("top")} | {NONE_CODE}
    outside = sorted(set(classes) - allowed)
    if outside:
        raise CodesError(
            f"{human_source}: codes outside taxonomy {tax.name}: {', '.join(outside)}",
            hint="check the taxonomy (top-level codes)",
        )
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # tiny fits: BLAS/OpenMP threads only contend (20x slower)
        probabilities, fold_of, cv_accuracy = _cross_fit(texts, labels, classes, settings)
    run = store.create(run_id or store.new_run_id("baseline"))
    atomic_write(run.path / TAXONOMY, text)
    run.write_items(items.items)
    config = make_config(
        taxonomy_path=path,
        items_path=items.source,
        id_column=items.id_column,
        text_columns=items.text_columns,
        backend="baseline",
        model=MODEL,
        seed=settings.seed,
    )
    for item in items.items:
        probs = probabilities[item.item_id]
        best = int(np.argmax(probs))
        fold = fold_of.get(item.item_id)
        how = (
            f"fold {fold + 1} of {settings.folds}: trained on the other folds' codes by {coder}"
            if fold is not None
            else f"not coded by {coder}: trained on all {len(labels)} of their codes"
        )
        run.append_coding(
            CodingRecord(
                item_id=item.item_id,
                status="ok",
                codes=[
                    CodeAssignment(
                        code=classes[best],
                        justification=f"TF-IDF + logistic regression ({how})",
                        confidence=float(probs[best]),
                    )
                ],
                probabilities={c: float(p) for c, p in zip(classes, probs, strict=True)},
                model=MODEL,
            )
        )
    run.sync()
    run.write_manifest(
        RunManifest(
            run_id=run.run_id,
            kind="baseline",
            status="complete",
            finished_at=now(),
            llmcode_version=__version__,
            config=config,
            taxonomy={
                "name": tax.name,
                "version": tax.version,
                "path": path,
                "fingerprint": tax.fingerprint(),
            },
            backend={"backend": "baseline", "model": MODEL},
            items={
                "path": items.source,
                "sha256": items.sha256,
                "id_column": items.id_column,
                "text_columns": list(items.text_columns),
                "n_items": len(items.items),
                "n_skipped": len(items.skipped),
            },
            counts={"ok": len(items.items)},
            usage={"items": len(items.items), "cost_usd": 0.0},
            extra={
                "baseline": {
                    "human": human_source,
                    "coder": coder,
                    "n_coded": len(labels),
                    "folds": settings.folds,
                    "seed": settings.seed,
                    "classifier": "TF-IDF (1-2 grams, sublinear tf) + logistic regression",
                    "calibration": "temperature scaling fitted by inner cross-validation",
                    "cross_fitted_accuracy": cv_accuracy,
                }
            },
        )
    )
    return run


def _labels(human: pd.DataFrame, coder: str | None, source: str) -> tuple[str, dict[str, str]]:
    coders = list(dict.fromkeys(human["coder"].astype(str)))
    if coder is None:
        if len(coders) != 1:
            raise CodesError(
                f"{source}: codes from {len(coders)} coders ({', '.join(coders[:5])}): the "
                "baseline learns one coder's codes",
                hint="choose one (coder)",
            )
        coder = coders[0]
    elif coder not in coders:
        raise CodesError(f"{source}: no coder {coder!r}", hint=f"coders: {', '.join(coders)}")
    rows = human[human["coder"].astype(str) == coder]
    labels: dict[str, str] = {}
    for item, group in rows.groupby(rows["item_id"].astype(str), sort=False):
        codes = list(dict.fromkeys(NONE_CODE if pd.isna(c) else str(c) for c in group["code"]))
        if len(codes) > 1:
            raise CodesError(
                f"{source}: item {item} has several codes by {coder} ({', '.join(codes)})",
                hint="the baseline codes single-label schemes: one code per item",
            )
        labels[str(item)] = codes[0]
    return coder, labels


def _taxonomy_from(classes: Sequence[str], source: str) -> tuple[Taxonomy, str, str]:
    """A minimal taxonomy listing the codes, for the run's snapshot."""
    data = {
        "name": "baseline-codes",
        "version": "1",
        "description": f"The codes of {source} (no taxonomy was given to llmcode baseline).",
        "multi_label": False,
        "categories": [
            {"id": c, "name": c, "definition": f"Code {c} as used in {source}."}
            for c in classes
            if c != NONE_CODE
        ],
    }
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return parse_taxonomy(text, source), text, f"(from {source})"


def _cross_fit(
    texts: dict[str, str], labels: dict[str, str], classes: list[str], settings: BaselineSettings
) -> tuple[dict[str, np.ndarray], dict[str, int], float]:
    """Out-of-fold probabilities for the coded items, full-model ones for the others."""
    from sklearn.model_selection import KFold

    coded = list(labels)
    y = np.array([classes.index(labels[i]) for i in coded])
    docs = [texts[i] for i in coded]
    out: dict[str, np.ndarray] = {}
    fold_of: dict[str, int] = {}
    folds = KFold(settings.folds, shuffle=True, random_state=settings.seed)
    for k, (train, test) in enumerate(folds.split(coded)):
        model = _Calibrated([docs[j] for j in train], y[train], len(classes), settings)
        for j, probs in zip(test, model.predict([docs[j] for j in test]), strict=True):
            out[coded[j]] = probs
            fold_of[coded[j]] = k
    others = [i for i in texts if i not in labels]
    if others:
        model = _Calibrated(docs, y, len(classes), settings)
        for item, probs in zip(others, model.predict([texts[i] for i in others]), strict=True):
            out[item] = probs
    accuracy = float(np.mean([np.argmax(out[i]) == classes.index(labels[i]) for i in coded]))
    return out, fold_of, accuracy


class _Calibrated:
    """TF-IDF + logistic regression on one training set, with its temperature."""

    def __init__(self, docs: list[str], y: np.ndarray, n_classes: int, s: BaselineSettings):
        from sklearn.model_selection import KFold

        self.n_classes = n_classes
        inner = min(s.folds, len(docs))
        self.models: list[object] = []
        logits, truth = [], []
        for train, test in KFold(inner, shuffle=True, random_state=s.seed).split(docs):
            fitted = _fit([docs[j] for j in train], y[train])
            self.models.append(fitted)
            logits.append(self._log_probs(fitted, [docs[j] for j in test]))
            truth.append(y[test])
        log_probs, y_out = np.vstack(logits), np.concatenate(truth)
        self.temperature = _temperature(log_probs, y_out)
        scaled = _softmax(log_probs / self.temperature)
        self.platt = _platt(scaled.max(axis=1), scaled.argmax(axis=1) == y_out)

    def predict(self, docs: list[str]) -> np.ndarray:
        """The inner models' probabilities (temperature-scaled) averaged, with the top code's
        probability mapped by the Platt fit and the others rescaled to fill the rest."""
        scaled = [_softmax(self._log_probs(m, docs) / self.temperature) for m in self.models]
        probs = np.mean(scaled, axis=0)
        if self.platt is None:
            return probs
        a, b = self.platt
        rows = np.arange(len(probs))
        top = probs.argmax(axis=1)
        p = np.clip(probs[rows, top], 1e-6, 1 - 1e-6)
        calibrated = 1 / (1 + np.exp(-(a * np.log(p / (1 - p)) + b)))
        rest = 1 - probs[rows, top]
        out = probs * ((1 - calibrated) / np.where(rest > 0, rest, 1))[:, None]
        out[rows, top] = calibrated
        return out

    def _log_probs(self, fitted: object, docs: list[str]) -> np.ndarray:
        """Log-probabilities over all classes (a class absent from training: a floor)."""
        out = np.full((len(docs), self.n_classes), np.log(1e-6))
        if isinstance(fitted, int):  # one class in training: it gets everything
            out[:, fitted] = 0.0
            return out
        out[:, fitted.classes_] = fitted.predict_log_proba(docs)  # type: ignore[attr-defined]
        return out


def _fit(docs: list[str], y: np.ndarray) -> object:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    if len(set(y)) < 2:
        return int(y[0])
    pipeline = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
        LogisticRegression(C=10.0, max_iter=2000),
    )
    return pipeline.fit(docs, y)


def _temperature(log_probs: np.ndarray, y: np.ndarray) -> float:
    from scipy.optimize import minimize_scalar

    def nll(t: float) -> float:
        p = _softmax(log_probs / t)
        return float(-np.mean(np.log(np.maximum(p[np.arange(len(y)), y], 1e-12))))

    return float(minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x)


def _platt(confidence: np.ndarray, correct: np.ndarray) -> tuple[float, float] | None:
    """Logistic map of the top code's log-odds to P(correct) (None: all right or all wrong)."""
    from scipy.optimize import minimize

    if correct.all() or not correct.any():
        return None
    p = np.clip(confidence, 1e-6, 1 - 1e-6)
    x, y = np.log(p / (1 - p)), correct.astype(float)

    def nll(ab: np.ndarray) -> float:
        z = ab[0] * x + ab[1]
        return float(np.mean(np.logaddexp(0.0, z) - y * z))

    done = minimize(nll, np.array([1.0, 0.0]), method="BFGS")
    return float(done.x[0]), float(done.x[1])


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
