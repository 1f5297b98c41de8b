"""`llmcode review --auto-accept-above T` through the command line (the TUI is tested elsewhere)."""

from __future__ import annotations

import json

import pandas as pd

from tests.cli.test_cli_audit import invoke, workspace  # noqa: F401  (the fixture)


def test_auto_accept_records_decisions_with_the_gold_estimate(workspace) -> None:  # noqa: F811
    runs, codes = workspace
    args = ["review", "r1", "--auto-accept-above", "0.9", "--human", codes, "--coder", "ana"]
    result = invoke(*args, "--reviewer", "ana", "--runs-dir", runs, "--max-error", "0.6")
    assert result.exit_code == 0, result.output
    assert "accepted 8 item(s) automatically" in result.output
    assert "25.0% (2 of 8 gold item(s)" in result.output
    lines = [json.loads(x) for x in (runs / "r1" / "decisions.jsonl").read_text().splitlines()]
    assert len(lines) == 8 and "m1" not in {x["item_id"] for x in lines}
    assert {x["automatic"]["error_rate"] for x in lines} == {0.25}
    again = invoke(
        *["review", "r1", "--auto-accept-above", "0.9", "--reviewer", "ana", "--force"],
        *["--runs-dir", runs],
    )
    assert "accepted 0 item(s)" in again.output and "8 already decided" in again.output
    assert "pass --human" in again.output


def test_auto_accept_threshold_must_be_a_probability(workspace) -> None:  # noqa: F811
    runs, _ = workspace
    result = invoke("review", "r1", "--auto-accept-above", "1.5", "--runs-dir", runs)
    assert result.exit_code == 2


def test_auto_accept_with_a_high_gold_error_exits_1_and_writes_no_decision(
    workspace,  # noqa: F811
) -> None:
    runs, codes = workspace
    args = ["review", "r1", "--auto-accept-above", "0.9", "--human", codes, "--coder", "ana"]
    result = invoke(*args, "--reviewer", "ana", "--runs-dir", runs)
    assert result.exit_code == 1
    # 2 errors in 8 gold items: Wilson 95% upper bound 59.1% > the default ceiling of 10%
    assert "25.0% (2 of 8 gold item(s)), 95% CI 7.1%–59.1%" in result.output
    assert "--max-error 10.0%" in result.output and "--force" in result.output
    assert not (runs / "r1" / "decisions.jsonl").exists()
    no_gold = invoke("review", "r1", "--auto-accept-above", "0.9", "--runs-dir", runs)
    assert no_gold.exit_code == 1 and "no gold codes" in no_gold.output
    assert "--human" in no_gold.output
    assert not (runs / "r1" / "decisions.jsonl").exists()


def test_automatic_accepts_are_marked_in_the_export_and_undone_on_request(
    workspace,  # noqa: F811
    tmp_path,
) -> None:
    runs, _ = workspace
    args = ["review", "r1", "--auto-accept-above", "0.9", "--reviewer", "ana", "--force"]
    assert invoke(*args, "--runs-dir", runs).exit_code == 0
    out = tmp_path / "reviewed.csv"
    result = invoke("export", "r1", "--reviewed", "-o", out, "--runs-dir", runs)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert len(frame) == 8 and set(frame["decided_by"]) == {"automatic"}
    undo = invoke("review", "r1", "--undo-automatic", "--runs-dir", runs)
    assert undo.exit_code == 0, undo.output
    assert "took back 8 automatic accept(s)" in undo.output
    lines = [json.loads(x) for x in (runs / "r1" / "decisions.jsonl").read_text().splitlines()]
    assert [x["action"] for x in lines] == ["accept"] * 8 + ["undo"] * 8  # nothing deleted
    assert all(x["undo_automatic"] for x in lines[8:])
    result = invoke("export", "r1", "--reviewed", "--runs-dir", runs)
    assert result.exit_code == 0 and result.stdout.strip() == (
        "item_id,coder,code,memo,action,decided_by"
    )
