"""`llmcode.quality.active_sample`: inclusion probabilities by uncertainty and Poisson draws."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llmcode.errors import ConfigError, RunStoreError
from llmcode.items import Item
from llmcode.llm.answers import CodeAssignment
from llmcode.quality.active_sample import (
    draw_gold_sample,
    draw_uncertainty_sample,
    inclusion_probabilities,
    run_uncertainty,
)
from llmcode.store.models import CodingRecord, RunConfig, RunManifest
from llmcode.store.runs import RunStore


def test_probabilities_sum_to_n_grow_with_uncertainty_and_keep_a_floor() -> None:
    u = np.array([0.0, 0.05, 0.2, 0.4, 0.8, 0.9])
    pi = inclusion_probabilities(u, 2.0, floor=0.1)
    assert pi.sum() == pytest.approx(2.0)
    # weights √max(u, 0.1): π = 2 · w / Σw
    w = np.sqrt([0.1, 0.1, 0.2, 0.4, 0.8, 0.9])
    np.testing.assert_allclose(pi, 2 * w / w.sum())
    assert (np.diff(pi) >= 0).all()


def test_probabilities_above_one_are_capped_and_the_rest_rescaled() -> None:
    u = np.array([0.9, 0.01, 0.01, 0.01, 0.01])
    pi = inclusion_probabilities(u, 2.0, floor=0.01)
    # 2·√0.9/(√0.9 + 4·0.1) > 1: the first is certain, the other four share the remaining 1
    np.testing.assert_allclose(pi, [1.0, 0.25, 0.25, 0.25, 0.25])


@pytest.mark.parametrize(
    ("n", "floor", "message"), [(7, 0.1, "cannot draw 7 of 6"), (2, 0.0, "floor 0.0")]
)
def test_impossible_draws_are_refused(n, floor, message) -> None:
    with pytest.raises(ConfigError, match=message):
        inclusion_probabilities(np.full(6, 0.5), n, floor=floor)


def make_run(tmp_path, confidences: dict[str, float | None]):
    store = RunStore(tmp_path)
    run = store.create("R")
    run.write_items([Item(item_id=i, text=f"text {i}") for i in confidences])
    config = RunConfig(taxonomy_path="t.yaml", items_path="items.csv", backend="fake")
    run.write_manifest(RunManifest(run_id="R", config=config, status="complete"))
    for item, confidence in confidences.items():
        if confidence is None:
            run.append_coding(CodingRecord(item_id=item, status="error", error="boom"))
        else:
            code = CodeAssignment(code="a", confidence=confidence)
            run.append_coding(CodingRecord(item_id=item, status="ok", codes=[code]))
    return run


def test_uncertainty_is_one_minus_confidence_and_one_for_unanswered_items(tmp_path) -> None:
    run = make_run(tmp_path, {"i1": 0.9, "i2": 0.6, "i3": None})
    uncertainty, missing = run_uncertainty(run)
    assert uncertainty == pytest.approx({"i1": 0.1, "i2": 0.4, "i3": 1.0})
    assert missing == 1


def test_a_run_without_confidences_cannot_choose(tmp_path) -> None:
    run = make_run(tmp_path, {"i1": None, "i2": None})
    with pytest.raises(RunStoreError, match="no confidences to sample by"):
        run_uncertainty(run)


def test_the_draw_records_each_drawn_items_probability_and_hits_n_on_average(tmp_path) -> None:
    rng = np.random.default_rng(0)
    confidences = {f"i{k:03d}": float(c) for k, c in enumerate(rng.uniform(0.3, 1.0, 200))}
    run = make_run(tmp_path, confidences)
    items = pd.DataFrame({"item_id": list(confidences), "text": "x"})
    sizes = []
    for seed in range(40):
        sample, info = draw_uncertainty_sample(items, run, 50, seed=seed)
        sizes.append(len(sample))
        assert info["n"] == len(sample)
        assert set(info["inclusion_probabilities"]) == set(sample["item_id"])
        for item, pi in zip(sample["item_id"], sample["inclusion_probability"], strict=True):
            assert info["inclusion_probabilities"][item] == pi
    assert abs(np.mean(sizes) - 50) < 2.5
    sample, info = draw_uncertainty_sample(items, run, 50, seed=1)
    # the uncertain items are drawn more often
    assert sample["uncertainty"].mean() > (1 - np.array(list(confidences.values()))).mean()


def test_strategy_settings_that_do_not_go_together_are_refused(tmp_path) -> None:
    run = make_run(tmp_path, {"i1": 0.9, "i2": 0.6})
    items = pd.DataFrame({"item_id": ["i1", "i2"], "text": "x", "project": "p"})
    with pytest.raises(ConfigError, match="needs the run"):
        draw_gold_sample(items, 1, seed=0, strategy="uncertainty")
    with pytest.raises(ConfigError, match="run and floor are for the uncertainty strategy"):
        draw_gold_sample(items, 1, seed=0, run=run)
    with pytest.raises(ConfigError, match="stratify is for the uniform strategy"):
        draw_gold_sample(items, 1, seed=0, strategy="uncertainty", run=run, stratify="project")
    with pytest.raises(RunStoreError, match=r"1 item.*not in run R: i9"):
        draw_gold_sample(
            pd.DataFrame({"item_id": ["i1", "i9"]}), 1, seed=0, strategy="uncertainty", run=run
        )
