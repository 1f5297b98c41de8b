"""`code --unit segment` from the command line: the same run as the library, its export one row
per passage and code, and `agree` / `eval --unit segment` reading the run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

import llmcode
from llmcode.store.runs import RunStore
from llmcode.testserver import ServerConfig, TestServer

ROOT = Path(__file__).resolve().parents[2]
INTERVIEWS = ROOT / "examples" / "interviews"
TAXONOMY = INTERVIEWS / "ptm-interviews.yaml"
TRANSCRIPTS = INTERVIEWS / "transcripts"
HUMANS = INTERVIEWS / "codes.csv"
KEY = {"OPENAI_API_KEY": "sk-test"}


def code_segments(cli, server, runs: Path, *extra: object):
    return cli(
        "code", "-t", TAXONOMY, "-i", TRANSCRIPTS, "--unit", "segment", "--level", "leaves",
        "--base-url", server.base_url, "--model", "test-model", "--runs-dir", runs,
        "--run-id", "seg", "--no-cache", *extra, env=KEY,
    )  # fmt: skip


def test_the_cli_and_the_library_make_the_same_segment_run(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with TestServer(ServerConfig()) as server:
        by_cli = code_segments(cli, server, tmp_path / "cli", "--context-tokens", "4096")
        assert by_cli.exit_code == 0, by_cli.output
        run = llmcode.code(
            TAXONOMY,
            TRANSCRIPTS,
            base_url=server.base_url,
            model="test-model",
            unit="segment",
            level="leaves",
            context_tokens=4096,
            runs_dir=tmp_path / "lib",
            run_id="seg",
            cache=False,
        )
    cli_run = RunStore(tmp_path / "cli").open("seg")
    cli_manifest, lib_manifest = cli_run.manifest(), run.manifest()
    assert cli_manifest.config == lib_manifest.config
    assert cli_manifest.config.inputs.unit == "segment"
    assert cli_manifest.config.endpoint.context_tokens == 4096
    assert cli_manifest.prompts == lib_manifest.prompts
    assert "segment_coding.system.md" in cli_manifest.prompts["templates"]
    assert cli_manifest.counts == lib_manifest.counts == {**cli_manifest.counts, "ok": 5}
    assert cli_manifest.usage["calls"] == lib_manifest.usage["calls"] > 5  # some in two windows
    by_cli_segments = {r.item_id: r.segments for r in cli_run.latest_codings().values()}
    by_lib_segments = {r.item_id: r.segments for r in run.latest_codings().values()}
    assert by_cli_segments == by_lib_segments


def test_the_dry_run_shows_windows_and_tokens_per_window(cli, tmp_path):
    result = cli(
        "code", "-t", TAXONOMY, "-i", TRANSCRIPTS, "--unit", "segment", "--level", "leaves",
        "--backend", "local", "--dry-run", "--runs-dir", tmp_path,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "windows" in result.output and "tokens_per_window" in result.output


def test_export_writes_one_row_per_passage_and_code_with_offsets(cli, tmp_path):
    with TestServer(ServerConfig()) as server:
        assert code_segments(cli, server, tmp_path).exit_code == 0
    out = tmp_path / "passages.csv"
    result = cli("export", "seg", "--format", "csv", "-o", out, "--runs-dir", tmp_path)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, keep_default_na=False, dtype=str)
    assert list(frame.columns)[:8] == [
        "item_id", "coder", "code", "start", "end", "quote", "justification", "confidence"
    ]  # fmt: skip
    texts = {p.stem: p.read_text(encoding="utf-8") for p in TRANSCRIPTS.iterdir()}
    coded = frame[frame["code"] != ""]
    assert len(coded) > 20
    for row in coded.itertuples():
        assert texts[row.item_id][int(row.start) : int(row.end)] == row.quote
    parquet = tmp_path / "passages.parquet"
    assert cli("export", "seg", "--format", "parquet", "-o", parquet, "--runs-dir", tmp_path)
    assert len(pd.read_parquet(parquet)) == len(frame)


def test_agree_and_eval_on_passages_read_the_run(cli, tmp_path):
    with TestServer(ServerConfig()) as server:
        assert code_segments(cli, server, tmp_path).exit_code == 0
    run = tmp_path / "seg"
    agree = cli("agree", HUMANS, run, "--unit", "segment", "--coder", "ana", "--coder",
                "test-model", "--json", "--bootstrap", "50")  # fmt: skip
    assert agree.exit_code == 0, agree.output
    assert json.loads(agree.stdout)["unitizing_alpha"]["overall"] is not None
    result = cli("eval", run, "--gold", HUMANS, "--unit", "segment", "--json", "--bootstrap", "50")
    assert result.exit_code == 0, result.output
    evaluation = json.loads(result.stdout)
    assert evaluation["gold"] == ["ana", "ben"] and evaluation["systems"] == ["test-model"]
    assert evaluation["n_documents"] == 5
    scores = evaluation["runs"]["test-model"]
    assert scores["support"] == 96 and 0 <= scores["f1"] <= 1
    assert evaluation["human_ceiling"]["f1"] > scores["f1"]  # a model that codes by hash
    shown = cli("eval", run, "--gold", HUMANS, "--unit", "segment", "--bootstrap", "50")
    assert shown.exit_code == 0, shown.output
    assert "humans (ceiling)" in shown.output and "per code" in shown.output


def test_eval_options_of_one_unit_are_refused_with_the_other(cli, tmp_path):
    refused = cli("eval", "x", "--gold", HUMANS, "--iou", "0.7")
    assert refused.exit_code == 2 and "--unit segment only" in refused.output
    refused = cli("eval", "x", "--gold", HUMANS, "--unit", "segment", "--alt-test")
    assert refused.exit_code == 2
