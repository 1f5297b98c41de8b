"""`agree --level`: a run coded at the leaves against category-level human codes is refused
(exit 2, naming both levels) unless rolled up, and the roll-up equals mapping by hand."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from llmcode.testserver import ServerConfig, TestServer
from tests.support import ROOT

ITEMS = ROOT / "examples" / "ptm-issues.csv"
CODES = ROOT / "examples" / "ptm-issues.codes.csv"
TAXONOMY = ROOT / "taxonomy" / "ptm-reuse.yaml"
BY_HAND = {"slow_inference": "model_performance", "accuracy_regression": "model_performance"}


@pytest.fixture(scope="module")
def leaves_run(tmp_path_factory):
    from typer.testing import CliRunner

    from llmcode.cli import get_app

    runs = tmp_path_factory.mktemp("runs")
    with TestServer(ServerConfig()) as server:
        result = CliRunner().invoke(
            get_app(),
            [
                *["code", "-t", str(TAXONOMY), "-i", str(ITEMS), "--level", "leaves"],
                *["--base-url", server.base_url, "--runs-dir", str(runs), "--run-id", "leaves"],
            ],
            env={"OPENAI_API_KEY": "sk-test"},
        )
    assert result.exit_code == 0, result.output
    return runs


def test_agree_refuses_leaves_against_categories_naming_both_levels(cli, leaves_run) -> None:
    result = cli(
        "agree",
        "leaves",
        CODES,
        "--coder",
        "gpt-4o-mini",
        "--coder",
        "ana",
        "--runs-dir",
        leaves_run,
    )
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "gpt-4o-mini at leaves (subcategories), ana, ben at top (categories)" in text
    assert "--level top" in text


def test_agree_level_top_equals_the_leaves_mapped_to_their_parents_by_hand(
    cli, leaves_run, tmp_path
) -> None:
    exported = tmp_path / "leaves.csv"
    assert cli("export", "leaves", "-o", exported, "--runs-dir", leaves_run).exit_code == 0
    frame = pd.read_csv(exported)[["item_id", "coder", "code"]]
    assert frame["code"].isin(BY_HAND).any()  # the run did use subcategories
    by_hand = tmp_path / "by_hand.csv"
    frame.assign(code=frame["code"].replace(BY_HAND)).drop_duplicates().to_csv(by_hand, index=False)
    pair = ["--coder", "gpt-4o-mini", "--coder", "ana", "--json"]
    rolled = cli("agree", "leaves", CODES, "--level", "top", *pair, "--runs-dir", leaves_run)
    assert rolled.exit_code == 0, rolled.output
    manual = cli("agree", by_hand, CODES, *pair)
    assert manual.exit_code == 0, manual.output
    rolled_json, manual_json = json.loads(rolled.stdout), json.loads(manual.stdout)
    for key in ("cohen_kappa", "krippendorff_alpha", "gwet_ac1", "percent_agreement"):
        assert rolled_json[key] == pytest.approx(manual_json[key], abs=1e-12)
    assert rolled_json["confusion"] == manual_json["confusion"]
    assert rolled_json["n_items"] == manual_json["n_items"] == 54


def test_agree_level_needs_a_taxonomy_for_files_and_leaves_refuses_categories(
    cli, tmp_path
) -> None:
    no_taxonomy = cli("agree", CODES, "--level", "top")
    assert no_taxonomy.exit_code == 1 and "--taxonomy" in no_taxonomy.output
    leaves = cli("agree", CODES, "--level", "leaves", "-t", TAXONOMY)
    assert leaves.exit_code == 2 and "model_performance" in leaves.output
    assert "categories with subcategories" in " ".join(leaves.output.split())
    top = cli("agree", CODES, "--level", "top", "-t", TAXONOMY)
    assert top.exit_code == 0, top.output


def test_eval_level_top_scores_a_leaves_run_against_category_gold_as_mapped_by_hand(
    cli, leaves_run, tmp_path
) -> None:
    args = ["--human", CODES, "--coder", "ana", "--bootstrap", "0", "--json"]
    refused = cli("eval", "leaves", *args, "--runs-dir", leaves_run)
    assert refused.exit_code == 1 and "gold codes outside the taxonomy" in refused.output
    rolled = cli("eval", "leaves", *args, "--level", "top", "--runs-dir", leaves_run)
    assert rolled.exit_code == 0, rolled.output
    exported = tmp_path / "leaves.csv"
    assert cli("export", "leaves", "-o", exported, "--runs-dir", leaves_run).exit_code == 0
    frame = pd.read_csv(exported)[["item_id", "coder", "code"]]
    by_hand = tmp_path / "by_hand.csv"
    frame.assign(code=frame["code"].replace(BY_HAND)).drop_duplicates().to_csv(by_hand, index=False)
    manual = cli("eval", by_hand, *args)
    assert manual.exit_code == 0, manual.output
    got, want = json.loads(rolled.stdout)["runs"][0], json.loads(manual.stdout)["runs"][0]
    for key in ("cohen_kappa", "gwet_ac1", "krippendorff_alpha", "accuracy", "macro_f1"):
        if key in want:
            assert got[key]["value"] == pytest.approx(want[key]["value"], abs=1e-12), key
    assert "rolled up to top" in got["settings"]["level"]


def test_analyze_and_report_level_top_give_the_parent_totals(cli, leaves_run, tmp_path) -> None:
    exported = tmp_path / "leaves.csv"
    assert cli("export", "leaves", "-o", exported, "--runs-dir", leaves_run).exit_code == 0
    frame = pd.read_csv(exported)
    by_hand = frame.assign(code=frame["code"].replace(BY_HAND)).drop_duplicates(["item_id", "code"])
    want = by_hand["code"].value_counts().to_dict()
    result = cli("analyze", "leaves", "--level", "top", "--json", "--runs-dir", leaves_run)
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)["distribution"]
    assert {k: v for k, v in got.items() if v} == want
    assert not set(got) & set(BY_HAND)  # no subcategory left
    report = tmp_path / "report.md"
    args = ["report", "leaves", "--level", "top", "-f", "md", "-o", report]
    reported = cli(*args, "--runs-dir", leaves_run)
    assert reported.exit_code == 0, reported.output
    assert "codes compared at the top level" in " ".join(reported.output.split())
    text = report.read_text()
    assert f"| `model_performance` | {want['model_performance']} |" in text  # the parent total
    distribution = text.split("## Code distribution")[1].split("\n## ")[0]
    assert "`model_performance`" in distribution and "`slow_inference`" not in distribution


def test_calibrate_level_top_judges_a_leaves_run_as_its_categories(
    cli, leaves_run, tmp_path
) -> None:
    args = ["calibrate", "leaves", "--human", CODES, "--coder", "ana", "--json"]
    rolled = cli(*args, "--level", "top", "--runs-dir", leaves_run)
    assert rolled.exit_code == 0, rolled.output
    # by hand: each coded gold item is right when its leaf's category is ana's code
    exported = tmp_path / "leaves.csv"
    assert cli("export", "leaves", "-o", exported, "--runs-dir", leaves_run).exit_code == 0
    model = pd.read_csv(exported)
    gold = pd.read_csv(CODES)
    ana = dict(zip(*gold[gold["coder"] == "ana"][["item_id", "code"]].T.values, strict=True))
    model = model[model["item_id"].isin(ana)]
    right = (model["code"].replace(BY_HAND) == model["item_id"].map(ana)).sum()
    result = json.loads(rolled.stdout)
    assert result["n"] == len(model) > 40
    assert result["accuracy"] == pytest.approx(right / len(model), abs=1e-12)
    unrolled = cli(*args, "--runs-dir", leaves_run)  # categories cannot judge leaves
    assert unrolled.exit_code == 1 and "model_performance" in unrolled.output
