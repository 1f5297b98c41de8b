"""A resume's items left, found from the bytes of the run's files, are the items a full parse
of both files says are left (`pending_items`), in the same order."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import llmcode.store.pending as pending
from llmcode.coding.lifecycle import pending_items, pending_stream
from llmcode.item_stream import ItemStream
from llmcode.items import Item
from llmcode.store import scan
from llmcode.store.models import FINAL_STATUSES, CodingRecord
from llmcode.store.runs import RunStore

IDS = ["a", 'quo"te', "back\\slash", "ünï", "b", "c", "d", "e"]
STATUSES = ["ok", "unverified", "invalid", "error", "skipped"]
FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)


def made(root, records, metadata_id=False):
    """A run of the items ``IDS`` with these records, read back from its files."""
    run = RunStore(root).create(f"r{len(list(root.iterdir()))}")
    meta = {"item_id": "a"} if metadata_id else {}
    run.write_items(Item(i, f"text of {i}", {**meta, "n": str(n)}) for n, i in enumerate(IDS))
    run.append_codings([CodingRecord(item_id=i, status=s) for i, s in records])
    run._items = None
    return run


def expected(run) -> list[Item]:
    """What a full parse of both files says is left."""
    latest = {}
    codings = run.path / "codings.jsonl"
    for line in codings.read_text("utf-8").splitlines() if codings.is_file() else []:
        if line.strip():
            row = json.loads(line)
            latest[row["item_id"]] = row["status"]
    lines = (run.path / "items.jsonl").read_text("utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    return [
        Item(r["item_id"], r["text"], r["metadata"])
        for r in rows
        if latest.get(r["item_id"]) not in FINAL_STATUSES
    ]


@pytest.fixture(params=[1 << 24, 64], ids=["one block", "blocks of 64 bytes"])
def block(request, monkeypatch):
    monkeypatch.setattr(pending, "BLOCK", request.param)
    monkeypatch.setattr(scan, "BLOCK", request.param)


@FUZZ
@given(
    records=st.lists(
        st.tuples(st.sampled_from([*IDS, "skipped-one", "other"]), st.sampled_from(STATUSES)),
        max_size=20,
    ),
    metadata_id=st.booleans(),
)
def test_the_items_left_are_those_a_full_parse_finds(tmp_path, block, records, metadata_id):
    run = made(tmp_path, records, metadata_id)
    left = pending_stream(run)
    assert isinstance(left, ItemStream)
    assert list(left) == list(left) == expected(run)
    assert len(left) == len(expected(run))
    if not metadata_id:  # scan.items_left takes a metadata item_id for the item's own id
        assert list(left) == pending_items(run)


def test_a_torn_record_is_set_aside_and_its_item_asked_again(tmp_path, block):
    run = made(tmp_path, [("a", "ok"), ("b", "ok")])
    path = run.path / "codings.jsonl"
    with path.open("a") as handle:
        handle.write('{"item_id":"c","status":"ok","co')
    left = pending_stream(run)
    assert [i.item_id for i in left] == [i for i in IDS if i not in ("a", "b")]
    assert (run.path / "codings.jsonl.torn").is_file()
    assert run.notes["torn_records"] == 1


def test_blank_lines_are_read_as_a_full_parse_reads_them(tmp_path, block):
    run = made(tmp_path, [("a", "ok"), ("b", "error"), ("c", "skipped")])
    for name in ("codings.jsonl", "items.jsonl"):
        path = run.path / name
        path.write_text("\n" + path.read_text("utf-8").replace("\n", "\n\n", 2), "utf-8")
    assert list(pending_stream(run)) == expected(run)


def test_snapshot_ids_that_share_a_hash_are_decided_on_their_text(tmp_path, monkeypatch):
    monkeypatch.setattr(pending, "_key", len)  # ids of one length collide
    run = made(tmp_path, [("a", "ok"), ("c", "ok"), ("ünï", "error")])
    left = pending_stream(run)
    assert [i.item_id for i in left] == [i for i in IDS if i not in ("a", "c")]


def test_the_snapshot_is_counted_and_hashed_in_one_read(tmp_path):
    run = made(tmp_path, [])
    snapshot = pending.read_snapshot(run.path / "items.jsonl")
    assert snapshot.count == len(IDS) == scan.count_items(run.path / "items.jsonl")
    assert snapshot.sha256 == run.snapshot_sha256
    assert len(snapshot.keys) == len(IDS)


def test_a_run_holding_its_items_gives_them_from_memory(tmp_path):
    run = RunStore(tmp_path).create("r")
    run.write_items([Item(i, "t") for i in IDS])
    run.append_codings([CodingRecord(item_id="a", status="ok")])
    assert [i.item_id for i in pending_stream(run)] == IDS[1:]


def test_the_snapshot_a_resume_checked_is_the_one_it_reads_the_items_left_from(tmp_path):
    run = made(tmp_path, [("a", "ok"), ("b", "error")])
    read = pending.read_snapshot(run.path / "items.jsonl")
    run.snapshot_read = read
    assert [i.item_id for i in pending_stream(run)] == [i for i in IDS if i != "a"]
    assert run.snapshot_read is read
