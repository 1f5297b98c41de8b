"""Calibration against human codes: does "0.9" mean right 90% of the time?

Every code the model assigned is one prediction with a confidence; it is correct when the human
coder gave the item that code too (for single-label runs this is top-1 accuracy). Confidences
are sorted into ``n_bins`` equal-width bins ``[0, 1/n), [1/n, 2/n) … [(n-1)/n, 1]``; the
expected calibration error (ECE) is the count-weighted mean of ``|accuracy - confidence|`` over
the non-empty bins. Confidence comes from one of three sources:

* ``vote``    — the code's vote share across samples (``samples`` > 1);
* ``logprob`` — the probability of the code's tokens (backends with log-probabilities);
* ``stated``  — the number the model wrote in its answer (runs with one sample only).

This module also turns human long-format codes into per-item code sets at a run's level.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from llmcode.errors import AnalysisError, CodesError, ConfigError, OutputError
from llmcode.quality.confidence import USABLE, vote_shares
from llmcode.store.jsonl import atomic_write
from llmcode.store.runs import Run
from llmcode.taxonomy.model import NONE_CODE, Level, Taxonomy

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Source = Literal["auto", "vote", "logprob", "stated"]
SOURCES: tuple[str, ...] = ("auto", "vote", "logprob", "stated")


@dataclass(frozen=True)
class Calibration:
    """ECE and the reliability table of one run against one human coder."""

    source: str
    n_bins: int
    ece: float
    n: int
    accuracy: float
    mean_confidence: float
    table: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (empty bins have null confidence and accuracy)."""
        rows = [
            {key: (None if isinstance(v, float) and math.isnan(v) else v) for key, v in row.items()}
            for row in self.table.to_dict(orient="records")
        ]
        return {
            "source": self.source,
            "n_bins": self.n_bins,
            "ece": self.ece,
            "n": self.n,
            "accuracy": self.accuracy,
            "mean_confidence": self.mean_confidence,
            "bins": rows,
        }


def bin_index(confidence: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-width bin of each confidence in [0, 1]; 1.0 falls in the last bin."""
    scaled = np.round(np.asarray(confidence, dtype=float) * n_bins, 9)
    return np.clip(np.floor(scaled).astype(int), 0, n_bins - 1)


def reliability_table(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10
) -> pd.DataFrame:
    """Per bin: bounds, count, mean confidence, accuracy and gap (accuracy - confidence)."""
    if n_bins < 1:
        raise ConfigError(f"bins must be at least 1, not {n_bins}")
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=float)
    if ((confidence < 0) | (confidence > 1)).any():
        raise AnalysisError("confidences must lie in [0, 1]")
    bins = bin_index(confidence, n_bins)
    rows = []
    for b in range(n_bins):
        inside = bins == b
        count = int(inside.sum())
        mean_conf = float(confidence[inside].mean()) if count else math.nan
        accuracy = float(correct[inside].mean()) if count else math.nan
        rows.append(
            {
                "bin": b + 1,
                "lower": b / n_bins,
                "upper": (b + 1) / n_bins,
                "n": count,
                "confidence": mean_conf,
                "accuracy": accuracy,
                "gap": accuracy - mean_conf,
            }
        )
    return pd.DataFrame(rows)


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10
) -> float:
    """Σ_b (n_b / N) · |accuracy_b - confidence_b| over equal-width bins."""
    table = reliability_table(confidence, correct, n_bins)
    used = table[table["n"] > 0]
    if used.empty:
        raise AnalysisError("no prediction to calibrate")
    return float((used["n"] * used["gap"].abs()).sum() / used["n"].sum())


def calibrate_pairs(pairs: pd.DataFrame, source: str, n_bins: int = 10) -> Calibration:
    """ECE and reliability table from ``calibration_pairs`` output (confidence, correct)."""
    if pairs.empty:
        raise AnalysisError(
            "no item has both a model code and a human code",
            hint="check that the codes file's item ids match the run's items",
        )
    confidence = pairs["confidence"].to_numpy(dtype=float)
    correct = pairs["correct"].to_numpy(dtype=float)
    return Calibration(
        source=source,
        n_bins=n_bins,
        ece=expected_calibration_error(confidence, correct, n_bins),
        n=len(pairs),
        accuracy=float(correct.mean()),
        mean_confidence=float(confidence.mean()),
        table=reliability_table(confidence, correct, n_bins),
    )


def calibration_pairs(
    run: Run,
    human: dict[str, set[str]],
    source: str = "auto",
    at_level: Callable[[str], str] | None = None,
) -> tuple[pd.DataFrame, str]:
    """One row per model code on a human-coded item: item_id, code, confidence, correct.

    Returns the rows and the source used (``auto`` picks vote, then logprob, then stated).
    ``at_level`` maps a model code to the level of ``human`` (a subcategory to its category)
    before it is judged correct.
    """
    records = {i: r for i, r in run.latest_codings().items() if r.status in USABLE and r.codes}
    chosen = _choose_source(source, list(records.values()), run.run_id)
    shares = vote_shares(run).to_dict(orient="index") if chosen == "vote" else None
    rows = []
    for item_id, record in records.items():
        if item_id not in human:
            continue
        for assignment in record.codes:
            if shares is not None:
                if item_id not in shares:
                    continue
                value: float | None = float(shares[item_id][assignment.code])
            elif chosen == "logprob":
                value = record.probabilities.get(assignment.code)
            else:
                value = assignment.confidence
            if value is None:
                continue
            rows.append(
                {
                    "item_id": item_id,
                    "code": assignment.code,
                    "confidence": min(1.0, max(0.0, value)),
                    "correct": (at_level or str)(assignment.code) in human[item_id],
                }
            )
    return pd.DataFrame(rows, columns=["item_id", "code", "confidence", "correct"]), chosen


def reliability_figure(calibration: Calibration, title: str = "") -> Figure:
    """A reliability diagram: accuracy per confidence bin against the diagonal, with counts."""
    from matplotlib.figure import Figure  # imported here: slow, and only figures need it

    table = calibration.table
    figure = Figure(figsize=(4.8, 4.2), layout="constrained")
    axes = figure.add_subplot()
    width = 1 / calibration.n_bins
    used = table[table["n"] > 0]
    centers = (used["lower"] + used["upper"]) / 2
    axes.bar(centers, used["accuracy"], width=width * 0.9, color="#4c72b0", label="accuracy")
    axes.plot([0, 1], [0, 1], linestyle="--", color="#888888", label="perfect calibration")
    axes.scatter(
        used["confidence"], used["accuracy"], color="#dd8452", zorder=3, label="mean confidence"
    )
    for x, y, n in zip(centers, used["accuracy"], used["n"], strict=True):
        axes.annotate(
            f"n={n}", (x, y), textcoords="offset points", xytext=(0, 3), ha="center", fontsize=7
        )
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.08)
    axes.set_xlabel(f"confidence ({calibration.source})")
    axes.set_ylabel("share correct")
    axes.set_title(title or f"reliability (ECE {calibration.ece:.3f}, n={calibration.n})")
    axes.legend(loc="upper left", fontsize=7)
    return figure


FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


def check_figure_path(path: str | Path) -> Path:
    """``path`` when a figure can be written there: a file ending in .png, .svg or .pdf."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(
            f"cannot write {path}: it is a directory", hint="give a file name, e.g. reliability.png"
        )
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise ConfigError(
            f"{path}: a figure is written as {', '.join(FIGURE_SUFFIXES)}, "
            f"not {path.suffix or '(no suffix)'}",
            hint="e.g. reliability.png",
        )
    return path


def save_reliability_figure(calibration: Calibration, path: str | Path) -> Path:
    """Write the reliability diagram to ``path`` (format from its suffix; temporary file, then
    rename); returns the path written."""
    path = check_figure_path(path)
    buffer = io.BytesIO()
    reliability_figure(calibration).savefig(buffer, format=path.suffix.lower()[1:], dpi=150)
    atomic_write(path, buffer.getvalue(), OutputError)
    return path


def human_code_sets(
    codes: pd.DataFrame,
    taxonomy: Taxonomy,
    level: Level = "top",
    coder: str | None = None,
    source: str = "codes",
) -> dict[str, set[str]]:
    """One coder's codes per item, mapped to the run's level (a leaf counts as its top category).

    An empty code means "nothing applies" (``none``). Raises when the file has several coders
    and none is chosen, when the chosen coder is absent, or when a code is not in the taxonomy.
    """
    coders = sorted(codes["coder"].dropna().unique())
    if coder is None:
        if len(coders) > 1:
            raise ConfigError(
                f"{source} has {len(coders)} coders ({', '.join(coders)})",
                hint="choose one with coder",
            )
        coder = coders[0] if coders else None
    if coder not in coders:
        raise CodesError(f"{source}: no codes by coder '{coder}' (coders: {', '.join(coders)})")
    rows = codes[codes["coder"] == coder]
    out: dict[str, set[str]] = {}
    unknown: dict[str, list[str]] = {}
    for item_id, code in zip(rows["item_id"], rows["code"], strict=True):
        mapped = _at_level(code, taxonomy, level)
        if mapped is None:
            unknown.setdefault(str(code), []).append(str(item_id))
            continue
        out.setdefault(str(item_id), set()).add(mapped)
    if unknown:
        listed = "; ".join(
            f"'{code}' (item {', '.join(items[:3])}{' ...' if len(items) > 3 else ''})"
            for code, items in unknown.items()
        )
        raise CodesError(
            f"{source}: coder {coder} uses codes that are not {level}-level codes of taxonomy "
            f"{taxonomy.name}: {listed}",
            hint="fix the codes file, or compare with a run coded with the matching taxonomy",
        )
    return out


def _at_level(code: object, taxonomy: Taxonomy, level: Level) -> str | None:
    if not isinstance(code, str) or code == NONE_CODE:
        return NONE_CODE
    category = taxonomy.get(code)
    if category is None:
        return None
    if level == "top":
        parent = taxonomy.parent_of(code)
        return parent.id if parent else None
    return None if category.children else code


def _choose_source(source: str, records: list, run_id: str) -> str:
    if source not in SOURCES:
        raise ConfigError(
            f"confidence must be one of {', '.join(SOURCES)}, not '{source}'",
            hint="auto picks vote, then logprob, then stated",
        )
    has_samples = any(len(r.samples) > 1 for r in records)
    has_probabilities = any(r.probabilities for r in records)
    if source == "auto":
        from llmcode.quality.confidence import default_kind

        return default_kind(records)  # the kind report, review and export show too
    if source == "vote" and not has_samples:
        raise AnalysisError(
            f"run {run_id} drew one coding per item, so every vote share is 1",
            hint="code with samples 3 (or more) and temperature 0.7, or use confidence stated",
        )
    if source == "logprob" and not has_probabilities:
        raise AnalysisError(
            f"run {run_id} has no token probabilities",
            hint="code with a backend that returns log-probabilities, or use confidence vote",
        )
    if source == "stated" and has_samples:
        raise AnalysisError(
            f"run {run_id} drew several samples; their stated confidences were replaced by "
            "vote shares",
            hint="use confidence vote",
        )
    return source
