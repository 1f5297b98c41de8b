"""`llmcode adjudicate` and `export --final` end to end over real HTTP against the test server:
two human coders (the bundled ana and ben), a run, the model as tie-breaker, the final table,
then analyze, report, agree and eval read it as a codes file."""

from __future__ import annotations

import json

import pandas as pd

from llmcode.store.decisions import load_decisions
from llmcode.store.runs import RunStore
from llmcode.testserver import ServerConfig, TestServer
from tests.support import ROOT

SECRET = "sk-test-SECRET-4242"
ITEMS = ROOT / "examples" / "ptm-issues.csv"
CODES = ROOT / "examples" / "ptm-issues.codes.csv"
TAXONOMY = ROOT / "taxonomy" / "ptm-reuse.yaml"


def code_set(frame: pd.DataFrame) -> dict[str, frozenset[str]]:
    return {i: frozenset(g["code"]) for i, g in frame.groupby("item_id")}


def test_two_coders_a_model_tie_breaker_and_the_final_table_read_by_analyze(cli, tmp_path):
    env = {"OPENAI_API_KEY": SECRET}
    runs = tmp_path / "runs"
    final = tmp_path / "final.csv"
    with TestServer(ServerConfig()) as server:
        coded = cli(
            *["code", "-t", TAXONOMY, "-i", ITEMS, "--base-url", server.base_url],
            *["--runs-dir", runs, "--run-id", "r1"],
            env=env,
        )
        assert coded.exit_code == 0, coded.output
        refused = cli("export", "r1", "--final", "-o", final, "--runs-dir", runs)
        result = cli(
            *["adjudicate", "r1", "--human", CODES, "--coder", "ana", "--coder", "ben"],
            *["--tie-breaker", "model", "--runs-dir", runs],
            env=env,
        )
        assert result.exit_code == 0, result.output
        calls = server.stats.requests
    # before adjudication the table exists (the model alone); after it, the 9 items where ana
    # and ben disagree (of the 52 both coded; ben left 2 of ana's 54) are resolved by the model
    assert refused.exit_code == 0, refused.output
    assert "9 disagreement(s) among ana, ben (9 between human coders)" in result.output
    assert "resolved 9 of 9 disagreement(s) (9 call(s)" in result.output
    assert calls >= 72 + 9
    run = RunStore(runs).open("r1")
    rulings = [d for d in load_decisions(run) if d.adjudication is not None]
    assert len(rulings) == 9 and {d.decided_by for d in rulings} == {"model"}
    assert all(d.reviewer == "gpt-4o-mini" and d.memo for d in rulings)
    humans = pd.read_csv(CODES)
    ana = code_set(humans[humans["coder"] == "ana"])
    ben = code_set(humans[humans["coder"] == "ben"])
    texts = {item.item_id: item.text for item in run.items()}
    for d in rulings:  # the model chose one of the two coders' codes, with quotes it verified
        assert set(d.codes) in (ana[d.item_id], ben[d.item_id])
        assert d.adjudication.taken_from in ("ana", "ben")
        quotes = d.adjudication.evidence
        assert quotes and all(q in texts[d.item_id] for q in quotes)

    exported = cli("export", "r1", "--final", "-o", final, "--runs-dir", runs)
    assert exported.exit_code == 0, exported.output
    table = pd.read_csv(final, keep_default_na=False)
    assert list(table.columns)[:6] == [
        "item_id",
        "code",
        "resolved_by",
        "adjudicator",
        "coders",
        "coder",
    ]
    assert table["resolved_by"].ne("").all() and set(table["coder"]) == {"final"}
    routes = table.drop_duplicates("item_id")["resolved_by"].value_counts().to_dict()
    # 52 items coded by both: 43 agree, 9 resolved; ana alone: 2; the 18 no human coded: the model
    assert routes == {"agreement": 43, "model": 9, "single-coder": 2 + 18}
    per_item = code_set(table)
    for item_id in ana:
        if item_id in ben and ana[item_id] == ben[item_id]:
            assert per_item[item_id] == ana[item_id]  # agreed codes pass through unchanged
    model_rows = table[table["resolved_by"] == "model"]
    assert set(model_rows["adjudicator"]) == {"gpt-4o-mini"}
    assert set(model_rows["coders"]) == {"ana;ben"}

    analyzed = cli("analyze", "r1", "--codes", final, "--runs-dir", runs)
    assert analyzed.exit_code == 0, analyzed.output
    analyzed = cli("analyze", "--items", ITEMS, "--codes", final)
    assert analyzed.exit_code == 0, analyzed.output
    agreed = cli("agree", final, CODES, "--coder", "final", "--coder", "ana")
    assert agreed.exit_code == 0, agreed.output
    scored = cli("eval", final, "--human", CODES, "--coder", "ana")
    assert scored.exit_code == 0, scored.output
    report = tmp_path / "report.md"
    reported = cli(
        *["report", "r1", "--codes", final, "-f", "md", "-o", report, "--runs-dir", runs]
    )
    assert reported.exit_code == 0, reported.output
    assert (
        "final codes | 72 code(s): 43 by agreement, 0 by an adjudicator, 9 by a model, "
        "0 accepted automatically, 20 from a single coder"
    ) in report.read_text()
    # the routes as a table, every route (a zero too) with its count and share of the 72
    markdown = report.read_text()
    for row in (
        "| `agreement` | 43 | 59.7% | two or more coders gave the same codes |",
        "| `adjudicator` | 0 | 0.0% |",
        "| `model` | 9 | 12.5% | a model broke the tie",
        "| `automatic` | 0 | 0.0% | accepted above a confidence threshold: no one looked |",
        "| `single-coder` | 20 | 27.8% |",
    ):
        assert row in markdown, row
    page = tmp_path / "report.html"
    cli(*["report", "r1", "--codes", final, "-o", page, "--runs-dir", runs])
    html = page.read_text()
    assert '<table class="routes">' in html
    assert '<tr class="zero"><td><code>automatic</code></td><td class="n">0</td>' in html
    assert "fingerprint " + RunStore(runs).open("r1").manifest().config.fingerprint() in html


def test_the_final_table_is_refused_while_disagreements_are_open(cli, tmp_path):
    with TestServer(ServerConfig()) as server:
        env = {"OPENAI_API_KEY": SECRET}
        cli(
            *["code", "-t", TAXONOMY, "-i", ITEMS, "--base-url", server.base_url],
            *["--runs-dir", tmp_path, "--run-id", "r1"],
            env=env,
        )
    run = RunStore(tmp_path).open("r1")
    from llmcode.codes import load_codes
    from llmcode.store.final import coder_codes, save_coders

    save_coders(run, coder_codes(run, load_codes(CODES), ["ana", "ben"]))
    result = cli("export", "r1", "--final", "--runs-dir", tmp_path)
    assert result.exit_code == 1
    assert "9 item(s) where the coders disagree are not adjudicated yet" in result.output
    assert "llmcode adjudicate r1" in result.output
    unknown = cli("adjudicate", "r1", "--human", CODES, "--coder", "cy", "--runs-dir", tmp_path)
    assert unknown.exit_code == 1 and "no coder cy in the human codes" in unknown.output
    assert json.loads((tmp_path / "r1" / "manifest.json").read_text())["run_id"] == "r1"
