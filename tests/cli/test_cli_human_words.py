"""One vocabulary in `analyze` and `report` (issue 23 #7): ``--human`` for human codes,
``--coder`` for which coder; the old ``--gold`` / ``--gold-coder`` still work, hidden; several
human files follow one rule in both commands and the library (`reference_codes`): the coder
named, else the first coder of the first file."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from llmcode.analysis.sources import reference_codes
from llmcode.cli import get_app
from llmcode.errors import AnalysisError
from tests.support.analysis_runs import make_study_run

runner = CliRunner()


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The study run and its human codes split in two files: ben's (a.csv), ana's (b.csv)."""
    root = tmp_path_factory.mktemp("words")
    run, paths = make_study_run(root)
    humans = pd.read_csv(paths["human"], dtype=str)
    for name, coder in (("a", "ben"), ("b", "ana")):
        humans[humans["coder"] == coder].to_csv(root / f"{name}.csv", index=False)
    return run, root / "a.csv", root / "b.csv"


def invoke(*args: object):  # type: ignore[no-untyped-def]
    result = runner.invoke(get_app(), [str(a) for a in args], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    return result


def ppi_of(study, *flags: object) -> dict:  # type: ignore[no-untyped-def]
    run = study[0]
    result = invoke("analyze", run.run_id, "--runs-dir", run.path.parent, *flags, "--json")
    return json.loads(result.stdout)


def test_several_human_files_give_the_first_coder_of_the_first_file_in_analyze_and_report(
    study, tmp_path
) -> None:
    run, a, b = study
    analyzed = ppi_of(study, "--human", a, "--human", b)
    old_spelling = ppi_of(study, "--gold", a, "--gold", b)
    assert analyzed["ppi"]["gold_coder"] == "ben" and analyzed["ppi"]["gold"] == str(a)
    assert old_spelling["ppi"] == analyzed["ppi"] and old_spelling["prevalence"]
    tables = tmp_path / "tables"
    invoke(
        *("report", run.run_id, "--runs-dir", run.path.parent, "-o", tmp_path / "r.html"),
        *("--human", a, "--human", b, "--tables", tables, "--bootstrap", "0"),
    )
    reported = json.loads((tables / "analysis.json").read_text())
    assert reported["ppi"]["gold_coder"] == "ben"
    assert reported["prevalence"] == analyzed["prevalence"]
    # the library rule the commands share
    assert reference_codes([a, b]).coder == "ben"
    chosen = reference_codes([a, b], "ana")
    assert chosen.coder == "ana" and chosen.label == f"human:{b}"
    assert set(chosen.codes["coder"]) == {"ana"}
    with pytest.raises(AnalysisError, match="no coder 'cy'"):
        reference_codes([a, b], "cy")


def test_coder_names_the_human_coder_in_analyze_and_report(study, tmp_path) -> None:
    run, a, b = study
    named = ppi_of(study, "--human", a, "--human", b, "--coder", "ana")
    old = ppi_of(study, "--gold", a, "--gold", b, "--gold-coder", "ana")
    assert named["ppi"]["gold_coder"] == old["ppi"]["gold_coder"] == "ana"
    assert named["ppi"]["gold"] == str(b) and named["prevalence"] == old["prevalence"]
    printed = invoke(
        *("report", run.run_id, "--runs-dir", run.path.parent, "-o", tmp_path / "r.html"),
        *("--human", a, "--human", b, "--coder", "ana", "--bootstrap", "0"),
    )
    assert "agreement and PPI with human coder ana (chosen of ben, ana" in " ".join(
        printed.output.split()
    )


def test_coder_without_human_codes_names_the_codes_file_coder_as_before(study) -> None:
    _, a, b = study
    both = pd.concat([pd.read_csv(a), pd.read_csv(b)])
    codes = a.parent / "both.csv"
    both.to_csv(codes, index=False)
    by_coder = ppi_of(study, "--codes", f"human:{codes}", "--coder", "ana")
    by_codes_coder = ppi_of(study, "--codes", f"human:{codes}", "--codes-coder", "ana")
    assert by_coder["coder"] == by_codes_coder["coder"] == "ana"
    assert by_coder["distribution"] == by_codes_coder["distribution"]
    # with --human, --coder is the human coder and --codes-coder the codes file's
    mixed = ppi_of(
        study, "--codes", f"human:{codes}", "--codes-coder", "ben", "--human", b, "--coder", "ana"
    )
    assert mixed["coder"] == "ben" and mixed["ppi"]["gold_coder"] == "ana"
    # the old spelling keeps its old meaning: --coder for --codes, --gold-coder for --gold
    old = ppi_of(study, "--codes", f"human:{codes}", "--coder", "ben", "--gold", b)
    assert old["coder"] == "ben" and old["ppi"]["gold_coder"] == "ana"


def test_coder_with_nothing_to_name_is_a_usage_error(study) -> None:
    run = study[0]
    result = runner.invoke(
        get_app(), ["analyze", run.run_id, "--runs-dir", str(run.path.parent), "--coder", "ana"]
    )
    assert result.exit_code == 2 and "--coder" in result.output


@pytest.mark.parametrize("command", ["analyze", "report"])
def test_help_says_human_and_coder_and_hides_the_old_names(command: str) -> None:
    result = runner.invoke(get_app(), [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "--human" in text and "--coder" in text and "--codes-coder" in text
    assert "--gold " not in text and "--gold-coder" not in text
    assert "--gold-screening" in text  # a file of its own, still spelled so
