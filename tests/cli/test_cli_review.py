"""`llmcode review --auto-accept-above T` through the command line (the TUI is tested elsewhere)."""

from __future__ import annotations

import json

from tests.cli.test_cli_audit import invoke, workspace  # noqa: F401  (the fixture)


def test_auto_accept_records_decisions_with_the_gold_estimate(workspace) -> None:  # noqa: F811
    runs, codes = workspace
    result = invoke(
        "review",
        "r1",
        "--auto-accept-above",
        "0.9",
        "--human",
        codes,
        "--coder",
        "ana",
        "--reviewer",
        "ana",
        "--runs-dir",
        runs,
    )
    assert result.exit_code == 0, result.output
    assert "accepted 8 item(s) automatically" in result.output
    assert "25.0% (2 of 8 gold item(s)" in result.output
    lines = [json.loads(x) for x in (runs / "r1" / "decisions.jsonl").read_text().splitlines()]
    assert len(lines) == 8 and "m1" not in {x["item_id"] for x in lines}
    assert {x["automatic"]["error_rate"] for x in lines} == {0.25}
    again = invoke(
        "review", "r1", "--auto-accept-above", "0.9", "--reviewer", "ana", "--runs-dir", runs
    )
    assert "accepted 0 item(s)" in again.output and "8 already decided" in again.output
    assert "pass --human" in again.output


def test_auto_accept_threshold_must_be_a_probability(workspace) -> None:  # noqa: F811
    runs, _ = workspace
    result = invoke("review", "r1", "--auto-accept-above", "1.5", "--runs-dir", runs)
    assert result.exit_code == 2
