"""Calibration of a run against human codes: what `llmcode.calibrate` and `llmcode calibrate` do.

`calibrate` reads one human coder's codes at the run's level (`human_code_sets`), picks the
confidence source (``auto``: vote share with samples, else log-probability, else the stated
number), and returns a `RunCalibration`: the ECE and reliability table
(`llmcode.quality.calibration`), the run-to-run α across samples
(`llmcode.quality.confidence.self_agreement`) and, for each confidence threshold, the share of
items above it and their error rate (`llmcode.quality.thresholds`). ``to_dict`` is the JSON of
``llmcode calibrate --json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from llmcode.codes import load_codes
from llmcode.errors import ConfigError
from llmcode.quality.calibration import (
    Calibration,
    calibrate_pairs,
    calibration_pairs,
    human_code_sets,
)
from llmcode.quality.confidence import self_agreement
from llmcode.quality.thresholds import THRESHOLDS, ThresholdRow, item_confidences, threshold_table
from llmcode.store.runs import Run, RunStore
from llmcode.taxonomy.model import Level


@dataclass(frozen=True)
class RunCalibration:
    """How well a run's confidences match one human coder's codes."""

    run_id: str
    calibration: Calibration
    self_agreement: float | None
    """Krippendorff's α across the run's samples (None without two or more per item)."""
    samples: int
    thresholds: list[ThresholdRow]

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``llmcode calibrate --json``."""
        return {
            "run_id": self.run_id,
            **self.calibration.to_dict(),
            "self_agreement": self.self_agreement,
            "thresholds": [row.to_dict() for row in self.thresholds],
        }


def calibrate(
    run: Run | str | Path,
    human: pd.DataFrame | str | Path,
    *,
    coder: str | None = None,
    confidence: str = "auto",
    bins: int = 10,
    thresholds: Sequence[float] | None = None,
    runs_dir: str | Path | None = None,
    level: Level | None = None,
) -> RunCalibration:
    """Calibrate ``run`` (a run, its directory, or an id in ``runs_dir``) against ``coder``'s
    codes in ``human`` (long format; the only coder when there is one).

    ``confidence`` is auto, vote (samples), logprob (token probabilities) or stated (the
    model's own number); ``bins`` equal-width bins; ``thresholds`` [default: 0.5 … 1].
    ``level`` ``top`` judges a run coded at the leaves against category-level human codes: a
    subcategory counts as its category.
    """
    if not isinstance(run, Run):
        run = RunStore(runs_dir).open(run)
    codes = human if isinstance(human, pd.DataFrame) else load_codes(human)
    where = "the human codes" if isinstance(human, pd.DataFrame) else str(human)
    config = run.manifest().config
    taxonomy = run.taxonomy()
    at_level = None
    if level is not None and level != config.inputs.level:
        if level == "leaves":
            raise ConfigError(
                f"run {run.run_id} coded at the {config.inputs.level} level: it cannot be "
                "judged at the leaves",
                hint="`level` top, or leave it out",
            )

        def at_level(code: str) -> str:
            parent = taxonomy.parent_of(code)
            return parent.id if parent is not None else code

    sets = human_code_sets(codes, taxonomy, level or config.inputs.level, coder, where)
    pairs, source = calibration_pairs(run, sets, confidence, at_level)
    frame, _ = item_confidences(run, sets, source, at_level)
    return RunCalibration(
        run_id=run.run_id,
        calibration=calibrate_pairs(pairs, source, bins),
        self_agreement=self_agreement(run),
        samples=config.sampling.samples,
        thresholds=threshold_table(frame, thresholds or THRESHOLDS),
    )
