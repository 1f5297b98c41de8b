"""`llmcode code` end to end over real HTTP against our OpenAI-compatible server on 127.0.0.1."""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd

from llmcode.store.runs import RunStore
from llmcode.testserver import ServerConfig, TestServer
from tests.support import DATA, ROOT

SECRET = "sk-test-SECRET-do-not-store-4242"


def code_args(server, runs, *extra):
    return [
        "code",
        "-t",
        DATA / "tiny.yaml",
        "-i",
        DATA / "items.csv",
        "--base-url",
        server.base_url,
        "--runs-dir",
        runs,
        "--run-id",
        "r1",
        *extra,
    ]


def test_code_over_http_writes_a_run_with_verified_codes(cli, tmp_path):
    with TestServer(ServerConfig()) as server:
        result = cli(*code_args(server, tmp_path), env={"OPENAI_API_KEY": SECRET})
    assert result.exit_code == 0, result.output
    run = RunStore(tmp_path).open("r1")
    manifest = run.manifest()
    assert manifest.status == "complete" and manifest.counts["ok"] == 4
    assert manifest.backend["backend"] == "openai" and manifest.coder == "gpt-4o-mini"
    assert manifest.prompts["sha256"] and manifest.taxonomy["fingerprint"]
    assert manifest.items["sha256"] and manifest.usage["prompt_tokens"] > 0
    assert all(c.verified for r in run.latest_codings().values() for c in r.codes)
    assert "codes in" in result.output and "tokens/item" in result.output


def test_the_api_key_is_never_written_under_runs(cli, tmp_path):
    with TestServer(ServerConfig()) as server:
        cli(*code_args(server, tmp_path), env={"OPENAI_API_KEY": SECRET})
        sent = server.stats.recent[-1].headers.get("authorization", "")
    assert SECRET in sent  # the key did go to the server ...
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="ignore"), path  # ... and nowhere on disk


def test_a_rerun_is_answered_from_the_cache(cli, tmp_path):
    with TestServer(ServerConfig()) as server:
        cli(*code_args(server, tmp_path))
        second = cli(*[a if a != "r1" else "r2" for a in code_args(server, tmp_path)])
        paid = server.stats.paid_calls
    assert second.exit_code == 0
    assert paid == 4
    assert RunStore(tmp_path).open("r2").manifest().usage["cached_calls"] == 4


def test_faults_are_retried_and_nothing_is_lost(cli, tmp_path):
    config = ServerConfig(
        fault_script=("rate_limit", "server_error", "malformed_json", "wrong_schema"),
        retry_after=0.05,
    )
    with TestServer(config) as server:
        result = cli(*code_args(server, tmp_path, "--concurrency", "1"))
    assert result.exit_code == 0, result.output
    latest = RunStore(tmp_path).open("r1").latest_codings()
    assert sorted(latest) == ["i1", "i2", "i3", "i4"]
    assert all(r.status == "ok" for r in latest.values())


def test_export_writes_long_format_csv_jsonl_and_parquet(cli, tmp_path):
    with TestServer(ServerConfig()) as server:
        cli(*code_args(server, tmp_path))
    for fmt in ("csv", "jsonl", "parquet"):
        out = tmp_path / f"codes.{fmt}"
        result = cli("export", "r1", "--format", fmt, "-o", out, "--runs-dir", tmp_path)
        assert result.exit_code == 0, result.output
    frame = pd.read_csv(tmp_path / "codes.csv")
    assert list(frame.columns[:6]) == [
        "item_id",
        "coder",
        "code",
        "justification",
        "evidence",
        "confidence",
    ]
    assert len(frame) == 4 and set(frame.coder) == {"gpt-4o-mini"}
    assert len(pd.read_parquet(tmp_path / "codes.parquet")) == 4
    assert len(pd.read_json(tmp_path / "codes.jsonl", lines=True)) == 4


def test_runs_list_and_show(cli, tmp_path):
    with TestServer(ServerConfig()) as server:
        cli(*code_args(server, tmp_path))
    listed = cli("runs", "list", "--runs-dir", tmp_path)
    assert listed.exit_code == 0 and "r1" in listed.output
    shown = cli("runs", "show", "r1", "--runs-dir", tmp_path, "--json")
    assert json.loads(shown.output)["run_id"] == "r1"


def test_user_mistakes_are_one_line_errors_with_exit_1(cli, tmp_path):
    bad_items = tmp_path / "x.csv"
    bad_items.write_text("id,text\n1,a\n")
    cases = [
        (["code", "-t", DATA / "tiny.yaml", "-i", bad_items], "columns are: id, text"),
        (["code", "-t", tmp_path / "none.yaml", "-i", bad_items], "no such taxonomy file"),
        (["code", "--resume", "nope", "--runs-dir", tmp_path], "no run 'nope'"),
        (["export", "nope", "--runs-dir", tmp_path], "no run 'nope'"),
    ]
    for args, message in cases:
        result = cli(*args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output and "Traceback" not in result.output


def test_kill_9_mid_run_then_resume_loses_nothing_and_repeats_no_finished_call(tmp_path):
    items = tmp_path / "many.csv"
    rows = [
        f"k{n},Issue {n},The model crashes when loading checkpoint number {n}." for n in range(40)
    ]
    items.write_text("item_id,title,body\n" + "\n".join(rows) + "\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with TestServer(ServerConfig(latency=0.05)) as server:
        args = [
            sys.executable,
            "-m",
            "llmcode",
            "code",
            "-t",
            str(DATA / "tiny.yaml"),
            "-i",
            str(items),
            "--base-url",
            server.base_url,
            "--runs-dir",
            str(tmp_path),
            "--run-id",
            "k",
            "--concurrency",
            "2",
            "--no-cache",
        ]
        child = subprocess.Popen(
            args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        codings = tmp_path / "k" / "codings.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if codings.exists() and codings.read_text().count("\n") >= 8:
                break
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait()
        finished = {r.item_id for r in RunStore(tmp_path).open("k").codings()}
        assert 8 <= len(finished) < 40
        resumed = subprocess.run(
            [*args[:3], "code", "--resume", "k", "--runs-dir", str(tmp_path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert resumed.returncode == 0, resumed.stderr
        per_key = server.stats.calls_by_key
    run = RunStore(tmp_path).open("k")
    records = run.codings()
    assert sorted(r.item_id for r in records) == sorted(f"k{n}" for n in range(40))  # no duplicates
    assert run.manifest().status == "complete"
    assert sum(per_key.values()) <= 40 + 2  # at most the calls in flight at the kill repeat


def test_token_log_probabilities_give_each_chosen_code_a_probability(cli, tmp_path):
    with TestServer(ServerConfig()) as server:
        result = cli(*code_args(server, tmp_path))
        assert server.stats.recent[-1].body.get("logprobs") is True
    assert result.exit_code == 0, result.output
    for record in RunStore(tmp_path).open("r1").latest_codings().values():
        (code,) = record.codes
        assert 0 < record.probabilities[code.code] <= 1


def test_repeated_model_draws_samples_from_each_model_in_turn(cli, tmp_path):
    with TestServer(ServerConfig()) as server:
        result = cli(*code_args(server, tmp_path, "--model", "model-a", "--model", "model-b"))
        sent = {r.body.get("model") for r in server.stats.recent if r.body}
    assert result.exit_code == 0, result.output
    assert sent == {"model-a", "model-b"}
    run = RunStore(tmp_path).open("r1")
    assert run.manifest().config.sampling.samples == 2
    for record in run.latest_codings().values():
        assert [s.model for s in record.samples] == ["model-a", "model-b"]


def test_code_batch_writes_batch_jsonl_instead_of_asking(cli, tmp_path):
    result = cli(
        "code",
        "-t",
        DATA / "tiny.yaml",
        "-i",
        DATA / "items.csv",
        "--batch",
        "--backend",
        "openai",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--runs-dir",
        tmp_path,
        "--run-id",
        "bb",
    )
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "bb" / "batch" / "requests.jsonl").read_text().splitlines()
    assert len(lines) == 4
    first = json.loads(lines[0])
    assert set(first) == {"custom_id", "method", "url", "body"}
    assert (
        first["url"] == "/v1/chat/completions"
        and first["body"]["response_format"]["type"] == "json_schema"
    )
    assert "llmcode batch submit bb" in result.output


def test_with_several_items_per_request_the_manifest_counts_each_paid_call_once(cli, tmp_path):
    with TestServer(ServerConfig()) as server:
        result = cli(*code_args(server, tmp_path, "--items-per-request", "2", "--samples", "2"))
        stats = server.stats
    assert result.exit_code == 0, result.output
    run = RunStore(tmp_path).open("r1")
    usage = run.manifest().usage
    assert usage["calls"] == stats.paid_calls
    assert usage["prompt_tokens"] == stats.prompt_tokens
    assert usage["completion_tokens"] == stats.completion_tokens
    assert all(len(r.samples) == 2 for r in run.latest_codings().values())


def test_next_hints_are_one_command_per_line(cli, tmp_path):
    with TestServer(ServerConfig()) as server:
        result = cli(*code_args(server, tmp_path), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("next:"))
    hints = [line.strip() for line in lines[start + 1 :] if line.startswith("  llmcode ")]
    assert hints == ["llmcode export r1 --format csv", "llmcode runs show r1"]
    assert not any("|" in line for line in lines[start:])
