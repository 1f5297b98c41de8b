"""Prompt stability: do the codes survive a reworded codebook and a repeated sample?

After Barrie, Palaiologou & Törnberg (2024). `stability` has the model reword every category's
definition ``paraphrases`` times (`llmcode.coding.paraphrase`, kept as derived taxonomies),
draws ``sample`` items (seeded), and codes them under the original wording and each rewording,
``repeats`` times each (seeds ``seed``, ``seed + 1``, ...; a temperature above 0 lets repeats
differ), each coding a run in the store. `stability_alpha` then gives Krippendorff's α
(nominal) *within* a wording (units: item × wording, coders: the repeats) and *between*
wordings (units: items, coders: the wordings' first repeats), overall and per code (the code
present or not), each with a percentile bootstrap CI over units. A code whose between-wording
α falls below ``threshold`` (or is undefined) is flagged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from llmcode.coding.notebook import code as code_run
from llmcode.coding.paraphrase import Wording, paraphrase_taxonomy
from llmcode.errors import AgreementError, ConfigError
from llmcode.items import load_items
from llmcode.llm.backends.base import Backend
from llmcode.numbers import json_number
from llmcode.quality.agreement.bootstrap import percentile_interval, resample_weights
from llmcode.quality.agreement.coefficients import krippendorff_alpha_batch, ones
from llmcode.quality.agreement.ratings import build_ratings
from llmcode.store.runs import load_run_codes
from llmcode.taxonomy.model import Level, load_taxonomy

ORIGINAL = "original"


@dataclass(frozen=True)
class Alpha:
    """Krippendorff's α with its 95% bootstrap CI (None where undefined)."""

    alpha: float | None
    low: float | None
    high: float | None
    n_units: int

    def to_json(self) -> dict[str, Any]:
        return {
            "alpha": json_number(self.alpha),
            "ci95": [json_number(self.low), json_number(self.high)],
            "n_units": self.n_units,
        }


@dataclass
class Stability:
    """Within- and between-wording α, overall and per code, and the codes flagged."""

    within: Alpha
    between: Alpha
    per_code: dict[str, dict[str, Alpha]]  # code -> {"within": α, "between": α}
    threshold: float
    flagged: list[str]
    wordings: list[Wording] = field(default_factory=list)
    runs: dict[str, list[str]] = field(default_factory=dict)  # wording -> run ids
    n_items: int = 0
    repeats: int = 0

    def to_json(self) -> dict[str, Any]:
        """The JSON contract of ``llmcode stability --json``."""
        return {
            "n_items": self.n_items,
            "paraphrases": len(self.wordings),
            "repeats": self.repeats,
            "within_wording": self.within.to_json(),
            "between_wording": self.between.to_json(),
            "per_code": {
                c: {k: a.to_json() for k, a in parts.items()} for c, parts in self.per_code.items()
            },
            "threshold": self.threshold,
            "flagged": self.flagged,
            "wordings": [
                {"path": str(w.path), "number": w.number, "model": w.model, "seed": w.seed}
                for w in self.wordings
            ],
            "runs": self.runs,
        }


def alpha_with_ci(frame: pd.DataFrame, *, bootstrap: int = 1000, seed: int = 0) -> Alpha:
    """Nominal α of long-format codes (unit ``item_id``, ``coder``, ``code``), bootstrap CI."""
    try:
        ratings = build_ratings(frame)
    except AgreementError:
        return Alpha(None, None, None, 0)
    value = float(krippendorff_alpha_batch(ratings, ones(ratings))[0])
    if not np.isfinite(value):
        return Alpha(None, None, None, ratings.n_items)
    low = high = None
    if bootstrap and ratings.n_items >= 2:
        weights = resample_weights(ratings.n_items, bootstrap, np.random.default_rng(seed))
        interval = percentile_interval(krippendorff_alpha_batch(ratings, weights))
        low, high = interval.low, interval.high
    return Alpha(value, low, high, ratings.n_items)


def stability_alpha(
    codes: Mapping[str, Sequence[pd.DataFrame]],
    categories: Sequence[str],
    *,
    threshold: float = 0.8,
    bootstrap: int = 1000,
    seed: int = 0,
) -> Stability:
    """α within and between wordings from ``codes``: wording -> its repeats' codes
    (long format, one code per item; an item without a code counts as ``none``)."""
    items = sorted({i for runs in codes.values() for f in runs for i in f["item_id"]})

    def label(frame: pd.DataFrame) -> dict[str, str]:
        first = frame.dropna(subset=["code"]).groupby("item_id")["code"].first()
        return {i: str(first.get(i, "none")) for i in items}

    labels = {w: [label(f) for f in runs] for w, runs in codes.items()}

    def within(value: Any) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {"item_id": f"{i}@{w}", "coder": f"r{r}", "code": value(got[i])}
                for w, repeats in labels.items()
                for r, got in enumerate(repeats)
                for i in items
            ]
        )

    def between(value: Any) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {"item_id": i, "coder": w, "code": value(repeats[0][i])}
                for w, repeats in labels.items()
                for i in items
            ]
        )

    def same(code: str) -> str:
        return code

    out_within = alpha_with_ci(within(same), bootstrap=bootstrap, seed=seed)
    out_between = alpha_with_ci(between(same), bootstrap=bootstrap, seed=seed)
    per_code: dict[str, dict[str, Alpha]] = {}
    flagged = []
    for category in categories:

        def present(code: str, c: str = category) -> str:
            return "yes" if code == c else "no"

        per_code[category] = {
            "within": alpha_with_ci(within(present), bootstrap=bootstrap, seed=seed),
            "between": alpha_with_ci(between(present), bootstrap=bootstrap, seed=seed),
        }
        value = per_code[category]["between"].alpha
        if value is None or value < threshold:
            flagged.append(category)
    repeats = min(len(r) for r in codes.values()) if codes else 0
    return Stability(
        out_within, out_between, per_code, threshold, flagged, n_items=len(items), repeats=repeats
    )


def stability(
    taxonomy: str | Path,
    items: str | Path,
    *,
    paraphrases: int = 3,
    sample: int = 30,
    repeats: int = 2,
    threshold: float = 0.8,
    seed: int = 0,
    out_dir: str | Path = "stability",
    runs_dir: str | Path | None = None,
    backend: Backend | None = None,
    paraphrase_temperature: float = 0.7,
    bootstrap: int = 1000,
    **settings: Any,
) -> Stability:
    """Reword, sample, code under every wording ``repeats`` times, and measure α.

    ``settings`` are the coding settings of `llmcode.code` (model, base_url, temperature,
    id_column, text_columns, ...); ``backend`` a `Backend` object to use instead of them.
    """
    if repeats < 2:
        raise ConfigError("repeats: within-wording α needs at least two repeated codings")
    if sample < 2:
        raise ConfigError("sample: α needs at least two items")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    id_column = settings.get("id_column", "item_id")
    item_set = load_items(
        items, id_column=id_column, text_columns=settings.get("text_columns") or None
    )
    ids = [item.item_id for item in item_set.items]
    if len(ids) < sample:
        raise ConfigError(f"sample: {sample} items asked, {items} has {len(ids)}")
    chosen = sorted(np.random.default_rng(seed).choice(ids, size=sample, replace=False))
    only = out / "sample.csv"
    pd.DataFrame({"item_id": chosen}).to_csv(only, index=False)
    if backend is None:
        from llmcode.coding.job import backend_for

        talker = backend_for(
            None, settings.get("backend"), settings.get("model"), settings.get("base_url")
        )
    else:
        talker = backend
    wordings = paraphrase_taxonomy(
        taxonomy,
        talker,
        paraphrases,
        out,
        seed=seed,
        temperature=paraphrase_temperature,
        close=backend is None,
    )
    files = {ORIGINAL: Path(taxonomy)} | {f"wording-{w.number}": w.path for w in wordings}
    codes: dict[str, list[pd.DataFrame]] = {}
    runs: dict[str, list[str]] = {}
    for name, path in files.items():
        for r in range(repeats):
            run = code_run(
                path,
                items,
                backend=backend if backend is not None else settings.get("backend"),
                runs_dir=runs_dir,
                run_id=f"stability-{name}-r{r}",
                only=str(only),
                **{k: v for k, v in settings.items() if k != "backend"} | {"seed": seed + r},
            )
            codes.setdefault(name, []).append(load_run_codes(run))
            runs.setdefault(name, []).append(run.run_id)
    level: Level = "leaves" if settings.get("level") == "leaves" else "top"
    categories = [c.id for c in load_taxonomy(taxonomy).targets(level)]
    result = stability_alpha(codes, categories, threshold=threshold, bootstrap=bootstrap, seed=seed)
    result.wordings, result.runs = wordings, runs
    return result
