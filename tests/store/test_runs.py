"""The run store: run ids are safe slugs of bounded length, checked for every command."""

import pytest

from llmcode.errors import RunStoreError
from llmcode.store.runs import RunStore, check_run_id

BAD_IDS = [
    "../../x",
    "/tmp/abs",
    "a/b/c",
    "",
    "with\nnewline",
    "x" * 300,
    "..",
    ".",
    ".cache",
    "a\\b",
    "tab\tid",
    "-flag",
    "sp ace",
]


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

    result = cli(
        "code",
        "-t",
        DATA / "tiny.yaml",
        "-i",
        DATA / "items.csv",
        "--backend",
        "openai",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--runs-dir",
        tmp_path / "runs",
        "--run-id",
        "../../escape",
    )
    assert result.exit_code == 1
    assert "run id" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "escape").exists()


# --- file-system trouble is a RunStoreError naming the file, never a traceback --------------


def made_run(tmp_path, run_id="r1"):
    from llmcode.store.models import RunConfig, RunManifest

    store = RunStore(tmp_path / "runs")
    run = store.create(run_id)
    run.write_manifest(
        RunManifest(run_id=run_id, config=RunConfig(taxonomy_path="t", items_path="i"))
    )
    return store, run


def test_a_runs_folder_under_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(RunStoreError, match="afile"):
        RunStore(tmp_path / "afile" / "runs").create("r1")


def test_a_runs_folder_that_cannot_be_written_is_a_clear_error(tmp_path, monkeypatch):
    from pathlib import Path

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(RunStoreError, match="Permission denied") as caught:
        RunStore(tmp_path / "runs").create("r1")
    assert "runs" in caught.value.message and caught.value.hint


@pytest.mark.parametrize("name", ["manifest.json", "codings.jsonl", "decisions.jsonl"])
def test_invalid_utf8_in_a_run_file_names_the_file_and_line(tmp_path, name):
    from llmcode.store.decisions import load_decisions

    _, run = made_run(tmp_path)
    (run.path / name).write_bytes(b'{"item_id": "i1"}\n{"item_id": "\xff\xfe"}\n')
    with pytest.raises(RunStoreError, match=name) as caught:
        run.manifest()
        run.codings()
        load_decisions(run)
    assert "UTF-8" in caught.value.message
    if name != "manifest.json":
        assert f"{name}:2" in caught.value.message


def test_a_failed_write_leaves_no_tmp_file_and_names_the_cause(tmp_path, monkeypatch):
    import os

    from llmcode.store.jsonl import append_line

    _, run = made_run(tmp_path)
    manifest = run.manifest()

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(RunStoreError, match="No space left on device"):
        run.write_manifest(manifest.model_copy(update={"status": "complete"}))
    assert not list(run.path.glob("*.tmp"))
    with pytest.raises(RunStoreError, match=r"codings\.jsonl.*No space left"):
        append_line(run.path / "codings.jsonl", "{}")


def test_runs_list_keeps_listing_when_one_run_is_corrupt(tmp_path):
    store, _ = made_run(tmp_path, "good")
    broken = store.create("broken")
    (broken.path / "manifest.json").write_bytes(b"\xff not json")
    listing = store.scan()
    assert [entry.run_id for entry in listing] == ["broken", "good"]
    assert listing[0].manifest is None and "UTF-8" in listing[0].problem
    assert listing[1].manifest is not None and listing[1].problem is None
    assert [m.run_id for m in store.list()] == ["good"]


def test_a_last_line_torn_inside_a_character_is_dropped_like_any_torn_line(tmp_path):
    _, run = made_run(tmp_path)
    whole = '{"item_id": "i1", "status": "error"}\n'
    torn = '{"item_id": "é'.encode()[:-1]  # cut inside the two bytes of é
    (run.path / "codings.jsonl").write_bytes(whole.encode() + torn)
    assert [r.item_id for r in run.codings()] == ["i1"]


def test_a_fast_run_fsyncs_twice_a_second_and_everything_when_it_finishes(tmp_path, monkeypatch):
    import os

    from llmcode.store import runs
    from llmcode.store.models import CodingRecord

    _, run = made_run(tmp_path)
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd))
    clock = [100.0]
    monkeypatch.setattr(runs.time, "monotonic", lambda: clock[0])
    for n in range(10):  # ten records within 0.1 s: one fsync, for the first
        clock[0] += 0.01
        run.append_coding(CodingRecord(item_id=f"i{n}", status="ok"))
    assert len(synced) == 1
    assert len(run.codings()) == 10  # written and readable before any fsync
    clock[0] += runs.SYNC_SECONDS
    run.append_coding(CodingRecord(item_id="late", status="ok"))
    assert len(synced) == 2
    clock[0] += 0.01
    run.append_coding(CodingRecord(item_id="last", status="ok"))
    run.sync()
    assert len(synced) == 3
    run.sync()  # nothing new: no fsync
    assert len(synced) == 3
