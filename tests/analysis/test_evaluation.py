"""The report's Evaluation section (`report --gold`): model vs gold beside the human ceiling."""

from __future__ import annotations

import pytest
from sklearn.metrics import cohen_kappa_score

from llmcode.analysis.evaluation import evaluation_section
from tests.support.analysis_runs import HUMAN_ANA, RUN_CODES, make_study_run


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return make_study_run(tmp_path_factory.mktemp("evaluation"))


def test_the_section_has_model_and_human_coefficients_with_cis(study):
    run, paths = study
    section = evaluation_section(run, [paths["human"]], bootstrap=200)
    table = section.coefficients.set_index("coefficient")
    assert section.gold_coders == ["ana", "ben"]
    assert table.loc["Cohen's κ", "model_ci_low"] <= table.loc["Cohen's κ", "model"]
    assert table.loc["Accuracy", "human"] == pytest.approx(3 / 8)  # ben says usage everywhere
    assert any("only 8 gold item(s)" in note for note in section.notes)


def test_with_one_gold_coder_the_model_kappa_is_scikit_learns(study):
    run, paths = study
    section = evaluation_section(run, [paths["human"]], coders=["ana"], bootstrap=0)
    kappa = section.coefficients.set_index("coefficient").loc["Cohen's κ"]
    items = sorted(RUN_CODES)
    expected = cohen_kappa_score([HUMAN_ANA[i] for i in items], [RUN_CODES[i] for i in items])
    assert kappa["model"] == pytest.approx(expected)
    assert kappa["human"] is None


def test_report_gold_writes_the_evaluation_section(study, cli, tmp_path):
    run, paths = study
    out = tmp_path / "report.md"
    result = cli(
        "report", run.path, "--gold", paths["human"], "-f", "md", "-o", out, "--bootstrap", "100"
    )
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "## Evaluation against gold codes" in text
    assert "| Cohen's κ |" in text and "human κ" in text
    assert "only 8 gold item(s)" in result.output
    html = tmp_path / "report.html"
    assert cli("report", run.path, "--gold", paths["human"], "-o", html).exit_code == 0
    assert '<section id="evaluation">' in html.read_text()


def test_report_without_gold_has_no_evaluation_and_a_bad_gold_coder_is_an_error(
    study, cli, tmp_path
):
    run, paths = study
    out = tmp_path / "plain.md"
    assert cli("report", run.path, "-f", "md", "-o", out).exit_code == 0
    assert "Evaluation against gold" not in out.read_text()
    result = cli("report", run.path, "--gold", paths["human"], "--gold-coder", "zed", "-o", out)
    assert result.exit_code == 1
    assert "'zed'" in result.output and "ana, ben" in result.output
