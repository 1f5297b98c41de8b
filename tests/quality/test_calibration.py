"""Calibration: equal-width bins, ECE by hand, confidence sources, human code sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from llmcode.errors import AnalysisError, CodesError, ConfigError
from llmcode.llm.answers import CodeAssignment
from llmcode.quality.calibration import (
    bin_index,
    calibrate_pairs,
    calibration_pairs,
    expected_calibration_error,
    human_code_sets,
    reliability_figure,
    reliability_table,
)
from llmcode.store.models import CodingRecord, RunConfig, RunManifest, Sample
from llmcode.store.runs import Run
from llmcode.taxonomy.model import load_taxonomy

DATA = Path(__file__).parents[1] / "data"
TAXONOMY = load_taxonomy(DATA / "tiny.yaml")

# The hand-worked example: 10 predictions in three bins.
#   4 × confidence 1   , correct 1,1,1,0 -> bin [0.9, 1.0]: accuracy 0.75, |gap| 0.25
#   3 × confidence 2/3 , correct 1,1,1   -> bin [0.6, 0.7): accuracy 1,    |gap| 1/3
#   3 × confidence 1/3 , correct 0,1,0   -> bin [0.3, 0.4): accuracy 1/3,  |gap| 0
#   ECE = (4 × 0.25 + 3 × 1/3 + 3 × 0) / 10 = 0.2
HAND_CONFIDENCE = np.array([1, 1, 1, 1, 2 / 3, 2 / 3, 2 / 3, 1 / 3, 1 / 3, 1 / 3])
HAND_CORRECT = np.array([1, 1, 1, 0, 1, 1, 1, 0, 1, 0])


def make_run(tmp_path: Path, records: list[CodingRecord], samples: int = 3) -> Run:
    path = tmp_path / "run"
    path.mkdir()
    (path / "taxonomy.yaml").write_text((DATA / "tiny.yaml").read_text(encoding="utf-8"))
    run = Run(path)
    config = RunConfig(taxonomy_path="tiny.yaml", items_path="items.csv", samples=samples)
    run.write_manifest(RunManifest(run_id="run", config=config))
    for record in records:
        run.append_coding(record)
    return run


def sampled(item_id: str, *codes: str) -> CodingRecord:
    return CodingRecord(
        item_id=item_id,
        status="ok",
        codes=[CodeAssignment(code=codes[0])],
        samples=[Sample(codes=[c], status="ok") for c in codes],
    )


def long_codes(labels: dict[str, str | None], coder: str = "ana") -> pd.DataFrame:
    rows = [{"item_id": i, "coder": coder, "code": c} for i, c in labels.items()]
    return pd.DataFrame(rows, columns=["item_id", "coder", "code"])


def test_ece_matches_the_hand_computation() -> None:
    assert expected_calibration_error(HAND_CONFIDENCE, HAND_CORRECT) == pytest.approx(0.2)


def test_reliability_table_matches_the_hand_computation() -> None:
    table = reliability_table(HAND_CONFIDENCE, HAND_CORRECT).set_index("bin")
    assert table["n"].tolist() == [0, 0, 0, 3, 0, 0, 3, 0, 0, 4]
    assert table.loc[10, ["confidence", "accuracy", "gap"]].tolist() == [1.0, 0.75, -0.25]
    assert table.loc[7, "accuracy"] == 1.0
    assert table.loc[7, "gap"] == pytest.approx(1 / 3)
    assert table.loc[4, "gap"] == pytest.approx(0.0)
    assert table.loc[4, ["lower", "upper"]].tolist() == pytest.approx([0.3, 0.4])
    assert np.isnan(table.loc[1, "accuracy"])


def test_bins_are_closed_below_and_the_last_bin_holds_one() -> None:
    assert bin_index(np.array([0.0, 0.1, 0.3, 0.7, 0.99, 1.0]), 10).tolist() == [0, 1, 3, 7, 9, 9]
    assert bin_index(np.array([0.5, 1.0]), 2).tolist() == [1, 1]


def test_bin_means_match_scikit_learn_calibration_curve() -> None:
    calibration = pytest.importorskip("sklearn.calibration")
    rng = np.random.default_rng(5)
    confidence = rng.random(500)
    correct = (rng.random(500) < confidence**1.5).astype(int)
    accuracy, mean_confidence = calibration.calibration_curve(
        correct, confidence, n_bins=10, strategy="uniform"
    )
    table = reliability_table(confidence, correct)
    used = table[table["n"] > 0]
    assert used["accuracy"].to_numpy() == pytest.approx(accuracy)
    assert used["confidence"].to_numpy() == pytest.approx(mean_confidence)


def test_a_run_with_three_samples_calibrates_as_computed_by_hand(tmp_path: Path) -> None:
    run = make_run(
        tmp_path,
        [
            *(sampled(f"a{n}", "usage", "usage", "usage") for n in range(4)),
            *(sampled(f"b{n}", "usage", "usage", "resources") for n in range(3)),
            *(sampled(f"c{n}", "usage", "performance", "resources") for n in range(3)),
        ],
    )
    human = long_codes(
        {
            "a0": "usage",
            "a1": "usage",
            "a2": "usage",
            "a3": "resources",
            "b0": "usage",
            "b1": "usage",
            "b2": "usage",
            "c0": "performance",
            "c1": "usage",
            "c2": "resources",
            "extra": "usage",
        }
    )
    pairs, source = calibration_pairs(run, human_code_sets(human, TAXONOMY))
    result = calibrate_pairs(pairs, source)
    assert source == "vote"
    assert result.n == 10
    assert result.ece == pytest.approx(0.2)
    assert result.accuracy == pytest.approx(0.7)
    assert result.mean_confidence == pytest.approx((4 + 2 + 1) / 10)
    assert result.to_dict()["bins"][0]["accuracy"] is None


def test_token_probabilities_calibrate_when_recorded(tmp_path: Path) -> None:
    records = [
        CodingRecord(
            item_id="a",
            status="ok",
            codes=[CodeAssignment(code="usage")],
            probabilities={"usage": 0.95},
        ),
        CodingRecord(
            item_id="b",
            status="ok",
            codes=[CodeAssignment(code="usage")],
            probabilities={"usage": 0.25},
        ),
    ]
    run = make_run(tmp_path, records, samples=1)
    sets = human_code_sets(long_codes({"a": "usage", "b": "usage"}), TAXONOMY)
    pairs, source = calibration_pairs(run, sets)
    assert source == "logprob"
    # bins [0.9, 1]: 0.95 right (gap 0.05); [0.2, 0.3): 0.25 right (gap 0.75) -> ECE 0.4
    assert calibrate_pairs(pairs, source).ece == pytest.approx(0.4)


def test_stated_confidence_is_used_for_single_sample_runs(tmp_path: Path) -> None:
    record = CodingRecord(
        item_id="a", status="ok", codes=[CodeAssignment(code="usage", confidence=0.8)]
    )
    run = make_run(tmp_path, [record], samples=1)
    pairs, source = calibration_pairs(run, {"a": {"resources"}})
    assert source == "stated"
    assert pairs.to_dict(orient="records") == [
        {"item_id": "a", "code": "usage", "confidence": 0.8, "correct": False}
    ]


def test_vote_shares_of_a_single_sample_run_are_refused(tmp_path: Path) -> None:
    record = CodingRecord(item_id="a", status="ok", codes=[CodeAssignment(code="usage")])
    run = make_run(tmp_path, [record], samples=1)
    with pytest.raises(AnalysisError, match="one coding per item") as caught:
        calibration_pairs(run, {"a": {"usage"}}, "vote")
    assert "samples 3" in (caught.value.hint or "") and "--" not in (caught.value.hint or "")
    with pytest.raises(AnalysisError, match="no token probabilities"):
        calibration_pairs(run, {"a": {"usage"}}, "logprob")


def test_stated_confidence_of_a_sampled_run_is_refused(tmp_path: Path) -> None:
    run = make_run(tmp_path, [sampled("a", "usage", "usage", "usage")])
    with pytest.raises(AnalysisError, match="replaced by vote shares"):
        calibration_pairs(run, {"a": {"usage"}}, "stated")


def test_nothing_in_common_is_an_error_with_a_hint(tmp_path: Path) -> None:
    run = make_run(tmp_path, [sampled("a", "usage", "usage", "usage")])
    pairs, source = calibration_pairs(run, {"zz": {"usage"}})
    with pytest.raises(AnalysisError, match="no item has both"):
        calibrate_pairs(pairs, source)


def test_confidences_outside_zero_one_and_zero_bins_are_refused() -> None:
    with pytest.raises(AnalysisError, match=r"\[0, 1\]"):
        reliability_table(np.array([1.2]), np.array([1]))
    with pytest.raises(ConfigError, match="bins must be at least 1"):
        reliability_table(np.array([0.5]), np.array([1]), n_bins=0)


def test_human_codes_map_leaves_to_their_top_category_and_empty_to_none() -> None:
    codes = long_codes({"a": "slow", "b": None, "c": "usage"})
    assert human_code_sets(codes, TAXONOMY) == {"a": {"performance"}, "b": {"none"}, "c": {"usage"}}
    assert human_code_sets(codes.iloc[[0]], TAXONOMY, level="leaves") == {"a": {"slow"}}


def test_human_codes_at_the_wrong_level_name_the_code_and_item() -> None:
    with pytest.raises(CodesError, match=r"'performance' \(item a\)"):
        human_code_sets(long_codes({"a": "performance"}), TAXONOMY, level="leaves")


def test_an_unknown_coder_is_named() -> None:
    with pytest.raises(CodesError, match=r"no codes by coder 'zoe'.*coders: ana"):
        human_code_sets(long_codes({"a": "usage"}), TAXONOMY, coder="zoe", source="h.csv")


def test_the_reliability_figure_draws_one_bar_per_used_bin(tmp_path: Path) -> None:
    pairs = pd.DataFrame({"confidence": HAND_CONFIDENCE, "correct": HAND_CORRECT})
    figure = reliability_figure(calibrate_pairs(pairs, "vote"))
    axes = figure.axes[0]
    assert len(axes.patches) == 3
    assert "ECE 0.200" in axes.get_title()
    figure.savefig(tmp_path / "reliability.png")
    assert (tmp_path / "reliability.png").read_bytes()[:4] == b"\x89PNG"
