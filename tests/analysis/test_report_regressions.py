"""The PPI regressions in the report's PPI section (as `llmcode analyze --human` prints them).

A fake-model run codes the 54 closed-coded issues of the bundled sample (tests/support/
eval_runs.py), whose items have creation and closing times; ana's codes
(examples/ptm-issues.codes.csv) are the gold. The report shows, per coefficient, the naive,
classical and PPI estimates with their CIs and the effective n the analysis computed for the same
inputs, in HTML, Markdown and the tables.
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from typer.testing import CliRunner

from llmcode.analysis.ppi import Estimate
from llmcode.analysis.ppi_regression import binary_outcome, outcome_regression
from llmcode.analysis.rendering import render_html, render_markdown
from llmcode.analysis.sources import run_codes
from llmcode.analysis.studies import analyze, build_report
from llmcode.cli import get_app
from llmcode.numbers import format_fixed, format_interval
from llmcode.store.runs import Run, RunStore
from tests.support.eval_runs import CODES, ITEMS, TAXONOMY, make_run


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    root = tmp_path_factory.mktemp("report-regressions")
    return make_run(RunStore(root / "runs"), TAXONOMY, CODES, "fake", "fake-model")


def ppi_section(html: str) -> str:
    start = html.index('<section id="ppi">')
    return html[start : html.index("</section>", start)]


def cells(estimate: Estimate) -> tuple[str, str]:
    """An estimate and its CI as the report prints them (2 decimals)."""
    return format_fixed(estimate.estimate, 2), format_interval(estimate.low, estimate.high, 2)


def test_each_coefficient_shows_naive_classical_and_ppi_as_the_analysis_gives_them(run) -> None:
    report = build_report(run, human=CODES, gold=CODES, bootstrap=0, covariate="project")
    [regression] = analyze(run, gold=CODES, covariate="project").gold.regressions
    assert report.result["ppi"]["regressions"] == {"log_days": regression.to_json()}
    html = ppi_section(render_html(report))
    text, _ = render_markdown(report, "r_files")
    assert "Log days to close regressed on the codes" in html
    assert f"{regression.n_gold} gold of {regression.n_items} items" in html
    assert "OLS of log days to close (closed items) on the codes" in text
    assert len(regression.terms) > 8  # the codes and the projects
    for term in regression.terms:
        shown = [cells(getattr(term, kind)) for kind in ("naive", "classical", "ppi")]
        row = "".join(
            f'<td class="n">{e}<br><span class="note">{ci}</span></td>' for e, ci in shown
        )
        eff = format_fixed(term.effective_n, 0)
        assert f'<tr><td><code>{term.term}</code></td>{row}<td class="n">{eff}</td></tr>' in html
        line = "".join(f" {e} {ci} |" for e, ci in shown)
        assert f"| `{term.term}` |{line} {eff} |" in text
    table = report.tables()["regression_log_days"]
    assert list(table["term"]) == [t.term for t in regression.terms]


def test_the_command_line_report_takes_covariate_and_writes_the_regression_table(
    run, tmp_path
) -> None:
    out, tables = tmp_path / "r.md", tmp_path / "tables"
    args = ["report", str(run.path), "--human", str(CODES), "--covariate", "project"]
    args += ["--bootstrap", "0", "-f", "md", "-o", str(out), "--tables", str(tables)]
    result = CliRunner().invoke(get_app(), args)
    assert result.exit_code == 0, result.output
    [regression] = analyze(run, gold=CODES, covariate="project").gold.regressions
    said = json.loads((tables / "analysis.json").read_text(encoding="utf-8"))
    assert said["ppi"]["regressions"]["log_days"] == regression.to_json()
    assert (tables / "regression_log_days.csv").exists()
    assert "| `project=fieldnotes/transcribe` |" in out.read_text(encoding="utf-8")


def test_without_gold_codes_there_is_no_regression(run) -> None:
    report = build_report(run, bootstrap=0)
    html = render_html(report)
    assert "regressed on the codes" not in html
    assert "regression_log_days" not in report.tables()
    assert "OLS of log days" not in render_markdown(report, "r_files")[0]


def test_a_term_with_markup_is_escaped(run) -> None:
    report = build_report(run, human=CODES, gold=CODES, bootstrap=0)
    regression = report.result["ppi"]["regressions"]["log_days"]
    coefficients = regression["coefficients"]
    first = next(iter(coefficients))
    coefficients["<script>alert(1)</script>"] = coefficients.pop(first)
    regression["notes"] = ["note <b>bold</b>"]
    html = ppi_section(render_html(report))
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "note &lt;b&gt;bold&lt;/b&gt;" in html
    text, _ = render_markdown(report, "r_files")
    assert not re.search(r"<script>|<b>", text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_a_logistic_regression_of_an_outcome_gets_its_own_table(run) -> None:
    report = build_report(run, human=CODES, gold=CODES, bootstrap=0)
    items = pd.read_csv(ITEMS, dtype=str, keep_default_na=False)
    length = items["body"].str.len()  # an outcome no code separates on the gold items
    items["long_body"] = (length > length.median()).map({True: "yes", False: "no"})
    codes = pd.read_csv(CODES, dtype=str)
    regression = outcome_regression(
        run_codes(run, None, None).codes,
        codes[codes["coder"] == "ana"],
        binary_outcome(items[items["item_id"].isin(run.latest_codings())], "long_body"),
        order=list(report.analysis.distribution["code"]),
    )
    report.result["ppi"]["regressions"]["long_body"] = regression.to_json()
    html = ppi_section(render_html(report))
    assert "<code>long_body</code> regressed on the codes" in html
    assert "Logistic regression of long_body on the codes" in html
    text, _ = render_markdown(report, "r_files")
    assert "Logistic regression of `long_body` on the codes" in text
    for term in regression.terms:
        shown = [cells(getattr(term, kind)) for kind in ("naive", "classical", "ppi")]
        line = "".join(f" {e} {ci} |" for e, ci in shown)
        assert f"| `{term.term}` |{line} {format_fixed(term.effective_n, 0)} |" in text
