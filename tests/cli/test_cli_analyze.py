"""`llmcode analyze` and `llmcode report` through the CLI: outputs, files, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from llmcode.cli import get_app
from tests.support.analysis_runs import make_study_run

EXAMPLES = Path(__file__).parents[2] / "examples"
runner = CliRunner()


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(get_app(), list(args))


def said(text: str) -> str:
    """Output with rich's line wrapping undone."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    run, paths = make_study_run(tmp_path_factory.mktemp("cli"))
    return run, paths


def run_args(study) -> list[str]:  # type: ignore[no-untyped-def]
    run, _ = study
    return [run.run_id, "--runs-dir", str(run.path.parent)]


def test_analyze_a_run_prints_distribution_and_tests(study):
    _, paths = study
    result = invoke("analyze", *run_args(study), "--screening", str(paths["screening"]))
    assert result.exit_code == 0, result.output
    assert "distribution" in result.output
    assert "Mann–Whitney U" in result.output
    assert "Kruskal–Wallis H" in result.output
    assert "7 closed, 1 open" in said(result.output)


def test_analyze_json_has_the_contract_keys(study):
    _, paths = study
    result = invoke("analyze", *run_args(study), "--screening", str(paths["screening"]), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["distribution"] == {"usage": 4, "performance": 2, "resources": 2}
    assert set(data["resolution"]["by_category"]) >= {
        "kruskal_h",
        "p_value",
        "n",
        "median_days",
        "dunn",
    }
    assert set(data["resolution"]["ptm_vs_other"]["median_days"]) == {"ptm", "other"}
    assert data["resolution"]["n_open"] == 1


def test_analyze_human_codes_of_a_run_uses_the_chosen_coder(study):
    _, paths = study
    human = f"human:{paths['human']}"
    result = invoke("analyze", *run_args(study), "--codes", human, "--coder", "ben", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["coder"] == "ben"
    assert data["distribution"] == {"usage": 8}
    same = invoke("analyze", *run_args(study), "--codes", human, "--codes-coder", "ben", "--json")
    assert same.exit_code == 0, same.output
    assert json.loads(same.stdout)["distribution"] == data["distribution"]


def test_analyze_without_a_run_states_the_default_coder(study):
    _, paths = study
    result = invoke(
        "analyze", "--items", str(paths["items"]), "--codes", str(paths["human"]), "--json"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["coder"] == "ana"
    assert "coder 'ana' analysed (the first of ana, ben)" in said(result.stderr)


def test_analyze_the_bundled_sample_matches_scipy():
    items = pd.read_csv(EXAMPLES / "ptm-issues.csv", dtype=str, keep_default_na=False)
    screening = pd.read_csv(EXAMPLES / "ptm-issues.screening.csv", dtype=str)
    result = invoke(
        "analyze",
        "--items",
        str(EXAMPLES / "ptm-issues.csv"),
        "--codes",
        str(EXAMPLES / "ptm-issues.codes.csv"),
        "--screening",
        str(EXAMPLES / "ptm-issues.screening.csv"),
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    first = screening["coder"].iloc[0]
    is_ptm = screening[screening["coder"] == first].set_index("item_id")["code"] == "ptm"
    closed = items[items["closed_at"] != ""]
    days = (
        pd.to_datetime(closed["closed_at"]) - pd.to_datetime(closed["created_at"])
    ).dt.total_seconds() / 86400
    groups = closed["item_id"].map(is_ptm)
    expected = stats.mannwhitneyu(days[groups == True], days[groups == False])  # noqa: E712
    block = data["resolution"]["ptm_vs_other"]
    assert block["mannwhitney_u"] == pytest.approx(expected.statistic)
    assert block["p_value"] == pytest.approx(expected.pvalue, rel=1e-5)
    assert data["resolution"]["n_open"] == int((items["closed_at"] == "").sum())


def test_analyze_tables_writes_csv_and_json(study, tmp_path):
    _, paths = study
    result = invoke(
        "analyze",
        *run_args(study),
        "--screening",
        str(paths["screening"]),
        "--tables",
        str(tmp_path / "tables"),
    )
    assert result.exit_code == 0, result.output
    written = {p.name for p in (tmp_path / "tables").iterdir()}
    assert {
        "distribution.csv",
        "resolution_by_category.csv",
        "dunn.csv",
        "resolution_ptm_vs_other.csv",
        "analysis.json",
    } <= written


def test_an_unknown_coder_is_an_error_listing_the_coders(study):
    _, paths = study
    result = invoke(
        "analyze", "--items", str(paths["items"]), "--codes", str(paths["human"]), "--coder", "zed"
    )
    assert result.exit_code == 1
    assert "no coder 'zed'; coders are: ana, ben" in said(result.stderr)


def test_analyze_without_run_or_items_says_what_to_give():
    result = invoke("analyze")
    assert result.exit_code == 1
    assert "give a run, or items with codes" in said(result.stderr)


def test_a_missing_created_column_is_an_error_naming_it(study):
    result = invoke("analyze", *run_args(study), "--created-column", "opened_at")
    assert result.exit_code == 1
    assert "no column 'opened_at'" in said(result.stderr)


def test_an_unknown_run_is_an_error():
    result = invoke("analyze", "no-such-run", "--runs-dir", "/nonexistent")
    assert result.exit_code == 1
    assert "no run 'no-such-run'" in said(result.stderr)


def test_report_writes_one_html_file_with_every_section(study, tmp_path):
    _, paths = study
    output = tmp_path / "out" / "report.html"
    result = invoke(
        "report",
        *run_args(study),
        "-o",
        str(output),
        "--human",
        str(paths["human"]),
        "--screening",
        str(paths["screening"]),
        "--bootstrap",
        "100",
    )
    assert result.exit_code == 0, result.output
    assert "agreement and PPI with human coder ana (the first of ana, ben" in said(result.output)
    page = output.read_text(encoding="utf-8")
    for section in (
        "provenance",
        "taxonomy",
        "distribution",
        "agreement",
        "resolution",
        "disagreements",
        "examples",
    ):
        assert f'<section id="{section}">' in page
    assert list(output.parent.iterdir()) == [output]  # nothing else written


def test_report_in_markdown_writes_figures_next_to_it(study, tmp_path):
    output = tmp_path / "report.md"
    result = invoke("report", *run_args(study), "-o", str(output), "--format", "md")
    assert result.exit_code == 0, result.output
    assert output.read_text(encoding="utf-8").startswith("# tiny 0.1")
    assert {p.name for p in (tmp_path / "report_files").iterdir()} == {
        "distribution.png",
        "resolution.png",
    }


def test_report_rejects_an_unknown_format(study, tmp_path):
    result = invoke("report", *run_args(study), "-o", str(tmp_path / "r.pdf"), "--format", "pdf")
    assert result.exit_code == 2
    assert "'pdf' is not one of 'html', 'md'" in said(result.stderr)


def test_the_library_analysis_of_a_run_is_what_analyze_json_prints(study):
    import llmcode

    run, paths = study
    printed = invoke("analyze", *run_args(study), "--screening", str(paths["screening"]), "--json")
    assert printed.exit_code == 0, printed.output
    by_id = llmcode.analyze(run.run_id, runs_dir=run.path.parent, screening=str(paths["screening"]))
    assert by_id.to_json() == json.loads(printed.stdout)
    assert llmcode.analyze(run, screening=str(paths["screening"])).to_json() == by_id.to_json()


def test_the_library_takes_human_codes_as_the_cli_does_with_and_without_a_run(study):
    """`human` and `coder` mean what --human and --coder mean: gold codes for PPI and their
    coder; a human coder's codes in place of the run's are `codes="human:FILE"`."""
    import llmcode

    run, paths = study
    printed = invoke(
        "analyze", *run_args(study), "--human", paths["human"], "--coder", "ben", "--json"
    )
    assert printed.exit_code == 0, printed.output
    with_run = llmcode.analyze(run, human=paths["human"], coder="ben")
    assert with_run.to_json() == json.loads(printed.stdout)
    assert with_run.gold is not None and with_run.codes_source != f"human:{paths['human']}"
    instead = llmcode.analyze(run, codes=f"human:{paths['human']}", coder="ben")
    printed = invoke(
        "analyze", *run_args(study), "--codes", f"human:{paths['human']}", "--codes-coder", "ben",
        "--json",
    )  # fmt: skip
    assert instead.to_json() == json.loads(printed.stdout)
    assert instead.codes_source == f"human:{paths['human']}" and instead.coder == "ben"
    alone = llmcode.analyze(items=paths["items"], codes=str(paths["human"]))
    assert alone.coder == "ana" and alone.notes[0].startswith("coder 'ana' analysed (the first")
    with pytest.raises(llmcode.ConfigError, match="give a run or items, not both"):
        llmcode.analyze(run, items=paths["items"])
    with pytest.raises(llmcode.ConfigError, match="give human or gold, not both"):
        llmcode.analyze(run, human=paths["human"], gold=paths["human"])


def test_an_unknown_analysis_setting_is_refused_by_name(study):
    import llmcode

    run, _ = study
    with pytest.raises(llmcode.ConfigError, match="unknown analysis setting: screenign"):
        llmcode.analyze(run, screenign="x.csv")


def test_build_report_names_the_human_coder_by_the_analysis_coder_when_the_file_has_it(
    study, tmp_path
):
    import llmcode

    run, paths = study
    report = llmcode.build_report(run, human=paths["human"], coder="ben", bootstrap=0)
    assert report.human is not None
    assert (report.human.coder, report.human.chosen) == ("ben", True)
    output = tmp_path / "report.html"
    printed = invoke(
        "report", *run_args(study), "-o", str(output), "--human", str(paths["human"]),
        "--coder", "ben", "--bootstrap", "0",
    )  # fmt: skip
    assert printed.exit_code == 0, printed.output
    assert "agreement and PPI with human coder ben (chosen of ana, ben" in said(printed.output)
    default = llmcode.build_report(run, human=paths["human"], bootstrap=0)
    assert default.human is not None
    assert (default.human.coder, default.human.chosen) == ("ana", False)
    written = llmcode.write_report(report, tmp_path / "lib" / "report.md", "md")
    assert written.read_text(encoding="utf-8").startswith("# tiny 0.1")


def test_build_report_and_write_report_give_the_page_report_writes(study, tmp_path):
    import re

    import llmcode

    run, paths = study
    flags = ["--human", str(paths["human"]), "--screening", str(paths["screening"])]
    flags += ["--gold", str(paths["human"]), "--gold-coder", "ana", "--bootstrap", "50"]
    cli = tmp_path / "cli" / "report.md"
    printed = invoke("report", *run_args(study), *flags, "-o", str(cli), "-f", "md")
    assert printed.exit_code == 0, printed.output
    report = llmcode.build_report(
        run.run_id,
        human=paths["human"],
        gold=paths["human"],
        gold_coders=["ana"],
        bootstrap=50,
        runs_dir=run.path.parent,
        screening=str(paths["screening"]),
    )
    assert report.evaluation is not None and report.analysis.gold is not None
    written = llmcode.write_report(report, tmp_path / "lib" / "report.md", "md")

    def page(path):
        return re.sub(r"Report generated [^.]*\.", "", path.read_text(encoding="utf-8"))

    assert page(written) == page(cli)
    figures = {p.name for p in (tmp_path / "lib" / "report_files").iterdir()}
    assert figures == {p.name for p in (tmp_path / "cli" / "report_files").iterdir()}
    assert "ppi.png" in figures
