"""The report: its content (provenance, agreement, disagreements, examples) and its rendering."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from llmcode.analysis.rendering import (
    markdown_cell,
    render_html,
    render_markdown,
    write_tables,
)
from llmcode.analysis.report import Report, provenance, report_content
from llmcode.analysis.sources import human_codes
from llmcode.analysis.studies import AnalysisOptions, run_analysis
from llmcode.store.runs import RunStore
from tests.support.analysis_runs import HUMAN_ANA, RUN_CODES, make_study_run

SECTIONS = (
    "provenance",
    "taxonomy",
    "distribution",
    "agreement",
    "resolution",
    "disagreements",
    "examples",
)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("report")
    run, paths = make_study_run(tmp_path)
    return run, paths


@pytest.fixture(scope="module")
def report(study) -> Report:
    run, paths = study
    options = AnalysisOptions(screening=str(paths["screening"]))
    analysis, _ = run_analysis(options, RunStore(run.path.parent), run=run)
    human = human_codes(paths["human"])
    return report_content(run, analysis, human=human, bootstrap=200, examples_per_code=4)


@pytest.fixture(scope="module")
def html(report) -> str:
    return render_html(report)


def test_the_html_report_has_every_section(html):
    for section in SECTIONS:
        assert f'<section id="{section}">' in html


def test_the_html_report_is_self_contained(html):
    assert html.count("data:image/svg+xml;base64,") == 3  # distribution, confusion, resolution
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<style>" in html


def test_provenance_states_model_taxonomy_prompt_hash_and_tokens(study, html):
    run, _ = study
    manifest = run.manifest()
    assert "fake-model via fake" in html
    assert "tiny 0.1" in html
    assert manifest.prompts["sha256"] in html
    assert f"{int(manifest.usage['prompt_tokens']):,} prompt" in html
    assert not re.search(r"\d\.0 (prompt|completion|calls)", html)  # counts are integers


def test_cost_is_none_for_a_local_model_and_not_recorded_otherwise(study):
    run, _ = study
    manifest = run.manifest()
    assert dict(provenance(manifest))["cost"] == "not recorded"
    local = manifest.model_copy(update={"backend": {"backend": "local", "model": "smollm2"}})
    assert dict(provenance(local))["cost"] == "none (local model)"
    paid = manifest.model_copy(update={"usage": {**manifest.usage, "cost_usd": 0.0123}})
    assert dict(provenance(paid))["cost"] == "$0.0123"


def test_item_text_is_escaped_and_evidence_is_highlighted(html):
    assert "<script>alert(1)</script>" not in html
    assert "<mark>&lt;script&gt;alert(1)&lt;/script&gt; template | option</mark>" in html
    assert "<mark>CUDA out of memory</mark>" in html


def test_an_unverified_example_comes_last_flagged_with_its_quote_not_found(report, html):
    assert [e.item_id for e in report.examples["usage"]] == ["i1", "i4", "i7", "i8"]
    assert '<span class="badge warn">unverified</span>' in html
    assert "Not found in the text" in html
    assert "INVENTED quote that is not in the text" in html


def test_the_disagreement_list_has_exactly_the_differing_items(report):
    listed = report.disagreements.set_index("item_id")
    assert set(listed.index) == {"i5", "i7"}
    assert listed.loc["i7", "run_codes"] == "usage"
    assert listed.loc["i7", "human_codes"] == "performance"
    assert listed.loc["i7", "justification"] == "i7 is about usage"


def test_cohens_kappa_in_the_report_matches_scikit_learn(report):
    coefficients = report.agreement.coefficients.set_index("coefficient")
    ids = sorted(RUN_CODES)
    expected = cohen_kappa_score([RUN_CODES[i] for i in ids], [HUMAN_ANA[i] for i in ids])
    assert coefficients.loc["Cohen's κ", "value"] == pytest.approx(expected)
    low, high = coefficients.loc["Cohen's κ", ["ci_low", "ci_high"]]
    assert low <= expected <= high


def test_the_confusion_matrix_has_the_run_in_rows_and_the_human_in_columns(report):
    confusion = report.agreement.confusion
    assert confusion.loc["usage", "performance"] == 1  # i7: run usage, human performance
    assert confusion.loc["performance", "resources"] == 1  # i5
    assert int(confusion.to_numpy().sum()) == 8


def test_examples_show_verified_items_first_and_at_most_the_limit(study):
    run, _ = study
    analysis, _ = run_analysis(AnalysisOptions(), RunStore(run.path.parent), run=run)
    report = report_content(run, analysis, examples_per_code=2)
    usage = report.examples["usage"]
    assert [e.item_id for e in usage] == ["i1", "i4"]
    assert report.agreement is None
    assert "confusion" not in report.figures


def test_the_report_without_human_codes_has_no_agreement_sections(study):
    run, _ = study
    analysis, _ = run_analysis(AnalysisOptions(), RunStore(run.path.parent), run=run)
    page = render_html(report_content(run, analysis))
    assert '<section id="agreement">' not in page
    assert '<section id="disagreements">' not in page
    assert '<section id="resolution">' in page


def test_the_markdown_report_has_pipe_tables_and_linked_figures(report):
    text, files = render_markdown(report, "report_files")
    assert set(files) == {"distribution.png", "confusion.png", "resolution.png"}
    assert all(data.startswith(b"\x89PNG") for data in files.values())
    assert "![Items per code](report_files/distribution.png)" in text
    assert "| code | items | share |" in text
    assert "| Cohen's κ |" in text
    assert "Mann–Whitney U =" in text
    assert "template \\| option" in text  # a pipe in item text does not break the table
    for heading in (
        "## Run provenance",
        "## Taxonomy",
        "## Code distribution",
        "## Agreement",
        "## Resolution time",
        "## Disagreements",
        "## Examples per code",
    ):
        assert heading in text


def test_write_tables_writes_every_table_and_the_json(report, tmp_path):
    written = write_tables(report.tables(), report.result, tmp_path / "tables")
    names = {path.name for path in written}
    assert {
        "distribution.csv",
        "dunn.csv",
        "agreement.csv",
        "confusion.csv",
        "disagreements.csv",
        "resolution_times.csv",
        "analysis.json",
    } <= names
    dist = pd.read_csv(tmp_path / "tables" / "distribution.csv")
    assert dict(zip(dist["code"], dist["n"], strict=True)) == {
        "usage": 4,
        "performance": 2,
        "resources": 2,
    }


def test_a_markdown_cell_escapes_pipes_and_folds_newlines():
    assert markdown_cell("a | b\nc") == "a \\| b c"


# --- figures people can read: legends off the bars, one code order, banners, CI cells -------


def _drawn(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def test_the_distribution_legend_covers_no_bar():
    from matplotlib.patches import Rectangle

    from llmcode.analysis.figures import distribution_figure

    # the longest bars at the bottom, where a legend inside the axes would sit on them
    counts = pd.DataFrame({"code": ["a", "b", "c"], "n": [3, 10, 40]})
    compare = pd.DataFrame({"code": ["a", "b", "c"], "n": [2, 12, 38]})
    fig = distribution_figure(counts, compare, ("model", "human ana"))
    renderer = _drawn(fig)
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent(renderer)
    bars = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_width() > 0]
    assert len(bars) == 6
    assert not any(legend.overlaps(bar.get_window_extent(renderer)) for bar in bars)
    labels = [t for t in ax.texts if t.get_text()]  # the bar labels too
    assert not any(legend.overlaps(t.get_window_extent(renderer)) for t in labels)


def test_every_chart_lists_the_codes_in_the_same_order(report):
    order = [c.id for c in report.taxonomy.targets("top")]
    seen = {}
    for name, fig in report.figures.items():
        _drawn(fig)
        for ax in fig.axes:
            for axis in (ax.xaxis, ax.yaxis):
                labels = [t.get_text() for t in axis.get_ticklabels()]
                codes = [label for label in labels if label in order]
                if len(codes) >= 2:
                    seen[f"{name}:{axis.axis_name}"] = codes
    assert len(seen) >= 3, seen
    for where, codes in seen.items():
        assert codes == [c for c in order if c in codes], where


def test_ci_cells_stay_on_one_line(html):
    cells = re.findall(r'<td class="n">(\[[^<]*\])</td>', html)
    assert cells
    assert all(" " not in cell for cell in cells)  # a no-break space joins the two ends


def test_a_partial_run_gets_a_banner_saying_how_much_is_coded(study, tmp_path):
    import shutil

    run, _ = study
    copy = tmp_path / "runs" / run.run_id
    shutil.copytree(run.path, copy)
    partial = RunStore(tmp_path / "runs").open(run.run_id)
    partial.write_manifest(partial.manifest().model_copy(update={"status": "interrupted"}))
    analysis, _ = run_analysis(AnalysisOptions(), RunStore(tmp_path / "runs"), run=partial)
    built = report_content(partial, analysis, bootstrap=0)
    assert built.banner is not None and "interrupted" in built.banner
    assert 'class="banner"' in render_html(built)
    assert built.banner in render_markdown(built, "figures")[0]
    assert report_banner_absent(study)


def report_banner_absent(study) -> bool:
    run, _ = study
    analysis, _ = run_analysis(AnalysisOptions(), RunStore(run.path.parent), run=run)
    return report_content(run, analysis, bootstrap=0).banner is None


def test_the_report_says_which_confidence_it_shows(report, html):
    assert report.confidence_kind in ("stated", "vote share", "log-probability")
    assert f"confidence ({report.confidence_kind})" in html


def test_two_human_coders_put_the_human_human_row_next_to_model_human(report, html, study):
    from llmcode.quality.agreement import compute_agreement

    _, paths = study
    ag = report.agreement
    assert ag.human_pair == "ana vs ben"
    people = pd.read_csv(paths["human"], dtype=str)
    expected = compute_agreement(people, coders=["ana", "ben"], bootstrap=0).cohen_kappa
    kappa = ag.coefficients.set_index("coefficient").loc["Cohen's κ", "human_value"]
    assert kappa == pytest.approx(expected)
    assert "human–human (ana vs ben)" in html


def test_write_report_writes_markdown_with_its_figures_beside_it(report, tmp_path):
    from llmcode.analysis.rendering import write_report

    written = write_report(report, tmp_path / "out" / "study.md", "md")
    assert written == tmp_path / "out" / "study.md"
    assert written.read_text(encoding="utf-8").startswith("# ")
    figures = {p.name for p in (tmp_path / "out" / "study_files").iterdir()}
    assert figures == {f"{name}.png" for name in report.figures}


def test_write_report_refuses_an_unknown_format_naming_the_setting(report, tmp_path):
    from llmcode.analysis.rendering import write_report
    from llmcode.errors import ConfigError

    with pytest.raises(ConfigError, match="format must be one of html, md, not 'pdf'") as caught:
        write_report(report, tmp_path / "r.pdf", "pdf")
    assert "--" not in str(caught.value)
    assert not (tmp_path / "r.pdf").exists()


def test_raw_html_from_items_taxonomy_and_coders_is_escaped_in_the_markdown_report(report):
    """Issue 25, defect 5: item texts, taxonomy and coder names were copied in as raw HTML."""
    from dataclasses import replace

    hostile = "<img src=x onerror=alert(1)>"
    taxonomy = report.taxonomy.model_copy(update={"name": hostile})
    text, _ = render_markdown(
        replace(report, title=hostile, taxonomy=taxonomy, banner=hostile), "figures"
    )
    assert "<script" not in text and "<img" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text


def test_the_resolution_figure_of_a_run_without_codes_is_an_empty_panel_not_an_error():
    from llmcode.analysis.figures import figure_bytes, resolution_figure

    times = pd.DataFrame(
        {
            "codes": pd.Series([], dtype=str),
            "open": pd.Series([], dtype=bool),
            "days": pd.Series([], dtype=float),
        }
    )
    svg = figure_bytes(resolution_figure(times, [], by_group=False)).decode()
    assert "no coded items" in svg
