"""`llmcode robustness RUN RUN… --items ITEMS [--human GOLD]` on the bundled sample.

Two scripted fake-model runs (tests/support/eval_runs.py: ana's code except on ~10% of items
with the codebook's examples, ~35% without) and a TF-IDF baseline trained on ana's codes
(cross-fitted) code the 54 closed-coded issues of examples/ptm-issues.csv. The command's JSON
equals the library's; its table names each conclusion and whether it holds; runs over other
items are exit 1 with the message.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from llmcode.analysis.robustness import robustness
from llmcode.cli import get_app
from llmcode.coding.baseline import BaselineSettings, baseline_from_files
from llmcode.store.runs import RunStore
from tests.support.eval_runs import CODES, ITEMS, TAXONOMY, make_run, strip_examples

RUNS = ["fake-examples", "fake-no-examples", "baseline"]


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("robustness")
    store = RunStore(root / "runs")
    coded = set(pd.read_csv(CODES, dtype=str)["item_id"])
    items = pd.read_csv(ITEMS, dtype=str, keep_default_na=False)
    path = root / "gold-items.csv"
    items[items["item_id"].isin(coded)].to_csv(path, index=False)
    make_run(store, TAXONOMY, CODES, "fake-examples", "fake-model")
    bare = strip_examples(TAXONOMY, root / "no-examples.yaml")
    make_run(store, bare, CODES, "fake-no-examples", "fake-model")
    baseline_from_files(
        store,
        CODES,
        path,
        taxonomy=TAXONOMY,
        run_id="baseline",
        settings=BaselineSettings(coder="ana"),
    )
    return root, path


def invoke(*args: object):
    return CliRunner().invoke(get_app(), [str(a) for a in args], env={"COLUMNS": "160"})


def test_json_is_the_librarys_comparison(sample) -> None:
    root, items = sample
    result = invoke("robustness", *RUNS, "--items", items, "--json", "--runs-dir", root / "runs")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    expected = robustness(RUNS, items, runs_dir=root / "runs").to_json()
    assert out == json.loads(json.dumps(expected))
    assert out["runs"] == RUNS
    assert set(out["holding"]) | set(out["flipping"]) == set(out["conclusions"])
    for conclusion in out["conclusions"].values():
        assert set(conclusion["runs"]) == set(RUNS)
        assert 1 / 3 <= conclusion["agreement"] <= 1


def test_the_table_says_which_conclusions_hold_and_which_flip(sample) -> None:
    root, items = sample
    result = invoke(
        "robustness",
        *RUNS,
        "--items",
        items,
        "--human",
        CODES,
        "--coder",
        "ana",
        "--runs-dir",
        root / "runs",
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Conclusions across runs" in text
    assert "rank of" in text and "PPI" in text
    assert "conclusions hold in all 3 runs" in text


def test_runs_over_other_items_are_exit_1_naming_the_runs(sample) -> None:
    root, _ = sample
    result = invoke("robustness", *RUNS[:2], "--items", ITEMS, "--runs-dir", root / "runs")
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "fake-no-examples (18 of the items missing, 0 others)" in text


def test_the_readme_numbers_are_what_the_sample_gives(sample) -> None:
    root, items = sample
    naive = robustness(RUNS, items, runs_dir=root / "runs").to_json()
    assert (naive["n_conclusions"], naive["n_holding"]) == (9, 0)
    usage = [round(naive["shares"][r]["model_usage"]["share"], 2) for r in RUNS]
    assert usage == [0.17, 0.20, 0.39]
    gold = robustness(RUNS, items, human=CODES, coder="ana", runs_dir=root / "runs").to_json()
    assert (gold["n_conclusions"], gold["n_holding"]) == (22, 7)
    assert all(key.startswith("ppi_rank:") for key in gold["holding"])
    ppi = {round(gold["shares"][r]["model_usage"]["ppi"]["estimate"], 2) for r in RUNS}
    assert ppi == {0.19}


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_report_with_other_runs_gains_the_robustness_section(sample, tmp_path, fmt) -> None:
    root, _ = sample
    output = tmp_path / f"report.{fmt}"
    result = invoke(
        *["report", "fake-examples", "--compare", "fake-no-examples", "--compare", "baseline"],
        *["-f", fmt, "-o", output, "--runs-dir", root / "runs"],
    )
    assert result.exit_code == 0, result.output
    page = output.read_text(encoding="utf-8")
    assert "Robustness across runs" in page
    assert "0 of 9 conclusions hold" in page
    assert "rank of model_usage" in page and "flips" in page


def test_a_report_without_other_runs_has_no_robustness_section(sample, tmp_path) -> None:
    root, _ = sample
    output = tmp_path / "report.md"
    result = invoke(
        "report", "fake-examples", "-f", "md", "-o", output, "--runs-dir", root / "runs"
    )
    assert result.exit_code == 0, result.output
    assert "Robustness across runs" not in output.read_text(encoding="utf-8")
