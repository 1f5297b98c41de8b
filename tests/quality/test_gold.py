"""Gold samples: seeded draws, proportional strata, the dev/test split and the test-look record."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from llmcode.errors import CodesError, ConfigError
from llmcode.quality.gold import (
    allocate,
    draw_sample,
    load_split,
    record_test_look,
    sidecar_path,
    write_sample,
)


def items(n: int = 100) -> pd.DataFrame:
    groups = ["a"] * 50 + ["b"] * 30 + ["c"] * 20
    return pd.DataFrame(
        {"item_id": [f"i{k}" for k in range(n)], "text": ["t"] * n, "group": groups[:n]}
    )


def test_allocation_is_proportional_and_sums_to_the_total():
    rng = np.random.default_rng(0)
    assert allocate(10, {"a": 50, "b": 30, "c": 20}, rng) == {"a": 5, "b": 3, "c": 2}
    shares = allocate(7, {"a": 50, "b": 30, "c": 20}, rng)
    assert sum(shares.values()) == 7 and shares["a"] >= shares["b"] >= shares["c"]
    assert allocate(3, {"a": 1, "b": 100}, rng)["a"] <= 1


def test_the_same_seed_gives_the_same_sample_and_another_seed_another():
    first, info = draw_sample(items(), 20, seed=1)
    again, _ = draw_sample(items(), 20, seed=1)
    other, _ = draw_sample(items(), 20, seed=2)
    assert first.equals(again) and set(first["item_id"]) != set(other["item_id"])
    assert first["item_id"].is_unique and list(first.columns) == [
        "item_id",
        "text",
        "group",
        "split",
    ]
    assert info["counts"] == {"dev": 10, "test": 10}


def test_strata_are_proportional_and_split_within_each():
    sample, info = draw_sample(items(), 20, seed=3, stratify="group", test_share=0.5)
    assert sample.groupby("group").size().to_dict() == {"a": 10, "b": 6, "c": 4}
    assert info["strata"]["b"] == {"population": 30, "sample": 6, "test": 3, "dev": 3}
    per_group = sample.groupby(["group", "split"]).size().to_dict()
    assert per_group[("a", "test")] == 5 and per_group[("c", "dev")] == 2


def test_impossible_requests_are_refused():
    with pytest.raises(ConfigError, match="cannot draw 101 of 100"):
        draw_sample(items(), 101, seed=0)
    with pytest.raises(ConfigError, match="test_share must be between 0 and 1"):
        draw_sample(items(), 5, seed=0, test_share=1.5)


def test_the_sidecar_and_the_split_reader(tmp_path):
    source = tmp_path / "items.csv"
    items().to_csv(source, index=False)
    sample, info = draw_sample(items(), 10, seed=0, test_share=0.3)
    path = tmp_path / "gold.csv"
    sidecar = write_sample(sample, info, path, source)
    assert sidecar == sidecar_path(path) == tmp_path / "gold.csv.json"
    data = json.loads(sidecar.read_text())
    assert data["seed"] == 0 and data["source_sha256"] and data["test_evaluations"] == []
    test_ids, by_split = load_split(path, "test")
    assert len(test_ids) == 3 and sorted(by_split["dev"] + test_ids) == sorted(sample["item_id"])
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"item_id": ["i1"], "split": ["holdout"]}).to_csv(bad, index=False)
    with pytest.raises(CodesError, match="holdout"):
        load_split(bad, "dev")


def test_a_look_at_the_test_split_with_a_new_run_returns_the_earlier_looks(tmp_path):
    path = tmp_path / "gold.csv"
    assert record_test_look(path, ["A"]) == []
    assert record_test_look(path, ["A"]) == []  # the same run again: not a new look
    earlier = record_test_look(path, ["A", "B"])
    assert [look["runs"] for look in earlier] == [["A"], ["A"]]
    stored = json.loads(sidecar_path(path).read_text())["test_evaluations"]
    assert [look["runs"] for look in stored] == [["A"], ["A"], ["A", "B"]]
