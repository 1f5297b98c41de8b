"""`llmcode sample`, `code --only`, blind review + `export --reviewed`, and `llmcode eval`.

The worked example of the README runs here: 30 gold items drawn from the bundled sample, two
fake-model runs (codebook with and without examples), two reviewers coding blind, `eval`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from llmcode.items import item_ids
from llmcode.store.runs import RunStore
from llmcode.testserver import ServerConfig, TestServer
from tests.support import DATA
from tests.support.eval_runs import (
    ITEMS,
    TAXONOMY,
    code_blind,
    make_run,
    reference_codes,
    strip_examples,
)


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """gold.csv (30 items), runs no-examples and with-examples, blind ana.csv and ben.csv."""
    from typer.testing import CliRunner

    from llmcode.cli import get_app

    root = tmp_path_factory.mktemp("eval")
    gold = root / "gold.csv"
    result = CliRunner().invoke(
        get_app(),
        ["sample", str(ITEMS), "-n", "30", "--seed", "7", "--stratify", "project", "-o", str(gold)],
    )
    assert result.exit_code == 0, result.output
    store = RunStore(root / "runs")
    short = strip_examples(TAXONOMY, root / "ptm-reuse-no-examples.yaml")
    first = make_run(store, short, gold, "no-examples", "fake-model")
    make_run(store, TAXONOMY, gold, "with-examples", "fake-model")
    codes = reference_codes()
    ids = item_ids(gold)
    assert code_blind(first, "ana", codes["ana"], ids) == 30
    assert code_blind(first, "ben", {**codes["ana"], **codes["ben"]}, ids) == 30
    for reviewer in ("ana", "ben"):
        out = root / f"{reviewer}.csv"
        args = ["export", str(first.path), "--reviewed", "--reviewer", reviewer, "-o", str(out)]
        assert CliRunner().invoke(get_app(), args).exit_code == 0
    return root


RUN_KEYS = (
    "run",
    "model",
    "prompt_hash",
    "n_items",
    "accuracy",
    "cohen_kappa",
    "gwet_ac1",
    "krippendorff_alpha",
    "macro_f1",
    "per_code",
    "cost_per_item_usd",
)


def eval_args(root: Path, *extra: object) -> list[object]:
    return [
        "eval",
        root / "runs" / "no-examples",
        root / "runs" / "with-examples",
        "--gold",
        root / "ana.csv",
        "--gold",
        root / "ben.csv",
        "--bootstrap",
        "300",
        *extra,
    ]


def test_sample_draws_the_same_items_for_the_same_seed_with_a_split_and_a_sidecar(
    study, cli, tmp_path
):
    again = tmp_path / "again.csv"
    assert (
        cli("sample", ITEMS, "-n", 30, "--seed", 7, "--stratify", "project", "-o", again).exit_code
        == 0
    )
    first, second = pd.read_csv(study / "gold.csv"), pd.read_csv(again)
    assert first.equals(second)
    assert set(first.columns) >= {"item_id", "title", "body", "project", "split"}
    assert first["split"].value_counts().to_dict() == {"dev": 15, "test": 15}
    assert first.groupby("project").size().between(3, 4).all()  # 30 of 72, 9 per project
    sidecar = json.loads((study / "gold.csv.json").read_text())
    assert sidecar["seed"] == 7 and sidecar["stratify"] == "project" and sidecar["n"] == 30
    assert sidecar["counts"] == {"dev": 15, "test": 15} and len(sidecar["strata"]) == 8
    other = tmp_path / "other.csv"
    assert cli("sample", ITEMS, "-n", 30, "--seed", 8, "-o", other).exit_code == 0
    assert set(pd.read_csv(other)["item_id"]) != set(first["item_id"])


def test_sample_refuses_impossible_draws(cli, tmp_path):
    result = cli("sample", ITEMS, "-n", 500, "-o", tmp_path / "g.csv")
    assert result.exit_code == 1 and "cannot draw 500 of 72" in result.output
    result = cli("sample", ITEMS, "-n", 5, "--stratify", "nope", "-o", tmp_path / "g.csv")
    assert result.exit_code == 1 and "no column 'nope'" in result.output


def test_blind_codes_export_in_long_format_with_none_for_no_code(study):
    ana = pd.read_csv(study / "ana.csv", dtype=str)
    assert list(ana.columns[:3]) == ["item_id", "coder", "code"]
    assert set(ana["coder"]) == {"ana"} and ana["blind"].eq("True").all()
    not_ptm = set(item_ids(study / "gold.csv")) - set(reference_codes()["ana"])
    assert set(ana.loc[ana["code"] == "none", "item_id"]) == not_ptm


def test_the_worked_example_ranks_the_codebook_with_examples_first(study, cli):
    args = eval_args(study, "--splits", study / "gold.csv", "--split", "dev")
    result = cli(*args, env={"COLUMNS": "120"})  # run ids unfolded
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    ranked = [line for line in lines if line.strip().startswith(("1 ", "2 "))]
    assert "with-examples" in ranked[0] and "no-examples" in ranked[1]
    assert "humans (ana × ben)" in result.output
    assert "Paired differences" in result.output and "guessing" in result.output
    assert "15 items · split dev" in result.output


def test_eval_json_keeps_the_contract(study, cli):
    result = cli(*eval_args(study, "--json"))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    coefficient = {"value", "ci95"}
    for run in data["runs"]:
        assert set(RUN_KEYS) <= set(run)
        for name in ("accuracy", "cohen_kappa", "gwet_ac1", "krippendorff_alpha", "macro_f1"):
            assert coefficient <= set(run[name]) and len(run[name]["ci95"]) == 2
        for score in run["per_code"].values():
            assert {"precision", "recall", "f1", "support", "kappa", "guessing"} <= set(score)
        assert run["n_items"] == 30 and run["cost_per_item_usd"] > 0
    for name in ("cohen_kappa", "gwet_ac1", "krippendorff_alpha"):
        assert coefficient <= set(data["human_ceiling"][name])
    (pair,) = data["paired"]
    assert (pair["a"], pair["b"]) == ("no-examples", "with-examples")
    assert {"a", "b", "delta_kappa", "delta_macro_f1", "p"} <= set(pair)
    assert len(pair["delta_kappa"]["ci95"]) == 2 and len(pair["delta_macro_f1"]["ci95"]) == 2


def test_a_second_look_at_the_test_split_with_another_run_is_called_out(study, cli, tmp_path):
    gold = tmp_path / "gold.csv"
    gold.write_bytes((study / "gold.csv").read_bytes())
    (tmp_path / "gold.csv.json").write_bytes((study / "gold.csv.json").read_bytes())
    common = ["--gold", study / "ana.csv", "--splits", gold, "--split", "test", "--bootstrap", "0"]
    first = cli("eval", study / "runs" / "with-examples", *common)
    assert first.exit_code == 0 and "second look" not in first.output
    again = cli("eval", study / "runs" / "with-examples", *common)
    assert "second look" not in again.output  # the same run again is not a new look
    other = cli("eval", study / "runs" / "no-examples", *common)
    assert other.exit_code == 0
    assert "second look at the test split" in other.output and "with-examples" in other.output
    looks = json.loads((tmp_path / "gold.csv.json").read_text())["test_evaluations"]
    assert [look["runs"] for look in looks] == [["with-examples"]] * 2 + [["no-examples"]]


def test_bad_input_is_a_clear_error(study, cli, tmp_path):
    run = study / "runs" / "with-examples"
    result = cli("eval", run, "--gold", study / "ana.csv", "--coder", "zoe")
    assert result.exit_code == 1 and "'zoe'" in result.output and "ana" in result.output
    result = cli("eval", run, "--gold", study / "ana.csv", "--split", "dev")
    assert result.exit_code == 1 and "split 'dev' needs splits" in result.output
    stranger = tmp_path / "split.csv"
    pd.DataFrame({"item_id": ["x1"], "split": ["dev"]}).to_csv(stranger, index=False)
    result = cli("eval", run, "--gold", study / "ana.csv", "--splits", stranger, "--split", "dev")
    assert result.exit_code == 1 and "none of the gold items is in the split file" in result.output
    extra = tmp_path / "extra.csv"
    pd.DataFrame({"item_id": ["docsum-999"], "coder": ["ana"], "code": ["resources"]}).to_csv(
        extra, index=False
    )
    result = cli("eval", run, "--gold", study / "ana.csv", "--gold", extra)
    assert (
        result.exit_code == 1
        and "docsum-999" in result.output
        and "only set to the gold file" in result.output
    )
    outside = tmp_path / "outside.csv"
    pd.DataFrame({"item_id": ["docsum-25"], "coder": ["ana"], "code": ["bugs"]}).to_csv(
        outside, index=False
    )
    result = cli("eval", run, "--gold", outside)
    assert (
        result.exit_code == 1
        and "outside the taxonomy" in result.output
        and "bugs" in result.output
    )
    few = tmp_path / "few.csv"
    pd.read_csv(study / "ana.csv").head(5).to_csv(few, index=False)
    result = cli("eval", run, "--gold", few, "--bootstrap", "50")
    assert result.exit_code == 0 and "only 5 gold item(s)" in result.output


def test_code_only_codes_just_the_listed_items(cli, tmp_path):
    only = tmp_path / "gold.csv"
    pd.DataFrame({"item_id": ["i3", "i1"], "split": ["dev", "test"]}).to_csv(only, index=False)
    args = [
        "code",
        "-t",
        DATA / "tiny.yaml",
        "-i",
        DATA / "items.csv",
        "--runs-dir",
        tmp_path,
        "--run-id",
        "r1",
        "--only",
        only,
    ]
    with TestServer(ServerConfig()) as server:
        result = cli(*args, "--base-url", server.base_url, env={"OPENAI_API_KEY": "sk-test"})
    assert result.exit_code == 0, result.output
    run = RunStore(tmp_path).open("r1")
    assert [item.item_id for item in run.items()] == ["i1", "i3"]
    assert set(run.latest_codings()) == {"i1", "i3"}
    assert run.manifest().config.inputs.only == str(only)
    pd.DataFrame({"item_id": ["i1", "zz"]}).to_csv(only, index=False)
    result = cli(*args[:-4], "--run-id", "r2", "--only", only, "--backend", "openai")
    assert result.exit_code == 1 and "zz" in result.output


def test_evaluate_on_run_ids_and_gold_files_gives_what_eval_json_prints(study, cli):
    from llmcode.quality.eval import evaluate

    split = ["--splits", study / "gold.csv", "--split", "dev"]
    printed = cli(*eval_args(study, *split, "--json", "--runs-dir", study / "runs"))
    assert printed.exit_code == 0, printed.output
    result = evaluate(
        ["no-examples", study / "runs" / "with-examples"],
        [study / "ana.csv", study / "ben.csv"],
        splits=study / "gold.csv",
        split="dev",
        bootstrap=300,
        runs_dir=study / "runs",
    )
    assert result.model_dump(mode="json") == json.loads(printed.stdout)
    assert result.gold["n_items"] == 15


def test_evaluate_warns_about_gold_items_the_split_file_leaves_out(study, tmp_path):
    from llmcode.quality.eval import evaluate

    splits = tmp_path / "splits.csv"
    table = pd.read_csv(study / "gold.csv")
    table.iloc[1:].to_csv(splits, index=False)
    result = evaluate([study / "runs" / "with-examples"], study / "ana.csv", splits=splits)
    left_out = str(table["item_id"].iloc[0])
    assert result.warnings[0] == (
        f"1 gold item(s) are not in {splits} and are left out: {left_out}"
    )
    assert result.gold["n_items"] == 29


def test_evaluate_records_each_look_at_the_test_split_and_warns_at_a_second(study, tmp_path):
    from llmcode.errors import ConfigError
    from llmcode.quality.eval import evaluate

    gold = tmp_path / "gold.csv"
    gold.write_bytes((study / "gold.csv").read_bytes())
    runs = study / "runs"
    common = {"splits": gold, "split": "test", "bootstrap": 0, "runs_dir": runs}
    assert evaluate(["with-examples"], study / "ana.csv", **common).warnings == []
    second = evaluate(["no-examples"], study / "ana.csv", **common).warnings
    assert second[0].startswith(f"second look at the test split of {gold}: runs already")
    looks = json.loads((tmp_path / "gold.csv.json").read_text())["test_evaluations"]
    assert [look["runs"] for look in looks] == [["with-examples"], ["no-examples"]]
    with pytest.raises(ConfigError, match="split 'test' needs splits") as caught:
        evaluate(["no-examples"], study / "ana.csv", split="test", runs_dir=runs)
    assert "--" not in str(caught.value)
