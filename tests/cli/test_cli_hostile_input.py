"""Issue 25 (hostile input, round 3) from the shell, grouped per defect."""

from __future__ import annotations

import pytest

from llmcode.store.lock import LOCK
from llmcode.testserver import ServerConfig, TestServer
from tests.support import DATA


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
        "--no-cache",
        *extra,
    ]


@pytest.fixture
def coded_run(cli, tmp_path):
    """A complete run ``r1`` under ``tmp_path / 'runs'`` and the server it was coded against."""
    runs = tmp_path / "runs"
    with TestServer(ServerConfig()) as server:
        result = cli(*code_args(server, runs))
        assert result.exit_code == 0, result.output
        yield runs, server


# 2. A symlinked run.lock is written through.


@pytest.mark.parametrize("name", [LOCK, "codings.jsonl", "items.jsonl"])
def test_resume_refuses_a_run_folder_with_a_link_and_leaves_its_target_alone(
    cli, tmp_path, coded_run, name
):
    runs, server = coded_run
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    target = runs / "r1" / name
    target.unlink(missing_ok=True)
    target.symlink_to(victim)
    result = cli(*code_args(server, runs, "--resume", "r1"))
    assert result.exit_code == 1
    assert "symbolic link" in result.output
    assert victim.read_text() == "precious\n"
