"""`llmcode batch prepare|submit|status|collect` over real HTTP, and `collect --file` offline."""

from __future__ import annotations

import json

from llmcode.coding.lifecycle import pending_items
from llmcode.store.runs import RunStore
from llmcode.testserver import ServerConfig, TestServer, default_responder
from llmcode.testserver.responder import item_blocks
from tests.support import DATA
from tests.support.batch_runs import request_lines, run_batch_like_vllm

OFFLINE = {"OPENAI_API_KEY": None, "OPENAI_BASE_URL": None, "LLMCODE_MODEL": None}


def prepare_args(runs, *extra):
    return [
        "batch",
        "prepare",
        "-t",
        DATA / "tiny.yaml",
        "-i",
        DATA / "items.csv",
        "--runs-dir",
        runs,
        "--run-id",
        "b1",
        *extra,
    ]


def test_prepare_submit_status_collect_codes_the_run(cli, tmp_path):
    with TestServer(ServerConfig()) as server:
        url = ["--base-url", server.base_url]
        prepared = cli(*prepare_args(tmp_path, *url, "--model", "test-model"), env=OFFLINE)
        submitted = cli("batch", "submit", "b1", "--runs-dir", tmp_path, env=OFFLINE)
        polled = cli("batch", "status", "b1", "--runs-dir", tmp_path, env=OFFLINE)
        collected = cli("batch", "collect", "b1", "--runs-dir", tmp_path, env=OFFLINE)
        again = cli("batch", "collect", "b1", "--runs-dir", tmp_path, env=OFFLINE)
    for result in (prepared, submitted, polled, collected, again):
        assert result.exit_code == 0, result.output
    assert (
        "4 request(s)" in prepared.output and "vllm.entrypoints.openai.run_batch" in prepared.output
    )
    assert "validating" in submitted.output and "completed" in polled.output
    assert "records ok 4" in collected.output and "already collected 4" in again.output
    run = RunStore(tmp_path).open("b1")
    assert run.manifest().status == "complete" and len(run.codings()) == 4
    models = {
        line["body"]["model"] for line in request_lines(run.path / "batch" / "requests.jsonl")
    }
    assert models == {"test-model"}


def test_collect_lists_the_failed_requests_and_how_to_retry_them(cli, tmp_path):
    def fail_i3(body):
        if item_blocks(body)[-1].item_id == "i3":
            raise RuntimeError("out of GPU memory")
        return default_responder(body)

    with TestServer(ServerConfig(responder=fail_i3)) as server:
        url = ["--base-url", server.base_url]
        cli(*prepare_args(tmp_path, *url), env=OFFLINE)
        cli("batch", "submit", "b1", "--runs-dir", tmp_path, env=OFFLINE)
        result = cli("batch", "collect", "b1", "--runs-dir", tmp_path, env=OFFLINE)
    assert result.exit_code == 0, result.output
    assert "1 failed request(s)" in result.output and "item-i3" in result.output
    assert "out of GPU memory" in result.output
    assert "llmcode code --resume b1" in result.output
    run = RunStore(tmp_path).open("b1")
    assert [item.item_id for item in pending_items(run)] == ["i3"]


def test_collect_file_ingests_vllm_output_without_any_endpoint(cli, tmp_path):
    prepared = cli(*prepare_args(tmp_path, "--model", "Qwen/Qwen2.5-7B-Instruct"), env=OFFLINE)
    assert prepared.exit_code == 0, prepared.output
    requests = tmp_path / "b1" / "batch" / "requests.jsonl"
    results = tmp_path / "results.jsonl"
    run_batch_like_vllm(requests, results)
    result = cli("batch", "collect", "b1", "--file", results, "--runs-dir", tmp_path, env=OFFLINE)
    assert result.exit_code == 0, result.output
    assert "records ok 4" in result.output
    run = RunStore(tmp_path).open("b1")
    assert run.manifest().status == "complete"
    assert run.manifest().coder == "Qwen/Qwen2.5-7B-Instruct"


def test_collect_file_without_an_endpoint_records_answers_needing_a_reask_as_errors(cli, tmp_path):
    cli(*prepare_args(tmp_path), env=OFFLINE)
    requests = tmp_path / "b1" / "batch" / "requests.jsonl"
    results = tmp_path / "results.jsonl"
    bad = json.dumps(
        {
            "codes": [
                {"code": "usage", "justification": "j", "evidence": ["invented"], "confidence": 0.5}
            ],
            "suggested_code": None,
        }
    )
    run_batch_like_vllm(requests, results, {"item-i2": bad})
    result = cli("batch", "collect", "b1", "-f", results, "--runs-dir", tmp_path, env=OFFLINE)
    assert result.exit_code == 0, result.output
    assert "no endpoint for re-asks" in result.output
    assert RunStore(tmp_path).open("b1").latest_codings()["i2"].status == "error"


def test_prepare_resume_writes_a_new_batch_for_the_pending_items_only(cli, tmp_path):
    cli(*prepare_args(tmp_path), env=OFFLINE)
    requests = tmp_path / "b1" / "batch" / "requests.jsonl"
    results = tmp_path / "results.jsonl"
    run_batch_like_vllm(requests, results)
    results.write_text("".join(results.read_text().splitlines(keepends=True)[:3]))
    cli("batch", "collect", "b1", "-f", results, "--runs-dir", tmp_path, env=OFFLINE)
    result = cli("batch", "prepare", "--resume", "b1", "--runs-dir", tmp_path, env=OFFLINE)
    assert result.exit_code == 0, result.output
    assert [line["custom_id"] for line in request_lines(requests)] == ["item-i4"]


def test_collect_wait_polls_until_the_batch_has_finished(cli, tmp_path):
    with TestServer(ServerConfig(batch_delay=0.4)) as server:
        cli(*prepare_args(tmp_path, "--base-url", server.base_url), env=OFFLINE)
        cli("batch", "submit", "b1", "--runs-dir", tmp_path, env=OFFLINE)
        result = cli(
            "batch", "collect", "b1", "--wait", "--poll", "0.1", "--runs-dir", tmp_path, env=OFFLINE
        )
        batch_polls = [r for r in server.stats.recent if r.path.startswith("/v1/batches/")]
    assert result.exit_code == 0, result.output
    assert "records ok 4" in result.output and len(batch_polls) >= 2  # polled until done


def test_submit_without_a_prepared_batch_fails_with_a_hint(cli, tmp_path):
    with TestServer(ServerConfig()) as server:
        cli(
            "code",
            "-t",
            DATA / "tiny.yaml",
            "-i",
            DATA / "items.csv",
            "--base-url",
            server.base_url,
            "--runs-dir",
            tmp_path,
            "--run-id",
            "online",
            env=OFFLINE,
        )
        result = cli("batch", "submit", "online", "--runs-dir", tmp_path, env=OFFLINE)
    assert result.exit_code == 1
    assert "no batch file to submit" in result.output and "batch prepare --resume" in result.output


def test_submit_without_a_key_or_base_url_says_what_to_set(cli, tmp_path):
    cli(*prepare_args(tmp_path), env=OFFLINE)
    result = cli("batch", "submit", "b1", "--runs-dir", tmp_path, env=OFFLINE)
    assert result.exit_code == 1 and "OPENAI_API_KEY" in result.output


def test_prepare_rejects_an_unknown_level(cli, tmp_path):
    result = cli(*prepare_args(tmp_path, "--level", "middle"), env=OFFLINE)
    assert result.exit_code == 2 and "--level" in result.output and "middle" in result.output
    assert not (tmp_path / "b1").exists()


def test_repeated_models_write_each_sample_for_its_own_model(cli, tmp_path):
    result = cli(*prepare_args(tmp_path, "--model", "m-one", "--model", "m-two"), env=OFFLINE)
    assert result.exit_code == 0, result.output
    lines = request_lines(tmp_path / "b1" / "batch" / "requests.jsonl")
    models = {line["custom_id"]: line["body"]["model"] for line in lines}
    assert models["item-i1"] == "m-one" and models["item-i1#1"] == "m-two" and len(models) == 8


def test_runs_show_says_a_batch_run_cost_the_batch_price(cli, tmp_path, monkeypatch):
    prices = tmp_path / "prices.yaml"
    prices.write_text("test-model: {input: 2.0, output: 8.0, batch_discount: 0.5}\n", "utf-8")
    monkeypatch.setenv("LLMCODE_PRICES", str(prices))
    cli(*prepare_args(tmp_path, "--model", "test-model"), env=OFFLINE)
    results = tmp_path / "results.jsonl"
    run_batch_like_vllm(tmp_path / "b1" / "batch" / "requests.jsonl", results)
    cli("batch", "collect", "b1", "--file", results, "--runs-dir", tmp_path, env=OFFLINE)
    usage = RunStore(tmp_path).open("b1").manifest().usage
    shown = cli("runs", "show", "b1", "--runs-dir", tmp_path, env=OFFLINE)
    assert shown.exit_code == 0, shown.output
    assert f"${usage['cost_usd']:.4f} (batch answers at the batch price)" in shown.output
    live = (usage["prompt_tokens"] * 2.0 + usage["completion_tokens"] * 8.0) / 1_000_000
    assert usage["cost_usd"] == round(live / 2, 6)
