"""`llmcode baseline --human CODES --items ITEMS --run-id B`: the command and its library twin
write the same run; `eval` ranks it beside other runs; bad input is exit 1 with the reason."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from llmcode.cli import get_app
from llmcode.coding.baseline import BaselineSettings, baseline_from_files
from llmcode.store.runs import RunStore
from tests.support import ROOT

ITEMS = ROOT / "examples" / "ptm-issues.csv"
CODES = ROOT / "examples" / "ptm-issues.codes.csv"
TAXONOMY = ROOT / "taxonomy" / "ptm-reuse.yaml"


def invoke(*args: object):
    return CliRunner().invoke(get_app(), [str(a) for a in args], env={"COLUMNS": "120"})


def test_the_command_writes_the_run_its_library_twin_writes(tmp_path) -> None:
    args = ["baseline", "--human", CODES, "--coder", "ana", "-i", ITEMS, "-t", TAXONOMY]
    result = invoke(*args, "--run-id", "B", "--runs-dir", tmp_path / "cli")
    assert result.exit_code == 0, result.output
    assert "trained on 54 codes by ana" in " ".join(result.output.split())
    cli_run = RunStore(tmp_path / "cli").open("B")
    lib_run = baseline_from_files(
        RunStore(tmp_path / "lib"),
        CODES,
        ITEMS,
        taxonomy=TAXONOMY,
        run_id="B",
        settings=BaselineSettings(coder="ana"),
    )
    cli_manifest, lib_manifest = cli_run.manifest(), lib_run.manifest()
    assert cli_manifest.config == lib_manifest.config
    assert cli_manifest.extra == lib_manifest.extra
    cli_records, lib_records = cli_run.latest_codings(), lib_run.latest_codings()
    assert cli_records.keys() == lib_records.keys()
    for item, record in cli_records.items():  # the optimisers agree to ~1e-8, not bit for bit
        assert record.codes[0].code == lib_records[item].codes[0].code
        assert record.probabilities == pytest.approx(lib_records[item].probabilities, abs=1e-6)
    assert len(cli_run.latest_codings()) == 72


def test_eval_ranks_the_baseline_beside_a_run(tmp_path) -> None:
    runs = tmp_path / "runs"
    args = ["baseline", "--human", CODES, "--coder", "ana", "-i", ITEMS, "-t", TAXONOMY]
    assert invoke(*args, "--run-id", "B", "--runs-dir", runs).exit_code == 0
    result = invoke(
        "eval",
        "B",
        "--human",
        CODES,
        "--coder",
        "ben",
        "--json",
        "--bootstrap",
        0,
        "--runs-dir",
        runs,
    )
    assert result.exit_code == 0, result.output
    entry = json.loads(result.stdout)["runs"][0]
    assert (entry["run"], entry["model"]) == ("B", "tfidf-logreg")
    assert 0.0 < entry["cohen_kappa"]["value"] < 0.6


def test_codes_from_two_coders_without_coder_are_refused(tmp_path) -> None:
    result = invoke(
        "baseline", "--human", CODES, "-i", ITEMS, "--runs-dir", tmp_path, "--run-id", "B"
    )
    assert result.exit_code == 1
    assert "codes from 2 coders (ana, ben)" in " ".join(result.output.split())
