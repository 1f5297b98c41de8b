"""Streaming reads of a run: the block scans say what a full parse of every line says."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from llmcode.items import Item
from llmcode.llm.answers import CodeAssignment
from llmcode.llm.checks import CodeCheck
from llmcode.llm.passages import Segment, SegmentCode
from llmcode.store import scan
from llmcode.store.models import CodingRecord
from llmcode.store.runs import RunStore

IDS = ["a", 'quo"te', "back\\slash", "ünï", "b", "c"]


def records() -> list[CodingRecord]:
    """Records of six items, two of them retried later (their latest record wins)."""
    first = [CodingRecord(item_id=i, status="error" if n % 2 else "ok") for n, i in enumerate(IDS)]
    return [
        *first,
        CodingRecord(item_id=IDS[1], status="ok"),
        CodingRecord(item_id="a", status="invalid"),
    ]


def made(tmp_path):
    run = RunStore(tmp_path).create("r1")
    run.write_items(Item(i, f"text of {i}", {"n": str(n)}) for n, i in enumerate(IDS))
    run.append_codings(records())
    run._items = None  # read back from the files
    return run


@pytest.fixture(params=[1 << 25, 64], ids=["one block", "blocks of 64 bytes"])
def block(request, monkeypatch):
    monkeypatch.setattr(scan, "BLOCK", request.param)


def full_parse(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def test_latest_statuses_and_lines_are_those_of_a_full_parse(tmp_path, block):
    run = made(tmp_path)
    rows = full_parse(run.path / "codings.jsonl")
    assert run.latest_statuses() == {r["item_id"]: r["status"] for r in rows}
    lines = scan.latest_lines(run.path / "codings.jsonl")
    assert lines == {r["item_id"]: n for n, r in enumerate(rows, start=1)}
    assert list(lines) == IDS  # the order items first appear in


def test_latest_records_come_with_the_rank_of_their_item(tmp_path, block):
    run = made(tmp_path)
    latest = {r.item_id: r for r in records()}
    ranked = sorted(run.iter_latest(), key=lambda pair: pair[0])
    assert [r.item_id for _, r in ranked] == IDS
    assert [r.status for _, r in ranked] == [latest[i].status for i in IDS]


def test_blank_lines_and_a_torn_last_line_read_as_a_full_parse_reads_them(tmp_path, block):
    run = made(tmp_path)
    path = run.path / "codings.jsonl"
    text = path.read_text("utf-8")
    path.write_text("\n" + text.replace("\n", "\n\n", 2) + '{"item_id":"z","status":"ok","co')
    assert run.latest_statuses() == {r.item_id: r.status for r in records()}
    assert [r.item_id for r in run.iter_codings()] == [r.item_id for r in records()]
    assert not scan.whole_lines(path)  # the torn line is set aside on resume


def test_half_a_record_with_another_appended_is_not_whole(tmp_path, block):
    run = made(tmp_path)
    path = run.path / "codings.jsonl"
    assert scan.whole_lines(path)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([*lines[:2], lines[2][:20] + lines[3], *lines[4:]]))
    assert not scan.whole_lines(path)
    assert run.repair() == 1 and scan.whole_lines(path)


def test_item_ids_and_items_left_are_read_from_the_snapshot_as_written(tmp_path, block):
    run = made(tmp_path)
    assert list(run.item_ids()) == IDS
    assert [i.item_id for i in run.iter_items()] == IDS
    left = list(run.iter_items(skip={"a", "ünï", "c"}))
    assert left == [
        Item(i, f"text of {i}", {"n": str(IDS.index(i))})
        for i in IDS
        if i in {'quo"te', "back\\slash", "b"}
    ]


def test_items_left_are_those_whose_latest_record_is_not_final(tmp_path, block):
    run = made(tmp_path)
    final = ("ok", "unverified", "invalid", "skipped")
    expected = [Item(i, f"text of {i}", {"n": str(IDS.index(i))}) for i in ("ünï", "c")]
    assert run.items_left(final) == expected
    assert run.count_items() == len(IDS)
    run.items()  # the snapshot in memory gives the same
    assert run.items_left(final) == expected and run.count_items() == len(IDS)


def test_an_item_id_inside_metadata_is_never_taken_for_an_items_id(tmp_path, block):
    # the metadata's own item_id column (a table with one) beside ids with quotes: only a
    # line's start names an item
    run = RunStore(tmp_path).create("r1")
    run.write_items(Item(i, f"text of {i}", {"item_id": f"m{n}"}) for n, i in enumerate(IDS))
    run.append_codings(records())
    run._items = None
    assert list(run.item_ids()) == IDS
    assert [key.decode("utf-8") for key in scan.item_keys(run.path / "items.jsonl")] == IDS
    assert [i.item_id for i in run.iter_items(skip={"a", "c"})] == IDS[1:5]
    final = ("ok", "unverified", "invalid", "skipped")
    assert [i.item_id for i in run.items_left(final)] == ["ünï", "c"]


@pytest.mark.parametrize("size", [1 << 24, 64])
def test_a_resume_keys_the_items_by_their_own_ids_when_metadata_holds_one(
    tmp_path, monkeypatch, size
):
    from llmcode.store import pending

    monkeypatch.setattr(pending, "BLOCK", size)
    run = RunStore(tmp_path).create("r1")
    run.write_items(Item(i, f"text of {i}", {"item_id": f"m{n}"}) for n, i in enumerate(IDS))
    expected = [pending._key(i.encode("utf-8")) for i in IDS]
    assert list(pending.read_snapshot(run.path / "items.jsonl").keys) == expected


def coded_records() -> list[CodingRecord]:
    """Records with one code, two, none, a code with a quote, a second look, a passage; an
    item coded again (its first codes superseded)."""

    def rec(item_id, *codes, **more):
        given = [CodeAssignment(code=c, justification="j", confidence=0.5) for c in codes]
        return CodingRecord(item_id=item_id, status="ok", codes=given, **more)

    check = CodeCheck(code="b", verdict="reject", outcome="disputed")
    passage = Segment(start=0, end=4, quote="text", codes=[SegmentCode(code="a")])
    return [
        rec("a", "x"),
        rec("b", "x", "y"),
        rec('quo"te', 'we"ird', "y"),
        CodingRecord(item_id="c", status="error"),
        rec("a", "y", "y"),  # coded again: these codes count, not "x"
        rec("ünï", "b", checks=[check]),
        rec("back\\slash", "a", segments=[passage]),
        rec("b", "z"),
    ]


def test_the_codes_of_the_latest_records_are_those_of_a_full_parse(tmp_path, block):
    run = RunStore(tmp_path).create("r1")
    run.append_codings(coded_records()[:4])
    with (run.path / "codings.jsonl").open("a") as handle:  # a line written otherwise
        handle.write(json.dumps(json.loads(coded_records()[4].model_dump_json())) + "\n")
    run.append_codings(coded_records()[5:])
    rows = full_parse(run.path / "codings.jsonl")
    latest = {row["item_id"]: n for n, row in enumerate(rows)}
    last = [row for n, row in enumerate(rows) if latest[row["item_id"]] == n]  # in file order
    expected = [c["code"] for row in last for c in row["codes"]]
    found = run.latest_codes()
    assert found.codes == Counter(expected) and list(found.codes) == list(Counter(expected))
    assert found.codes == Counter({"y": 3, "z": 1, 'we"ird': 1, "b": 1, "a": 1})
    assert found.coded == sum(1 for row in last if row["codes"]) == 5
    assert [(c.code, c.outcome) for c in found.checks] == [("b", "disputed")]


def test_latest_line_numbers_are_those_of_the_latest_records_in_first_seen_order(tmp_path, block):
    run = made(tmp_path)
    run.append_codings(
        [CodingRecord(item_id="b", status="ok"), CodingRecord(item_id="a", status="error")]
    )
    path = run.path / "codings.jsonl"
    latest: dict[str, int] = {}
    for number, row in enumerate(full_parse(path), start=1):
        latest[row["item_id"]] = number
    assert list(scan.latest_numbers(path)) == list(latest.values())


def test_latest_line_numbers_of_plain_ids_read_from_the_bytes_of_whole_blocks(tmp_path):
    run = RunStore(tmp_path).create("r1")
    statuses = ["ok", "error", "invalid"]
    ids = ["c", "a", "b", "a", "d", "c", "e"]
    run.append_codings([CodingRecord(item_id=i, status=statuses[n % 3]) for n, i in enumerate(ids)])
    path = run.path / "codings.jsonl"
    latest: dict[str, int] = {}
    for number, row in enumerate(full_parse(path), start=1):
        latest[row["item_id"]] = number
    assert list(latest.values()) == [6, 4, 3, 5, 7]
    assert list(scan.latest_numbers(path)) == list(latest.values())
