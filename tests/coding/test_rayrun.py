"""Prepared batch requests sent through Ray Data: every request answered once, failures retried
or listed, the output ingested by `batch collect` like any batch."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from llmcode.coding.rayrun import RaySettings, _Sender, check_endpoints, check_ray_address
from llmcode.errors import BackendError
from llmcode.store.runs import RunStore
from llmcode.testserver import ServerConfig, TestServer
from tests.support import DATA

OFFLINE = {"OPENAI_API_KEY": None, "OPENAI_BASE_URL": None, "LLMCODE_MODEL": None}
FAULTS = {"rate_limit": 1.0, "server_error": 1.0}


def rows(n: int, url: str) -> list[dict[str, str]]:
    body = {"model": "test-model", "messages": [{"role": "user", "content": "hi"}]}
    return [{"custom_id": f"c{i}", "endpoint": url, "body": json.dumps(body)} for i in range(n)]


def send(settings: RaySettings, batch: list[dict[str, str]]) -> list[dict]:
    sender = _Sender(settings)
    return [json.loads(line) for line, _ in asyncio.run(sender._send_all(batch))]


def test_retryable_faults_are_retried_until_answered() -> None:
    config = ServerConfig(fault_rate=0.4, fault_weights=FAULTS, retry_after=0.01, seed=3)
    with TestServer(config) as server:
        settings = RaySettings([server.base_url], max_retries=8, backoff=0.01)
        lines = send(settings, rows(30, server.base_url))
        assert server.stats.paid_calls == 30  # each request answered exactly once
    assert [line["custom_id"] for line in lines] == [f"c{i}" for i in range(30)]
    assert all(line["response"]["status_code"] == 200 and not line["error"] for line in lines)


def test_a_request_out_of_retries_is_an_error_line_not_a_lost_one() -> None:
    config = ServerConfig(fault_rate=1.0, fault_weights={"server_error": 1.0})
    with TestServer(config) as server:
        settings = RaySettings([server.base_url], max_retries=1, backoff=0.01)
        lines = send(settings, rows(3, server.base_url))
    assert [line["error"]["message"] for line in lines] == ["HTTP 500"] * 3
    assert all(line["response"]["status_code"] == 500 for line in lines)


def test_an_unreachable_endpoint_is_refused_before_ray_starts() -> None:
    with pytest.raises(BackendError, match="cannot be reached") as caught:
        check_endpoints(["http://127.0.0.1:9/v1"], "sk")
    assert "--base-url" in (caught.value.hint or "")


@pytest.mark.slow
def test_a_local_ray_instance_codes_a_prepared_run_with_faults(cli, tmp_path) -> None:
    pytest.importorskip("ray")
    items = tmp_path / "items.csv"
    lines = [f"i{n},The model runs out of memory on batch {n}." for n in range(24)]
    items.write_text("item_id,text\n" + "\n".join(lines) + "\n", encoding="utf-8")
    config = ServerConfig(fault_rate=0.3, fault_weights=FAULTS, retry_after=0.05, seed=1)
    with TestServer(config) as server, TestServer(ServerConfig()) as second:
        runs = ("--runs-dir", tmp_path)
        prepared = cli(
            "batch", "prepare", "-t", DATA / "tiny.yaml", "-i", items, "--base-url",
            server.base_url, "--model", "test-model", "--run-id", "r", *runs, env=OFFLINE,
        )  # fmt: skip
        assert prepared.exit_code == 0, prepared.output
        sent = cli(
            "batch", "run", "r", "--engine", "ray", "--base-url", server.base_url,
            "--base-url", second.base_url, "--max-retries", "8", *runs, env=OFFLINE,
        )  # fmt: skip
        assert sent.exit_code == 0, sent.output
        assert server.stats.paid_calls + second.stats.paid_calls == 24
        assert second.stats.paid_calls == 12  # round robin over the two endpoints
        output = tmp_path / "r" / "batch" / "ray-output.jsonl"
        collected = cli("batch", "collect", "r", "--file", output, *runs, env=OFFLINE)
    text = " ".join(sent.output.split())
    assert "24 request(s) through ray to 2 endpoint(s)" in text and "0 failed" in text
    assert collected.exit_code == 0, collected.output
    run = RunStore(tmp_path).open("r")
    assert run.manifest().status == "complete"
    assert {r.status for r in run.codings()} <= {"ok", "unverified"}
    assert len(run.codings()) == 24


@pytest.mark.parametrize("address", ["127.0.0.1:9", "ray://127.0.0.1:9"])
def test_an_unreachable_ray_address_is_refused_at_once_with_the_fix(address) -> None:
    with pytest.raises(BackendError, match="cannot reach Ray at") as caught:
        check_ray_address(address)
    assert "--address" in (caught.value.hint or "")


def test_a_ray_address_without_a_port_is_refused_naming_the_form() -> None:
    with pytest.raises(BackendError, match="not HOST:PORT") as caught:
        check_ray_address("headnode")
    assert "ray://HOST:10001" in (caught.value.hint or "")


def test_a_listening_ray_address_and_auto_pass_the_check() -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        check_ray_address(f"ray://127.0.0.1:{listening.getsockname()[1]}")
    check_ray_address("auto")
    check_ray_address(None)
