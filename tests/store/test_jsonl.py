"""Durable run files: nothing is written through a link (issue 25, defect 2)."""

from __future__ import annotations

import pytest

from llmcode.errors import RunStoreError
from llmcode.store.jsonl import append_line, atomic_write, repair_jsonl


@pytest.fixture
def victim(tmp_path):
    path = tmp_path / "victim.txt"
    path.write_text("precious")
    return path


def test_appending_to_a_linked_file_is_refused_naming_it(tmp_path, victim):
    (tmp_path / "codings.jsonl").symlink_to(victim)
    with pytest.raises(RunStoreError, match=r"codings\.jsonl is a symbolic link"):
        append_line(tmp_path / "codings.jsonl", "{}")
    assert victim.read_text() == "precious"


def test_repairing_a_linked_file_never_truncates_its_target(tmp_path, victim):
    (tmp_path / "decisions.jsonl").symlink_to(victim)
    with pytest.raises(RunStoreError, match=r"decisions\.jsonl is a symbolic link"):
        repair_jsonl(tmp_path / "decisions.jsonl")
    assert victim.read_text() == "precious"


def test_an_atomic_write_never_writes_through_a_planted_temporary_link(tmp_path, victim):
    (tmp_path / "manifest.json.tmp").symlink_to(victim)
    atomic_write(tmp_path / "manifest.json", "{}")
    assert victim.read_text() == "precious"
    assert (tmp_path / "manifest.json").read_text() == "{}"
    assert not (tmp_path / "manifest.json.tmp").exists()


# Issue 25, defect 6: a full disk makes a run unresumable.

FULL_DISK = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit a write fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), resource.RLIM_INFINITY))
from pathlib import Path
from llmcode.errors import LlmcodeError
try:
    exec(sys.argv[2])
except LlmcodeError as exc:
    print(exc.message)
"""


def on_a_full_disk(limit, code):
    """Run ``code`` in a process that cannot grow a file past ``limit`` bytes (a disk that
    fills up mid-write), returning what it printed."""
    import os
    import subprocess
    import sys

    from tests.support import ROOT

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(limit), code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_an_append_that_fills_the_disk_leaves_no_half_record(tmp_path):
    path = tmp_path / "codings.jsonl"
    path.write_text('{"item_id": "a"}\n')
    said = on_a_full_disk(
        100,
        "from llmcode.store.jsonl import append_line\n"
        f'append_line(Path({str(path)!r}), \'{{"item_id": "b", "x": "\' + \'y\' * 500 + \'"}}\')',
    )
    assert f"cannot write {path}" in said
    assert path.read_text() == '{"item_id": "a"}\n'


def test_an_output_that_fills_the_disk_leaves_the_previous_file_whole(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("item_id,code\nold,usage\n")
    said = on_a_full_disk(
        1000,
        "from llmcode.store.export import write_output\n"
        f"write_output(Path({str(path)!r}), 'item_id,code\\n' + 'new,usage\\n' * 500)",
    )
    assert f"cannot write {path}" in said
    assert path.read_text() == "item_id,code\nold,usage\n"
    assert [p.name for p in tmp_path.iterdir()] == ["codes.csv"]


def test_torn_records_are_set_aside_and_whole_records_kept(tmp_path):
    from llmcode.store.jsonl import set_aside_torn

    path = tmp_path / "codings.jsonl"
    path.write_bytes(
        b'{"item_id": "a", "codes": []}\n'
        b'{"item_id": "b", "codes": [{"code": "x"}], "ra'  # half a record (the disk was full) ...
        b'{"item_id": "c", "codes": []}\n'  # ... and the next one appended to it
        b'{"item_id": "d", "codes": [{"code": "y"}]'  # a last line cut by a kill
    )
    assert set_aside_torn(path) == 2
    assert path.read_bytes() == b'{"item_id": "a", "codes": []}\n{"item_id": "c", "codes": []}\n'
    torn = (tmp_path / "codings.jsonl.torn").read_bytes().splitlines()
    assert torn == [
        b'{"item_id": "b", "codes": [{"code": "x"}], "ra',
        b'{"item_id": "d", "codes": [{"code": "y"}]',
    ]
    assert set_aside_torn(path) == 0
