"""One process per run: the OS lock on runs/<run_id>/run.lock."""

import os
import subprocess
import sys

import pytest

from llmcode.errors import RunStoreError
from llmcode.store.lock import LOCK, lock_holder, lock_run
from tests.support import ROOT

HOLD = (
    "import sys, time; from pathlib import Path; from llmcode.store.lock import lock_run; "
    "lock_run(Path(sys.argv[1])); print('held', flush=True); time.sleep(60)"
)


def test_a_lock_held_by_another_process_is_refused_naming_its_pid(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "held"
        assert lock_holder(tmp_path) == child.pid
        with pytest.raises(RunStoreError, match=f"in use by process {child.pid}") as caught:
            lock_run(tmp_path, "r1")
        assert f"kill {child.pid}" in caught.value.hint
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    with lock_run(tmp_path) as lock:  # the dead holder's lock is stale: taken over
        assert lock.stale_pid == child.pid
        assert (tmp_path / LOCK).read_text().strip() == str(os.getpid())
    assert lock_holder(tmp_path) is None


def test_a_process_holding_the_lock_gets_it_again_until_every_user_released_it(tmp_path):
    first = lock_run(tmp_path)
    second = lock_run(tmp_path)
    assert first is second
    second.release()
    assert lock_holder(tmp_path) == os.getpid()
    first.release()
    assert lock_holder(tmp_path) is None


# Issue 25, defect 2: a symlinked run.lock (or any link in a run folder) is never written through.


def test_a_symlinked_lock_is_refused_and_its_target_left_untouched(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / LOCK).symlink_to(victim)
    with pytest.raises(RunStoreError, match=r"run\.lock is a symbolic link"):
        lock_run(run_dir, "r1")
    assert victim.read_text() == "precious\n"


def test_a_hard_linked_lock_is_refused_before_it_is_truncated(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    os.link(victim, run_dir / LOCK)
    with pytest.raises(RunStoreError, match=r"run\.lock is a file with 2 hard links"):
        lock_run(run_dir, "r1")
    assert victim.read_text() == "precious\n"


def test_a_fifo_lock_is_an_error_naming_it_not_a_hang(tmp_path):
    os.mkfifo(tmp_path / LOCK)
    with pytest.raises(RunStoreError, match=r"run\.lock is not a regular file"):
        lock_run(tmp_path, "r1")
    assert lock_holder(tmp_path) is None


def test_a_run_folder_with_a_linked_file_is_refused_before_the_lock_is_taken(tmp_path):
    victim = tmp_path / "victim.jsonl"
    victim.write_text("")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "codings.jsonl").symlink_to(victim)
    with pytest.raises(RunStoreError, match=r"codings\.jsonl is a symbolic link"):
        lock_run(run_dir, "r1")
    assert not (run_dir / LOCK).exists()
