"""Tables never cut a number at 80 columns (issue 23 #7): codes shorten with an ellipsis, every
number and interval is printed whole (`llmcode.cli.tables.fill_table`)."""

from __future__ import annotations

import re

import pytest

from tests.support import ROOT

CODES = ROOT / "examples" / "ptm-issues.codes.csv"
INTERVAL = re.compile(r"\[-?\d\.\d\d, ?-?\d\.\d\d\]")


@pytest.mark.parametrize("width", [80, 72])
def test_agree_by_code_prints_every_interval_whole(cli, width: int) -> None:
    args = ["agree", CODES, "--by-code", "--bootstrap", "50"]
    result = cli(*args, env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    section = result.output.split("Per code")[1].split("note:")[0]
    rows = [line for line in section.splitlines() if "%" in line]
    assert len(rows) == 7  # the seven codes of ptm-reuse
    for row in rows:
        assert len(row) <= width and len(INTERVAL.findall(row)) == 2, row
        assert re.search(r" \d\.\d{3} ", row) and row.rstrip().endswith("%"), row


def test_eval_per_code_at_80_columns_prints_every_interval_whole(cli, tmp_path) -> None:
    anna = tmp_path / "anna.csv"
    anna.write_text(
        "\n".join(
            line.replace(",ana,", ",anna,")
            for line in CODES.read_text().splitlines()
            if ",ben," not in line
        ),
        encoding="utf-8",
    )
    args = ["eval", anna, "--human", CODES, "--coder", "ben", "--bootstrap", "50"]
    result = cli(*args, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if INTERVAL.search(line)]
    per_code = [row for row in rows if row.strip().split()[0] not in ("1", "[")]
    assert len(per_code) >= 6
    for row in per_code:
        assert len(row) <= 80 and "…]" not in row and len(INTERVAL.findall(row)) == 1, row


LONG_ID = "with-examples-and-a-second-look-2026-12-06"
NUMBER = re.compile(r"(?<![\w.\[-])-?\d+(?:\.\d+)?%?(?![\w.])")


@pytest.fixture(scope="module")
def coded(tmp_path_factory):
    """Two runs of the 72 bundled issues over HTTP against the test server: one plain, one with
    examples, three samples at temperature 0.7 and a long id; and ana's codes as a file."""
    from typer.testing import CliRunner

    from llmcode.cli import get_app
    from llmcode.testserver import ServerConfig, TestServer

    root = tmp_path_factory.mktemp("tables80")
    runs = root / "runs"
    ana = root / "ana.csv"
    ana.write_text(
        "\n".join(line for line in CODES.read_text().splitlines() if ",ben," not in line) + "\n"
    )
    common = [
        "-t",
        ROOT / "taxonomy" / "ptm-reuse.yaml",
        "-i",
        ROOT / "examples" / "ptm-issues.csv",
    ]
    with TestServer(ServerConfig()) as server:
        for run_id, extra in (
            ("plain", []),
            (LONG_ID, ["--examples", CODES, "--examples-coder", "ben", "--samples", "3"]),
        ):
            result = CliRunner().invoke(
                get_app(),
                [
                    str(a)
                    for a in (
                        "code",
                        *common,
                        *("--base-url", server.base_url, "--runs-dir", runs, "--run-id", run_id),
                        *("--temperature", "0.7", *extra),
                    )
                ],
                env={"OPENAI_API_KEY": "sk-test"},
            )
            assert result.exit_code == 0, result.output
    return runs, ana


def _numbers(text: str) -> list[str]:
    return NUMBER.findall(text)


def test_runs_list_at_80_columns_prints_counts_and_fingerprints_whole_and_ids_on_one_line(
    cli, coded
) -> None:
    from llmcode.store.runs import RunStore

    runs, _ = coded
    for width in (80, 50):  # at 50 the counts go under the id
        result = cli("runs", "list", "--runs-dir", runs, env={"COLUMNS": str(width)})
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert all(len(line) <= width for line in lines), result.output
        assert "…" not in result.output
        assert any(line.split()[:1] == [LONG_ID] for line in lines)  # whole, on one line
        for run_id in ("plain", LONG_ID):
            config = RunStore(runs).open(run_id).manifest().config
            assert re.search(
                rf"^   {config.fingerprint()} · complete · 20\d\d-", result.output, re.M
            )
        said = " ".join(result.output.split())
        assert "examples ptm-issues.codes.csv, examples_coder ben, shots 4" in said
        assert "temperature 0.7, samples 3" in said
    wide = cli("runs", "list", "--runs-dir", runs, env={"COLUMNS": "80"}).output.splitlines()
    rows = [line for line in wide if line.strip().startswith(("plain ", LONG_ID))]
    assert len(rows) == 2
    for row in rows:  # items, ok, flagged: whole, in their columns
        assert _numbers(row) == ["72", "72", "0"] or row.split()[-3:] == ["72", "72", "0"], row
    narrow = " ".join(result.output.split())
    assert narrow.count("72 items, 72 ok, 0 flagged") == 2


def test_eval_at_80_columns_prints_the_ranked_table_and_confusion_matrix_whole(cli, coded) -> None:
    import json

    runs, ana = coded
    args = ["eval", "plain", LONG_ID, "--human", ana, "--bootstrap", "50", "--runs-dir", runs]
    args.append("--allow-contaminated")
    result = cli(*args, env={"COLUMNS": "80"})
    data = json.loads(cli(*args, "--json").stdout)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(len(line) <= 80 for line in lines), result.output
    # identity near the top: every run's non-default settings and fingerprint
    head = " ".join(" ".join(lines[:12]).split())
    for entry in data["runs"]:
        assert f"fingerprint {entry['settings']['fingerprint']}" in head
    assert "examples_coder ben" in head and "samples 3" in head
    # the ranked table: n, accuracy, κ, AC1, α, macro-F1 and both intervals, whole
    for entry in data["runs"]:
        rank = next(n for n, line in enumerate(lines) if line.startswith(f" {entry['rank']}  "))
        cells = _numbers(lines[rank]) + _numbers(lines[rank + 1])
        expected = [
            str(entry["n_items"]),
            f"{entry['accuracy']['value']:.3f}",
            f"{entry['cohen_kappa']['value']:.3f}",
            f"{entry['gwet_ac1']['value']:.3f}",
            f"{entry['krippendorff_alpha']['value']:.3f}",
            f"{entry['macro_f1']['value']:.3f}",
        ]
        assert all(value in cells for value in expected), (expected, lines[rank : rank + 2])
        intervals = INTERVAL.findall(lines[rank] + lines[rank + 1])
        assert len(intervals) == 2, lines[rank : rank + 2]
    # the confusion matrices: every count of every row, in order
    for entry in data["runs"]:
        labels, matrix = entry["confusion"]["labels"], entry["confusion"]["matrix"]
        start = [n for n, line in enumerate(lines) if "model \\ gold" in line]
        assert start
        for number, (label, row) in enumerate(zip(labels, matrix, strict=True), start=1):
            printed = [line for line in lines if re.match(rf" +{number}  {label[:8]}", line)]
            assert printed, label
            assert printed[0].split()[-len(row) :] == [str(c) for c in row], printed[0]


def test_audit_at_80_columns_prints_every_share_and_score_whole(cli, coded) -> None:
    import json

    runs, ana = coded
    args = ["audit", LONG_ID, "--human", ana, "--top", "8", "--runs-dir", runs]
    result = cli(*args, env={"COLUMNS": "80"})
    data = json.loads(cli(*args, "--json").stdout)
    assert result.exit_code == 0, result.output
    assert all(len(line) <= 80 for line in result.output.splitlines()), result.output
    assert data["items"]
    for entry in data["items"]:
        row = [
            line
            for line in result.output.splitlines()
            if line.startswith(f" {entry['rank']}  {entry['item_id'][:8]}")
        ]
        assert row, entry["item_id"]
        assert f"{entry['model_share']:.0%}" in row[0].split()
        assert f"{entry['score']:.2f}" in row[0].split()
        assert entry["human_code"] in row[0] and entry["model_code"] in row[0]


def test_a_confusion_matrix_of_twelve_codes_and_three_digit_counts_fits_80_columns(
    monkeypatch,
) -> None:
    from llmcode.cli import eval as eval_cli
    from llmcode.cli.terminal import Console
    from llmcode.quality.eval import EvalResult, RunEvaluation

    labels = [f"a_rather_long_code_name_{n:02d}" for n in range(12)]
    matrix = [
        [(7 * r + 13 * c) % 250 + (400 if r == c else 0) for c in range(12)] for r in range(12)
    ]
    entry = RunEvaluation.model_construct(
        run="r1",
        model="m",
        prompt_hash=None,
        tokens_per_item=None,
        settings={},
        per_code={},
        confusion={"rows": "model", "columns": "gold", "labels": labels, "matrix": matrix},
        disagreements=[],
    )
    result = EvalResult.model_construct(human_ceiling=None)
    console = Console(width=80, record=True, highlight=False)
    monkeypatch.setattr(eval_cli, "console", console)
    eval_cli._show_run(entry, result)
    printed = console.export_text().splitlines()
    assert all(len(line) <= 80 for line in printed)
    rows = [line for line in printed if re.match(r" +\d+  a_rather", line)]
    assert len(rows) == 12  # one line each: the code shortened with an ellipsis, not wrapped
    for number, (row, counts) in enumerate(zip(rows, matrix, strict=True), start=1):
        assert row.split()[0] == str(number) and "…" in row.split()[1], row
        assert row.split()[-12:] == [str(c) for c in counts], row  # every count whole


INTERVIEWS = ROOT / "examples" / "interviews"
CODE_ROW = re.compile(r"^\s+[a-z_]+\s")  # a row that starts with a code


@pytest.mark.parametrize("width", [80, 200])
def test_agree_on_passages_prints_every_number_whole(cli, width: int) -> None:
    args = ["agree", INTERVIEWS / "codes.csv", "--unit", "segment"]
    result = cli(*args, "--items", INTERVIEWS / "transcripts", "--bootstrap", "50",
                 env={"COLUMNS": str(width)})  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if CODE_ROW.match(line)]
    assert rows, result.output
    for row in rows:
        assert len(row) <= width and "…]" not in row and "…" not in row, row
    intervals = sum(len(INTERVAL.findall(row)) for row in rows)
    assert intervals == 3 * 8  # α_U, κ and F1 for each of the 8 subcategories coded


def test_eval_on_passages_at_80_columns_prints_every_number_whole(cli, tmp_path) -> None:
    import pandas as pd

    codes = pd.read_csv(INTERVIEWS / "codes.csv")
    codes["code"] = "a_codebook_with_long_names_" + codes["code"]
    ben = tmp_path / "ben.csv"
    codes[codes["coder"] == "ben"].to_csv(ben, index=False)
    ana = tmp_path / "ana.csv"
    codes[codes["coder"] == "ana"].to_csv(ana, index=False)
    args = ["eval", ben, "--human", ana, "--unit", "segment", "--bootstrap", "50"]
    result = cli(*args, "--items", INTERVIEWS / "transcripts", env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(len(line) <= 80 for line in lines)
    intervals = [line for line in lines if INTERVAL.search(line.replace(",", ", "))]
    assert len(intervals) >= 9  # the system's and each code's F1 interval
    for line in lines:
        assert "…" not in line, line
