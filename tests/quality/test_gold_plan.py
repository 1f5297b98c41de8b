"""`llmcode.quality.gold_plan`: gold items needed for a CI width, from a run's confidences.

The prediction is checked where it can fail: on a run whose confidences are calibrated (the
true codes drawn from them), the PPI CIs that `analyze --gold` computes (ppi_py's PPI++) with
the planned number of gold items come out at about the planned width.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from llmcode.analysis.ppi import mean_estimates
from llmcode.errors import ConfigError, RunStoreError
from llmcode.items import Item
from llmcode.llm.answers import CodeAssignment
from llmcode.quality.gold_plan import plan_gold_sample
from llmcode.store.jsonl import atomic_write
from llmcode.store.models import CodingRecord, RunConfig, RunManifest
from llmcode.store.runs import TAXONOMY, RunStore

TAXONOMY_TEXT = "name: t\nversion: '1'\nmulti_label: false\ncategories:\n" + "".join(
    f"  - id: {c}\n    name: {c}\n    definition: code {c}\n" for c in ("a", "b")
)


def make_run(tmp_path, probabilities: list[float | None]):
    """Two codes; the LLM says 'a' when P(a) ≥ 0.5; records carry both probabilities."""
    run = RunStore(tmp_path).create("R")
    atomic_write(run.path / TAXONOMY, TAXONOMY_TEXT)
    ids = [f"i{k:04d}" for k in range(len(probabilities))]
    run.write_items([Item(item_id=i, text="x") for i in ids])
    config = RunConfig(taxonomy_path="t.yaml", items_path="items.csv", backend="fake")
    run.write_manifest(RunManifest(run_id="R", config=config, status="complete"))
    for item, p in zip(ids, probabilities, strict=True):
        if p is None:
            run.append_coding(
                CodingRecord(item_id=item, status="ok", codes=[CodeAssignment(code="a")])
            )
            continue
        code = "a" if p >= 0.5 else "b"
        run.append_coding(
            CodingRecord(
                item_id=item,
                status="ok",
                codes=[CodeAssignment(code=code, confidence=max(p, 1 - p))],
                probabilities={"a": p, "b": 1 - p},
            )
        )
    return run


def test_the_planned_n_gives_about_the_planned_ppi_width(tmp_path) -> None:
    rng = np.random.default_rng(5)
    p = np.where(
        rng.random(3000) < 0.35, rng.uniform(0.8, 0.99, 3000), rng.uniform(0.01, 0.2, 3000)
    )
    plan = plan_gold_sample(make_run(tmp_path, list(p)), 0.06)
    a = next(c for c in plan.codes if c.code == "a")
    assert a.n_ppi is not None and a.n_classical is not None
    assert a.n_ppi < a.n_classical  # a good model needs fewer gold items
    yhat = (p >= 0.5).astype(float)
    widths = []
    for _ in range(200):
        y = (rng.random(3000) < p).astype(float)  # the truth, drawn from calibrated beliefs
        gold = rng.permutation(3000)[: a.n_ppi]
        labeled = np.zeros(3000, dtype=bool)
        labeled[gold] = True
        widths.append(mean_estimates(y[labeled], yhat[labeled], yhat[~labeled]).ppi.width())
    assert np.mean(widths) == pytest.approx(0.06, rel=0.08)
    # classical by its formula: 2·1.96·√(p(1−p)/n) just below 0.06 at n_classical
    share = a.share
    assert 2 * 1.959963984540054 * math.sqrt(share * (1 - share) / a.n_classical) <= 0.06
    assert 2 * 1.959963984540054 * math.sqrt(share * (1 - share) / (a.n_classical - 1)) > 0.06


def test_items_without_confidence_are_left_out_with_a_note(tmp_path) -> None:
    plan = plan_gold_sample(make_run(tmp_path, [0.9, 0.1, 0.8, None]), 0.5)
    assert plan.n_items == 3
    assert plan.notes == ["1 coded item(s) have no confidence and are left out of the plan"]


def test_bad_widths_and_runs_without_confidences_are_refused(tmp_path) -> None:
    run = make_run(tmp_path, [None, None, None])
    with pytest.raises(ConfigError, match=r"plan 1\.5"):
        plan_gold_sample(run, 1.5)
    with pytest.raises(RunStoreError, match="0 coded item"):
        plan_gold_sample(run, 0.1)
