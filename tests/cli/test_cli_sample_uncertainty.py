"""`llmcode sample --strategy uncertainty --run RUN` and `analyze RUN --gold` on such a sample.

A run over the bundled sample's 54 closed-coded issues carries ben's codes (ana's where he has
none) with confidences that vary by item; the sample is drawn by its uncertainty; ana codes the
drawn items. `analyze --gold` then gives the active-inference shares, equal to
`active_mean_estimates` on the same arrays, and refuses a draw whose items are not all coded.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from llmcode.analysis.active import active_mean_estimates
from llmcode.cli import get_app
from llmcode.items import load_items
from llmcode.llm.answers import CodeAssignment
from llmcode.store.jsonl import atomic_write
from llmcode.store.models import CodingRecord, RunConfig, RunManifest
from llmcode.store.runs import TAXONOMY, RunStore
from tests.support.eval_runs import ITEMS, reference_codes
from tests.support.eval_runs import TAXONOMY as TAXONOMY_FILE


def invoke(*args: object):
    return CliRunner().invoke(get_app(), [str(a) for a in args], env={"COLUMNS": "120"})


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("active")
    codes = reference_codes()
    llm = {**codes["ana"], **codes["ben"]}
    store = RunStore(root / "runs")
    run = store.create("R")
    atomic_write(run.path / TAXONOMY, TAXONOMY_FILE.read_text("utf-8"))
    items = [i for i in load_items(ITEMS).items if i.item_id in llm]
    run.write_items(items)
    config = RunConfig(taxonomy_path=str(TAXONOMY_FILE), items_path=str(ITEMS), backend="fake")
    run.write_manifest(RunManifest(run_id="R", config=config, status="complete"))
    for item in items:
        spread = int(hashlib.sha256(item.item_id.encode()).hexdigest()[:4], 16) / 65535
        confidence = 0.5 + 0.5 * spread
        code = CodeAssignment(code=llm[item.item_id], confidence=confidence)
        run.append_coding(CodingRecord(item_id=item.item_id, status="ok", codes=[code]))
    table = pd.read_csv(ITEMS, dtype=str, keep_default_na=False)
    table[table["item_id"].isin(llm)].to_csv(root / "items.csv", index=False)
    result = invoke(
        "sample",
        root / "items.csv",
        "-n",
        25,
        "-o",
        root / "sample.csv",
        "--strategy",
        "uncertainty",
        "--run",
        "R",
        "--runs-dir",
        root / "runs",
        "--seed",
        2,
    )
    assert result.exit_code == 0, result.output
    return root


def gold_file(root: Path, drop: int = 0) -> Path:
    sample = pd.read_csv(root / "sample.csv", dtype=str)
    ana = reference_codes()["ana"]
    drawn = [i for i in sample["item_id"] if i in ana]
    assert len(drawn) == len(sample)  # the run holds only items ana coded
    path = root / f"gold-{drop}.csv"
    kept = drawn[drop:]
    pd.DataFrame({"item_id": kept, "coder": "ana", "code": [ana[i] for i in kept]}).to_csv(
        path, index=False
    )
    (root / f"gold-{drop}.csv.json").write_text((root / "sample.csv.json").read_text())
    return path


def test_the_sample_records_each_drawn_items_inclusion_probability(study) -> None:
    sample = pd.read_csv(study / "sample.csv", dtype={"item_id": str})
    record = json.loads((study / "sample.csv.json").read_text())
    assert record["strategy"] == "uncertainty" and record["run"] == "R"
    assert record["n"] == len(sample) and record["expected_n"] == 25
    assert dict(zip(sample["item_id"], sample["inclusion_probability"], strict=True)) == (
        pytest.approx(record["inclusion_probabilities"])
    )


def test_analyze_gold_uses_the_active_estimator(study) -> None:
    gold = gold_file(study)
    result = invoke("analyze", "R", "--gold", gold, "--json", "--runs-dir", study / "runs")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    record = json.loads((study / "sample.csv.json").read_text())
    codes = reference_codes()
    llm = {**codes["ana"], **codes["ben"]}
    population = [i.item_id for i in load_items(ITEMS).items if i.item_id in llm]  # any order
    labeled = np.array([i in record["inclusion_probabilities"] for i in population])
    pi = np.array([record["inclusion_probabilities"][i] for i in np.array(population)[labeled]])
    for code, share in out["prevalence"].items():
        yhat = np.array([llm[i] == code for i in population], dtype=float)
        y = np.array([codes["ana"][i] == code for i in population], dtype=float)
        expected = active_mean_estimates(y[labeled], yhat[labeled], pi, yhat[~labeled], (0, 1))
        assert share["ppi"]["estimate"] == pytest.approx(expected.ppi.estimate, abs=1e-12)
        assert share["classical"]["estimate"] == pytest.approx(expected.classical.estimate)
    assert any("active inference" in note for note in out["ppi"]["notes"])
    assert out["ppi"]["regressions"] == {}


def test_a_drawn_item_without_a_gold_code_is_refused(study) -> None:
    gold = gold_file(study, drop=1)
    result = invoke("analyze", "R", "--gold", gold, "--runs-dir", study / "runs")
    assert result.exit_code == 1
    assert "1 drawn item(s) have no gold code" in " ".join(result.output.split())


def test_a_uniform_sample_refuses_run_and_floor(tmp_path) -> None:
    result = invoke("sample", ITEMS, "-n", 5, "-o", tmp_path / "s.csv", "--floor", 0.2)
    assert result.exit_code == 1
    assert "run and floor are for the uncertainty strategy" in " ".join(result.output.split())


def test_a_plan_before_coding_prints_the_gold_items_needed(study) -> None:
    from llmcode.quality.gold_plan import plan_gold_sample

    result = invoke("sample", "--plan", 0.3, "--run", "R", "--runs-dir", study / "runs")
    assert result.exit_code == 0, result.output
    plan = plan_gold_sample(RunStore(study / "runs").open("R"), 0.3)
    said = " ".join(result.output.split())
    assert f"classical: {plan.n_classical} gold items; PPI: {plan.n_ppi}" in said


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--plan", 0.1], "a plan reads the run's confidences"),
        (["--plan", 0.1, "--run", "R", "-n", 5], "a plan draws nothing: leave out n"),
        (["-n", 5], "a sample needs items, output"),
    ],
)
def test_plan_and_draw_settings_that_do_not_go_together(study, args, message) -> None:
    result = invoke("sample", *args, "--runs-dir", study / "runs")
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
