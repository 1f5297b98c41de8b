"""Ctrl-C and SIGTERM during an embedded run — while the model loads, mid-generation — end
cleanly: exit 130/143, no traceback, no segfault, status interrupted, finished codings kept,
and the resume command printed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from llmcode.store.runs import RunStore
from tests.support import ROOT, needs_llama

pytestmark = [pytest.mark.slow, needs_llama]
TAXONOMY = ROOT / "taxonomy" / "ptm-reuse.yaml"
SAMPLE = ROOT / "examples" / "ptm-issues.csv"


def start(tmp_path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["PYTHONPATH"] = str(ROOT / "src")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llmcode",
            "code",
            "-t",
            str(TAXONOMY),
            "-i",
            str(SAMPLE),
            "--limit",
            "12",
            "--concurrency",
            "2",
            "--run-id",
            "r",
            "--runs-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_until(condition, child: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def check_interrupted(child: subprocess.Popen, signum: int, tmp_path) -> set[str]:
    out, err = child.communicate(timeout=300)
    assert child.returncode == 128 + signum, (child.returncode, out, err)  # not -11 (SIGSEGV)
    assert "Traceback" not in out + err
    assert f"llmcode code --resume r --runs-dir {tmp_path}" in out + err
    run = RunStore(tmp_path).open("r")
    assert run.manifest().status == "interrupted"
    return {r.item_id for r in run.codings()}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_the_model_loads_ends_cleanly(tmp_path, signum):
    child = start(tmp_path)
    manifest = tmp_path / "r" / "manifest.json"
    wait_until(manifest.exists, child)  # the run exists; the model is loading or about to
    child.send_signal(signum)
    check_interrupted(child, signum, tmp_path)


def test_ctrl_c_mid_generation_keeps_finished_codings_and_exits_130(tmp_path):
    child = start(tmp_path)
    codings = tmp_path / "r" / "codings.jsonl"
    wait_until(lambda: codings.exists() and codings.stat().st_size > 0, child)
    child.send_signal(signal.SIGINT)  # the second slot is mid-answer
    kept = check_interrupted(child, signal.SIGINT, tmp_path)
    assert 1 <= len(kept) < 12
    resumed = subprocess.run(
        [sys.executable, "-m", "llmcode", "code", "--resume", "r", "--runs-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert resumed.returncode == 0, resumed.stderr
    run = RunStore(tmp_path).open("r")
    assert run.manifest().status == "complete"
    assert len(run.latest_codings()) == 12
