"""`llmcode agree` through the command line: JSON contract, table, files written, error paths."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from llmcode.cli import get_app
from llmcode.codes import load_codes
from llmcode.quality.agreement import compute_agreement

DATA = Path(__file__).parents[1] / "data" / "agreement"
HUMANS = DATA / "interviews_humans.csv"
LLM = DATA / "interviews_llm.jsonl"
runner = CliRunner()


def invoke(*args: str | Path):
    return runner.invoke(get_app(), ["agree", *map(str, args)], env={"COLUMNS": "120"})


def test_json_output_is_one_object_with_the_contract_keys():
    result = invoke(HUMANS, LLM, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["coders"] == ["ana", "ben", "gpt-4o-mini"]
    for key in (
        "n_items",
        "percent_agreement",
        "cohen_kappa",
        "fleiss_kappa",
        "krippendorff_alpha",
        "gwet_ac1",
        "brennan_prediger",
        "per_code",
        "ci95",
        "confusion",
    ):
        assert key in data
    assert data["cohen_kappa"] is None and data["confusion"] is None
    assert set(data["per_code"]["cost"]) >= {"kappa", "alpha", "prevalence", "n"}
    expected = compute_agreement(pd.concat([load_codes(HUMANS), load_codes(LLM)]))
    assert data["krippendorff_alpha"] == expected.krippendorff_alpha


def test_two_coders_in_json_get_cohen_kappa_and_a_confusion_matrix():
    result = invoke(HUMANS, LLM, "--coders", "ana,gpt-4o-mini", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["coders"] == ["ana", "gpt-4o-mini"]
    assert isinstance(data["cohen_kappa"], float)
    assert data["confusion"]["coders"] == ["ana", "gpt-4o-mini"]
    assert sum(map(sum, data["confusion"]["matrix"])) == data["n_items"]


def test_bootstrap_adds_seeded_95_percent_intervals_for_every_coefficient():
    first = json.loads(invoke(HUMANS, LLM, "--json", "--bootstrap", "200", "--seed", "3").stdout)
    again = json.loads(invoke(HUMANS, LLM, "--json", "--bootstrap", "200", "--seed", "3").stdout)
    assert first["ci95"] == again["ci95"]
    assert set(first["ci95"]) == {
        "percent_agreement",
        "fleiss_kappa",
        "krippendorff_alpha",
        "gwet_ac1",
        "brennan_prediger",
    }
    low, high = first["ci95"]["krippendorff_alpha"]
    assert low < first["krippendorff_alpha"] < high
    assert first["bootstrap"]["n_resamples"] == 200


def test_the_table_names_coefficients_bands_and_excluded_items():
    result = invoke(DATA / "krippendorff_2011.csv", "--scale", "interval")
    assert result.exit_code == 0, result.output
    assert "Krippendorff's α (interval)" in result.stdout
    assert "0.849" in result.stdout
    assert "reliable" in result.stdout
    assert "Landis & Koch" in result.stdout
    assert "Pairwise Cohen's κ" in result.stdout
    assert "1 item coded by fewer than two coders was left out (u12)" in result.stdout


def test_the_table_shows_a_confusion_matrix_for_two_coders_and_codes_with_by_code():
    result = invoke(DATA / "cohen_textbook.csv", "--by-code", "--bootstrap", "100")
    assert result.exit_code == 0, result.output
    assert "Cohen's κ" in result.stdout and "0.400" in result.stdout and "fair" in result.stdout
    assert "Confusion matrix · rows: reader_a · columns: reader_b" in result.stdout
    assert "Per code" in result.stdout and "κ CI" in result.stdout
    assert "95% CI" in result.stdout


def test_multi_label_reports_the_masi_alpha():
    result = invoke(DATA / "posts_multilabel.jsonl", "--multi-label", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    expected = compute_agreement(load_codes(DATA / "posts_multilabel.jsonl"), multi_label=True)
    assert data["distance"] == "masi"
    assert data["krippendorff_alpha"] == expected.krippendorff_alpha
    assert data["krippendorff_alpha_jaccard"] == expected.krippendorff_alpha_jaccard


def test_disagreements_are_written_with_the_llm_justification(tmp_path):
    out = tmp_path / "disagreements.csv"
    result = invoke(HUMANS, LLM, "--disagreements", out)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(table.columns) == [
        "item_id",
        "ana",
        "ben",
        "gpt-4o-mini",
        "gpt-4o-mini_justification",
    ]
    assert len(table) > 0
    assert f"wrote {len(table)} disagreement(s)" in result.stderr
    assert table["item_id"].str.startswith("INT-").all()


def test_an_ordinal_scale_in_words_is_ordered_with_categories(tmp_path):
    rows = [
        ("1", "a", "low"),
        ("1", "b", "mid"),
        ("2", "a", "high"),
        ("2", "b", "high"),
        ("3", "a", "mid"),
        ("3", "b", "mid"),
    ]
    path = tmp_path / "scale.csv"
    pd.DataFrame(rows, columns=["item_id", "coder", "code"]).to_csv(path, index=False)
    refused = invoke(path, "--scale", "ordinal")
    assert refused.exit_code == 1
    assert "need an explicit order" in refused.stderr and "categories low, mid" in refused.stderr
    result = invoke(path, "--scale", "ordinal", "--categories", "low,mid,high", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["categories"] == ["low", "mid", "high"]
    assert data["weighted_kappa_quadratic"] is not None


# --- error paths -------------------------------------------------------------------------------


def test_an_unknown_coder_is_a_clear_error_with_the_available_coders():
    result = invoke(HUMANS, LLM, "--coders", "ana,zoe")
    assert result.exit_code == 1
    assert "unknown coder 'zoe'" in result.stderr
    assert "ana, ben, gpt-4o-mini" in result.stderr
    assert "Traceback" not in result.output


def test_a_missing_column_names_the_file_and_the_column(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("item_id,rater,code\n1,ana,x\n")
    result = invoke(path)
    assert result.exit_code == 1
    assert "codes.csv: missing column coder" in result.stderr


def test_an_empty_file_is_a_clear_error(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("")
    result = invoke(path)
    assert result.exit_code == 1
    assert "empty" in result.stderr


def test_a_coder_without_overlap_is_a_clear_error(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("item_id,coder,code\n1,a,x\n1,b,x\n2,a,y\n2,b,y\n9,c,x\n")
    result = invoke(path)
    assert result.exit_code == 1
    assert "'c' shares no item with the other coders" in result.stderr


def test_a_single_category_explains_why_kappa_is_undefined(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("item_id,coder,code\n1,a,x\n1,b,x\n2,a,x\n2,b,x\n")
    result = invoke(path)
    assert result.exit_code == 0, result.output
    assert "Cohen's κ, Fleiss' κ and Krippendorff's α (nominal) are undefined" in result.stdout
    assert "every coding on the 2 compared items is 'x'" in result.stdout
    assert not re.search(r"\bnan\b", result.stdout, re.IGNORECASE)
    data = json.loads(invoke(path, "--json").stdout)
    assert data["cohen_kappa"] is None and "'x'" in data["undefined"]["cohen_kappa"]


def test_a_directory_that_is_not_a_run_is_refused(tmp_path):
    result = invoke(tmp_path)
    assert result.exit_code == 1
    assert "not a run (no manifest.json)" in result.stderr


def test_a_bad_level_is_a_usage_error():
    result = invoke(HUMANS, "--scale", "ratio")
    assert result.exit_code == 2


# --- run directories ------------------------------------------------------------------------------


def _write_run(path: Path, model: str, codes: dict[str, str]) -> None:
    from llmcode.llm.answers import CodeAssignment
    from llmcode.store.models import CodingRecord, RunConfig, RunManifest
    from llmcode.store.runs import Run

    path.mkdir(parents=True)
    run = Run(path)
    config = RunConfig(taxonomy_path="t.yaml", items_path="items.csv", model=model)
    run.write_manifest(RunManifest(run_id=path.name, config=config))
    for item_id, code in codes.items():
        chosen = CodeAssignment(code=code, justification=f"{model} reads it as {code}")
        run.append_coding(CodingRecord(item_id=item_id, status="ok", codes=[chosen]))


def test_a_run_directory_is_a_coder_named_after_its_model(tmp_path):
    llm = load_codes(LLM)
    _write_run(
        tmp_path / "runs" / "r1", "gpt-4o-mini", dict(zip(llm["item_id"], llm["code"], strict=True))
    )
    result = invoke(
        HUMANS, tmp_path / "runs" / "r1", "--json", "--disagreements", tmp_path / "d.csv"
    )
    assert result.exit_code == 0, result.output
    from_run = json.loads(result.stdout)
    from_file = json.loads(invoke(HUMANS, LLM, "--json").stdout)
    assert from_run["coders"] == ["ana", "ben", "gpt-4o-mini"]
    assert from_run["krippendorff_alpha"] == from_file["krippendorff_alpha"]
    table = pd.read_csv(tmp_path / "d.csv", dtype=str, keep_default_na=False)
    coded = table[table["gpt-4o-mini"] != ""]
    assert coded["gpt-4o-mini_justification"].str.startswith("gpt-4o-mini reads it as").all()


def test_two_runs_of_one_model_stay_two_coders(tmp_path):
    _write_run(tmp_path / "r1", "llama", {"1": "x", "2": "y", "3": "x"})
    _write_run(tmp_path / "r2", "llama", {"1": "x", "2": "x", "3": "x"})
    result = invoke(tmp_path / "r1", tmp_path / "r2", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["coders"] == ["llama@r1", "llama@r2"]
    assert data["percent_agreement"] == pytest.approx(2 / 3)


# --- partial runs, run ids, one vocabulary ----------------------------------------------


def _partial_run(root: Path) -> None:
    from llmcode.store.runs import Run

    llm = load_codes(LLM)
    _write_run(
        root / "p1", "gpt-4o-mini", dict(list(zip(llm["item_id"], llm["code"], strict=True))[:6])
    )
    run = Run(root / "p1")
    manifest = run.manifest()
    run.write_manifest(
        manifest.model_copy(update={"status": "interrupted", "items": {"n_items": 60}})
    )


def test_a_partly_coded_run_is_refused_under_the_minimum_coverage(tmp_path):
    _partial_run(tmp_path)
    result = invoke("--human", HUMANS, "p1", "--runs-dir", tmp_path)
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "6 of 60 items" in said and "min_coverage" in said


def test_a_partly_coded_run_is_compared_when_asked_with_the_coverage_said(tmp_path):
    _partial_run(tmp_path)
    result = invoke(
        "--human", HUMANS, "p1", "--runs-dir", tmp_path, "--min-coverage", "0", "--json"
    )
    assert result.exit_code == 0, result.output
    assert "6 of 60 items coded (10%" in " ".join(result.stderr.split())
    assert json.loads(result.stdout)["coders"] == ["ana", "ben", "gpt-4o-mini"]


def test_a_run_id_is_found_in_llmcode_runs_dir(tmp_path):
    llm = load_codes(LLM)
    _write_run(tmp_path / "r1", "gpt-4o-mini", dict(zip(llm["item_id"], llm["code"], strict=True)))
    result = runner.invoke(
        get_app(),
        ["agree", "--human", str(HUMANS), "r1", "--json"],
        env={"LLMCODE_RUNS_DIR": str(tmp_path)},
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["coders"] == ["ana", "ben", "gpt-4o-mini"]


def test_coder_is_repeatable_and_scale_names_the_scale_old_spellings_still_work():
    new = invoke(
        "--human",
        HUMANS,
        LLM,
        "--coder",
        "ana",
        "--coder",
        "gpt-4o-mini",
        "--scale",
        "nominal",
        "--json",
    )
    old = invoke(HUMANS, LLM, "--coders", "ana,gpt-4o-mini", "--json")  # --level: taxonomy
    assert new.exit_code == 0, new.output
    assert json.loads(new.stdout) == json.loads(old.stdout)
    assert json.loads(new.stdout)["coders"] == ["ana", "gpt-4o-mini"]
    assert invoke(HUMANS, "--scale", "ratio").exit_code == 2
    assert invoke(HUMANS, "--level", "nominal").exit_code == 2  # the scale is --scale only


def test_a_run_id_wins_over_a_same_named_folder_that_is_not_a_run(tmp_path, monkeypatch):
    llm = load_codes(LLM)
    _write_run(
        tmp_path / "runs" / "study",
        "gpt-4o-mini",
        dict(zip(llm["item_id"], llm["code"], strict=True)),
    )
    (tmp_path / "study").mkdir()  # a project folder that happens to share the run's name
    monkeypatch.chdir(tmp_path)
    result = invoke("--human", HUMANS, "study", "--runs-dir", tmp_path / "runs", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["coders"] == ["ana", "ben", "gpt-4o-mini"]


# --- the library on the same inputs ----------------------------------------------------------


def test_compute_agreement_on_files_and_runs_gives_what_agree_json_prints(tmp_path):
    llm = load_codes(LLM)
    _write_run(tmp_path / "r1", "gpt-4o-mini", dict(zip(llm["item_id"], llm["code"], strict=True)))
    printed = invoke("--human", HUMANS, "r1", "--runs-dir", tmp_path, "--bootstrap", "50", "--json")
    assert printed.exit_code == 0, printed.output
    result = compute_agreement([HUMANS, "r1"], runs_dir=tmp_path, bootstrap=50)
    assert result.model_dump(mode="json") == json.loads(printed.stdout)
    assert result.coders == ["ana", "ben", "gpt-4o-mini"] and result.warnings == []


def test_the_library_refuses_a_partly_coded_run_naming_the_setting(tmp_path):
    from llmcode.errors import ConfigError

    _partial_run(tmp_path)
    with pytest.raises(ConfigError, match=r"6 of 60 items coded \(10%, interrupted\)") as caught:
        compute_agreement([HUMANS, tmp_path / "p1"])
    assert "min_coverage" in str(caught.value) and "--" not in str(caught.value)
    result = compute_agreement([HUMANS, tmp_path / "p1"], min_coverage=0)
    assert result.warnings == [
        "run p1: 6 of 60 items coded (10%, interrupted); agreement covers the coded items only"
    ]
    printed = invoke("--human", HUMANS, tmp_path / "p1", "--min-coverage", "0", "--json")
    assert json.loads(printed.stdout)["warnings"] == result.warnings


def test_the_library_keeps_two_runs_of_one_model_as_two_coders(tmp_path):
    from llmcode.store.runs import Run

    _write_run(tmp_path / "r1", "llama", {"1": "x", "2": "y", "3": "x"})
    _write_run(tmp_path / "r2", "llama", {"1": "x", "2": "x", "3": "x"})
    result = compute_agreement([Run(tmp_path / "r1"), str(tmp_path / "r2")])
    assert result.coders == ["llama@r1", "llama@r2"]
    assert result.percent_agreement == pytest.approx(2 / 3)
