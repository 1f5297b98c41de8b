"""`llmcode analyze --gold [--covariate COLUMN] [--outcome COLUMN]`: PPI regressions.

The bundled sample without a run: ben's codes are analysed (standing in for the LLM's), ana's
codes on 30 of the items are the gold sample (the screening codes likewise for the logistic
regression, where eight codes on 30 gold items separate the outcome). The JSON's regression
coefficients are those of `llmcode.analysis.ppi_regression` on the same tables (the estimator
itself is checked against ppi_py in tests/analysis); bad columns are errors naming them, exit 1.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from llmcode.analysis.ppi_regression import item_column, resolution_regression
from llmcode.analysis.resolution import resolution_times
from llmcode.cli import get_app
from tests.support import ROOT

ITEMS = ROOT / "examples" / "ptm-issues.csv"
CODES = ROOT / "examples" / "ptm-issues.codes.csv"
SCREENING = ROOT / "examples" / "ptm-issues.screening.csv"


@pytest.fixture(scope="module")
def paths(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("regression")
    codes = pd.read_csv(CODES, dtype=str)
    gold = codes[codes["coder"] == "ana"].sample(30, random_state=1)
    gold.to_csv(root / "gold.csv", index=False)
    screening = pd.read_csv(SCREENING, dtype=str)
    gold_screening = screening[screening["coder"] == "ana"].sample(40, random_state=0)
    gold_screening.to_csv(root / "gold-screening.csv", index=False)
    items = pd.read_csv(ITEMS, dtype=str, keep_default_na=False)
    items["bug"] = items["labels"].str.contains("bug").map({True: "yes", False: "no"})
    items.to_csv(root / "items.csv", index=False)
    return {
        "gold": root / "gold.csv",
        "gold_screening": root / "gold-screening.csv",
        "items": root / "items.csv",
    }


def analyze(paths: dict[str, Path], *extra: str) -> object:
    args = ["analyze", "--items", str(paths["items"]), "--codes", str(CODES), "--coder", "ben"]
    args += ["--gold", str(paths["gold"]), *extra]
    return CliRunner().invoke(get_app(), args, env={"COLUMNS": "120"})


def test_json_has_the_log_days_regression_with_the_covariate(paths) -> None:
    result = analyze(paths, "--covariate", "project", "--json")
    assert result.exit_code == 0, result.output
    regression = json.loads(result.stdout)["ppi"]["regressions"]["log_days"]
    items = pd.read_csv(paths["items"], dtype=str, keep_default_na=False)
    codes = pd.read_csv(CODES, dtype=str)
    times, _, _ = resolution_times(items, "created_at", "closed_at", None)
    order = list(dict.fromkeys(json.loads(result.stdout)["prevalence"]))
    expected = resolution_regression(
        codes[codes["coder"] == "ben"],
        pd.read_csv(paths["gold"], dtype=str),
        times,
        order=order,
        covariate=item_column(items, "project"),
    ).to_json()
    assert regression["coefficients"].keys() == expected["coefficients"].keys()
    for term, row in expected["coefficients"].items():
        for kind in ("naive", "classical", "ppi"):
            assert regression["coefficients"][term][kind]["estimate"] == pytest.approx(
                row[kind]["estimate"], abs=1e-9
            )
    assert regression["covariate"] == "project"
    assert "log(days to close)" in regression["estimand"]


def test_a_binary_outcome_gets_a_logistic_regression_in_the_table(paths) -> None:
    """On the screening codes (ptm / not_ptm): ben's codes analysed, ana's on 40 items gold."""
    args = ["analyze", "--items", str(paths["items"]), "--codes", str(SCREENING)]
    args += ["--coder", "ben", "--gold", str(paths["gold_screening"]), "--outcome", "bug"]
    result = CliRunner().invoke(get_app(), args, env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "logistic regression of bug on the codes, reference code ptm" in said
    assert "OLS of log days to close on the codes" in said


def test_a_code_that_separates_the_outcome_is_named(paths) -> None:
    result = analyze(paths, "--outcome", "bug")
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "the logistic regression of 'bug' has no finite estimate" in said
    assert re.search(r"the outcome is constant for \w+ \(\d+ item\(s\), all [01]\)", said)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--covariate", "team"], "the items have no column 'team'"),
        (["--outcome", "project"], "'project' has 8 distinct values"),
    ],
)
def test_bad_columns_are_errors_naming_them(paths, extra, message) -> None:
    result = analyze(paths, *extra)
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())


def test_a_covariate_without_gold_is_refused() -> None:
    args = ["analyze", "--items", str(ITEMS), "--codes", str(CODES), "--covariate", "project"]
    result = CliRunner().invoke(get_app(), args)
    assert result.exit_code == 1
    said = " ".join(result.output.split())  # the settings named by their flags
    assert "--covariate and --outcome are for the regressions on gold codes: give --human" in said


def test_the_readme_example_numbers(paths) -> None:
    """README, "Regressions": naive finds model_loading faster than output_quality, the gold and
    PPI do not; environment holds either way."""
    result = analyze(paths, "--json")
    assert result.exit_code == 0, result.output
    regression = json.loads(result.stdout)["ppi"]["regressions"]["log_days"]
    assert (regression["reference_code"], regression["n_gold"], regression["n_items"]) == (
        "output_quality",
        25,
        46,
    )
    loading = regression["coefficients"]["model_loading"]
    rounded = {
        k: [round(loading[k]["estimate"], 2), *(round(v, 2) for v in loading[k]["ci95"])]
        for k in ("naive", "classical", "ppi")
    }
    assert rounded == {
        "naive": [-1.10, -2.03, -0.16],
        "classical": [-0.04, -0.91, 0.83],
        "ppi": [-0.40, -1.20, 0.40],
    }
    environment = regression["coefficients"]["environment"]["ppi"]
    assert [round(environment["estimate"], 2), *(round(v, 2) for v in environment["ci95"])] == [
        -1.82,
        -3.14,
        -0.49,
    ]
