"""The report's section "Can the model replace a coder?" (the alternative annotator test).

A fake-model run codes the 54 closed-coded issues of the bundled sample (tests/support/
eval_runs.py); ana and ben's codes (examples/ptm-issues.codes.csv, 52 items coded by both) are
the human codes. The section shows what `evaluate(..., alt_test=...)` gives for the same inputs,
and one sentence saying why when the test cannot be run (one coder, under 30 shared items).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from llmcode.analysis.rendering import render_html, render_markdown
from llmcode.analysis.studies import build_report
from llmcode.cli import get_app
from llmcode.numbers import format_fixed, format_p
from llmcode.quality.alttest import AltTestSettings
from llmcode.quality.eval import evaluate
from llmcode.store.runs import Run, RunStore
from tests.support.eval_runs import CODES, TAXONOMY, make_run


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    root = tmp_path_factory.mktemp("report-alttest")
    return make_run(RunStore(root / "runs"), TAXONOMY, CODES, "fake", "fake-model")


@pytest.fixture(scope="module")
def report(run):  # type: ignore[no-untyped-def]
    return build_report(run, human=CODES, gold=CODES, bootstrap=0)


def section(html: str) -> str:
    start = html.index('<section id="alt-test">')
    return html[start : html.index("</section>", start)]


def test_the_section_has_the_numbers_evaluate_gives_for_the_same_inputs(run, report) -> None:
    expected = evaluate([run], CODES, bootstrap=0, alt_test=AltTestSettings()).alt_test
    assert expected is not None
    assert report.evaluation.alt_test == expected
    assert report.result["alt_test"] == expected.model_dump(mode="json")
    html = section(render_html(report))
    assert "Can the model replace a coder?" in html
    assert f"winning rate ω = {format_fixed(expected.winning_rate, 2)}" in html
    assert f"advantage probability ρ = {format_fixed(expected.advantage_probability, 2)}" in html
    assert "ε = 0.2" in html and ("<b>Passed</b>" if expected.passed else "Not passed") in html
    for coder, test in expected.per_coder.items():
        row = (
            f'<tr><td>{coder}</td><td class="n">{test.n_items}</td>'
            f'<td class="n">{format_fixed(test.model_advantage, 2)}</td>'
            f'<td class="n">{format_fixed(test.coder_advantage, 2)}</td>'
            f'<td class="n">{format_p(test.p_value).replace("<", "&lt;")}</td>'
            f"<td>{'yes' if test.rejected else 'no'}"
        )
        assert row in html
    assert "notes-ner-76, segmentor-94" in html  # only ana coded them
    text, _ = render_markdown(report, "r_files")
    assert "## Can the model replace a coder?" in text
    assert f"winning rate ω = {format_fixed(expected.winning_rate, 2)}" in text
    ana = expected.per_coder["ana"]
    assert f"| ana | {ana.n_items} | {format_fixed(ana.model_advantage, 2)} |" in text


def test_the_per_coder_table_is_among_the_report_tables(report) -> None:
    table = report.tables()["alt_test"]
    assert list(table["coder"]) == ["ana", "ben"]
    for row in table.to_dict("records"):
        test = report.evaluation.alt_test.per_coder[row["coder"]]
        assert row["p_value"] == test.p_value and row["rejected"] == test.rejected


def test_one_human_coder_gets_a_sentence_saying_why_not_an_error(run) -> None:
    report = build_report(run, human=CODES, gold=CODES, gold_coders=["ana"], bootstrap=0)
    assert report.evaluation.alt_test is None
    reason = report.result["alt_test"]["reason"]
    assert reason.startswith("the alternative annotator test needs at least 2 human coders")
    html = section(render_html(report))
    assert f"Not computed: {reason}." in html and "<table>" not in html
    text, _ = render_markdown(report, "r_files")
    assert "## Can the model replace a coder?\n\nNot computed: the alternative" in text


def test_fewer_than_30_shared_items_get_a_sentence_saying_why(run, tmp_path) -> None:
    codes = pd.read_csv(CODES, dtype=str)
    first = list(dict.fromkeys(codes["item_id"]))[:20]
    few = tmp_path / "few.csv"
    codes[codes["item_id"].isin(first)].to_csv(few, index=False)
    report = build_report(run, human=few, gold=few, bootstrap=0)
    reason = report.result["alt_test"]["reason"]
    assert "needs at least 30 items per coder that another coder also coded" in reason
    assert "Not computed: " in section(render_html(report))


def test_without_human_codes_the_section_is_absent(run) -> None:
    report = build_report(run, bootstrap=0)
    html = render_html(report)
    assert 'id="alt-test"' not in html and 'href="#alt-test"' not in html
    assert "alt_test" not in report.result and "alt_test" not in report.tables()
    assert "replace a coder" not in render_markdown(report, "r_files")[0]


def test_a_coder_name_with_markup_is_escaped(run, tmp_path) -> None:
    codes = pd.read_csv(CODES, dtype=str)
    codes["coder"] = codes["coder"].replace("ben", "<script>alert(1)</script>")
    hostile = tmp_path / "hostile.csv"
    codes.to_csv(hostile, index=False)
    report = build_report(run, human=hostile, gold=hostile, bootstrap=0)
    assert "<script>alert(1)</script>" in report.evaluation.alt_test.per_coder
    html = section(render_html(report))
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    text, _ = render_markdown(report, "r_files")
    assert "<script>" not in text and "| &lt;script&gt;alert(1)&lt;/script&gt; |" in text


def test_epsilon_from_the_command_line_reaches_the_test(run, tmp_path) -> None:
    out, tables = tmp_path / "r.html", tmp_path / "tables"
    args = ["report", str(run.path), "--human", str(CODES), "--bootstrap", "0"]
    args += ["--epsilon", "0.1", "-o", str(out), "--tables", str(tables)]
    result = CliRunner().invoke(get_app(), args)
    assert result.exit_code == 0, result.output
    expected = evaluate([run], CODES, bootstrap=0, alt_test=AltTestSettings(epsilon=0.1)).alt_test
    assert expected is not None
    said = json.loads((tables / "analysis.json").read_text(encoding="utf-8"))["alt_test"]
    assert said == expected.model_dump(mode="json") and said["epsilon"] == 0.1
    assert (tables / "alt_test.csv").exists()
    assert "ε = 0.1" in section(out.read_text(encoding="utf-8"))


def test_a_bad_epsilon_is_refused_naming_it(run, tmp_path) -> None:
    args = ["report", str(run.path), "--human", str(CODES), "--epsilon", "-1"]
    result = CliRunner().invoke(get_app(), [*args, "-o", str(tmp_path / "r.html")])
    assert result.exit_code != 0 and "epsilon" in result.output
    assert not Path(tmp_path / "r.html").exists()


def test_q_and_metric_from_the_command_line_reach_the_test(run, tmp_path) -> None:
    out, tables = tmp_path / "r.html", tmp_path / "tables"
    args = ["report", str(run.path), "--human", str(CODES), "--bootstrap", "0"]
    args += ["--q", "0.2", "--alt-metric", "accuracy", "-o", str(out), "--tables", str(tables)]
    result = CliRunner().invoke(get_app(), args)
    assert result.exit_code == 0, result.output
    settings = AltTestSettings(q=0.2)
    expected = evaluate([run], CODES, bootstrap=0, alt_test=settings).alt_test
    assert expected is not None
    said = json.loads((tables / "analysis.json").read_text(encoding="utf-8"))["alt_test"]
    assert said == expected.model_dump(mode="json") and said["q"] == 0.2
