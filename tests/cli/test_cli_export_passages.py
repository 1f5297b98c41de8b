"""`export --reviewed` and `--final` of a segment run: one row per passage and code with
provenance, read back by `agree --unit segment` and `eval --unit segment`."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from llmcode.review.passage_session import PassageSession
from tests.review.passage_runs import make_segment_run


def reviewed_run(tmp_path: Path):
    run = make_segment_run(tmp_path)
    session = PassageSession(run, "ana")
    session.accept()
    session.reject()
    session.change(["licensing"])
    session.widen("end", "sentence")
    text = next(item.text for item in run.items() if item.item_id == "p4-mobile")
    start = text.index("P4:")
    session.add("p4-mobile", start, start + 40, ["output_trust"])
    while session.go_to_next_undecided():
        if session.current is not None and session.current.start is None:
            session.reject()
        else:
            session.accept()
    return run


def test_export_reviewed_writes_each_passage_and_agree_and_eval_read_it(cli, tmp_path):
    run = reviewed_run(tmp_path)
    out = tmp_path / "reviewed.csv"
    result = cli("export", "seg", "--reviewed", "-o", out, "--runs-dir", tmp_path)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(frame.columns)[:9] == [
        "item_id", "coder", "code", "start", "end", "quote", "passage", "action", "decided_by"
    ]  # fmt: skip
    assert {"accept", "reject", "change", "resize", "add"} <= set(frame["action"])
    agree = cli("agree", out, run.path, "--unit", "segment", "--json", "--bootstrap", "20")
    assert agree.exit_code == 0, agree.output
    result = json.loads(agree.stdout)
    assert result["coders"] == ["ana", "fake-model"]
    assert 0.5 < result["unitizing_alpha"]["overall"] < 1  # mostly accepted, a few edits
    evaluated = cli("eval", run.path, "--gold", out, "--unit", "segment", "--json",
                    "--bootstrap", "20")  # fmt: skip
    assert evaluated.exit_code == 0, evaluated.output
    scores = json.loads(evaluated.stdout)["runs"]["fake-model"]
    assert scores["support"] == len(frame[frame["code"] != ""])
    assert 0.8 < scores["f1"] < 1


def test_export_final_of_a_segment_run_reads_back_as_one_more_coder(cli, tmp_path):
    run = reviewed_run(tmp_path)
    out = tmp_path / "final.csv"
    result = cli("export", "seg", "--final", "-o", out, "--runs-dir", tmp_path)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert set(frame["coder"]) == {"final"}
    assert set(frame["resolved_by"]) == {"adjudicator"}  # every passage was decided
    agree = cli("agree", out, run.path, "--unit", "segment", "--json", "--bootstrap", "0")
    assert agree.exit_code == 0, agree.output


def test_export_reviewed_of_an_unreviewed_segment_run_says_review_first(cli, tmp_path):
    make_segment_run(tmp_path)
    result = cli("export", "seg", "--reviewed", "--runs-dir", tmp_path)
    assert result.exit_code == 1
    assert "no passage decisions" in result.output
