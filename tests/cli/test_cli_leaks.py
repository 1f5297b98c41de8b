"""No leaks (issue 23 #4): an item of a known test split is never a few-shot example, and `eval`
refuses to score a run on items it was shown as examples unless `--allow-contaminated`."""

from __future__ import annotations

from llmcode.store.runs import RunStore
from llmcode.testserver import ServerConfig, TestServer
from tests.cli.test_cli_code_examples import code, codes_file

KEY = {"OPENAI_API_KEY": "sk-test"}


def test_the_split_column_of_the_only_file_guards_its_test_items(cli, tmp_path) -> None:
    gold = tmp_path / "gold.csv"  # what `llmcode sample` writes: items and their split
    gold.write_text("item_id,split\ni1,test\ni2,test\ni3,dev\ni4,dev\n", encoding="utf-8")
    with TestServer(ServerConfig()) as server:
        result = code(
            cli,
            server,
            tmp_path / "runs",
            *["--only", gold, "--examples", codes_file(tmp_path), "--examples-coder", "ana"],
        )
    assert result.exit_code == 0, result.output
    records = RunStore(tmp_path / "runs").open("r1").latest_codings().values()
    shown = {i for r in records for i in r.examples}
    assert shown and not shown & {"i1", "i2"}  # without --splits, still never the test items


def test_a_sample_sidecar_beside_the_examples_guards_the_samples_test_items(cli, tmp_path) -> None:
    sample = tmp_path / "gold.csv"
    sample.write_text("item_id,split\ni3,test\ni4,dev\n", encoding="utf-8")
    codes = codes_file(tmp_path)  # codes.csv; its sidecar names the sample drawn
    (tmp_path / "codes.csv.json").write_text('{"file": "gold.csv"}', encoding="utf-8")
    with TestServer(ServerConfig()) as server:
        result = code(
            cli, server, tmp_path / "runs", "--examples", codes, "--examples-coder", "ana"
        )
    assert result.exit_code == 0, result.output
    records = RunStore(tmp_path / "runs").open("r1").latest_codings().values()
    shown = {i for r in records for i in r.examples}
    assert shown and "i3" not in shown


def test_eval_refuses_a_run_scored_on_its_own_examples_unless_allowed(cli, tmp_path) -> None:
    codes = codes_file(tmp_path)
    runs = tmp_path / "runs"
    with TestServer(ServerConfig()) as server:
        coded = code(cli, server, runs, "--examples", codes, "--examples-coder", "ana")
    assert coded.exit_code == 0, coded.output
    records = RunStore(runs).open("r1").latest_codings().values()
    shown = {i for r in records for i in r.examples}
    assert shown == {"i1", "i2", "i3", "i4"}  # every gold item was someone's example
    args = ["eval", "r1", "--human", codes, "--coder", "ana", "--bootstrap", "0"]
    refused = cli(*args, "--runs-dir", runs)
    assert refused.exit_code == 1
    assert "run r1 was shown 4 of the 4 gold item(s) as few-shot examples" in refused.output
    assert "--allow-contaminated" in refused.output
    allowed = cli(*args, "--allow-contaminated", "--runs-dir", runs, env={"COLUMNS": "200"})
    assert allowed.exit_code == 0, allowed.output
    first = allowed.output.splitlines()[0]
    assert first.startswith("warning: contaminated: run r1 was shown 4 of the 4 gold item(s)")
    assert allowed.output.count("contaminated:") == 1


def test_export_reviewed_of_a_gold_sample_writes_the_sampling_sidecar_beside(cli, tmp_path) -> None:
    from llmcode.review.session import ReviewSession
    from tests.support import DATA

    gold = tmp_path / "gold.csv"
    drawn = cli("sample", DATA / "items.csv", "-n", "3", "-o", gold, "--seed", "1")
    assert drawn.exit_code == 0, drawn.output
    runs = tmp_path / "runs"
    with TestServer(ServerConfig()) as server:
        assert code(cli, server, runs, "--only", gold).exit_code == 0
    ReviewSession(RunStore(runs).open("r1"), "ana").reject()
    out = tmp_path / "reviewed.csv"
    result = cli("export", "r1", "--reviewed", "-o", out, "--runs-dir", runs)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "reviewed.csv.json").read_text() == (tmp_path / "gold.csv.json").read_text()
    plain = tmp_path / "model.csv"
    assert cli("export", "r1", "-o", plain, "--runs-dir", runs).exit_code == 0
    assert not (tmp_path / "model.csv.json").exists()  # the model's codes are not the gold
