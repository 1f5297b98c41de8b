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
