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
