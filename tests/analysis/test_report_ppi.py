"""The report's PPI section (forest plot, shares, resolution) when `report --gold` is given."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from llmcode.cli import get_app
from tests.support.analysis_runs import make_study_run

runner = CliRunner()


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return make_study_run(tmp_path_factory.mktemp("report-ppi"))


def report(study, tmp_path, *extra: str):  # type: ignore[no-untyped-def]
    run, paths = study
    args = ["report", run.run_id, "--runs-dir", str(run.path.parent), *extra]
    return runner.invoke(get_app(), args), paths


def test_report_with_gold_has_the_ppi_section_and_forest_plot(study, tmp_path):
    out = tmp_path / "r.html"
    result, _ = report(
        study, tmp_path, "--gold", str(study[1]["human"]), "--gold-coder", "ana", "-o", str(out)
    )
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    section = html[html.index('<section id="ppi">') :]
    section = section[: section.index("</section>")]
    assert 'href="#ppi"' in html
    assert 'alt="Forest plot of shares: naive, classical, PPI"' in section
    assert "data:image/svg+xml;base64," in section
    # ana coded every item: a census, so no sampling record is needed (and none is asked for)
    assert "a census, not a sample" in section and "no sampling record" not in section
    rows = re.findall(r"<tr><td><code>(\w+)</code>", section)
    assert {"usage", "performance", "resources"} <= set(rows)
    # usage: the run says 4 of 8, ana says 3 of 8 (ana moved i7 to performance)
    assert "50.0%" in section and "37.5%" in section


def test_report_in_markdown_links_the_forest_plot(study, tmp_path):
    out = tmp_path / "r.md"
    (tmp_path / "gold.csv").write_text(study[1]["human"].read_text())
    (tmp_path / "gold.csv.json").write_text(json.dumps({"seed": 1, "n": 8}))
    result, _ = report(
        study,
        tmp_path,
        "--gold",
        str(tmp_path / "gold.csv"),
        "--gold-coder",
        "ana",
        "-f",
        "md",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "## Shares with gold codes (prediction-powered inference)" in text
    assert "![Shares: naive, classical, PPI](r_files/ppi.png)" in text
    assert (tmp_path / "r_files" / "ppi.png").stat().st_size > 1000
    assert "no sampling record" not in text


def test_report_without_gold_has_no_ppi_section(study, tmp_path):
    out = tmp_path / "plain.html"
    result, _ = report(study, tmp_path, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert 'id="ppi"' not in out.read_text(encoding="utf-8")
