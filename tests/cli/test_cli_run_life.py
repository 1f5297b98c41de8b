"""A run's life from the shell: one process per run, interrupts, failing endpoints, resume checks.

Real processes (``python -m llmcode``) against the test server on 127.0.0.1, so signals, exit
codes and the OS lock are the real ones.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from llmcode.store.runs import RunStore
from llmcode.testserver import ServerConfig, TestServer
from tests.support import DATA, ROOT

ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OPENAI_API_KEY": "test"}


def many_items(tmp_path, n=30):
    path = tmp_path / "many.csv"
    rows = [
        f"m{i},Issue {i},The model crashes when loading checkpoint number {i}." for i in range(n)
    ]
    path.write_text("item_id,title,body\n" + "\n".join(rows) + "\n")
    return path


def code_command(items, base_url, runs, *extra):
    return [
        sys.executable,
        "-m",
        "llmcode",
        "code",
        "-t",
        str(DATA / "tiny.yaml"),
        "-i",
        str(items),
        "--base-url",
        base_url,
        "--runs-dir",
        str(runs),
        "--run-id",
        "r",
        "--no-cache",
        *extra,
    ]


def wait_for_records(path, n, child):
    """Block until ``path`` holds ``n`` lines (or the child ended); a wait, not an assertion."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        if path.exists() and path.read_text().count("\n") >= n:
            return
        time.sleep(0.02)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_second_process_on_a_running_run_is_refused_naming_the_holder(tmp_path):
    items = many_items(tmp_path, 60)
    with TestServer(ServerConfig(latency=1.0)) as server:
        first = subprocess.Popen(
            code_command(items, server.base_url, tmp_path, "--concurrency", "1"),
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_records(tmp_path / "r" / "codings.jsonl", 1, first)
        second = subprocess.run(
            [sys.executable, "-m", "llmcode", "code", "--resume", "r", "--runs-dir", str(tmp_path)],
            env=ENV,
            capture_output=True,
            text=True,
            timeout=60,
        )
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert second.returncode == 1
    assert f"in use by process {first.pid}" in second.stderr and "Traceback" not in second.stderr
    records = RunStore(tmp_path).open("r").codings()
    assert len({r.item_id for r in records}) == len(records)  # nobody coded an item twice


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    items = many_items(tmp_path, 6)
    with TestServer(ServerConfig(latency=0.2)) as server:
        child = subprocess.Popen(
            code_command(items, server.base_url, tmp_path, "--concurrency", "1"),
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # the ledger's session line and two started requests: one finished, one in flight
        wait_for_records(tmp_path / "r" / "inflight.jsonl", 3, child)
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert (tmp_path / "r" / "run.lock").read_text().strip() == str(child.pid)
        resumed = subprocess.run(
            [sys.executable, "-m", "llmcode", "code", "--resume", "r", "--runs-dir", str(tmp_path)],
            env=ENV,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert resumed.returncode == 0, resumed.stderr
    manifest = RunStore(tmp_path).open("r").manifest()
    assert manifest.status == "complete" and manifest.counts["ok"] == 6
    assert manifest.usage["abandoned"] == 1  # the request in flight at the kill


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_mid_request_ends_cleanly_with_the_resume_command(cli, tmp_path, signum, code):
    items = many_items(tmp_path, 20)
    with TestServer(ServerConfig(latency=0.3)) as server:
        child = subprocess.Popen(
            code_command(items, server.base_url, tmp_path, "--concurrency", "2"),
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for_records(tmp_path / "r" / "codings.jsonl", 2, child)
        child.send_signal(signum)
        out, err = child.communicate(timeout=60)
    assert child.returncode == code, err
    assert "Traceback" not in out + err
    assert f"llmcode code --resume r --runs-dir {tmp_path}" in out
    run = RunStore(tmp_path).open("r")
    manifest = run.manifest()
    assert manifest.status == "interrupted"
    kept = {r.item_id for r in run.codings()}
    assert 2 <= len(kept) < 20 and manifest.usage["items"] == len(kept)
    assert manifest.usage["abandoned"] >= 1  # two requests were in flight
    assert not (run.path / "inflight.jsonl").exists()
    shown = cli("runs", "show", "r", "--runs-dir", tmp_path)
    assert "in flight when the run was stopped" in shown.output


def test_sigterm_during_start_up_exits_143_without_a_traceback(tmp_path):
    script = (  # SIGTERM arrives while the items load, before any run exists
        "import os, signal, sys; import llmcode.item_stream as o; load = o.stream_items; "
        "o.stream_items = lambda *a, **k: "
        "(os.kill(os.getpid(), signal.SIGTERM), load(*a, **k))[1]; "
        "from llmcode.cli import main; sys.argv = ['llmcode', *sys.argv[1:]]; main()"
    )
    args = code_command(many_items(tmp_path, 3), "http://127.0.0.1:9/v1", tmp_path)[3:]
    child = subprocess.run(
        [sys.executable, "-c", script, *args], env=ENV, capture_output=True, text=True, timeout=60
    )
    assert child.returncode == 143, child.stderr
    assert "Traceback" not in child.stderr and "interrupted" in child.stderr


@pytest.fixture
def no_backoff(monkeypatch):
    """Retries without waiting (the retry policy is tested with the backend)."""
    monkeypatch.setattr("llmcode.llm.backends.openai.BackoffWait.__call__", lambda self, s: 0.0)


def test_an_endpoint_that_is_down_stops_the_run_with_the_cause_and_the_fix(
    cli, tmp_path, no_backoff
):
    items = many_items(tmp_path, 20)
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = cli(*code_command(items, url, tmp_path)[3:], env={"OPENAI_API_KEY": "test"})
    assert result.exit_code == 1
    (line,) = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert "cannot connect to the endpoint" in line and "--base-url" in line
    manifest = RunStore(tmp_path).open("r").manifest()
    assert manifest.status == "interrupted" and manifest.counts["error"] < 20


def test_a_bad_api_key_stops_the_run_naming_the_key(cli, tmp_path):
    items = many_items(tmp_path, 10)
    with TestServer(ServerConfig(api_key="right")) as server:
        result = cli(
            *code_command(items, server.base_url, tmp_path, "--concurrency", "1")[3:],
            env={"OPENAI_API_KEY": "wrong"},
        )
        calls = server.stats.status_counts.get(401, 0)
    assert result.exit_code == 1 and "OPENAI_API_KEY" in result.output
    assert calls == 3  # three failures, then it stopped
    assert RunStore(tmp_path).open("r").manifest().status == "interrupted"


def test_a_run_whose_items_all_failed_never_exits_0(cli, tmp_path, no_backoff):
    items = many_items(tmp_path, 2)  # fewer items than the guard's patience
    with TestServer(ServerConfig(fault_rate=1.0, fault_weights={"server_error": 1.0})) as server:
        result = cli(
            *code_command(items, server.base_url, tmp_path, "--timeout", "1")[3:],
            env={"OPENAI_API_KEY": "test"},
        )
    assert result.exit_code == 1, result.output
    assert RunStore(tmp_path).open("r").manifest().status == "failed"
    assert "export" not in result.output


def test_resume_with_other_options_says_what_differs_and_needs_force(cli, tmp_path):
    items = many_items(tmp_path, 3)
    with TestServer(ServerConfig()) as server, TestServer(ServerConfig()) as other:
        assert (
            cli(*code_command(items, server.base_url, tmp_path, "--limit", "2")[3:]).exit_code == 0
        )
        run = RunStore(tmp_path).open("r")
        run.append_coding(run.codings()[0].model_copy(update={"status": "error"}))
        base = ["code", "--resume", "r", "--runs-dir", tmp_path]
        refused = cli(
            *base,
            "--base-url",
            other.base_url,
            "--model",
            "m2",
            "-t",
            DATA / "tiny.yaml",
            "-i",
            DATA / "items.csv",
        )
        assert refused.exit_code == 1
        assert "--base-url" in refused.output and "--model m2" in refused.output
        assert "--items " in refused.output and "--taxonomy " not in refused.output  # same taxonomy
        assert "--force" in refused.output
        forced = cli(*base, "--base-url", other.base_url, "--model", "m2", "--force")
        assert forced.exit_code == 0, forced.output
        assert other.stats.status_counts.get(200, 0) == 1
    manifest = RunStore(tmp_path).open("r").manifest()
    assert (
        manifest.config.endpoint.base_url == other.base_url
        and manifest.config.endpoint.model == "m2"
    )
    (change,) = manifest.extra["resumed"]
    assert any("`model` m2" in c for c in change["forced"])


def test_resume_refuses_a_run_whose_item_snapshot_is_missing_or_changed(cli, tmp_path):
    items = many_items(tmp_path, 4)
    with TestServer(ServerConfig()) as server:
        assert (
            cli(*code_command(items, server.base_url, tmp_path, "--limit", "3")[3:]).exit_code == 0
        )
    snapshot = tmp_path / "r" / "items.jsonl"
    lines = snapshot.read_text().splitlines()
    snapshot.write_text("\n".join(lines[:2]) + "\n")
    changed = cli("code", "--resume", "r", "--runs-dir", tmp_path)
    assert changed.exit_code == 1 and "items.jsonl" in changed.output and "3" in changed.output
    snapshot.unlink()
    missing = cli("code", "--resume", "r", "--runs-dir", tmp_path)
    assert missing.exit_code == 1 and "snapshot is missing" in missing.output
    assert json.loads((tmp_path / "r" / "manifest.json").read_text())["status"] == "complete"


def test_ctrl_c_during_open_coding_keeps_the_codings_and_prints_its_resume(tmp_path):
    items = many_items(tmp_path, 20)
    with TestServer(ServerConfig(latency=0.3)) as server:
        command = [
            sys.executable,
            "-m",
            "llmcode",
            "open-code",
            "-i",
            str(items),
            "--base-url",
            server.base_url,
            "--runs-dir",
            str(tmp_path),
            "--run-id",
            "o",
            "--no-cache",
        ]
        child = subprocess.Popen(
            command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        wait_for_records(tmp_path / "o" / "codings.jsonl", 2, child)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert "Traceback" not in out + err
    assert f"llmcode open-code --resume o --runs-dir {tmp_path}" in out
    run = RunStore(tmp_path).open("o")
    assert run.manifest().status == "interrupted" and len(run.codings()) >= 2


def test_a_request_given_up_on_after_the_timeout_is_counted_abandoned(cli, tmp_path, no_backoff):
    items = many_items(tmp_path, 3)
    config = ServerConfig(fault_script=("timeout",), timeout_sleep=3.0)
    with TestServer(config) as server:
        result = cli(
            *code_command(
                items, server.base_url, tmp_path, "--timeout", "0.5", "--concurrency", "1"
            )[3:]
        )
    assert result.exit_code == 0, result.output
    manifest = RunStore(tmp_path).open("r").manifest()
    assert manifest.counts["ok"] == 3 and manifest.usage["abandoned"] == 1
    assert "abandoned 1" in result.output
