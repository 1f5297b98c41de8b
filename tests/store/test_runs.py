"""The run store: run ids are safe slugs of bounded length, checked for every command."""

import pytest

from llmcode.errors import RunStoreError
from llmcode.store.runs import RunStore, check_run_id

BAD_IDS = ["../../x", "/tmp/abs", "a/b/c", "", "with\nnewline", "x" * 300, "..", ".", ".cache",
           "a\\b", "tab\tid", "-flag", "sp ace"]  # fmt: skip


@pytest.mark.parametrize("run_id", BAD_IDS)
def test_an_unsafe_run_id_is_refused_and_nothing_is_written(tmp_path, run_id):
    store = RunStore(tmp_path / "runs")
    with pytest.raises(RunStoreError, match="run id"):
        store.create(run_id)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["runs"])


@pytest.mark.parametrize("run_id", ["r1", "2024-01-31-pilot", "a.b_c-D", "x" * 100])
def test_safe_run_ids_are_accepted(tmp_path, run_id):
    assert check_run_id(run_id) == run_id
    run = RunStore(tmp_path).create(run_id)
    assert run.path == tmp_path / run_id


def test_a_generated_run_id_is_safe_whatever_the_label(tmp_path):
    store = RunStore(tmp_path)
    for label in ["My Codebook / v2", "../../etc", "é" * 200, ""]:
        run_id = store.new_run_id(label)
        assert check_run_id(run_id) == run_id


def test_the_cli_refuses_an_unsafe_run_id_with_a_clear_error(cli, tmp_path):
    from tests.support import DATA

    result = cli("code", "-t", DATA / "tiny.yaml", "-i", DATA / "items.csv", "--backend",
                 "openai", "--base-url", "http://127.0.0.1:9/v1", "--runs-dir", tmp_path / "runs",
                 "--run-id", "../../escape")  # fmt: skip
    assert result.exit_code == 1
    assert "run id" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "escape").exists()
